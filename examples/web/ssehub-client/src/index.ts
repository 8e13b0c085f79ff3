// @ssehub/client: the browser side of ssehub.
//
// One EventSource per hub URL for the whole page: every subscriber's topics
// are merged into one stream, which reconnects when that set changes. Typed
// handlers per event type; pause/resume of hidden tabs through the hub's
// visibility endpoint; its own reconnects with exponential backoff and
// jitter, resuming from the last event id (?lastEventId=) and asking an auth
// hook for a fresh ticket or token first; `resync` tells subscribers to
// refetch everything they show.

// ---------------------------------------------------------------- payloads

/** `invalidate`: refetch `resource` (and, with `resource_id`, that one item). */
export interface InvalidatePayload {
  resource: string;
  action: string;
  resource_id?: string;
  hint?: Record<string, unknown>;
}
/** `signal`: something on the topic changed; refresh it. */
export interface SignalPayload {
  signal: string;
}
/** `progress` (coalesced by the hub: the latest value per key). Hint keys are merged in. */
export interface ProgressPayload {
  resource_id: string;
  current: number;
  total: number;
  pct: number;
  [hint: string]: unknown;
}
/** `complete` (instant, always after the last progress). Hint keys are merged in. */
export interface CompletePayload {
  resource_id: string;
  status: 'completed' | 'failed';
  [hint: string]: unknown;
}
/** `resync`: events were missed (replay truncated, unknown id, slow consumer, reconnect without an id). */
export interface ResyncPayload {
  reason: string;
  [key: string]: unknown;
}
/** `server-shutdown`: the hub drains; the stream ends and the client reconnects with backoff. */
export interface ServerShutdownPayload {
  reason: string;
  [key: string]: unknown;
}
/** `connected`: the first event of every stream. */
export interface ConnectedPayload {
  connection_id: string;
  topics: string[];
}

/** Each event type the hub sends, with its parsed JSON data. */
export interface EventMap {
  connected: ConnectedPayload;
  invalidate: InvalidatePayload;
  batch: InvalidatePayload[];
  signal: SignalPayload;
  progress: ProgressPayload;
  complete: CompletePayload;
  resync: ResyncPayload;
  'server-shutdown': ServerShutdownPayload;
  /** Events published without a type (`POST /publish` with no `type`). */
  message: unknown;
}
export type EventType = keyof EventMap;
export const EVENT_TYPES: readonly EventType[] = [
  'connected', 'invalidate', 'batch', 'signal', 'progress', 'complete', 'resync', 'server-shutdown', 'message',
];

/** What a handler gets besides the payload. */
export interface EventMeta {
  type: EventType;
  /** The event's id ('' when it has none). */
  id: string;
  /** The raw `data:` text. */
  data: string;
}

/** Handlers by event type, each typed with its payload; `event` gets every event. */
export type Handlers = {
  [K in EventType]?: (payload: EventMap[K], meta: EventMeta) => void;
} & {
  event?: (type: EventType, payload: unknown, meta: EventMeta) => void;
};

export type Status = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

// ---------------------------------------------------------------- injectables

/** The part of a MessageEvent the client reads. */
export interface MessageLike {
  data: string;
  lastEventId?: string;
}
/** The part of EventSource the client uses (the browser's, or a fake in tests). */
export interface EventSourceLike {
  readonly url: string;
  addEventListener(type: string, listener: (ev: MessageLike) => void): void;
  onopen: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(): void;
}
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

/** The part of `document` used for visibility. */
export interface VisibilityDocument {
  readonly visibilityState: string;
  addEventListener(type: 'visibilitychange', listener: () => void): void;
  removeEventListener(type: 'visibilitychange', listener: () => void): void;
}

export type FetchLike = (url: string, init: { method: string; body: URLSearchParams; keepalive?: boolean; credentials?: 'include' | 'same-origin' }) =>
  Promise<{ ok: boolean; status: number }>;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Context handed to the auth hook. */
export interface AuthContext {
  /** false for the first connect of this hub, true for every later one. */
  reconnect: boolean;
  /** Failed attempts in a row before this one (0 after a clean connect). */
  attempt: number;
}
/** Query parameters added to the stream URL, e.g. `{ticket: 't'}` or `{token: jwt}`. */
export type AuthParams = Record<string, string>;

export interface HubOptions {
  /**
   * The hub's visibility endpoint (`POST connection_id=..&owner=..&paused=1|0`).
   * Default: the stream URL's path plus `/visibility` (ssehubd's
   * `/events/visibility`). `false`: never pause.
   */
  visibilityUrl?: string | false;
  /** Per-page secret that proves the page owns its connection (default: 32 random hex digits). */
  owner?: string;
  /** Query parameter that carries the merged topics (default `topics`); `false` to never send topics. */
  topicsParam?: string | false;
  withCredentials?: boolean;
  /** Backoff: first delay and cap (ms); each delay is drawn in [d/2, d] (jitter), d doubling per failure. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /**
   * Called before every connect (the first and each reconnect), awaited:
   * return the query parameters that authenticate the stream (a fresh
   * one-time ticket, a refreshed token). A throw counts as a failed attempt.
   */
  auth?: (ctx: AuthContext) => AuthParams | void | Promise<AuthParams | void>;
  /** Called with a failed visibility report, a failed auth hook, or a throwing handler. */
  onError?: (err: unknown) => void;
  /** Injectables (tests, SSR): default to the browser's globals. */
  EventSource?: EventSourceConstructor;
  document?: VisibilityDocument | null;
  fetch?: FetchLike;
  timers?: Timers;
  random?: () => number;
}

// ---------------------------------------------------------------- helpers

/** The backoff delay before attempt `attempt` (0-based): in [d/2, d], d = min(max, min * 2^attempt). */
export function backoffDelay(attempt: number, minRetryMs: number, maxRetryMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxRetryMs, minRetryMs * 2 ** Math.min(attempt, 30));
  return d / 2 + random() * (d / 2);
}

/** NATS-style match: `*` is one token, `>` one or more trailing tokens. */
export function topicMatches(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return t.length > i;
    if (i >= t.length) return false;
    if (p[i] !== '*' && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}

/**
 * The resources an event asks to refetch: `[resource]` for `invalidate`,
 * the distinct resources of a `batch`, `null` (everything) for `resync`,
 * `[]` otherwise.
 */
export function resourcesOf(type: EventType, payload: unknown): string[] | null {
  if (type === 'invalidate' && payload && typeof (payload as InvalidatePayload).resource === 'string') {
    return [(payload as InvalidatePayload).resource];
  }
  if (type === 'batch' && Array.isArray(payload)) return [...new Set(payload.map((s: InvalidatePayload) => s.resource))];
  if (type === 'resync') return null;
  return [];
}

function randomSecret(random: () => number): string {
  const bytes = new Uint8Array(16);
  const c = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto;
  if (c && c.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function baseHref(): string {
  const loc = (globalThis as { location?: { href: string } }).location;
  return loc ? loc.href : 'http://localhost/';
}

function parse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;  // not JSON: the text
  }
}

// ---------------------------------------------------------------- the hub

interface Subscription {
  topics: string[];
  handlers: Handlers;
}

/**
 * One stream to one hub URL, shared by every subscriber on the page (get it
 * with `getHub`). It is open while it has subscribers.
 */
export class Hub {
  readonly url: string;
  readonly owner: string;
  private readonly opts: HubOptions;
  private readonly ES: EventSourceConstructor | undefined;
  private readonly doc: VisibilityDocument | null;
  private readonly fetchImpl: FetchLike | undefined;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly visibilityUrl: string | null;

  private readonly subs = new Set<Subscription>();
  private readonly statusListeners = new Set<(s: Status) => void>();
  private readonly pauseListeners = new Set<(paused: boolean) => void>();
  private es: EventSourceLike | null = null;
  private openTopics: string | null = null;  // the topic key the current stream was opened with
  private _status: Status = 'idle';
  private _connectionId: string | null = null;
  private _lastEventId: string | null = null;
  private connectedOnce = false;
  private attempt = 0;
  private retryTimer: unknown = null;
  private reconcileQueued = false;
  private generation = 0;  // bumps on every open/close: stale async work checks it
  // Visibility: the page's own wish (setHidden; null: follow the document),
  // and what the server accepted for this connection.
  private hiddenOverride: boolean | null = null;
  private serverPaused = false;
  private syncing: Promise<void> | null = null;
  private reporting = false;
  private listening = false;
  private readonly onVisibility = () => { void this.syncVisibility(); };
  private readonly counts: Record<string, number> = Object.create(null);

  constructor(url: string, options: HubOptions = {}) {
    this.opts = options;
    this.url = new URL(url, baseHref()).toString();
    this.ES = options.EventSource ?? (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
    this.doc = options.document !== undefined ? options.document
      : ((globalThis as { document?: VisibilityDocument }).document ?? null);
    const gf = (globalThis as { fetch?: FetchLike }).fetch;
    this.fetchImpl = options.fetch ?? (gf ? gf.bind(globalThis) : undefined);
    this.timers = options.timers ?? {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    this.random = options.random ?? Math.random;
    this.minRetryMs = options.minRetryMs ?? 1000;
    this.maxRetryMs = options.maxRetryMs ?? 30000;
    this.owner = options.owner ?? randomSecret(this.random);
    if (options.visibilityUrl === false) {
      this.visibilityUrl = null;
    } else if (options.visibilityUrl) {
      this.visibilityUrl = new URL(options.visibilityUrl, this.url).toString();
    } else {
      const u = new URL(this.url);
      u.pathname = u.pathname.replace(/\/$/, '') + '/visibility';
      u.search = '';
      this.visibilityUrl = u.toString();
    }
  }

  /** Subscribes to `topics` (merged with every other subscriber's); returns the unsubscribe function. */
  subscribe(topics: readonly string[], handlers: Handlers): () => void {
    const sub: Subscription = { topics: [...topics], handlers };
    this.subs.add(sub);
    this.queueReconcile();
    return () => {
      if (this.subs.delete(sub)) this.queueReconcile();
    };
  }

  /** The merged, sorted, distinct topics of all subscribers. */
  get topics(): string[] {
    const all = new Set<string>();
    for (const s of this.subs) for (const t of s.topics) all.add(t);
    return [...all].sort();
  }
  get status(): Status { return this._status; }
  get connectionId(): string | null { return this._connectionId; }
  get lastEventId(): string | null { return this._lastEventId; }
  /** Whether the hub has accepted a pause of the current connection. */
  get paused(): boolean { return this.serverPaused; }
  get subscriberCount(): number { return this.subs.size; }
  /** Events received, by type. */
  get eventCounts(): Record<string, number> { return { ...this.counts }; }

  onStatus(listener: (s: Status) => void): () => void {
    this.statusListeners.add(listener);
    return () => { this.statusListeners.delete(listener); };
  }

  /**
   * Calls `listener(paused)` whenever `paused` changes: the hub accepted a
   * pause or a resume, or the paused connection ended (a new one starts live).
   */
  onPause(listener: (paused: boolean) => void): () => void {
    this.pauseListeners.add(listener);
    return () => { this.pauseListeners.delete(listener); };
  }

  /**
   * The page's own hidden/visible wish (e.g. a "pause" toggle), overriding the
   * document's visibility, for this and every later connection; `null` follows
   * `visibilitychange` again. Resolves when the hub has it.
   */
  setHidden(hidden: boolean | null): Promise<void> {
    this.hiddenOverride = hidden;
    return this.syncVisibility();
  }

  /** Ends the stream and forgets every subscriber (the shared hub is removed from the registry). */
  close(): void {
    this.subs.clear();
    this.stop('closed');
    for (const [key, hub] of registry) if (hub === this) registry.delete(key);
  }

  // -- stream lifecycle

  // Subscribers of one render mount in one go: reconcile once, after them.
  private queueReconcile(): void {
    if (this.reconcileQueued) return;
    this.reconcileQueued = true;
    queueMicrotask(() => {
      this.reconcileQueued = false;
      this.reconcile();
    });
  }

  private reconcile(): void {
    if (this.subs.size === 0) {
      this.stop('idle');
      return;
    }
    const key = this.topics.join(',');
    if (this.openTopics === key && this._status !== 'idle' && this._status !== 'closed') return;
    // New or changed topic set: (re)open now, resuming from the last id.
    this.openTopics = key;
    this.closeStream();
    this.attempt = 0;
    void this.open();
  }

  private stop(status: Status): void {
    this.openTopics = null;
    this.closeStream();
    this.attempt = 0;
    this.setListening(false);
    this.setStatus(status);
  }

  private closeStream(): void {
    this.generation++;
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.es) {
      this.es.onerror = null;
      this.es.onopen = null;
      this.es.close();
    }
    this.es = null;
    this._connectionId = null;
    this.setServerPaused(false);
  }

  private async open(): Promise<void> {
    const gen = ++this.generation;
    const ES = this.ES;
    if (!ES) {
      this.report(new Error('@ssehub/client: no EventSource here (pass options.EventSource)'));
      this.setStatus('closed');
      return;
    }
    this.setStatus(this.connectedOnce ? 'reconnecting' : 'connecting');
    this.setListening(this.visibilityUrl !== null && this.doc !== null);
    let auth: AuthParams | void = undefined;
    if (this.opts.auth) {
      try {
        auth = await this.opts.auth({ reconnect: this.connectedOnce || this.attempt > 0, attempt: this.attempt });
      } catch (err) {
        if (gen !== this.generation) return;
        this.report(err);
        this.scheduleRetry();
        return;
      }
      if (gen !== this.generation) return;  // topics changed or closed meanwhile
    }
    const u = new URL(this.url);
    const topics = this.topics;
    if (this.opts.topicsParam !== false && topics.length) u.searchParams.set(this.opts.topicsParam ?? 'topics', topics.join(','));
    if (this.visibilityUrl) u.searchParams.set('owner', this.owner);
    if (this._lastEventId) u.searchParams.set('lastEventId', this._lastEventId);
    if (auth) for (const [k, v] of Object.entries(auth)) u.searchParams.set(k, v);

    const es = new ES(u.toString(), { withCredentials: Boolean(this.opts.withCredentials) });
    this.es = es;
    for (const type of EVENT_TYPES) es.addEventListener(type, (ev) => { if (this.es === es) this.dispatch(type, ev); });
    es.onopen = () => { if (this.es === es) this.setStatus('open'); };
    es.onerror = () => { if (this.es === es) this.failed(); };
  }

  // Any error ends this EventSource: we reconnect ourselves, so the auth hook
  // runs and the URL carries the last event id.
  private failed(): void {
    const wasConnected = this._connectionId !== null;
    this.closeStream();
    if (wasConnected) this.attempt = 0;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    const delay = backoffDelay(this.attempt, this.minRetryMs, this.maxRetryMs, this.random);
    this.attempt++;
    this.setStatus('reconnecting');
    const gen = this.generation;
    this.retryTimer = this.timers.setTimeout(() => {
      if (gen !== this.generation) return;
      this.retryTimer = null;
      void this.open();
    }, delay);
  }

  private dispatch(type: EventType, ev: MessageLike): void {
    const payload = parse(ev.data);
    const id = ev.lastEventId ?? '';
    if (id) this._lastEventId = id;
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    const meta: EventMeta = { type, id, data: ev.data };
    if (type === 'connected') {
      const p = payload as ConnectedPayload;
      this._connectionId = p && typeof p.connection_id === 'string' ? p.connection_id : null;
      this.setServerPaused(false);  // a new connection starts live
      const resumed = this.connectedOnce;
      const hadId = this.lastIdAtOpen();
      this.connectedOnce = true;
      this.attempt = 0;
      this.setStatus('open');
      this.deliver(type, payload, meta);
      // A reconnect with no id to resume from may have missed events.
      if (resumed && !hadId) this.deliver('resync', { reason: 'reconnected' }, { type: 'resync', id: '', data: '' });
      void this.syncVisibility();
      return;
    }
    this.deliver(type, payload, meta);
  }

  private lastIdAtOpen(): boolean {
    if (!this.es) return false;
    try {
      return new URL(this.es.url).searchParams.has('lastEventId');
    } catch {
      return false;
    }
  }

  private deliver(type: EventType, payload: unknown, meta: EventMeta): void {
    for (const sub of [...this.subs]) {
      if (!this.subs.has(sub)) continue;
      const h = sub.handlers;
      if (h.event) this.call(() => h.event!(type, payload, meta));
      const fn = h[type] as ((p: unknown, m: EventMeta) => void) | undefined;
      if (!fn) continue;
      if (type === 'invalidate') {
        if (this.wants(sub, (payload as InvalidatePayload)?.resource)) this.call(() => fn(payload, meta));
      } else if (type === 'batch' && Array.isArray(payload)) {
        const mine = payload.filter((s: InvalidatePayload) => this.wants(sub, s?.resource));
        if (mine.length) this.call(() => fn(mine, meta));
      } else {
        this.call(() => fn(payload, meta));
      }
    }
    // A subscriber without a batch handler gets each entry as an invalidate.
    if (type === 'batch' && Array.isArray(payload)) {
      for (const sub of [...this.subs]) {
        const h = sub.handlers;
        if (h.batch || !h.invalidate) continue;
        for (const spec of payload as InvalidatePayload[]) {
          if (this.wants(sub, spec?.resource)) this.call(() => h.invalidate!(spec, { ...meta, type: 'invalidate' }));
        }
      }
    }
  }

  // invalidate and batch name their resource (= topic): a subscriber gets
  // those of its own topics only. Other events carry no topic: everyone.
  private wants(sub: Subscription, resource: unknown): boolean {
    if (sub.topics.length === 0) return true;
    return typeof resource === 'string' && sub.topics.some((p) => topicMatches(p, resource));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    if (this.opts.onError) this.opts.onError(err);
    else this.timers.setTimeout(() => { throw err; }, 0);
  }

  private setStatus(s: Status): void {
    if (this._status === s) return;
    this._status = s;
    for (const l of [...this.statusListeners]) this.call(() => l(s));
  }

  // -- visibility

  private setListening(on: boolean): void {
    if (on === this.listening || !this.doc) return;
    this.listening = on;
    if (on) {
      this.doc.addEventListener('visibilitychange', this.onVisibility);
    } else {
      this.doc.removeEventListener('visibilitychange', this.onVisibility);
    }
  }

  // The page's wish: its own (setHidden) or else the document's visibility.
  private wantPaused(): boolean {
    if (this.hiddenOverride !== null) return this.hiddenOverride;
    return this.doc !== null && this.doc.visibilityState === 'hidden';
  }

  private setServerPaused(paused: boolean): void {
    if (this.serverPaused === paused) return;
    this.serverPaused = paused;
    for (const l of [...this.pauseListeners]) this.call(() => l(paused));
  }

  // One report loop at a time; it runs until the server has the latest wish.
  // `reporting` is set and cleared synchronously with the loop's last check,
  // so a wish made just after the loop ends starts a new one.
  private syncVisibility(): Promise<void> {
    if (!this.visibilityUrl || !this.fetchImpl) return Promise.resolve();
    if (!this.reporting) this.syncing = this.reportLoop();
    return this.syncing ?? Promise.resolve();
  }

  private async reportLoop(): Promise<void> {
    this.reporting = true;
    try {
      while (this._connectionId && this.wantPaused() !== this.serverPaused) {
        const want = this.wantPaused();
        const id = this._connectionId;
        const body = new URLSearchParams({ connection_id: id, owner: this.owner, paused: want ? '1' : '0' });
        const res = await this.fetchImpl!(this.visibilityUrl!, {
          method: 'POST', body, keepalive: true, credentials: this.opts.withCredentials ? 'include' : 'same-origin',
        });
        if (!res.ok) throw new Error(`@ssehub/client: visibility report answered ${res.status}`);
        if (id !== this._connectionId) continue;  // reconnected meanwhile: the new one starts live
        this.setServerPaused(want);
      }
    } catch (err) {
      this.report(err);
    } finally {
      this.reporting = false;
    }
  }
}

// ---------------------------------------------------------------- the page's registry

const registry = new Map<string, Hub>();

/**
 * The page's hub for `url` (created on first use with `options`; later calls
 * share it and ignore their options). Subscribe to it from anywhere: one
 * stream per URL.
 */
export function getHub(url: string, options?: HubOptions): Hub {
  const key = new URL(url, baseHref()).toString();
  let hub = registry.get(key);
  if (!hub) {
    hub = new Hub(url, options);
    registry.set(key, hub);
  }
  return hub;
}

/** Shorthand: `getHub(url, options).subscribe(topics, handlers)`. */
export function subscribe(url: string, topics: readonly string[], handlers: Handlers, options?: HubOptions): () => void {
  return getHub(url, options).subscribe(topics, handlers);
}

/** Closes and forgets every hub of the page (tests, logout). */
export function closeAllHubs(): void {
  for (const hub of [...registry.values()]) hub.close();
  registry.clear();
}

export { matchKey, tanstackQueryAdapter, swrAdapter, invalidationHandlers } from './adapters.js';
export type { InvalidationAdapter, KeyMatcher, QueryClientLike, SWRMutateLike } from './adapters.js';
