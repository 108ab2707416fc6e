//! The app's one store: it loads sessions and alerts from the read API, applies live frames from
//! the `StreamClient` through the pure reducers in `state.ts`, and keeps the last known state in
//! `localStorage` so a reload while offline still shows something. Hooks read it through
//! `useSyncExternalStore`.

import { ApiError, fetchAlerts, fetchHealth, fetchSessions } from './api';
import {
  alertReceived,
  alertsLoaded,
  eventReceived,
  initialState,
  sessionsLoaded,
  sessionUpdated,
  tickReceived,
  type DashboardState,
} from './state';
import { browserStreamClient, readAlert, type StreamClient } from './stream';
import type { Alert, Session } from './types';

const STORAGE_KEY = 'observatory.dashboard.v1';
export const ALERT_PAGE = 50;

export interface LoadStatus {
  /** When the session list was last fetched successfully (ms since epoch), null if never. */
  loadedAt: number | null;
  error: string | null;
}

export interface AlertLoadStatus {
  /** When the first page of alerts was last fetched (ms since epoch), null if never. */
  loadedAt: number | null;
  loading: boolean;
  /** The server has no `/api/alerts` (older than alerts). */
  unsupported: boolean;
  error: string | null;
}

export class DashboardStore {
  private state: DashboardState;
  private load: LoadStatus = { loadedAt: null, error: null };
  private alertLoad: AlertLoadStatus = { loadedAt: null, loading: false, unsupported: false, error: null };
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
      alert: (a) => this.update(alertReceived(this.state, a)),
      // Alert frames are not replayed on reconnect: whatever came while away is refetched.
      connected: () => void this.refreshAlerts(),
      resync: () => {
        void this.refresh();
        void this.refreshAlerts();
      },
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
  getAlertLoad = (): AlertLoadStatus => this.alertLoad;

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

  /** Refetches the newest page of alerts. */
  async refreshAlerts(): Promise<void> {
    await this.loadAlerts(false);
  }

  /** Fetches the page of alerts older than the oldest shown. */
  async moreAlerts(): Promise<void> {
    if (this.state.alertsNext === null || this.alertLoad.loading) return;
    await this.loadAlerts(true);
  }

  private async loadAlerts(older: boolean): Promise<void> {
    this.setAlertLoad({ loading: true });
    try {
      const before = older ? (this.state.alertsNext ?? undefined) : undefined;
      const page = await fetchAlerts({ limit: ALERT_PAGE, before });
      const alerts = (Array.isArray(page.alerts) ? page.alerts : []).map(readAlert).filter((a): a is Alert => a !== null);
      const next = typeof page.next === 'number' ? page.next : null;
      this.alertLoad = { ...this.alertLoad, loading: false, unsupported: false, error: null, loadedAt: older ? this.alertLoad.loadedAt : Date.now() };
      this.update(alertsLoaded(this.state, { alerts, next }, older));
    } catch (e) {
      const unsupported = e instanceof ApiError && e.status === 404;
      this.setAlertLoad({ loading: false, unsupported, error: unsupported ? null : e instanceof Error ? e.message : String(e) });
    }
  }

  private setAlertLoad(patch: Partial<AlertLoadStatus>): void {
    this.alertLoad = { ...this.alertLoad, ...patch };
    this.notify();
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
      localStorage.setItem(STORAGE_KEY, JSON.stringify(persisted(this.state)));
    } catch {
      // storage full or disabled: the cache is a convenience only
    }
  }
}

/** What is kept across reloads: everything but older pages of alerts (the newest page is enough
 *  to show offline; the cursor then points past what was kept). */
function persisted(state: DashboardState): DashboardState {
  if (state.alerts.length <= ALERT_PAGE) return state;
  const alerts = state.alerts.slice(0, ALERT_PAGE);
  return { ...state, alerts, alertsNext: alerts[alerts.length - 1]!.id };
}

function restore(): DashboardState {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return initialState;
    const s = JSON.parse(raw) as Partial<DashboardState>;
    if (!s || typeof s.sessions !== 'object' || !Array.isArray(s.order) || !Array.isArray(s.events))
      return initialState;
    // Saved before alerts existed, or by another version: alerts start empty rather than wrong.
    const alerts = Array.isArray(s.alerts) ? s.alerts.map(readAlert).filter((a): a is Alert => a !== null) : [];
    return {
      sessions: s.sessions ?? {},
      order: s.order,
      events: s.events,
      tick: s.tick ?? null,
      alerts,
      alertsNext: typeof s.alertsNext === 'number' ? s.alertsNext : null,
    };
  } catch {
    return initialState;
  }
}

export const store = new DashboardStore();
