// @ssehub/client/react: React bindings. React is a peer dependency; the
// hooks share the page's one stream per hub URL (see getHub).
import { createContext, createElement, useContext, useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { EVENT_TYPES, getHub, invalidationHandlers } from './index.js';
import type { CompletePayload, Handlers, Hub, HubOptions, ProgressPayload, Status } from './index.js';
import type { InvalidationAdapter } from './adapters.js';

export { tanstackQueryAdapter, swrAdapter, matchKey, invalidationHandlers } from './adapters.js';
export type { InvalidationAdapter, KeyMatcher, QueryClientLike, SWRMutateLike } from './adapters.js';

const HubContext = createContext<Hub | null>(null);

export interface SSEProviderProps {
  /** The hub's stream URL (default `/events`); ignored when `hub` is given. */
  url?: string;
  /** Options for the page's hub of `url` (used when it is first created). */
  options?: HubOptions;
  /** A hub made elsewhere (tests, several hubs). */
  hub?: Hub;
  children?: ReactNode;
}

/** Makes the hooks below use the hub of `url` (default: `/events`). */
export function SSEProvider({ url = '/events', options, hub, children }: SSEProviderProps) {
  const [value] = useState(() => hub ?? getHub(url, options));
  return createElement(HubContext.Provider, { value: hub ?? value }, children);
}

/** The hub in context, or the page's hub of `/events`. */
export function useHub(): Hub {
  const hub = useContext(HubContext);
  return hub ?? getHub('/events');
}

function useLatest<T>(value: T) {
  const ref = useRef(value);
  ref.current = value;
  return ref;
}

/**
 * Subscribes this component to `topics` on the shared stream while mounted.
 * `handlers` may change every render (the latest ones are called); a new set
 * of topics re-subscribes; `null` topics: not subscribed. Returns the
 * stream's status.
 */
export function useSSE(topics: readonly string[] | null, handlers: Handlers): { status: Status; hub: Hub } {
  const hub = useHub();
  const latest = useLatest(handlers);
  const [status, setStatus] = useState<Status>(hub.status);
  const key = topics === null ? null : topics.join('\u0000');
  useEffect(() => {
    if (key === null) return undefined;
    // Reads the latest handlers at each event: a render may change them
    // without re-subscribing.
    const proxy: Handlers = {};
    for (const type of [...EVENT_TYPES, 'event'] as (keyof Handlers)[]) {
      const call = (...args: unknown[]) => {
        const fn = (latest.current as Record<string, ((...a: unknown[]) => void) | undefined>)[type];
        if (fn) fn(...args);
      };
      Object.defineProperty(proxy, type, { enumerable: true, get: () => (latest.current[type] ? call : undefined) });
    }
    const off = hub.subscribe(key ? key.split('\u0000') : [], proxy);
    setStatus(hub.status);
    const offStatus = hub.onStatus(setStatus);
    return () => {
      offStatus();
      off();
    };
  }, [hub, key]);  // eslint-disable-line react-hooks/exhaustive-deps
  return { status, hub };
}

/**
 * Keeps a cache fresh from the stream: `invalidate`/`batch` refetch the
 * matching keys, `resync` refetches everything shown, `signal` refreshes the
 * topics. `adapter`: `tanstackQueryAdapter(useQueryClient())`,
 * `swrAdapter(useSWRConfig().mutate)` or your own.
 */
export function useSSEInvalidation(topics: readonly string[], adapter: InvalidationAdapter): { status: Status } {
  const { status } = useSSE(topics, invalidationHandlers(topics, adapter));
  return { status };
}

export interface ProgressState {
  resource_id: string;
  current: number;
  total: number;
  pct: number;
  /** `running` until a `complete`, then its status. */
  status: 'running' | 'completed' | 'failed';
  /** The last progress or complete payload (hint keys included). */
  last: ProgressPayload | CompletePayload;
}

type FrameScheduler = (fn: () => void) => void;
const nextFrame: FrameScheduler = (fn) => {
  const raf = (globalThis as { requestAnimationFrame?: (cb: () => void) => number }).requestAnimationFrame;
  if (raf) raf(fn);
  else setTimeout(fn, 16);
};

/**
 * The progress of `resourceId` of `resource` (e.g. `useProgress('import',
 * 'imp_1')`): null until the first event. The hub already coalesces
 * progress; this hook renders at most once per animation frame however many
 * arrive, and a `complete` at once.
 */
export function useProgress(resource: string, resourceId: string | null | undefined): ProgressState | null {
  const [state, setState] = useState<ProgressState | null>(null);
  const pending = useRef<ProgressState | null>(null);
  const scheduled = useRef(false);
  const idRef = useLatest(resourceId);
  useEffect(() => {
    setState(null);
    pending.current = null;
  }, [resource, resourceId]);
  useSSE(resourceId ? [resource] : null, {
    progress: (p) => {
      if (p.resource_id !== idRef.current) return;
      pending.current = { resource_id: p.resource_id, current: p.current, total: p.total, pct: p.pct, status: 'running', last: p };
      if (scheduled.current) return;
      scheduled.current = true;
      nextFrame(() => {
        scheduled.current = false;
        if (pending.current && pending.current.resource_id === idRef.current) setState(pending.current);
        pending.current = null;
      });
    },
    complete: (p) => {
      if (p.resource_id !== idRef.current) return;
      const before = pending.current;
      pending.current = null;
      setState((s) => {
        const base = before ?? s;
        return {
          resource_id: p.resource_id,
          current: base ? base.current : 0,
          total: base ? base.total : 0,
          pct: base ? base.pct : (p.status === 'completed' ? 100 : 0),
          status: p.status === 'completed' ? 'completed' : 'failed',
          last: p,
        };
      });
    },
  });
  return state;
}
