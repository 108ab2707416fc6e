//! A pathname router in a few lines: the current path as external state, `navigate` pushes
//! history, and `Link` clicks are intercepted by the app shell.

import { useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();

function notify() {
  for (const fn of listeners) fn();
}

window.addEventListener('popstate', notify);

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.scrollTo(0, 0);
  notify();
}

export function usePath(): string {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    () => location.pathname,
  );
}

export type Route =
  | { name: 'sessions' }
  | { name: 'session'; id: string }
  | { name: 'live' }
  | { name: 'alerts' }
  | { name: 'settings' }
  | { name: 'not_found' };

export function matchRoute(path: string): Route {
  if (path === '/' || path === '') return { name: 'sessions' };
  const m = /^\/sessions\/([^/]+)\/?$/.exec(path);
  if (m?.[1]) {
    try {
      return { name: 'session', id: decodeURIComponent(m[1]) };
    } catch {
      return { name: 'not_found' };
    }
  }
  if (path === '/live') return { name: 'live' };
  if (path === '/alerts') return { name: 'alerts' };
  if (path === '/settings') return { name: 'settings' };
  return { name: 'not_found' };
}

export function sessionPath(id: string): string {
  return `/sessions/${encodeURIComponent(id)}`;
}
