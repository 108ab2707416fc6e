//! The app's one store: it loads sessions, alerts and the audit log from the read API, applies
//! live frames from the `StreamClient` through the pure reducers in `state.ts`, and keeps the last
//! known state in `localStorage` so a reload while offline still shows something. It reads only
//! while this browser may (`main.tsx` opens and closes it as `access.ts` says); a browser that
//! may not read forgets what it kept. Hooks read it through `useSyncExternalStore`.

import { ApiError, fetchAlerts, fetchAudit, fetchHealth, fetchSessions } from './api';
import {
  alertReceived,
  alertsLoaded,
  auditLoaded,
  auditReceived,
  eventReceived,
  initialState,
  sessionsLoaded,
  sessionUpdated,
  tickReceived,
  type DashboardState,
} from './state';
import { browserStreamClient, readAlert, readAuditEntry, type StreamClient } from './stream';
import type { Alert, AuditEntry, Session } from './types';

const STORAGE_KEY = 'observatory.dashboard.v1';
export const ALERT_PAGE = 50;
export const AUDIT_PAGE = 50;

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

/** The same for the audit log (`unsupported`: a server older than access control). */
export type AuditLoadStatus = AlertLoadStatus;

const NOT_LOADED: AlertLoadStatus = { loadedAt: null, loading: false, unsupported: false, error: null };

export class DashboardStore {
  private state: DashboardState;
  private load: LoadStatus = { loadedAt: null, error: null };
  private alertLoad: AlertLoadStatus = NOT_LOADED;
  private auditLoad: AuditLoadStatus = NOT_LOADED;
  private readonly listeners = new Set<() => void>();
  private persistTimer: number | null = null;
  /** Reading: the stream is open (or trying) and the lists are fetched. */
  private running = false;
  private wired = false;
  readonly stream: StreamClient;

  constructor() {
    this.state = restore();
    this.stream = browserStreamClient(async () => (await fetchHealth()).last_seq);
    this.stream.subscribe({
      event: (e) => this.update(eventReceived(this.state, e)),
      session: (s) => this.update(sessionUpdated(this.state, s)),
      tick: (t) => this.update(tickReceived(this.state, t)),
      alert: (a) => this.update(alertReceived(this.state, a)),
      audit: (e) => this.update(auditReceived(this.state, e)),
      // Alert and audit frames are not replayed on reconnect: what came while away is refetched
      // (the audit log only once something showed it).
      connected: () => {
        void this.refreshAlerts();
        if (this.auditLoad.loadedAt !== null) void this.refreshAudit();
      },
      resync: () => {
        void this.refresh();
        void this.refreshAlerts();
        if (this.auditLoad.loadedAt !== null) void this.refreshAudit();
      },
      // The stream stopped itself: `start` opens it again if access says this browser may read.
      unpaired: () => {
        this.running = false;
      },
    });
  }

  /** Starts reading (the live feed and the session list); does nothing while reading. */
  start(): void {
    if (!this.wired) {
      this.wired = true;
      window.addEventListener('online', () => {
        if (this.running) void this.refresh();
      });
      // A page closed or reloaded within the persist delay still leaves its last state behind.
      window.addEventListener('pagehide', () => this.persistNow());
    }
    if (this.running) return;
    this.running = true;
    this.stream.start();
    void this.refresh();
  }

  /** Stops reading, and forgets what was kept: this browser may not read any more. */
  close(): void {
    this.running = false;
    this.stream.stop('unpaired');
    if (this.state === initialState && this.load.loadedAt === null) return;
    this.state = initialState;
    this.load = { loadedAt: null, error: null };
    this.alertLoad = NOT_LOADED;
    this.auditLoad = NOT_LOADED;
    this.persistNow();
    this.notify();
  }

  getState = (): DashboardState => this.state;
  getLoad = (): LoadStatus => this.load;
  getAlertLoad = (): AlertLoadStatus => this.alertLoad;
  getAuditLoad = (): AuditLoadStatus => this.auditLoad;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** Refetches the session list (first 500, newest activity first). */
  async refresh(): Promise<void> {
    try {
      const page = await fetchSessions({ limit: 500 });
      // Closed meanwhile (this browser was unpaired): what it read is not to be kept.
      if (!this.running) return;
      this.load = { loadedAt: Date.now(), error: null };
      this.update(sessionsLoaded(this.state, page.sessions));
    } catch (e) {
      if (!this.running) return;
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

  /** Refetches the newest page of the audit log. */
  async refreshAudit(): Promise<void> {
    await this.loadAudit(false);
  }

  /** Fetches the page of the audit log older than the oldest entry shown. */
  async moreAudit(): Promise<void> {
    if (this.state.auditNext === null || this.auditLoad.loading) return;
    await this.loadAudit(true);
  }

  private async loadAudit(older: boolean): Promise<void> {
    this.setAuditLoad({ loading: true });
    try {
      const before = older ? (this.state.auditNext ?? undefined) : undefined;
      const page = await fetchAudit({ limit: AUDIT_PAGE, before });
      const entries = (Array.isArray(page.entries) ? page.entries : [])
        .map(readAuditEntry)
        .filter((e): e is AuditEntry => e !== null);
      const next = typeof page.next === 'number' ? page.next : null;
      this.auditLoad = { loading: false, unsupported: false, error: null, loadedAt: older ? this.auditLoad.loadedAt : Date.now() };
      this.update(auditLoaded(this.state, { entries, next }, older));
    } catch (e) {
      const unsupported = e instanceof ApiError && e.status === 404;
      this.setAuditLoad({ loading: false, unsupported, error: unsupported ? null : e instanceof Error ? e.message : String(e) });
    }
  }

  private setAuditLoad(patch: Partial<AuditLoadStatus>): void {
    this.auditLoad = { ...this.auditLoad, ...patch };
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
 *  to show offline; the cursor then points past what was kept) and the audit log (read fresh). */
function persisted(state: DashboardState): DashboardState {
  const kept = { ...state, audit: [], auditNext: null };
  if (state.alerts.length <= ALERT_PAGE) return kept;
  const alerts = state.alerts.slice(0, ALERT_PAGE);
  return { ...kept, alerts, alertsNext: alerts[alerts.length - 1]!.id };
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
      audit: [],
      auditNext: null,
    };
  } catch {
    return initialState;
  }
}

export const store = new DashboardStore();
