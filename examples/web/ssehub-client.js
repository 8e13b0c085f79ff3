// ssehub-client.js: @ssehub/client as one ES module for <script type="module">.
// Generated from examples/web/ssehub-client/src by `npm run build:browser`; do not edit.

// src/adapters.ts
var handled = /* @__PURE__ */ new WeakMap();
function firstTime(target, payload, key) {
  if (!payload || typeof payload !== "object") return true;
  let byPayload = handled.get(target);
  if (!byPayload) handled.set(target, byPayload = /* @__PURE__ */ new WeakMap());
  let keys = byPayload.get(payload);
  if (!keys) byPayload.set(payload, keys = /* @__PURE__ */ new Set());
  if (keys.has(key)) return false;
  keys.add(key);
  return true;
}
var matchKey = (key, resource, resourceId) => {
  if (Array.isArray(key)) {
    if (key[0] !== resource) return false;
    if (resourceId === void 0 || key.length < 2) return true;
    const second = key[1];
    if (typeof second === "string" || typeof second === "number" || typeof second === "bigint") {
      return String(second) === resourceId;
    }
    return true;
  }
  if (typeof key === "string") {
    const parts = key.split(/[?#]/)[0].split("/").filter(Boolean);
    const n = parts.length;
    if (n >= 1 && parts[n - 1] === resource) return true;
    if (n >= 2 && parts[n - 2] === resource) return resourceId === void 0 || parts[n - 1] === resourceId;
    return false;
  }
  return false;
};
function tanstackQueryAdapter(queryClient, options = {}) {
  const match = options.match ?? matchKey;
  return {
    invalidate(resource, resourceId, payload) {
      if (!firstTime(queryClient, payload, `${resource}\0${resourceId ?? ""}`)) return;
      void queryClient.invalidateQueries({ predicate: (q) => match(q.queryKey, resource, resourceId) });
    },
    refetchAll(payload) {
      if (!firstTime(queryClient, payload, "\0all")) return;
      void queryClient.invalidateQueries();
    }
  };
}
function swrAdapter(mutate, options = {}) {
  const match = options.match ?? matchKey;
  return {
    invalidate(resource, resourceId, payload) {
      if (!firstTime(mutate, payload, `${resource}\0${resourceId ?? ""}`)) return;
      void mutate((key) => match(key, resource, resourceId));
    },
    refetchAll(payload) {
      if (!firstTime(mutate, payload, "\0all")) return;
      void mutate(() => true);
    }
  };
}
function invalidationHandlers(topics, adapter) {
  const get = typeof adapter === "function" ? adapter : () => adapter;
  return {
    invalidate: (p) => get().invalidate(p.resource, p.resource_id || void 0, p),
    batch: (specs) => {
      const a = get();
      for (const p of specs) a.invalidate(p.resource, p.resource_id || void 0, p);
    },
    resync: (p) => get().refetchAll(p),
    signal: (p) => {
      const a = get();
      for (const t of topics) if (!/[*>]/.test(t)) a.invalidate(t, void 0, p);
    }
  };
}

// src/index.ts
var EVENT_TYPES = [
  "connected",
  "invalidate",
  "batch",
  "signal",
  "progress",
  "complete",
  "resync",
  "server-shutdown",
  "message"
];
function backoffDelay(attempt, minRetryMs, maxRetryMs, random = Math.random) {
  const d = Math.min(maxRetryMs, minRetryMs * 2 ** Math.min(attempt, 30));
  return d / 2 + random() * (d / 2);
}
function topicMatches(pattern, topic) {
  const p = pattern.split(".");
  const t = topic.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return t.length > i;
    if (i >= t.length) return false;
    if (p[i] !== "*" && p[i] !== t[i]) return false;
  }
  return p.length === t.length;
}
function resourcesOf(type, payload) {
  if (type === "invalidate" && payload && typeof payload.resource === "string") {
    return [payload.resource];
  }
  if (type === "batch" && Array.isArray(payload)) return [...new Set(payload.map((s) => s.resource))];
  if (type === "resync") return null;
  return [];
}
function randomSecret(random) {
  const bytes = new Uint8Array(16);
  const c = globalThis.crypto;
  if (c && c.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
function baseHref() {
  const loc = globalThis.location;
  return loc ? loc.href : "http://localhost/";
}
function parse(data) {
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
var Hub = class {
  constructor(url, options = {}) {
    this.subs = /* @__PURE__ */ new Set();
    this.statusListeners = /* @__PURE__ */ new Set();
    this.pauseListeners = /* @__PURE__ */ new Set();
    this.es = null;
    this.openTopics = null;
    // the topic key the current stream was opened with
    this._status = "idle";
    this._connectionId = null;
    this._lastEventId = null;
    this.connectedOnce = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.reconcileQueued = false;
    this.generation = 0;
    // bumps on every open/close: stale async work checks it
    // Visibility: the page's own wish (setHidden; null: follow the document),
    // and what the server accepted for this connection.
    this.hiddenOverride = null;
    this.serverPaused = false;
    this.syncing = null;
    this.reporting = false;
    this.listening = false;
    this.onVisibility = () => {
      void this.syncVisibility();
    };
    this.counts = /* @__PURE__ */ Object.create(null);
    this.opts = options;
    this.url = new URL(url, baseHref()).toString();
    this.ES = options.EventSource ?? globalThis.EventSource;
    this.doc = options.document !== void 0 ? options.document : globalThis.document ?? null;
    const gf = globalThis.fetch;
    this.fetchImpl = options.fetch ?? (gf ? gf.bind(globalThis) : void 0);
    this.timers = options.timers ?? {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (h) => globalThis.clearTimeout(h)
    };
    this.random = options.random ?? Math.random;
    this.minRetryMs = options.minRetryMs ?? 1e3;
    this.maxRetryMs = options.maxRetryMs ?? 3e4;
    this.owner = options.owner ?? randomSecret(this.random);
    if (options.visibilityUrl === false) {
      this.visibilityUrl = null;
    } else if (options.visibilityUrl) {
      this.visibilityUrl = new URL(options.visibilityUrl, this.url).toString();
    } else {
      const u = new URL(this.url);
      u.pathname = u.pathname.replace(/\/$/, "") + "/visibility";
      u.search = "";
      this.visibilityUrl = u.toString();
    }
  }
  /** Subscribes to `topics` (merged with every other subscriber's); returns the unsubscribe function. */
  subscribe(topics, handlers) {
    const sub = { topics: [...topics], handlers };
    this.subs.add(sub);
    this.queueReconcile();
    return () => {
      if (this.subs.delete(sub)) this.queueReconcile();
    };
  }
  /** The merged, sorted, distinct topics of all subscribers. */
  get topics() {
    const all = /* @__PURE__ */ new Set();
    for (const s of this.subs) for (const t of s.topics) all.add(t);
    return [...all].sort();
  }
  get status() {
    return this._status;
  }
  get connectionId() {
    return this._connectionId;
  }
  get lastEventId() {
    return this._lastEventId;
  }
  /** Whether the hub has accepted a pause of the current connection. */
  get paused() {
    return this.serverPaused;
  }
  get subscriberCount() {
    return this.subs.size;
  }
  /** Events received, by type. */
  get eventCounts() {
    return { ...this.counts };
  }
  onStatus(listener) {
    this.statusListeners.add(listener);
    return () => {
      this.statusListeners.delete(listener);
    };
  }
  /**
   * Calls `listener(paused)` whenever `paused` changes: the hub accepted a
   * pause or a resume, or the paused connection ended (a new one starts live).
   */
  onPause(listener) {
    this.pauseListeners.add(listener);
    return () => {
      this.pauseListeners.delete(listener);
    };
  }
  /**
   * The page's own hidden/visible wish (e.g. a "pause" toggle), overriding the
   * document's visibility, for this and every later connection; `null` follows
   * `visibilitychange` again. Resolves when the hub has it.
   */
  setHidden(hidden) {
    this.hiddenOverride = hidden;
    return this.syncVisibility();
  }
  /** Ends the stream and forgets every subscriber (the shared hub is removed from the registry). */
  close() {
    this.subs.clear();
    this.stop("closed");
    for (const [key, hub] of registry) if (hub === this) registry.delete(key);
  }
  // -- stream lifecycle
  // Subscribers of one render mount in one go: reconcile once, after them.
  queueReconcile() {
    if (this.reconcileQueued) return;
    this.reconcileQueued = true;
    queueMicrotask(() => {
      this.reconcileQueued = false;
      this.reconcile();
    });
  }
  reconcile() {
    if (this.subs.size === 0) {
      this.stop("idle");
      return;
    }
    const key = this.topics.join(",");
    if (this.openTopics === key && this._status !== "idle" && this._status !== "closed") return;
    this.openTopics = key;
    this.closeStream();
    this.attempt = 0;
    void this.open();
  }
  stop(status) {
    this.openTopics = null;
    this.closeStream();
    this.attempt = 0;
    this.setListening(false);
    this.setStatus(status);
  }
  closeStream() {
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
  async open() {
    const gen = ++this.generation;
    const ES = this.ES;
    if (!ES) {
      this.report(new Error("@ssehub/client: no EventSource here (pass options.EventSource)"));
      this.setStatus("closed");
      return;
    }
    this.setStatus(this.connectedOnce ? "reconnecting" : "connecting");
    this.setListening(this.visibilityUrl !== null && this.doc !== null);
    let auth = void 0;
    if (this.opts.auth) {
      try {
        auth = await this.opts.auth({ reconnect: this.connectedOnce || this.attempt > 0, attempt: this.attempt });
      } catch (err) {
        if (gen !== this.generation) return;
        this.report(err);
        this.scheduleRetry();
        return;
      }
      if (gen !== this.generation) return;
    }
    const u = new URL(this.url);
    const topics = this.topics;
    if (this.opts.topicsParam !== false && topics.length) u.searchParams.set(this.opts.topicsParam ?? "topics", topics.join(","));
    if (this.visibilityUrl) u.searchParams.set("owner", this.owner);
    if (this._lastEventId) u.searchParams.set("lastEventId", this._lastEventId);
    if (auth) for (const [k, v] of Object.entries(auth)) u.searchParams.set(k, v);
    const es = new ES(u.toString(), { withCredentials: Boolean(this.opts.withCredentials) });
    this.es = es;
    for (const type of EVENT_TYPES) es.addEventListener(type, (ev) => {
      if (this.es === es) this.dispatch(type, ev);
    });
    es.onopen = () => {
      if (this.es === es) this.setStatus("open");
    };
    es.onerror = () => {
      if (this.es === es) this.failed();
    };
  }
  // Any error ends this EventSource: we reconnect ourselves, so the auth hook
  // runs and the URL carries the last event id.
  failed() {
    const wasConnected = this._connectionId !== null;
    this.closeStream();
    if (wasConnected) this.attempt = 0;
    this.scheduleRetry();
  }
  scheduleRetry() {
    const delay = backoffDelay(this.attempt, this.minRetryMs, this.maxRetryMs, this.random);
    this.attempt++;
    this.setStatus("reconnecting");
    const gen = this.generation;
    this.retryTimer = this.timers.setTimeout(() => {
      if (gen !== this.generation) return;
      this.retryTimer = null;
      void this.open();
    }, delay);
  }
  dispatch(type, ev) {
    const payload = parse(ev.data);
    const id = ev.lastEventId ?? "";
    if (id) this._lastEventId = id;
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    const meta = { type, id, data: ev.data };
    if (type === "connected") {
      const p = payload;
      this._connectionId = p && typeof p.connection_id === "string" ? p.connection_id : null;
      this.setServerPaused(false);
      const resumed = this.connectedOnce;
      const hadId = this.lastIdAtOpen();
      this.connectedOnce = true;
      this.attempt = 0;
      this.setStatus("open");
      this.deliver(type, payload, meta);
      if (resumed && !hadId) this.deliver("resync", { reason: "reconnected" }, { type: "resync", id: "", data: "" });
      void this.syncVisibility();
      return;
    }
    this.deliver(type, payload, meta);
  }
  lastIdAtOpen() {
    if (!this.es) return false;
    try {
      return new URL(this.es.url).searchParams.has("lastEventId");
    } catch {
      return false;
    }
  }
  deliver(type, payload, meta) {
    for (const sub of [...this.subs]) {
      if (!this.subs.has(sub)) continue;
      const h = sub.handlers;
      if (h.event) this.call(() => h.event(type, payload, meta));
      const fn = h[type];
      if (!fn) continue;
      if (type === "invalidate") {
        if (this.wants(sub, payload?.resource)) this.call(() => fn(payload, meta));
      } else if (type === "batch" && Array.isArray(payload)) {
        const mine = payload.filter((s) => this.wants(sub, s?.resource));
        if (mine.length) this.call(() => fn(mine, meta));
      } else {
        this.call(() => fn(payload, meta));
      }
    }
    if (type === "batch" && Array.isArray(payload)) {
      for (const sub of [...this.subs]) {
        const h = sub.handlers;
        if (h.batch || !h.invalidate) continue;
        for (const spec of payload) {
          if (this.wants(sub, spec?.resource)) this.call(() => h.invalidate(spec, { ...meta, type: "invalidate" }));
        }
      }
    }
  }
  // invalidate and batch name their resource (= topic): a subscriber gets
  // those of its own topics only. Other events carry no topic: everyone.
  wants(sub, resource) {
    if (sub.topics.length === 0) return true;
    return typeof resource === "string" && sub.topics.some((p) => topicMatches(p, resource));
  }
  call(fn) {
    try {
      fn();
    } catch (err) {
      this.report(err);
    }
  }
  report(err) {
    if (this.opts.onError) this.opts.onError(err);
    else this.timers.setTimeout(() => {
      throw err;
    }, 0);
  }
  setStatus(s) {
    if (this._status === s) return;
    this._status = s;
    for (const l of [...this.statusListeners]) this.call(() => l(s));
  }
  // -- visibility
  setListening(on) {
    if (on === this.listening || !this.doc) return;
    this.listening = on;
    if (on) {
      this.doc.addEventListener("visibilitychange", this.onVisibility);
    } else {
      this.doc.removeEventListener("visibilitychange", this.onVisibility);
    }
  }
  // The page's wish: its own (setHidden) or else the document's visibility.
  wantPaused() {
    if (this.hiddenOverride !== null) return this.hiddenOverride;
    return this.doc !== null && this.doc.visibilityState === "hidden";
  }
  setServerPaused(paused) {
    if (this.serverPaused === paused) return;
    this.serverPaused = paused;
    for (const l of [...this.pauseListeners]) this.call(() => l(paused));
  }
  // One report loop at a time; it runs until the server has the latest wish.
  // `reporting` is set and cleared synchronously with the loop's last check,
  // so a wish made just after the loop ends starts a new one.
  syncVisibility() {
    if (!this.visibilityUrl || !this.fetchImpl) return Promise.resolve();
    if (!this.reporting) this.syncing = this.reportLoop();
    return this.syncing ?? Promise.resolve();
  }
  async reportLoop() {
    this.reporting = true;
    try {
      while (this._connectionId && this.wantPaused() !== this.serverPaused) {
        const want = this.wantPaused();
        const id = this._connectionId;
        const body = new URLSearchParams({ connection_id: id, owner: this.owner, paused: want ? "1" : "0" });
        const res = await this.fetchImpl(this.visibilityUrl, {
          method: "POST",
          body,
          keepalive: true,
          credentials: this.opts.withCredentials ? "include" : "same-origin"
        });
        if (!res.ok) throw new Error(`@ssehub/client: visibility report answered ${res.status}`);
        if (id !== this._connectionId) continue;
        this.setServerPaused(want);
      }
    } catch (err) {
      this.report(err);
    } finally {
      this.reporting = false;
    }
  }
};
var registry = /* @__PURE__ */ new Map();
function getHub(url, options) {
  const key = new URL(url, baseHref()).toString();
  let hub = registry.get(key);
  if (!hub) {
    hub = new Hub(url, options);
    registry.set(key, hub);
  }
  return hub;
}
function subscribe(url, topics, handlers, options) {
  return getHub(url, options).subscribe(topics, handlers);
}
function closeAllHubs() {
  for (const hub of [...registry.values()]) hub.close();
  registry.clear();
}
export {
  EVENT_TYPES,
  Hub,
  backoffDelay,
  closeAllHubs,
  getHub,
  invalidationHandlers,
  matchKey,
  resourcesOf,
  subscribe,
  swrAdapter,
  tanstackQueryAdapter,
  topicMatches
};
