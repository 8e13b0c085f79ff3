// Test doubles for the client's injectables: EventSource, document, fetch, timers.
import type { EventSourceLike, FetchLike, MessageLike, Timers, VisibilityDocument } from '../src/index.js';

export class FakeEventSource implements EventSourceLike {
  static instances: FakeEventSource[] = [];
  static reset() { FakeEventSource.instances = []; }
  static get open(): FakeEventSource[] { return FakeEventSource.instances.filter((e) => !e.closed); }

  readonly url: string;
  readonly withCredentials: boolean;
  closed = false;
  onopen: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  private listeners = new Map<string, ((ev: MessageLike) => void)[]>();

  constructor(url: string, init?: { withCredentials?: boolean }) {
    this.url = url;
    this.withCredentials = Boolean(init?.withCredentials);
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, listener: (ev: MessageLike) => void) {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }
  close() { this.closed = true; }

  get params(): URLSearchParams { return new URL(this.url).searchParams; }
  get topics(): string[] { return (this.params.get('topics') ?? '').split(',').filter(Boolean); }

  // What the server does:
  emit(type: string, data: unknown, id = '') {
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    for (const l of this.listeners.get(type) ?? []) l({ data: text, lastEventId: id });
  }
  connect(connectionId = 'c1', id = '') {
    this.onopen?.({});
    this.emit('connected', { connection_id: connectionId, topics: this.topics }, id);
  }
  fail() { this.onerror?.({}); }
}

export class FakeDocument implements VisibilityDocument {
  visibilityState = 'visible';
  private listeners = new Set<() => void>();
  addEventListener(_: 'visibilitychange', l: () => void) { this.listeners.add(l); }
  removeEventListener(_: 'visibilitychange', l: () => void) { this.listeners.delete(l); }
  get listenerCount() { return this.listeners.size; }
  setHidden(hidden: boolean) {
    this.visibilityState = hidden ? 'hidden' : 'visible';
    for (const l of [...this.listeners]) l();
  }
}

export interface Posted { url: string; body: Record<string, string> }
export function fakeFetch(status = 200) {
  const calls: Posted[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, body: Object.fromEntries(init.body.entries()) });
    return { ok: status < 300, status };
  };
  return { fetch, calls };
}

export class FakeTimers implements Timers {
  pending: { id: number; fn: () => void; ms: number }[] = [];
  private next = 1;
  setTimeout(fn: () => void, ms: number) {
    const id = this.next++;
    this.pending.push({ id, fn, ms });
    return id;
  }
  clearTimeout(handle: unknown) { this.pending = this.pending.filter((t) => t.id !== handle); }
  /** Runs every pending timer (not those they schedule); returns their delays. */
  runAll(): number[] {
    const due = this.pending;
    this.pending = [];
    for (const t of due) t.fn();
    return due.map((t) => t.ms);
  }
}

/** Lets queued microtasks (the hub's reconcile, awaited hooks) run. */
export const settle = () => new Promise<void>((r) => setTimeout(r, 0));
