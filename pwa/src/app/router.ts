//! A pathname router in a few lines: the current path as external state, `navigate` pushes
//! history, and `Link` clicks are intercepted by the app shell. `/pair` is the pairing link's
//! landing page; its code (in the fragment) is read by `pairFromLink` in `access.ts`.

import { useSyncExternalStore } from 'react';

const listeners = new Set<() => void>();

function notify() {
  for (const fn of listeners) fn();
}

window.addEventListener('popstate', notify);

export function navigate(to: string, replace = false): void {
  // The fragment counts: `/pair#<code>` is replaced by `/pair` to take the code out of history.
  if (to === location.pathname + location.search + location.hash) return;
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
  | { name: 'pair' }
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
  if (path === '/pair') return { name: 'pair' };
  return { name: 'not_found' };
}

export function sessionPath(id: string): string {
  return `/sessions/${encodeURIComponent(id)}`;
}
