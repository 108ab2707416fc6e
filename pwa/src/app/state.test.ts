import { describe, expect, it } from 'vitest';
import {
  alertReceived,
  alertsLoaded,
  auditLoaded,
  auditReceived,
  eventReceived,
  eventsByTurn,
  groupSessions,
  initialState,
  MAX_AUDIT,
  MAX_EVENTS,
  mergeEvents,
  sessionsLoaded,
  sessionUpdated,
  stateGroup,
  tickReceived,
} from './state';
import type { Alert, AuditEntry, Delivery, ObsEvent, Session } from './types';

function session(id: string, over: Partial<Session> = {}): Session {
  return {
    id, agent: id.split(':')[0]!, native_id: id, state: 'idle', state_since: '2026-11-22T10:00:00Z',
    models: [], first_seen: '2026-11-22T10:00:00Z', last_seen: '2026-11-22T10:00:00Z',
    counts: { turns: 0, tool_calls: 0, tool_errors: 0, api_requests: 0, api_errors: 0 },
    tokens: { input: 0, output: 0, cache_read: 0, cache_write: 0 },
    cost_usd: null, cost_complete: true, runs: 1, last_activity: '2026-11-22T10:00:00Z', last_seq: 1, events: 1,
    ...over,
  };
}
const ev = (seq: number, over: Partial<ObsEvent> = {}): ObsEvent => ({ seq, session_id: 'codex:a', time: '2026-11-22T10:00:00Z', kind: 'prompt', ...over });

describe('sessions', () => {
  it('orders newest activity first', () => {
    const s = sessionsLoaded(initialState, [
      session('codex:old', { last_activity: '2026-11-22T09:00:00Z' }),
      session('pi:new', { last_activity: '2026-11-22T11:00:00Z' }),
      session('claude_code:mid', { last_activity: '2026-11-22T10:00:00Z' }),
    ]);
    expect(s.order).toEqual(['pi:new', 'claude_code:mid', 'codex:old']);
  });

  it('moves an updated session to the top and ignores an older copy', () => {
    let s = sessionsLoaded(initialState, [
      session('a:1', { last_activity: '2026-11-22T11:00:00Z', last_seq: 5 }),
      session('b:2', { last_activity: '2026-11-22T10:00:00Z', last_seq: 3 }),
    ]);
    s = sessionUpdated(s, session('b:2', { last_activity: '2026-11-22T12:00:00Z', last_seq: 9, state: 'active' }));
    expect(s.order).toEqual(['b:2', 'a:1']);
    expect(s.sessions['b:2']!.state).toBe('active');
    const same = sessionUpdated(s, session('b:2', { last_seq: 4, state: 'idle' }));
    expect(same).toBe(s);
  });

  it('adds a new session from a frame', () => {
    const s = sessionUpdated(initialState, session('pi:x'));
    expect(s.order).toEqual(['pi:x']);
  });

  it('groups by state and filters by agent and group', () => {
    const s = sessionsLoaded(initialState, [
      session('claude_code:1', { state: 'awaiting_permission' }),
      session('codex:2', { state: 'active' }),
      session('codex:3', { state: 'crashed' }),
      session('pi:4', { state: 'ended' }),
    ]);
    const all = groupSessions(s);
    expect(all.map((g) => [g.id, g.sessions.map((x) => x.id)])).toEqual([
      ['needs_you', ['claude_code:1']],
      ['working', ['codex:2']],
      ['stalled', []],
      ['idle', []],
      ['finished', ['pi:4']],
      ['failed', ['codex:3']],
    ]);
    const codexFailed = groupSessions(s, { agents: ['codex'], groups: ['failed'] });
    expect(codexFailed.flatMap((g) => g.sessions.map((x) => x.id))).toEqual(['codex:3']);
    expect(stateGroup('awaiting_input')).toBe('needs_you');
    expect(stateGroup('killed')).toBe('failed');
  });
});

describe('events', () => {
  it('keeps the last 100, in seq order, without duplicates', () => {
    let s = initialState;
    for (let i = 1; i <= MAX_EVENTS + 20; i++) s = eventReceived(s, ev(i));
    expect(s.events).toHaveLength(MAX_EVENTS);
    expect(s.events[0]!.seq).toBe(21);
    expect(s.events[MAX_EVENTS - 1]!.seq).toBe(120);
    expect(eventReceived(s, ev(120))).toBe(s);
    expect(eventReceived(s, ev(50))).toBe(s);
  });

  it('inserts a late event in order', () => {
    let s = eventReceived(initialState, ev(1));
    s = eventReceived(s, ev(3));
    s = eventReceived(s, ev(2));
    expect(s.events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('merges pages and live events, keeping attributes', () => {
    const fetched = [ev(1, { attributes: { a: 1 } }), ev(2, { attributes: { b: 2 } })];
    const merged = mergeEvents(fetched, [ev(2), ev(3)]);
    expect(merged.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(merged[1]!.attributes).toEqual({ b: 2 });
  });

  it('groups events by turn', () => {
    const g = eventsByTurn([ev(1), ev(2, { turn_id: 't1' }), ev(3, { turn_id: 't1' })]);
    expect(g.get(null)!.map((e) => e.seq)).toEqual([1]);
    expect(g.get('t1')!.map((e) => e.seq)).toEqual([2, 3]);
  });

  it('keeps the last tick', () => {
    const burn = { usd_per_min: 0.1, usd_per_hour: 6, usd_today: 3, usd_projected_month: 100 };
    expect(tickReceived(initialState, { burn, sessions_by_state: { idle: 2 } }).tick?.burn.usd_per_hour).toBe(6);
  });
});

const alert = (id: number, deliveries: Delivery[] = []): Alert => ({
  id, time_unix_nano: 1_763_800_000_000_000_000 + id, session_id: 'claude_code:abc', agent: 'claude_code',
  kind: 'needs_you', title: `alert ${id}`, body: '', url: '/sessions/claude_code%3Aabc', seq: id, deliveries,
});
const pending: Delivery = { channel: 'web_push', device_id: 'd_1', name: 'Pixel', outcome: 'pending', reason: '', attempts: [] };
const sent: Delivery = { ...pending, outcome: 'sent', attempts: [{ at_unix_nano: 1, status: 201, error: '' }] };
const ids = (s: { alerts: readonly Alert[] }) => s.alerts.map((a) => a.id);

describe('alerts', () => {
  it('inserts live alerts newest first, whatever order they come in', () => {
    let s = alertReceived(initialState, alert(2));
    s = alertReceived(s, alert(5));
    s = alertReceived(s, alert(3));
    expect(ids(s)).toEqual([5, 3, 2]);
  });

  it('replaces an alert by id in place, never duplicating it', () => {
    let s = alertReceived(initialState, alert(1));
    s = alertReceived(s, alert(2, [pending]));
    s = alertReceived(s, alert(3));
    s = alertReceived(s, alert(2, [sent]));
    expect(ids(s)).toEqual([3, 2, 1]);
    expect(s.alerts[1]!.deliveries[0]!.outcome).toBe('sent');
  });

  it('keeps the copy whose deliveries got further when an older copy comes late', () => {
    const s = alertReceived(alertReceived(initialState, alert(2, [sent])), alert(2, [pending]));
    expect(s.alerts).toHaveLength(1);
    expect(s.alerts[0]!.deliveries[0]!.outcome).toBe('sent');
  });

  it('a first page replaces the list but keeps live alerts newer than it', () => {
    let s = alertsLoaded(initialState, { alerts: [alert(9), alert(8), alert(7)], next: 7 });
    s = alertReceived(s, alert(12));
    s = alertsLoaded(s, { alerts: [alert(11), alert(10), alert(9)], next: 9 });
    expect(ids(s)).toEqual([12, 11, 10, 9]);
    expect(s.alertsNext).toBe(9);
  });

  it('an older page is merged below, duplicates dropped, and the cursor moves', () => {
    let s = alertsLoaded(initialState, { alerts: [alert(9), alert(8)], next: 8 });
    s = alertsLoaded(s, { alerts: [alert(8), alert(7), alert(6)], next: null }, true);
    expect(ids(s)).toEqual([9, 8, 7, 6]);
    expect(s.alertsNext).toBeNull();
  });

  it('a page does not undo deliveries a live frame already reported', () => {
    let s = alertReceived(initialState, alert(4, [sent]));
    s = alertsLoaded(s, { alerts: [alert(4, [pending])], next: null });
    expect(s.alerts[0]!.deliveries[0]!.outcome).toBe('sent');
  });

  it('an empty first page empties the list', () => {
    const s = alertsLoaded(alertReceived(initialState, alert(1)), { alerts: [], next: null });
    expect(s.alerts).toEqual([]);
  });
});

describe('audit log', () => {
  const entry = (id: number): AuditEntry => ({
    id, time_unix_nano: id * 1e9, actor: 'token', peer: '127.0.0.1', remote: false, action: 'pairing_code', outcome: 'ok', detail: `entry ${id}`,
  });
  const ids = (s: { audit: readonly AuditEntry[] }) => s.audit.map((e) => e.id);

  it('puts live entries in newest first, once each', () => {
    let s = auditReceived(initialState, entry(5));
    s = auditReceived(s, entry(7));
    s = auditReceived(s, entry(6));
    expect(ids(s)).toEqual([7, 6, 5]);
    expect(auditReceived(s, entry(6))).toBe(s);
  });

  it('replaces the list with the first page, keeping entries that came live while it loaded', () => {
    let s = auditReceived(initialState, entry(3));
    s = auditReceived(s, entry(12));
    s = auditLoaded(s, { entries: [entry(11), entry(10), entry(9)], next: 9 });
    expect(ids(s)).toEqual([12, 11, 10, 9]);
    expect(s.auditNext).toBe(9);
  });

  it('adds an older page at the end', () => {
    let s = auditLoaded(initialState, { entries: [entry(11), entry(10)], next: 10 });
    s = auditLoaded(s, { entries: [entry(9), entry(8)], next: null }, true);
    expect(ids(s)).toEqual([11, 10, 9, 8]);
    expect(s.auditNext).toBeNull();
  });

  it(`keeps at most ${MAX_AUDIT} entries, and older ones stay a page away`, () => {
    let s = initialState;
    for (let id = 1; id <= MAX_AUDIT + 10; id++) s = auditReceived(s, entry(id));
    expect(s.audit).toHaveLength(MAX_AUDIT);
    expect(s.audit[0]!.id).toBe(MAX_AUDIT + 10);
    expect(s.auditNext).toBe(11);
  });
});
