import { useCallback, useEffect, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import type { EventName, EventPayloads } from '../../shared/contract';
import { subscribe, toUiError, type UiError } from './api';

/** The current time, re-rendered every `intervalMs` (aligned to whole seconds). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout>;
    const tick = () => {
      setNow(Date.now());
      timer = setTimeout(tick, intervalMs - (Date.now() % Math.min(intervalMs, 1000)));
    };
    timer = setTimeout(tick, intervalMs - (Date.now() % Math.min(intervalMs, 1000)));
    return () => clearTimeout(timer);
  }, [intervalMs]);
  return now;
}

export function useEvent<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): void {
  const ref = useRef(listener);
  useEffect(() => {
    ref.current = listener;
  });
  useEffect(() => subscribe(event, (p) => ref.current(p)), [event]);
}

export interface Loaded<T> {
  data: T | null;
  error: UiError | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Loads with `load()` on mount and whenever `reload()` is called. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<UiError | null>(null);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const seq = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const result = await loadRef.current();
      if (mine !== seq.current) return;
      setData(result);
      setError(null);
    } catch (err) {
      if (mine !== seq.current) return;
      setError(toUiError(err));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, []);
  useEffect(() => {
    void reload();
  }, deps);
  return { data, error, loading, reload };
}

/** Whether Caps Lock is on, from the last key event in a field. */
export function useCapsLock(): [boolean, (e: KeyboardEvent | MouseEvent) => void] {
  const [on, setOn] = useState(false);
  const update = useCallback((e: KeyboardEvent | MouseEvent) => {
    if (typeof e.getModifierState === 'function') setOn(e.getModifierState('CapsLock'));
  }, []);
  return [on, update];
}

const ROUTE_EVENT = 'akc:route';

function readRoute(): string {
  return window.location.hash.replace(/^#/, '') || '/';
}

/** The hash route: "#/activity" → "/activity" (query included: "/secrets?rotate=X"). */
export function useHashRoute(): string {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const on = () => setRoute(readRoute());
    window.addEventListener('hashchange', on);
    window.addEventListener(ROUTE_EVENT, on);
    return () => {
      window.removeEventListener('hashchange', on);
      window.removeEventListener(ROUTE_EVENT, on);
    };
  }, []);
  return route;
}

/** "/secrets?rotate=X" → { path: "/secrets", params }. */
export function parseRoute(route: string): { path: string; params: URLSearchParams } {
  const q = route.indexOf('?');
  return q === -1
    ? { path: route, params: new URLSearchParams() }
    : { path: route.slice(0, q), params: new URLSearchParams(route.slice(q + 1)) };
}

/**
 * Replaces the current hash without adding a history entry (e.g. dropping a one-shot
 * "?rotate=X" once handled, so the same tray item works again).
 */
export function replaceRoute(route: string): void {
  if (readRoute() === route) return;
  window.history.replaceState(null, '', `#${route}`);
  window.dispatchEvent(new Event(ROUTE_EVENT));
}
