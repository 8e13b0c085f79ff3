// ssehub.js: the browser side of ssehub's kill-polling helpers, as a plain
// ES module (no build step, no dependencies).
//
//   import { connect } from '/ssehub.js';
//   const hub = connect('/events?tenant=A', {
//     pauseUrl: '/api/visibility',                    // report hidden tabs (optional)
//     onInvalidate: ({ resource }) => refetch(resource),
//     onProgress: ({ pct }) => bar.value = pct,
//     onComplete: ({ status }) => toast(status),
//   });
//
// Events handled (data is JSON, parsed before the callback):
//   connected  {connection_id, topics}          onConnected
//   invalidate {resource, action, resource_id?, hint?}   onInvalidate
//   batch      [invalidate payloads]             onBatch, else onInvalidate per entry
//   signal     {signal: "refresh"}               onSignal(payload, topicless)
//   progress   {resource_id, current, total, pct, ...}   onProgress
//   complete   {resource_id, status, ...}        onComplete
//   resync     {reason}                          onResync: state may be stale, refetch
// Every event also goes to onEvent(type, payload, messageEvent).
//
// Visibility: with `pauseUrl`, the module POSTs
//   connection_id=<id>&owner=<secret>&paused=1|0   (form-encoded)
// when the page is hidden or shown, so the server can pause the connection
// (hub.set_paused): instant events keep flowing, batched/coalesced ones wait
// and the latest state arrives on resume. `owner` is a per-page secret also
// sent on the stream URL (?owner=), so the server only lets the page that
// opened a connection pause it; it is generated when not given.
//
// Reconnects: EventSource retries dropped streams itself; when it gives up
// (the server answered with an error status) this module reconnects with
// exponential backoff. After any reconnect it calls onResync({reason:
// "reconnected"}) because events published while disconnected were missed.

const EVENT_TYPES = ['connected', 'invalidate', 'batch', 'signal', 'progress', 'complete', 'resync', 'message'];

function randomSecret() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function withParams(url, params) {
  const u = new URL(url, globalThis.location ? globalThis.location.href : 'http://localhost/');
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
  }
  return u.toString();
}

function parse(data) {
  try {
    return JSON.parse(data);
  } catch {
    return data;  // not JSON: hand over the text
  }
}

/**
 * Opens the event stream and maps ssehub's kill-polling events to callbacks.
 * @param {string} url  the hub's stream URL, e.g. '/events?tenant=A'
 * @param {object} [options]
 * @param {string[]} [options.topics]    added as ?topics=a,b (when the server takes topics from the URL)
 * @param {string} [options.pauseUrl]    POST endpoint for visibility reports; omit to never pause
 * @param {string} [options.owner]       per-page secret for pause requests (default: random)
 * @param {boolean} [options.withCredentials]
 * @param {number} [options.minRetryMs=1000]  backoff after the server refused the stream
 * @param {number} [options.maxRetryMs=30000]
 * @param {Function} [options.onConnected] [options.onInvalidate] [options.onBatch] [options.onSignal]
 *   [options.onProgress] [options.onComplete] [options.onResync] [options.onEvent]
 * @param {Function} [options.onStatus]  ('connecting' | 'open' | 'reconnecting' | 'closed')
 * @param {Function} [options.onPauseChange]  (paused) once the server accepted a pause/resume
 * @param {Function} [options.onError]   (error) a failed visibility report or callback
 * @returns {{close(): void, readonly connectionId: string|null, readonly paused: boolean,
 *            readonly owner: string, readonly counts: Record<string, number>, setHidden(hidden: boolean): Promise<void>}}
 */
export function connect(url, options = {}) {
  const opts = { minRetryMs: 1000, maxRetryMs: 30000, ...options };
  const owner = opts.owner || randomSecret();
  const doc = opts.document || globalThis.document;
  const EventSourceImpl = opts.EventSource || globalThis.EventSource;
  const fetchImpl = opts.fetch || globalThis.fetch.bind(globalThis);
  const streamUrl = withParams(url, {
    topics: opts.topics ? opts.topics.join(',') : undefined,
    owner: opts.pauseUrl ? owner : undefined,
  });

  const counts = Object.create(null);
  let es = null;
  let connectionId = null;
  let connectedOnce = false;
  let closed = false;
  let retryTimer = null;
  let retryMs = opts.minRetryMs;
  // Visibility: what the page wants, and what the server has accepted for the
  // current connection. Reports are sent one at a time, the latest state wins.
  let wantPaused = Boolean(opts.pauseUrl && doc && doc.visibilityState === 'hidden');
  let serverPaused = false;
  let syncing = null;

  const status = (s) => call(opts.onStatus, s);

  function call(fn, ...args) {
    if (!fn) return;
    try {
      fn(...args);
    } catch (err) {
      if (opts.onError) opts.onError(err);
      else setTimeout(() => { throw err; });
    }
  }

  function dispatch(type, ev) {
    const payload = parse(ev.data);
    counts[type] = (counts[type] || 0) + 1;
    call(opts.onEvent, type, payload, ev);
    switch (type) {
      case 'connected':
        connectionId = payload && payload.connection_id ? payload.connection_id : null;
        serverPaused = false;  // a new connection starts live
        retryMs = opts.minRetryMs;
        call(opts.onConnected, payload, ev);
        if (connectedOnce) call(opts.onResync, { reason: 'reconnected' }, ev);
        connectedOnce = true;
        syncVisibility();
        break;
      case 'invalidate': call(opts.onInvalidate, payload, ev); break;
      case 'batch':
        if (opts.onBatch) call(opts.onBatch, payload, ev);
        else if (Array.isArray(payload)) for (const spec of payload) call(opts.onInvalidate, spec, ev);
        break;
      case 'signal': call(opts.onSignal, payload, ev); break;
      case 'progress': call(opts.onProgress, payload, ev); break;
      case 'complete': call(opts.onComplete, payload, ev); break;
      case 'resync': call(opts.onResync, payload, ev); break;
      default: break;
    }
  }

  function open() {
    if (closed) return;
    status(connectedOnce ? 'reconnecting' : 'connecting');
    es = new EventSourceImpl(streamUrl, { withCredentials: Boolean(opts.withCredentials) });
    for (const type of EVENT_TYPES) es.addEventListener(type, (ev) => dispatch(type, ev));
    es.onopen = () => status('open');
    es.onerror = () => {
      connectionId = null;  // this connection is gone; pause reports wait for the next one
      if (closed) return;
      if (es.readyState === EventSourceImpl.CLOSED) {
        // The browser gave up (e.g. a 4xx/5xx answer): retry ourselves, with backoff and jitter.
        es = null;
        const delay = retryMs * (0.5 + Math.random() / 2);
        retryMs = Math.min(retryMs * 2, opts.maxRetryMs);
        status('reconnecting');
        retryTimer = setTimeout(open, delay);
      } else {
        status('reconnecting');  // EventSource retries by itself
      }
    };
  }

  async function post(paused) {
    const body = new URLSearchParams({ connection_id: connectionId, owner, paused: paused ? '1' : '0' });
    const res = await fetchImpl(opts.pauseUrl, { method: 'POST', body, keepalive: true });
    if (!res.ok) throw new Error(`ssehub: visibility report answered ${res.status}`);
  }

  // One report loop at a time; it runs until the server has the latest wish.
  function syncVisibility() {
    if (!opts.pauseUrl) return Promise.resolve();
    if (!syncing) syncing = reportLoop().finally(() => { syncing = null; });
    return syncing;
  }

  async function reportLoop() {
    try {
      while (!closed && connectionId && wantPaused !== serverPaused) {
        const want = wantPaused;
        const id = connectionId;
        await post(want);
        if (id !== connectionId) continue;  // reconnected meanwhile: the new one starts live
        serverPaused = want;
        call(opts.onPauseChange, want);
      }
    } catch (err) {
      call(opts.onError, err);
    }
  }

  function onVisibility() {
    wantPaused = doc.visibilityState === 'hidden';
    syncVisibility();
  }

  if (opts.pauseUrl && doc) doc.addEventListener('visibilitychange', onVisibility);
  open();

  return {
    close() {
      closed = true;
      clearTimeout(retryTimer);
      if (es) es.close();
      es = null;
      connectionId = null;
      if (opts.pauseUrl && doc) doc.removeEventListener('visibilitychange', onVisibility);
      status('closed');
    },
    get connectionId() { return connectionId; },
    get paused() { return serverPaused; },
    get owner() { return owner; },
    get counts() { return { ...counts }; },
    // Reports a visibility state without a visibilitychange (e.g. a tab's own "pause" toggle).
    setHidden(hidden) {
      wantPaused = Boolean(hidden);
      return syncVisibility();
    },
  };
}

/**
 * The resources an event asks to refetch: [resource] for `invalidate`, the
 * distinct resources of a `batch`, or null (everything) for `resync`.
 */
export function resourcesOf(type, payload) {
  if (type === 'invalidate' && payload && payload.resource) return [payload.resource];
  if (type === 'batch' && Array.isArray(payload)) return [...new Set(payload.map((s) => s.resource))];
  if (type === 'resync') return null;
  return [];
}
