//! Display formatting: durations, money, relative times, token counts, state and alert names,
//! countdowns, and the audit log's actions and actors.
//! Agent names come from the server (`agents.ts`).

const STATE_NAMES: Record<string, string> = {
  active: 'Working',
  awaiting_permission: 'Needs permission',
  awaiting_input: 'Waiting for input',
  stalled: 'Stalled',
  idle: 'Idle',
  errored: 'Errored',
  ended: 'Ended',
  crashed: 'Crashed',
  killed: 'Killed',
};

export function stateName(state: string): string {
  return STATE_NAMES[state] ?? state;
}

/** "850ms", "4.2s", "3m 12s", "2h 5m", "3d 4h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  const total = Math.floor(s);
  if (total < 60) return `${total}s`;
  const m = Math.floor(total / 60);
  if (m < 60) return `${m}m ${total % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** "$0.035", "$1.24", "$1,234"; "—" when unknown; "≥" prefix when some costs are missing. */
export function formatUsd(usd: number | null | undefined, complete = true): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return '—';
  let text: string;
  if (usd === 0) text = '$0.00';
  else if (Math.abs(usd) < 0.01) text = `$${usd.toFixed(4).replace(/0+$/, '')}`;
  else if (Math.abs(usd) < 1) text = `$${usd.toFixed(3).replace(/(\.\d\d\d*?)0+$/, '$1')}`;
  else if (Math.abs(usd) < 1000) text = `$${usd.toFixed(2)}`;
  else text = `$${Math.round(usd).toLocaleString('en-US')}`;
  return complete ? text : `≥${text}`;
}

/** "now", "12s ago", "3m ago", "2h ago", "5d ago" (and "in 3m" for the future). */
export function formatRelative(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const diff = now - t;
  const abs = Math.abs(diff);
  let text: string;
  if (abs < 5_000) return 'now';
  if (abs < 60_000) text = `${Math.floor(abs / 1000)}s`;
  else if (abs < 3_600_000) text = `${Math.floor(abs / 60_000)}m`;
  else if (abs < 86_400_000) text = `${Math.floor(abs / 3_600_000)}h`;
  else text = `${Math.floor(abs / 86_400_000)}d`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** Time spent since `iso`, for "Idle for 3m 12s". */
export function formatSince(iso: string | null | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  return formatDuration(Math.max(0, now - t));
}

/** "812", "16.4k", "1.2M". */
export function formatTokens(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n < 1000) return String(Math.round(n));
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 100_000 ? 1 : 0)}k`.replace('.0k', 'k');
  return `${(n / 1_000_000).toFixed(1)}M`.replace('.0M', 'M');
}

export function totalTokens(t: { input?: number; output?: number; cache_read?: number; cache_write?: number } | undefined): number {
  if (!t) return 0;
  return (t.input ?? 0) + (t.output ?? 0) + (t.cache_read ?? 0) + (t.cache_write ?? 0);
}

/** The last segment of a path: the project a session works in. */
export function projectName(cwd: string | null | undefined): string {
  if (!cwd) return '—';
  const parts = cwd.split(/[\\/]+/).filter(Boolean);
  return parts[parts.length - 1] ?? cwd;
}

export function formatClock(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '';
  return t.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A unix-nanosecond time as ISO (a JSON number keeps only about microsecond precision: enough). */
export function nanoToIso(n: number | null | undefined): string | null {
  if (n === null || n === undefined || !Number.isFinite(n) || n <= 0) return null;
  const d = new Date(n / 1e6);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** What each alert kind means, for its badge and its toggle. */
export const ALERT_KIND_INFO: Readonly<Record<string, { name: string; explain: string }>> = {
  needs_you: { name: 'Needs you', explain: 'A session asks for a permission or waits for your answer.' },
  finished: { name: 'Finished', explain: 'A long turn is done and the agent waits for the next prompt.' },
  stalled: { name: 'Stalled', explain: 'A working session has made no progress for a while.' },
  crashed: { name: 'Crashed', explain: "An agent's process died: non-zero exit, a signal, or gone without ending." },
  error: { name: 'Error', explain: 'A turn failed after its retries, or API errors came in a burst.' },
  budget: { name: 'Budget', explain: "A session's or the day's cost crossed its threshold." },
  test: { name: 'Test', explain: 'A test notification sent from Settings.' },
};

export function alertKindName(kind: string): string {
  return ALERT_KIND_INFO[kind]?.name ?? kind.replace(/_/g, ' ');
}

const OUTCOME_NAMES: Record<string, string> = {
  pending: 'Pending',
  sent: 'Sent',
  failed: 'Failed',
  gone: 'Gone',
  skipped: 'Skipped',
};

export function outcomeName(outcome: string): string {
  return OUTCOME_NAMES[outcome] ?? outcome;
}

/** "UTC+01:00", "UTC−05:30" for an offset in minutes east of UTC. */
export function formatUtcOffset(minutes: number): string {
  const sign = minutes < 0 ? '−' : '+';
  const abs = Math.abs(minutes);
  return `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** "9:41" left of a countdown (whole seconds, rounded up so it reads 0:00 only at the end). */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

const AUDIT_ACTIONS: Record<string, string> = {
  pair: 'Paired',
  pairing_code: 'Pairing code made',
  revoke: 'Revoked',
  rename: 'Renamed',
  token_rotated: 'Control token rotated',
  refused: 'Refused',
  rate_limited: 'Rate limited',
  tunnel: 'Tunnel',
  push_on: 'Notifications on',
  push_off: 'Notifications off',
};

export function auditActionName(action: string): string {
  const name = AUDIT_ACTIONS[action];
  if (name) return name;
  const words = action.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const AUDIT_ACTORS: Record<string, string> = {
  token: 'Control token',
  cli: 'Command line',
  system: 'This machine',
  anonymous: 'Unpaired browser',
  device: 'A paired device',
};

/** Who did it: the device's name when it was one, else the kind of credential. */
export function auditActorName(e: { actor: string; device_name?: string }): string {
  return e.device_name || AUDIT_ACTORS[e.actor] || e.actor;
}
