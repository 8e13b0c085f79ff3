// Invalidation adapters: what an `invalidate`, `batch`, `signal` or `resync`
// does to a client-side cache. No dependency on React or the cache libraries:
// they take the object the library gives you (a QueryClient, SWR's mutate).
import type { Handlers } from './index.js';

export interface InvalidationAdapter {
  /**
   * Refetch what shows `resource` (and, with `resourceId`, that item).
   * `payload` is the event's (shared by every subscriber): the built-in
   * adapters act once per payload, however many components pass it on.
   */
  invalidate(resource: string, resourceId: string | undefined, payload?: object): void;
  /** Events were missed: refetch everything shown (once per `payload`). */
  refetchAll(payload?: object): void;
}

// Several components on one page subscribe to overlapping topics, and each
// gets the same parsed payload object: a cache (a QueryClient, a mutate) acts
// once per event and key, not once per component.
const handled = new WeakMap<object, WeakMap<object, Set<string>>>();
function firstTime(target: object, payload: unknown, key: string): boolean {
  if (!payload || typeof payload !== 'object') return true;
  let byPayload = handled.get(target);
  if (!byPayload) handled.set(target, (byPayload = new WeakMap()));
  let keys = byPayload.get(payload);
  if (!keys) byPayload.set(payload, (keys = new Set()));
  if (keys.has(key)) return false;
  keys.add(key);
  return true;
}

/** Decides whether a cache key shows `resource` (or item `resourceId` of it). */
export type KeyMatcher = (key: unknown, resource: string, resourceId: string | undefined) => boolean;

/**
 * The default key scheme.
 * - Array keys (TanStack Query style): `[resource]`, `[resource, id]`,
 *   `[resource, {filters}]`. Without an id every key starting with the
 *   resource matches; with one, the lists (`[resource]`, `[resource, {..}]`)
 *   and that item (`[resource, id, ...]`, compared as strings), not other items.
 * - String keys (SWR style, URLs): `/api/orders` is the list of `orders`,
 *   `/api/orders/42` item 42; the query string is ignored.
 */
export const matchKey: KeyMatcher = (key, resource, resourceId) => {
  if (Array.isArray(key)) {
    if (key[0] !== resource) return false;
    if (resourceId === undefined || key.length < 2) return true;
    const second = key[1];
    if (typeof second === 'string' || typeof second === 'number' || typeof second === 'bigint') {
      return String(second) === resourceId;
    }
    return true;  // a list with filters may contain the item
  }
  if (typeof key === 'string') {
    const parts = key.split(/[?#]/)[0].split('/').filter(Boolean);
    const n = parts.length;
    if (n >= 1 && parts[n - 1] === resource) return true;  // the list
    if (n >= 2 && parts[n - 2] === resource) return resourceId === undefined || parts[n - 1] === resourceId;
    return false;
  }
  return false;
};

/** The part of TanStack Query's QueryClient used here. */
export interface QueryClientLike {
  invalidateQueries(filters?: { predicate?: (query: { queryKey: readonly unknown[] }) => boolean }): unknown;
}

/**
 * TanStack Query: `invalidate` marks the matching queries stale and refetches
 * the active ones (`invalidateQueries`); `refetchAll` invalidates every query
 * (active ones, i.e. those shown, refetch).
 */
export function tanstackQueryAdapter(queryClient: QueryClientLike, options: { match?: KeyMatcher } = {}): InvalidationAdapter {
  const match = options.match ?? matchKey;
  return {
    invalidate(resource, resourceId, payload) {
      if (!firstTime(queryClient, payload, `${resource}\0${resourceId ?? ''}`)) return;
      void queryClient.invalidateQueries({ predicate: (q) => match(q.queryKey, resource, resourceId) });
    },
    refetchAll(payload) {
      if (!firstTime(queryClient, payload, '\0all')) return;
      void queryClient.invalidateQueries();
    },
  };
}

/** SWR's global `mutate` (from `swr`, or `useSWRConfig().mutate`), called with a key filter only. */
export type SWRMutateLike = (filter: (key: any) => boolean) => unknown;  // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * SWR: `invalidate` revalidates the matching keys (`mutate(filter)`: no data
 * given, so the data stays and is refetched); `refetchAll` revalidates every key.
 */
export function swrAdapter(mutate: SWRMutateLike, options: { match?: KeyMatcher } = {}): InvalidationAdapter {
  const match = options.match ?? matchKey;
  return {
    invalidate(resource, resourceId, payload) {
      if (!firstTime(mutate, payload, `${resource}\0${resourceId ?? ''}`)) return;
      void mutate((key) => match(key, resource, resourceId));
    },
    refetchAll(payload) {
      if (!firstTime(mutate, payload, '\0all')) return;
      void mutate(() => true);
    },
  };
}

/**
 * The handlers that drive an adapter: `invalidate` and `batch` entries
 * invalidate their resource (and id), `resync` refetches everything, and a
 * `signal` refreshes each of `topics` (those without wildcards; a signal
 * names no resource).
 */
export function invalidationHandlers(topics: readonly string[], adapter: InvalidationAdapter | (() => InvalidationAdapter)): Handlers {
  const get = typeof adapter === 'function' ? adapter : () => adapter;
  return {
    invalidate: (p) => get().invalidate(p.resource, p.resource_id || undefined, p),
    batch: (specs) => {
      const a = get();
      for (const p of specs) a.invalidate(p.resource, p.resource_id || undefined, p);
    },
    resync: (p) => get().refetchAll(p),
    signal: (p) => {
      const a = get();
      for (const t of topics) if (!/[*>]/.test(t)) a.invalidate(t, undefined, p);
    },
  };
}
