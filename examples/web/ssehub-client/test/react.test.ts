// The React bindings in Node: react-test-renderer runs the effects; the hub
// is given a fake EventSource and timers through SSEProvider.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { act, createElement, StrictMode, useState } from 'react';
import type { ReactNode } from 'react';
import TestRenderer from 'react-test-renderer';
import { Hub } from '../src/index.js';
import { SSEProvider, useProgress, useSSE, useSSEInvalidation } from '../src/react.js';
import type { InvalidationAdapter, ProgressState } from '../src/react.js';
import { FakeEventSource, FakeTimers, settle } from './fakes.js';

const g = globalThis as Record<string, unknown>;
g.IS_REACT_ACT_ENVIRONMENT = true;
g.IS_REACT_NATIVE_TEST_ENVIRONMENT = true;  // react-test-renderer: no deprecation notice

let hub: Hub;
let renderer: TestRenderer.ReactTestRenderer | null;
const only = () => {
  expect(FakeEventSource.open).toHaveLength(1);
  return FakeEventSource.open[0];
};
async function render(node: ReactNode) {
  await act(async () => {
    renderer = TestRenderer.create(createElement(StrictMode, null, createElement(SSEProvider, { hub }, node)));
  });
  await act(settle);
}
const emit = (type: string, data: unknown, id = '') => act(async () => { only().emit(type, data, id); });

beforeEach(() => {
  FakeEventSource.reset();
  hub = new Hub('http://hub.test/events', {
    EventSource: FakeEventSource, document: null, timers: new FakeTimers(), owner: 'b'.repeat(32),
  });
});
afterEach(async () => {
  await act(async () => renderer?.unmount());
  renderer = null;
  hub.close();
});

describe('useSSE', () => {
  it('three components on overlapping topics open one stream (StrictMode included); unmounting all closes it', async () => {
    const A = () => { useSSE(['orders'], {}); return null; };
    const B = () => { useSSE(['orders', 'users'], {}); return null; };
    const C = () => { useSSE(['import', 'users'], {}); return null; };
    await render([createElement(A, { key: 'a' }), createElement(B, { key: 'b' }), createElement(C, { key: 'c' })]);
    expect(FakeEventSource.instances).toHaveLength(1);
    expect(only().topics).toEqual(['import', 'orders', 'users']);
    expect(hub.subscriberCount).toBe(3);
    await act(async () => renderer!.unmount());
    renderer = null;
    await act(settle);
    expect(FakeEventSource.open).toHaveLength(0);
  });

  it('calls the latest handlers, re-subscribes when the topics change, reports the status', async () => {
    const seen: string[] = [];
    let setTopic!: (t: string) => void;
    let status = '';
    function Orders() {
      const [topic, set] = useState('orders');
      setTopic = set;
      status = useSSE([topic], { invalidate: (p) => seen.push(`${topic}:${p.resource}`) }).status;
      return null;
    }
    await render(createElement(Orders));
    expect(status).toBe('connecting');
    await act(async () => { only().connect('c1', 'id-1'); });
    expect(status).toBe('open');
    await emit('invalidate', { resource: 'orders', action: 'created' });
    await act(async () => setTopic('users'));
    await act(settle);
    expect(FakeEventSource.instances).toHaveLength(2);
    expect(only().topics).toEqual(['users']);
    expect(only().params.get('lastEventId')).toBe('id-1');
    await emit('invalidate', { resource: 'users', action: 'created' });
    expect(seen).toEqual(['orders:orders', 'users:users']);
  });
});

describe('useSSEInvalidation', () => {
  it('drives the adapter: invalidate by resource and id, batch, resync', async () => {
    const calls: string[] = [];
    const adapter: InvalidationAdapter = {
      invalidate: (r, id) => calls.push(`${r}:${id ?? '*'}`),
      refetchAll: () => calls.push('all'),
    };
    const Orders = () => { useSSEInvalidation(['orders'], adapter); return null; };
    await render(createElement(Orders));
    await emit('invalidate', { resource: 'orders', action: 'updated', resource_id: '7' });
    await emit('invalidate', { resource: 'users', action: 'updated' });  // not its topic
    await emit('batch', [{ resource: 'orders', action: 'created' }, { resource: 'users', action: 'x' }]);
    await emit('resync', { reason: 'unknown_last_event_id' });
    expect(calls).toEqual(['orders:7', 'orders:*', 'all']);
  });
});

describe('useProgress', () => {
  it('renders the latest progress of its id once per frame, and complete at once', async () => {
    let state: ProgressState | null = null;
    let renders = 0;
    function Bar() {
      state = useProgress('import', 'imp_1');
      renders++;
      return null;
    }
    await render(createElement(Bar));
    expect(only().topics).toEqual(['import']);
    const before = renders;
    await act(async () => {
      for (let i = 1; i <= 50; i++) only().emit('progress', { resource_id: 'imp_1', current: i, total: 100, pct: i });
      only().emit('progress', { resource_id: 'imp_2', current: 99, total: 100, pct: 99 });  // another import
      await new Promise((r) => setTimeout(r, 40));  // a frame (setTimeout 16 ms without requestAnimationFrame)
    });
    expect(state).toMatchObject({ resource_id: 'imp_1', current: 50, total: 100, pct: 50, status: 'running' });
    expect(renders - before).toBeLessThanOrEqual(2);  // StrictMode renders twice
    await emit('complete', { resource_id: 'imp_1', status: 'failed', rows: 3 });
    expect(state).toMatchObject({ pct: 50, status: 'failed', last: { rows: 3 } });
  });

  it('subscribes to nothing without an id', async () => {
    const Bar = () => { useProgress('import', null); return null; };
    await render(createElement(Bar));
    expect(FakeEventSource.instances).toHaveLength(0);
  });
});
