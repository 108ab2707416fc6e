//! The app's one store: it loads sessions from the read API, applies live frames from the
//! `StreamClient` through the pure reducers in `state.ts`, and keeps the last known state in
//! `localStorage` so a reload while offline still shows something. Hooks read it through
//! `useSyncExternalStore`.

import { fetchHealth, fetchSessions } from './api';
import {
  eventReceived,
  initialState,
  sessionsLoaded,
  sessionUpdated,
  tickReceived,
  type DashboardState,
} from './state';
import { browserStreamClient, type StreamClient } from './stream';
import type { Session } from './types';

const STORAGE_KEY = 'observatory.dashboard.v1';

export interface LoadStatus {
  /** When the session list was last fetched successfully (ms since epoch), null if never. */
  loadedAt: number | null;
  error: string | null;
}

export class DashboardStore {
  private state: DashboardState;
  private load: LoadStatus = { loadedAt: null, error: null };
  private readonly listeners = new Set<() => void>();
  private persistTimer: number | null = null;
  readonly stream: StreamClient;

  constructor() {
    this.state = restore();
    this.stream = browserStreamClient(async () => (await fetchHealth()).last_seq);
    this.stream.subscribe({
      event: (e) => this.update(eventReceived(this.state, e)),
      session: (s) => this.update(sessionUpdated(this.state, s)),
      tick: (t) => this.update(tickReceived(this.state, t)),
      resync: () => void this.refresh(),
    });
  }

  start(): void {
    this.stream.start();
    void this.refresh();
    window.addEventListener('online', () => void this.refresh());
    // A page closed or reloaded within the persist delay still leaves its last state behind.
    window.addEventListener('pagehide', () => this.persistNow());
  }

  getState = (): DashboardState => this.state;
  getLoad = (): LoadStatus => this.load;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** Refetches the session list (first 500, newest activity first). */
  async refresh(): Promise<void> {
    try {
      const page = await fetchSessions({ limit: 500 });
      this.load = { loadedAt: Date.now(), error: null };
      this.update(sessionsLoaded(this.state, page.sessions));
    } catch (e) {
      this.load = { ...this.load, error: e instanceof Error ? e.message : String(e) };
      this.notify();
    }
  }

  /** A session fetched on its own page is newer than the list's copy: share it. */
  sessionFetched(s: Session): void {
    this.update(sessionUpdated(this.state, s));
  }

  private update(next: DashboardState): void {
    if (next === this.state) return;
    this.state = next;
    this.notify();
    this.schedulePersist();
  }

  private notify(): void {
    for (const fn of this.listeners) fn();
  }

  private schedulePersist(): void {
    if (this.persistTimer !== null) return;
    this.persistTimer = window.setTimeout(() => this.persistNow(), 1000);
  }

  private persistNow(): void {
    if (this.persistTimer !== null) {
      window.clearTimeout(this.persistTimer);
      this.persistTimer = null;
    }
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(this.state));
    } catch {
      // storage full or disabled: the cache is a convenience only
    }
  }
}

function restore(): DashboardState {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return initialState;
    const s = JSON.parse(raw) as Partial<DashboardState>;
    if (!s || typeof s.sessions !== 'object' || !Array.isArray(s.order) || !Array.isArray(s.events))
      return initialState;
    return { sessions: s.sessions ?? {}, order: s.order, events: s.events, tick: s.tick ?? null };
  } catch {
    return initialState;
  }
}

export const store = new DashboardStore();
