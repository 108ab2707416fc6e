//! The read API's and live feed's JSON shapes (see the repository README), as the app uses them.

/** An agent's id, as the server's agent registry names it (`claude_code`, `codex`, …). The app
 *  keeps no list of its own: the ids and their names come from `/api/config` (see `agents.ts`). */
export type Agent = string;

/** One agent of the server's registry, as `/api/config` lists it. */
export interface AgentSpec {
  id: Agent;
  display_name: string;
}

export type SessionState =
  | 'active'
  | 'awaiting_permission'
  | 'awaiting_input'
  | 'stalled'
  | 'idle'
  | 'errored'
  | 'ended'
  | 'crashed'
  | 'killed';

export interface Counts {
  turns?: number;
  tool_calls: number;
  tool_errors: number;
  api_requests: number;
  api_errors: number;
}

export interface Tokens {
  input: number;
  output: number;
  cache_read: number;
  cache_write: number;
}

export interface Session {
  id: string;
  agent: Agent;
  native_id: string;
  service_version?: string | null;
  state: SessionState | string;
  state_since: string;
  end_reason?: string | null;
  cwd?: string | null;
  models: string[];
  first_seen: string;
  last_seen: string;
  counts: Counts;
  tokens: Tokens;
  cost_usd: number | null;
  cost_complete: boolean;
  cost_estimated_requests?: number;
  current_turn?: string | null;
  current_tool?: string | null;
  runs: number;
  pid?: number | null;
  last_activity: string;
  last_seq: number;
  events: number;
}

export interface Turn {
  id: string;
  index: number;
  status: 'open' | 'finished' | 'failed' | 'interrupted' | string;
  started: string;
  ended?: string | null;
  counts: Counts;
  tokens: Tokens;
  cost_usd: number | null;
  cost_complete: boolean;
  /** What the agent said last in the turn (its final message), when its hooks tell. */
  last_message?: string | null;
}

export interface SessionDetail extends Session {
  turns: Turn[];
}

export interface ObsEvent {
  seq: number;
  session_id: string;
  time: string;
  kind: string;
  source?: string;
  run?: number;
  turn_id?: string;
  name?: string;
  tool_name?: string;
  tool_call_id?: string;
  success?: boolean;
  duration_ms?: number;
  model?: string;
  tokens?: Partial<Tokens>;
  cost_usd?: number;
  cost_estimated?: boolean;
  status_code?: number;
  error?: string;
  state?: string;
  previous_state?: string;
  reason?: string;
  /** One line on what a tool call, permission request or question is about. */
  detail?: string;
  attributes?: Record<string, unknown>;
}

export interface Burn {
  usd_per_min: number;
  usd_per_hour: number;
  usd_today: number;
  usd_projected_month: number;
}

export type SessionsByState = Partial<Record<string, number>>;

export interface ToolLatency {
  tool: string;
  count: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

export interface LiveStats {
  burn: Burn;
  tool_latency: { window_secs: number; tools: ToolLatency[] };
  sessions_by_state: SessionsByState;
}

export interface Tick {
  burn: Burn;
  sessions_by_state: SessionsByState;
}

export interface ServerConfig {
  version: string;
  features: Record<string, unknown>;
  /** base64url, an uncompressed P-256 point; null while push is off. */
  vapid_public_key: string | null;
  /** Absent on servers older than alerts. */
  push?: { enabled: boolean; reason: string | null };
  alert_kinds?: string[];
  /** The server's agents, in its registry's order. Absent on servers older than the registry. */
  agents?: AgentSpec[];
}

export type AlertKind = 'needs_you' | 'finished' | 'stalled' | 'crashed' | 'error' | 'budget';

export const ALERT_KINDS: readonly AlertKind[] = ['needs_you', 'finished', 'stalled', 'crashed', 'error', 'budget'];

export interface QuietHours {
  /** "HH:MM", local to `utc_offset_minutes`. */
  start: string;
  end: string;
  utc_offset_minutes: number;
}

export interface DeliveryAttempt {
  at_unix_nano: number;
  status?: number | null;
  error?: string;
}

export type DeliveryOutcome = 'pending' | 'sent' | 'failed' | 'gone' | 'skipped';

export interface Delivery {
  channel: 'web_push' | 'webhook' | 'ntfy' | string;
  device_id?: string | null;
  name?: string | null;
  outcome: DeliveryOutcome | string;
  reason?: string;
  attempts: DeliveryAttempt[];
}

/** The last push sent to a device, and how the push service answered. */
export interface LastDelivery {
  at_unix_nano: number;
  outcome: DeliveryOutcome | string;
  status?: number | null;
  error?: string;
}

/** A device's Web Push subscription, as much of it as leaves the server. */
export interface DevicePush {
  /** The push service's origin; the full endpoint is a secret and never leaves the server. */
  endpoint_origin: string;
  last_delivery: LastDelivery | null;
}

/** One paired browser: its credential, and its optional push subscription and preferences. */
export interface Device {
  id: string;
  name: string;
  created_unix_nano: number;
  last_seen_unix_nano: number;
  /** The browser making the request. */
  current: boolean;
  /** Alert kinds it wants pushed. */
  kinds: string[];
  quiet_hours: QuietHours | null;
  /** Null while this device gets no notifications. */
  push: DevicePush | null;
}

/** What can be done to an agent's process from the dashboard. */
export type ControlAction = 'interrupt' | 'kill' | 'restart';

/** One action of `GET /api/sessions/{id}/control`. */
export interface ControlOption {
  available: boolean;
  /** Why it is not available (null when it is). */
  why: string | null;
  /** What it would do, in one line ("sends SIGINT to claude (pid 1234): stops the current turn"). */
  what: string | null;
}

/** `GET /api/sessions/{id}/control`: what can be done to the session's agent process now. */
export interface SessionControl {
  session_id: string;
  agent: Agent;
  /** The agent's process, when known and still the same process. */
  pid: number | null;
  /** Started through `observatory run` (a restart happens in its terminal). */
  launched: boolean;
  actions: Record<ControlAction, ControlOption>;
}

/** `POST /api/sessions/{id}/{action}`: what was done. */
export interface ControlResult {
  action: ControlAction | string;
  session_id: string;
  pid: number | null;
  outcome: 'ok' | 'failed' | string;
  /** One line on what was done ("sent SIGTERM to 1234 and 2 children; all exited within 0.2 s"). */
  done: string;
  audit_id?: number;
}

/** `GET /api/access`: who this browser is to the server and what it may do. */
export interface Access {
  /** A loopback peer without proxy headers (the laptop itself). */
  local: boolean;
  credential: 'none' | 'token' | 'device' | string;
  device: { id: string; name: string } | null;
  can: {
    read: boolean;
    write: boolean;
    control: boolean;
    answer: 'allow-and-deny' | 'deny-only' | 'off' | string;
  };
  local_reads: 'open' | 'paired' | string;
  public_url: string | null;
}

/** `POST /api/pairing-codes`: a one-time code, its link and the link as a QR code. */
export interface PairingCode {
  code: string;
  url: string;
  expires_unix_nano: number;
  /** An SVG document; shown as an image, never put into the page's markup. */
  qr_svg: string;
}

/** One line of the server's audit log. */
export interface AuditEntry {
  /** Monotonic: a newer entry has a larger id. */
  id: number;
  time_unix_nano: number;
  actor: 'token' | 'device' | 'anonymous' | 'cli' | string;
  device_id?: string;
  device_name?: string;
  peer: string;
  remote: boolean;
  action: string;
  target?: string;
  outcome: 'ok' | 'refused' | 'failed' | string;
  /** One human sentence. */
  detail: string;
}

export interface Alert {
  /** Monotonic: a newer alert has a larger id. */
  id: number;
  time_unix_nano: number;
  session_id: string;
  agent: Agent;
  kind: AlertKind | string;
  title: string;
  body: string;
  url?: string;
  seq?: number;
  deliveries: Delivery[];
}

/** Where a permission prompt stands (notes/answers-api.md); a newer server may add states. */
export type PromptState = 'pending' | 'allowed' | 'denied' | 'answered_in_terminal' | 'agent_gone' | 'expired';

/** The one-shot answers the app gives to a prompt: never "always allow". */
export type PromptAnswer = 'allow' | 'deny';

/** One permission request an agent asked, and what became of it. */
export interface Prompt {
  id: string;
  session_id: string;
  agent: Agent;
  /** May be "". */
  tool: string;
  /** The command, file or question in full; may be "". */
  detail: string;
  asked_unix_nano: number;
  state: PromptState | string;
  /** 0 while pending. */
  resolved_unix_nano: number;
  /** Who answered through the observatory: "token", a device's name; null otherwise. */
  by: string | null;
  /** The deny message, if any. */
  message: string | null;
  /** The agent's hook took the decision. */
  delivered: boolean;
  /** False: no answer can travel to this agent (`why_not` says why). */
  answerable: boolean;
  why_not: string | null;
  /** >0 for agents whose own terminal prompt appears only after the hook gives up: when it will. */
  holds_terminal_prompt_until_unix_nano: number;
}
