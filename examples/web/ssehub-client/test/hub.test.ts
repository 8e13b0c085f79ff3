import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, closeAllHubs, getHub, Hub, resourcesOf, subscribe, topicMatches } from '../src/index.js';
import type { HubOptions } from '../src/index.js';
import { FakeDocument, FakeEventSource, FakeTimers, fakeFetch, settle } from './fakes.js';

const URL_ = 'http://hub.test/events';
let doc: FakeDocument;
let timers: FakeTimers;
let posts: ReturnType<typeof fakeFetch>;
let errors: unknown[];

function options(extra: HubOptions = {}): HubOptions {
  return {
    EventSource: FakeEventSource, document: doc, fetch: posts.fetch, timers,
    random: () => 0.5, owner: 'a'.repeat(32), onError: (e) => errors.push(e), ...extra,
  };
}
const only = () => {
  const open = FakeEventSource.open;
  expect(open).toHaveLength(1);
  return open[0];
};
// The stream fails, the retry timer fires, and the new stream connects as `id`.
async function reconnectAs(id: string) {
  only().fail();
  timers.runAll();
  await settle();
  only().connect(id);
  await settle();
}

beforeEach(() => {
  FakeEventSource.reset();
  doc = new FakeDocument();
  timers = new FakeTimers();
  posts = fakeFetch();
  errors = [];
});
afterEach(() => closeAllHubs());

describe('one stream per hub URL', () => {
  it('merges the topics of every subscriber into one EventSource', async () => {
    const hub = getHub(URL_, options());
    hub.subscribe(['orders', 'users'], {});
    hub.subscribe(['orders'], {});
    subscribe(URL_, ['invoices.*'], {});  // the same page-wide hub, found by URL
    await settle();
    expect(FakeEventSource.instances).toHaveLength(1);
    const es = only();
    expect(es.topics).toEqual(['invoices.*', 'orders', 'users']);
    expect(es.params.get('owner')).toBe('a'.repeat(32));
    expect(hub.subscriberCount).toBe(3);
  });

  it('shares the hub between getHub calls with the same URL, relative or absolute', () => {
    const a = getHub(URL_, options());
    expect(getHub('http://hub.test/events')).toBe(a);
    expect(getHub('http://hub.test/other', options())).not.toBe(a);
  });

  it('reconnects when the topic set changes, not when it stays the same', async () => {
    const hub = getHub(URL_, options());
    const offA = hub.subscribe(['orders'], {});
    await settle();
    const first = only();
    first.connect('c1', 'id-1');
    const offB = hub.subscribe(['orders'], {});  // same set: nothing
    await settle();
    expect(FakeEventSource.instances).toHaveLength(1);
    hub.subscribe(['users'], {});
    await settle();
    expect(first.closed).toBe(true);
    const second = only();
    expect(second.topics).toEqual(['orders', 'users']);
    expect(second.params.get('lastEventId')).toBe('id-1');  // resumes: nothing missed in between
    offB();
    await settle();
    expect(FakeEventSource.instances).toHaveLength(2);  // orders is still wanted by A
    offA();
    await settle();
    expect(only().topics).toEqual(['users']);
  });

  it('closes the stream when the last subscriber leaves; a mount/unmount/mount in one tick opens one stream', async () => {
    const hub = getHub(URL_, options());
    const off = hub.subscribe(['orders'], {});
    off();
    hub.subscribe(['orders'], {});  // React StrictMode does this
    await settle();
    expect(FakeEventSource.instances).toHaveLength(1);
    hub.close();
    expect(FakeEventSource.open).toHaveLength(0);
    expect(hub.status).toBe('closed');
  });
});

describe('typed handlers', () => {
  it('parses each event type and routes it to its handler', async () => {
    const hub = getHub(URL_, options());
    const got: [string, unknown][] = [];
    const on = (t: string) => (p: unknown) => { got.push([t, p]); };
    hub.subscribe([], {
      connected: on('connected'), invalidate: on('invalidate'), signal: on('signal'), progress: on('progress'),
      complete: on('complete'), batch: on('batch'), resync: on('resync'), 'server-shutdown': on('server-shutdown'),
    });
    await settle();
    const es = only();
    es.connect('c9');
    es.emit('invalidate', { resource: 'orders', action: 'created', resource_id: '7' }, 'e1');
    es.emit('signal', { signal: 'refresh' });
    es.emit('progress', { resource_id: 'imp_1', current: 5, total: 10, pct: 50 });
    es.emit('complete', { resource_id: 'imp_1', status: 'completed' });
    es.emit('batch', [{ resource: 'orders', action: 'updated' }]);
    es.emit('resync', { reason: 'replay_truncated' });
    es.emit('server-shutdown', { reason: 'shutdown' });
    expect(got).toEqual([
      ['connected', { connection_id: 'c9', topics: [] }],
      ['invalidate', { resource: 'orders', action: 'created', resource_id: '7' }],
      ['signal', { signal: 'refresh' }],
      ['progress', { resource_id: 'imp_1', current: 5, total: 10, pct: 50 }],
      ['complete', { resource_id: 'imp_1', status: 'completed' }],
      ['batch', [{ resource: 'orders', action: 'updated' }]],
      ['resync', { reason: 'replay_truncated' }],
      ['server-shutdown', { reason: 'shutdown' }],
    ]);
    expect(hub.connectionId).toBe('c9');
    expect(hub.lastEventId).toBe('e1');
    expect(hub.eventCounts.invalidate).toBe(1);
  });

  it('gives invalidate and batch entries only to subscribers of their resource (NATS wildcards)', async () => {
    const hub = getHub(URL_, options());
    const a: string[] = [], b: string[] = [], all: string[] = [];
    hub.subscribe(['orders'], { invalidate: (p) => a.push(p.resource) });
    hub.subscribe(['users.*'], { invalidate: (p) => b.push(p.resource), batch: (specs) => b.push(`batch:${specs.length}`) });
    hub.subscribe([], { invalidate: (p) => all.push(p.resource) });
    await settle();
    const es = only();
    es.connect();
    es.emit('invalidate', { resource: 'orders', action: 'created' });
    es.emit('invalidate', { resource: 'users.eu', action: 'created' });
    es.emit('batch', [{ resource: 'orders', action: 'x' }, { resource: 'users.us', action: 'y' }, { resource: 'users.eu', action: 'z' }]);
    expect(a).toEqual(['orders', 'orders']);  // no batch handler: one invalidate per matching entry
    expect(b).toEqual(['users.eu', 'batch:2']);
    expect(all).toEqual(['orders', 'users.eu', 'orders', 'users.us', 'users.eu']);
  });

  it('a throwing handler does not stop the others; onError gets it', async () => {
    const hub = getHub(URL_, options());
    const seen: string[] = [];
    hub.subscribe([], { signal: () => { throw new Error('boom'); } });
    hub.subscribe([], { signal: () => seen.push('second') });
    await settle();
    only().emit('signal', { signal: 'refresh' });
    expect(seen).toEqual(['second']);
    expect(String(errors[0])).toContain('boom');
  });

  it('topicMatches and resourcesOf', () => {
    expect(topicMatches('orders', 'orders')).toBe(true);
    expect(topicMatches('orders.*', 'orders.eu')).toBe(true);
    expect(topicMatches('orders.*', 'orders.eu.x')).toBe(false);
    expect(topicMatches('orders.>', 'orders.eu.x')).toBe(true);
    expect(topicMatches('orders.>', 'orders')).toBe(false);
    expect(topicMatches('orders', 'orders.eu')).toBe(false);
    expect(resourcesOf('invalidate', { resource: 'a', action: 'x' })).toEqual(['a']);
    expect(resourcesOf('batch', [{ resource: 'a' }, { resource: 'b' }, { resource: 'a' }])).toEqual(['a', 'b']);
    expect(resourcesOf('resync', {})).toBeNull();
    expect(resourcesOf('progress', {})).toEqual([]);
  });
});

describe('reconnects', () => {
  it('backs off exponentially with jitter in [d/2, d], capped, reset by a good connection', () => {
    expect(backoffDelay(0, 1000, 30000, () => 0)).toBe(500);
    expect(backoffDelay(0, 1000, 30000, () => 0.999999)).toBeCloseTo(1000, 2);
    expect(backoffDelay(3, 1000, 30000, () => 0)).toBe(4000);
    expect(backoffDelay(3, 1000, 30000, () => 1)).toBe(8000);
    expect(backoffDelay(10, 1000, 30000, () => 1)).toBe(30000);
    expect(backoffDelay(10, 1000, 30000, () => 0)).toBe(15000);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(2, 1000, 30000);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });

  it('retries after an error with growing delays, and resets after connecting', async () => {
    const hub = getHub(URL_, options({ random: () => 1 }));
    hub.subscribe(['orders'], {});
    await settle();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      only().fail();  // refused: no connected event
      expect(hub.status).toBe('reconnecting');
      delays.push(...timers.runAll());
      await settle();
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000]);
    only().connect();
    expect(hub.status).toBe('open');
    only().fail();
    expect(timers.runAll()).toEqual([1000]);
    await settle();
    expect(FakeEventSource.instances).toHaveLength(8);
    expect(FakeEventSource.open).toHaveLength(1);  // never two at once
  });

  it('keeps the last event id across reconnects (?lastEventId=)', async () => {
    const hub = getHub(URL_, options());
    hub.subscribe(['orders'], {});
    await settle();
    let es = only();
    expect(es.params.has('lastEventId')).toBe(false);
    es.connect('c1', 'id-0');  // connected carries the latest routed id
    es.emit('invalidate', { resource: 'orders', action: 'created' }, 'id-5');
    es.fail();
    timers.runAll();
    await settle();
    es = only();
    expect(es.params.get('lastEventId')).toBe('id-5');
    es.connect('c2');  // with Last-Event-ID the connected event has no id: keep id-5
    es.fail();
    timers.runAll();
    await settle();
    expect(only().params.get('lastEventId')).toBe('id-5');
  });

  it('calls the auth hook before every connect and puts its params on the URL', async () => {
    let n = 0;
    const calls: unknown[] = [];
    const hub = getHub(URL_, options({
      auth: async (ctx) => { calls.push(ctx); return { ticket: `t${++n}` }; },
    }));
    hub.subscribe(['orders'], {});
    await settle();
    expect(only().params.get('ticket')).toBe('t1');
    only().connect();
    only().fail();
    timers.runAll();
    await settle();
    expect(only().params.get('ticket')).toBe('t2');
    expect(calls).toEqual([{ reconnect: false, attempt: 0 }, { reconnect: true, attempt: 1 }]);
  });

  it('a failing auth hook counts as a failed attempt and is retried with backoff', async () => {
    let fail = true;
    const hub = getHub(URL_, options({
      random: () => 1,
      auth: () => { if (fail) throw new Error('no ticket'); return { token: 'jwt' }; },
    }));
    hub.subscribe(['orders'], {});
    await settle();
    expect(FakeEventSource.instances).toHaveLength(0);
    expect(String(errors[0])).toContain('no ticket');
    fail = false;
    expect(timers.runAll()).toEqual([1000]);
    await settle();
    expect(only().params.get('token')).toBe('jwt');
  });

  it('synthesizes a resync after a reconnect that had no id to resume from', async () => {
    const hub = getHub(URL_, options());
    const resyncs: unknown[] = [];
    hub.subscribe(['orders'], { resync: (p) => resyncs.push(p) });
    await settle();
    only().connect('c1');  // no event id known
    only().fail();
    timers.runAll();
    await settle();
    only().connect('c2');
    expect(resyncs).toEqual([{ reason: 'reconnected' }]);
    only().emit('resync', { reason: 'unknown_last_event_id' });
    expect(resyncs).toHaveLength(2);
  });

  it('no synthesized resync when the reconnect resumed from an id (the hub replays)', async () => {
    const hub = getHub(URL_, options());
    const resyncs: unknown[] = [];
    hub.subscribe(['orders'], { resync: (p) => resyncs.push(p) });
    await settle();
    only().connect('c1', 'id-1');
    only().fail();
    timers.runAll();
    await settle();
    only().connect('c2');
    expect(resyncs).toEqual([]);
  });

  it('reconnects after server-shutdown ends the stream', async () => {
    const hub = getHub(URL_, options());
    const seen: unknown[] = [];
    hub.subscribe(['orders'], { 'server-shutdown': (p) => seen.push(p) });
    await settle();
    only().connect('c1', 'id-1');
    only().emit('server-shutdown', { reason: 'shutdown' });
    only().fail();  // the hub ends the stream
    expect(seen).toEqual([{ reason: 'shutdown' }]);
    timers.runAll();
    await settle();
    expect(only().params.get('lastEventId')).toBe('id-1');
  });
});

describe('visibility', () => {
  it('pauses a hidden tab and resumes it through the visibility endpoint', async () => {
    const hub = getHub(URL_, options());
    hub.subscribe(['orders'], {});
    await settle();
    only().connect('c1');
    expect(posts.calls).toEqual([]);
    doc.setHidden(true);
    await settle();
    expect(posts.calls).toEqual([{ url: 'http://hub.test/events/visibility', body: { connection_id: 'c1', owner: 'a'.repeat(32), paused: '1' } }]);
    expect(hub.paused).toBe(true);
    doc.setHidden(false);
    await settle();
    expect(posts.calls[1].body.paused).toBe('0');
    expect(hub.paused).toBe(false);
  });

  it('a hidden page pauses its new connection after a reconnect; a quick hide/show sends the latest wish', async () => {
    const hub = getHub(URL_, options({ visibilityUrl: '/api/visibility' }));
    hub.subscribe(['orders'], {});
    await settle();
    doc.setHidden(true);  // not connected yet: nothing to pause
    await settle();
    expect(posts.calls).toEqual([]);
    only().connect('c1');
    await settle();
    expect(posts.calls.map((c) => [c.url, c.body.connection_id, c.body.paused])).toEqual([['http://hub.test/api/visibility', 'c1', '1']]);
    await reconnectAs('c2');
    expect(posts.calls.at(-1)!.body).toMatchObject({ connection_id: 'c2', paused: '1' });
    doc.setHidden(false);
    doc.setHidden(true);  // shown and hidden again at once: one report at a time, the latest wish wins
    await settle();
    expect(posts.calls.slice(2).map((c) => c.body.paused)).toEqual(['0', '1']);
    expect(hub.paused).toBe(true);
  });

  it('onPause tells when the hub accepted a pause or resume, and when the paused connection ended', async () => {
    const hub = getHub(URL_, options());
    const seen: boolean[] = [];
    const off = hub.onPause((p) => seen.push(p));
    hub.subscribe(['orders'], {});
    await settle();
    only().connect('c1');
    doc.setHidden(true);
    await settle();
    expect(seen).toEqual([true]);
    only().fail();  // the paused connection is gone
    expect(seen).toEqual([true, false]);
    timers.runAll();
    await settle();
    only().connect('c2');  // still hidden: the new connection is paused too
    await settle();
    expect(seen).toEqual([true, false, true]);
    off();
    doc.setHidden(false);
    await settle();
    expect(hub.paused).toBe(false);
    expect(seen).toEqual([true, false, true]);
  });

  it('setHidden overrides the document across reconnects until setHidden(null)', async () => {
    const hub = getHub(URL_, options());
    hub.subscribe(['orders'], {});
    await settle();
    only().connect('c1');
    await hub.setHidden(true);  // a "pause" toggle on a visible page
    expect(posts.calls.map((c) => [c.body.connection_id, c.body.paused])).toEqual([['c1', '1']]);
    doc.setHidden(false);  // the document does not undo the page's own wish
    await settle();
    expect(posts.calls).toHaveLength(1);
    await reconnectAs('c2');
    expect(posts.calls.at(-1)!.body).toMatchObject({ connection_id: 'c2', paused: '1' });
    expect(hub.paused).toBe(true);
    await hub.setHidden(null);  // follow the (visible) document again
    expect(posts.calls.at(-1)!.body).toMatchObject({ connection_id: 'c2', paused: '0' });
    expect(hub.paused).toBe(false);
  });

  it('visibilityUrl: false never listens nor posts, and sends no owner', async () => {
    const hub = getHub(URL_, options({ visibilityUrl: false }));
    hub.subscribe(['orders'], {});
    await settle();
    only().connect('c1');
    doc.setHidden(true);
    await settle();
    expect(posts.calls).toEqual([]);
    expect(only().params.has('owner')).toBe(false);
    expect(doc.listenerCount).toBe(0);
  });

  it('stops listening when the last subscriber leaves; a refused report goes to onError', async () => {
    posts = fakeFetch(403);
    const hub = getHub(URL_, options());
    const off = hub.subscribe(['orders'], {});
    await settle();
    expect(doc.listenerCount).toBe(1);
    only().connect('c1');
    doc.setHidden(true);
    await settle();
    expect(String(errors[0])).toContain('403');
    expect(hub.paused).toBe(false);
    off();
    await settle();
    expect(doc.listenerCount).toBe(0);
    expect(FakeEventSource.open).toHaveLength(0);
  });
});

describe('defaults', () => {
  it('uses the globals when nothing is injected', async () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    try {
      const hub = new Hub(URL_, { document: null, timers });
      hub.subscribe(['x'], {});
      await settle();
      expect(only().url).toMatch(/^http:\/\/hub\.test\/events\?topics=x&owner=[0-9a-f]{32}$/);
      hub.close();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
