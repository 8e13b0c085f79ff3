import { describe, expect, it } from 'vitest';
import { invalidationHandlers, matchKey, swrAdapter, tanstackQueryAdapter } from '../src/index.js';
import type { InvalidationAdapter } from '../src/index.js';

const meta = { type: 'invalidate' as const, id: '', data: '' };

describe('matchKey', () => {
  it('array keys: the resource, its lists, and only the named item', () => {
    expect(matchKey(['orders'], 'orders', undefined)).toBe(true);
    expect(matchKey(['orders', '7'], 'orders', undefined)).toBe(true);
    expect(matchKey(['orders'], 'orders', '7')).toBe(true);
    expect(matchKey(['orders', 7], 'orders', '7')).toBe(true);
    expect(matchKey(['orders', '8'], 'orders', '7')).toBe(false);
    expect(matchKey(['orders', { page: 2 }], 'orders', '7')).toBe(true);
    expect(matchKey(['users'], 'orders', undefined)).toBe(false);
  });
  it('string keys: URLs ending in the resource or resource/id', () => {
    expect(matchKey('/api/orders', 'orders', '7')).toBe(true);
    expect(matchKey('/api/orders?page=2', 'orders', undefined)).toBe(true);
    expect(matchKey('/api/orders/7', 'orders', '7')).toBe(true);
    expect(matchKey('/api/orders/8', 'orders', '7')).toBe(false);
    expect(matchKey('/api/orders/8', 'orders', undefined)).toBe(true);
    expect(matchKey('/api/users', 'orders', undefined)).toBe(false);
    expect(matchKey(null, 'orders', undefined)).toBe(false);
  });
});

describe('tanstackQueryAdapter', () => {
  const keys = [['orders'], ['orders', '7'], ['orders', '8'], ['users']];
  function client() {
    const invalidated: unknown[][] = [];
    return {
      invalidated,
      invalidateQueries(filters?: { predicate?: (q: { queryKey: readonly unknown[] }) => boolean }) {
        for (const k of keys) if (!filters?.predicate || filters.predicate({ queryKey: k })) invalidated.push(k);
      },
    };
  }
  it('invalidates by resource and id, and everything on refetchAll', () => {
    const qc = client();
    const a = tanstackQueryAdapter(qc);
    a.invalidate('orders', '7');
    expect(qc.invalidated).toEqual([['orders'], ['orders', '7']]);
    qc.invalidated.length = 0;
    a.invalidate('orders', undefined);
    expect(qc.invalidated).toEqual([['orders'], ['orders', '7'], ['orders', '8']]);
    qc.invalidated.length = 0;
    a.refetchAll();
    expect(qc.invalidated).toEqual(keys);
  });
  it('acts once per event payload, however many components pass it on', () => {
    const qc = client();
    const payload = { resource: 'orders', action: 'updated', resource_id: '8' };
    tanstackQueryAdapter(qc).invalidate('orders', '8', payload);
    tanstackQueryAdapter(qc).invalidate('orders', '8', payload);  // a second component, a new adapter
    expect(qc.invalidated).toEqual([['orders'], ['orders', '8']]);
    const resync = { reason: 'test' };
    qc.invalidated.length = 0;
    tanstackQueryAdapter(qc).refetchAll(resync);
    tanstackQueryAdapter(qc).refetchAll(resync);
    expect(qc.invalidated).toEqual(keys);
    tanstackQueryAdapter(client()).refetchAll(resync);  // another client still acts
  });
});

describe('swrAdapter', () => {
  it('revalidates the matching keys through mutate(filter), all on refetchAll', () => {
    const cache = ['/api/orders', '/api/orders/7', '/api/orders/8', '/api/users'];
    const revalidated: string[] = [];
    const mutate = (filter: (key: string) => boolean) => { for (const k of cache) if (filter(k)) revalidated.push(k); };
    const a = swrAdapter(mutate);
    a.invalidate('orders', '7');
    expect(revalidated).toEqual(['/api/orders', '/api/orders/7']);
    revalidated.length = 0;
    a.refetchAll();
    expect(revalidated).toEqual(cache);
  });
});

describe('invalidationHandlers', () => {
  it('maps invalidate, batch, resync and signal to the adapter', () => {
    const calls: string[] = [];
    const adapter: InvalidationAdapter = {
      invalidate: (r, id) => calls.push(`${r}:${id ?? '*'}`),
      refetchAll: () => calls.push('all'),
    };
    const h = invalidationHandlers(['orders', 'users.*'], adapter);
    h.invalidate!({ resource: 'orders', action: 'created', resource_id: '7' }, meta);
    h.invalidate!({ resource: 'orders', action: 'imported', resource_id: '' }, meta);
    h.batch!([{ resource: 'orders', action: 'x' }, { resource: 'users.eu', action: 'y', resource_id: '3' }], { ...meta, type: 'batch' });
    h.resync!({ reason: 'reconnected' }, { ...meta, type: 'resync' });
    h.signal!({ signal: 'refresh' }, { ...meta, type: 'signal' });
    expect(calls).toEqual(['orders:7', 'orders:*', 'orders:*', 'users.eu:3', 'all', 'orders:*']);
  });
});
