//! The dashboard's state as pure functions: sessions by id with their newest-activity-first
//! order, the last 100 events across sessions, the latest burn tick, alerts newest first, and the
//! audit log newest first.
//! The store feeds it read-API pages and live frames; components only read it.

import type { Alert, AuditEntry, ObsEvent, Session, SessionState, Tick } from './types';

export const MAX_EVENTS = 100;
/** Audit entries kept in memory: a public tunnel's refused requests must not grow it forever
 *  (older ones are a "load more" away). */
export const MAX_AUDIT = 500;

export interface DashboardState {
  sessions: Readonly<Record<string, Session>>;
  /** Session ids, newest activity first. */
  order: readonly string[];
  /** The last `MAX_EVENTS` events across sessions, oldest first, unique by seq. */
  events: readonly ObsEvent[];
  tick: Tick | null;
  /** Alerts, newest (highest id) first, unique by id. */
  alerts: readonly Alert[];
  /** `before` for the next older page of alerts; null when there is none (or none known). */
  alertsNext: number | null;
  /** The audit log, newest (highest id) first, unique by id. Not kept across reloads. */
  audit: readonly AuditEntry[];
  /** `before` for the next older page of the audit log; null when there is none (or none known). */
  auditNext: number | null;
}

export const initialState: DashboardState = {
  sessions: {},
  order: [],
  events: [],
  tick: null,
  alerts: [],
  alertsNext: null,
  audit: [],
  auditNext: null,
};

function activity(s: Session): number {
  const t = Date.parse(s.last_activity || s.last_seen);
  return Number.isNaN(t) ? 0 : t;
}

/** Newest activity first; ties broken by last seq then id so the order is stable. */
export function compareSessions(a: Session, b: Session): number {
  return activity(b) - activity(a) || b.last_seq - a.last_seq || a.id.localeCompare(b.id);
}

function ordered(sessions: Record<string, Session>): string[] {
  return Object.values(sessions)
    .sort(compareSessions)
    .map((s) => s.id);
}

/** A fresh list from the read API replaces what we had. */
export function sessionsLoaded(state: DashboardState, list: readonly Session[]): DashboardState {
  const sessions: Record<string, Session> = {};
  for (const s of list) sessions[s.id] = s;
  return { ...state, sessions, order: ordered(sessions) };
}

/** A `session` frame (or a fetched detail): newer wins, an older copy is ignored. */
export function sessionUpdated(state: DashboardState, s: Session): DashboardState {
  const old = state.sessions[s.id];
  if (old && old.last_seq > s.last_seq) return state;
  const sessions = { ...state.sessions, [s.id]: s };
  return { ...state, sessions, order: ordered(sessions) };
}

/** An `event` frame: appended in seq order, duplicates dropped, only the last 100 kept. */
export function eventReceived(state: DashboardState, e: ObsEvent): DashboardState {
  const events = state.events;
  const last = events[events.length - 1];
  let next: ObsEvent[];
  if (!last || e.seq > last.seq) {
    next = [...events, e];
  } else {
    if (events.some((x) => x.seq === e.seq)) return state;
    next = [...events, e].sort((a, b) => a.seq - b.seq);
  }
  if (next.length > MAX_EVENTS) next = next.slice(next.length - MAX_EVENTS);
  return { ...state, events: next };
}

export function tickReceived(state: DashboardState, tick: Tick): DashboardState {
  return { ...state, tick };
}

export type StateGroup = 'needs_you' | 'working' | 'stalled' | 'idle' | 'finished' | 'failed';

export const STATE_GROUPS: readonly { id: StateGroup; label: string; states: SessionState[] }[] = [
  { id: 'needs_you', label: 'Needs you', states: ['awaiting_permission', 'awaiting_input'] },
  { id: 'working', label: 'Working', states: ['active'] },
  { id: 'stalled', label: 'Stalled', states: ['stalled'] },
  { id: 'idle', label: 'Idle', states: ['idle'] },
  { id: 'finished', label: 'Finished', states: ['ended'] },
  { id: 'failed', label: 'Failed', states: ['errored', 'crashed', 'killed'] },
];

export function stateGroup(state: string): StateGroup {
  for (const g of STATE_GROUPS) if ((g.states as string[]).includes(state)) return g.id;
  return 'idle';
}

export interface SessionFilter {
  agents: readonly string[];
  groups: readonly StateGroup[];
}

/** Sessions split into the state groups (in display order), each newest activity first. */
export function groupSessions(
  state: DashboardState,
  filter: SessionFilter = { agents: [], groups: [] },
): { id: StateGroup; label: string; sessions: Session[] }[] {
  const out = STATE_GROUPS.map((g) => ({ id: g.id, label: g.label, sessions: [] as Session[] }));
  for (const id of state.order) {
    const s = state.sessions[id];
    if (!s) continue;
    if (filter.agents.length && !filter.agents.includes(s.agent)) continue;
    const g = stateGroup(s.state);
    if (filter.groups.length && !filter.groups.includes(g)) continue;
    out.find((x) => x.id === g)?.sessions.push(s);
  }
  return out;
}

/** Merges event lists into one in seq order, unique by seq (the later copy wins: it may carry
 *  `attributes` the live feed left out). */
export function mergeEvents(a: readonly ObsEvent[], b: readonly ObsEvent[]): ObsEvent[] {
  const bySeq = new Map<number, ObsEvent>();
  for (const e of a) bySeq.set(e.seq, e);
  for (const e of b) {
    const old = bySeq.get(e.seq);
    bySeq.set(e.seq, old?.attributes && !e.attributes ? old : e);
  }
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq);
}

/** Events grouped by turn id (events outside a turn under `null`), in seq order. */
export function eventsByTurn(events: readonly ObsEvent[]): Map<string | null, ObsEvent[]> {
  const out = new Map<string | null, ObsEvent[]>();
  for (const e of events) {
    const k = e.turn_id ?? null;
    const list = out.get(k);
    if (list) list.push(e);
    else out.set(k, [e]);
  }
  return out;
}

/** How far an alert's deliveries have got: they only move forward (pending → an outcome, more
 *  attempts), so of two copies of one alert the one that got further is the newer. */
function progress(a: Alert): number {
  let n = 0;
  for (const d of a.deliveries) n += (d.outcome === 'pending' ? 0 : 1) + d.attempts.length;
  return n;
}

/** Of two copies of the same alert, the newer; the incoming one on a tie. */
function newerCopy(have: Alert, incoming: Alert): Alert {
  return progress(have) > progress(incoming) ? have : incoming;
}

function byIdDesc(a: Alert, b: Alert): number {
  return b.id - a.id;
}

/** An `alert` frame: a new alert goes in by id, a known one (same id) is replaced in place. */
export function alertReceived(state: DashboardState, a: Alert): DashboardState {
  const i = state.alerts.findIndex((x) => x.id === a.id);
  if (i >= 0) {
    const old = state.alerts[i]!;
    const next = newerCopy(old, a);
    if (next === old) return state;
    const alerts = [...state.alerts];
    alerts[i] = next;
    return { ...state, alerts };
  }
  return { ...state, alerts: [...state.alerts, a].sort(byIdDesc) };
}

/**
 * A page of `GET /api/alerts`. The first page (`older` false) replaces what we had, except
 * alerts newer than it that came live while it loaded; an older page (`before`) is merged in.
 */
export function alertsLoaded(
  state: DashboardState,
  page: { alerts: readonly Alert[]; next: number | null },
  older = false,
): DashboardState {
  const byId = new Map<number, Alert>();
  if (older) {
    for (const a of state.alerts) byId.set(a.id, a);
  } else {
    const newest = page.alerts.reduce((m, a) => Math.max(m, a.id), -Infinity);
    for (const a of state.alerts) if (a.id > newest && page.alerts.length > 0) byId.set(a.id, a);
    // Copies of the page's own alerts we already had: kept when they got further.
    for (const a of state.alerts) if (page.alerts.some((p) => p.id === a.id)) byId.set(a.id, a);
  }
  for (const a of page.alerts) {
    const have = byId.get(a.id);
    byId.set(a.id, have ? newerCopy(have, a) : a);
  }
  return { ...state, alerts: [...byId.values()].sort(byIdDesc), alertsNext: page.next };
}

/** Entries newest first, unique by id, at most `MAX_AUDIT`; `next` then points past the last kept. */
function auditList(entries: Iterable<AuditEntry>, next: number | null): Pick<DashboardState, 'audit' | 'auditNext'> {
  const byId = new Map<number, AuditEntry>();
  for (const e of entries) byId.set(e.id, e);
  const audit = [...byId.values()].sort((a, b) => b.id - a.id);
  if (audit.length <= MAX_AUDIT) return { audit, auditNext: next };
  const kept = audit.slice(0, MAX_AUDIT);
  return { audit: kept, auditNext: kept[kept.length - 1]!.id };
}

/** An `audit` frame: goes in by id (entries never change, so a known id is ignored). */
export function auditReceived(state: DashboardState, e: AuditEntry): DashboardState {
  if (state.audit.some((x) => x.id === e.id)) return state;
  return { ...state, ...auditList([e, ...state.audit], state.auditNext) };
}

/**
 * A page of `GET /api/audit`. The first page (`older` false) replaces what we had, except entries
 * newer than it that came live while it loaded; an older page (`before`) is added at the end.
 */
export function auditLoaded(
  state: DashboardState,
  page: { entries: readonly AuditEntry[]; next: number | null },
  older = false,
): DashboardState {
  if (older) return { ...state, ...auditList([...state.audit, ...page.entries], page.next) };
  const newest = page.entries.reduce((m, e) => Math.max(m, e.id), -Infinity);
  const live = state.audit.filter((e) => e.id > newest);
  return { ...state, ...auditList([...live, ...page.entries], page.next) };
}
