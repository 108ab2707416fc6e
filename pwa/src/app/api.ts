//! The server's HTTP API over `fetch`: one function per endpoint, each returning parsed JSON or
//! throwing an `ApiError`. Components never call `fetch` themselves. Every state-changing call
//! carries `X-Observatory: 1`, the custom header the server's CSRF check asks for; the device
//! credential is an HttpOnly cookie that same-origin requests carry by themselves. A 401 that
//! says `pairing_required` is also told to `onPairingRequired` listeners (`access.ts` re-reads
//! who this browser is then).

import type {
  Access,
  Alert,
  AuditEntry,
  ControlAction,
  ControlResult,
  Delivery,
  Device,
  LiveStats,
  ObsEvent,
  PairingCode,
  PromptAnswer,
  ServerConfig,
  Session,
  SessionControl,
  SessionDetail,
} from './types';

export class ApiError extends Error {
  readonly status: number;
  /** A 401 for a missing or invalid credential: this browser needs pairing. */
  readonly pairingRequired: boolean;
  /** Seconds to wait before trying again (a 429's `Retry-After`), when the server said. */
  readonly retryAfter: number | null;
  constructor(status: number, message: string, opts: { pairingRequired?: boolean; retryAfter?: number | null } = {}) {
    super(message);
    this.status = status;
    this.pairingRequired = opts.pairingRequired ?? false;
    this.retryAfter = opts.retryAfter ?? null;
  }
}

const pairingListeners = new Set<() => void>();

/** Called on every 401 that says `pairing_required`; returns the unsubscribe function. */
export function onPairingRequired(fn: () => void): () => void {
  pairingListeners.add(fn);
  return () => pairingListeners.delete(fn);
}

/** `Retry-After` in seconds (HTTP dates are not sent by this server); null when absent. */
function retryAfter(res: Response): number | null {
  const v = Number(res.headers.get('Retry-After'));
  return res.headers.has('Retry-After') && Number.isFinite(v) && v >= 0 ? v : null;
}

async function failure(res: Response, opts: { tell?: boolean } = {}): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  let pairing = false;
  try {
    const body = (await res.json()) as { error?: string; message?: string; pairing_required?: boolean };
    message = body.error ?? body.message ?? message;
    pairing = res.status === 401 && body.pairing_required === true;
  } catch {
    // not JSON: keep the status line
  }
  if (pairing && opts.tell !== false) {
    for (const fn of [...pairingListeners]) {
      try {
        fn();
      } catch (err) {
        console.error('pairing listener failed', err);
      }
    }
  }
  return new ApiError(res.status, message, { pairingRequired: pairing, retryAfter: retryAfter(res) });
}

async function getJson<T>(path: string, signal?: AbortSignal, opts: { tell?: boolean } = {}): Promise<T> {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, signal });
  if (!res.ok) throw await failure(res, opts);
  return (await res.json()) as T;
}

/** Headers of every state-changing request (the server answers 403 without the custom one). */
export const WRITE_HEADERS: Readonly<Record<string, string>> = {
  Accept: 'application/json',
  'Content-Type': 'application/json',
  'X-Observatory': '1',
};

/** A POST/PUT/PATCH/DELETE; `undefined` for a 204. `tell: false` keeps a 401 from the listeners
 *  (a refused pairing code is not news about this browser's credential). */
async function sendJson<T>(
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  opts: { tell?: boolean } = {},
): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: WRITE_HEADERS,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export interface SessionPage {
  sessions: Session[];
  next: string | null;
}

export function fetchSessions(
  opts: { limit?: number; cursor?: string; agent?: string; state?: string } = {},
  signal?: AbortSignal,
): Promise<SessionPage> {
  const q = new URLSearchParams();
  if (opts.limit) q.set('limit', String(opts.limit));
  if (opts.cursor) q.set('cursor', opts.cursor);
  if (opts.agent) q.set('agent', opts.agent);
  if (opts.state) q.set('state', opts.state);
  const qs = q.toString();
  return getJson<SessionPage>(`/api/sessions${qs ? `?${qs}` : ''}`, signal);
}

export function fetchSession(id: string, signal?: AbortSignal): Promise<SessionDetail> {
  return getJson<SessionDetail>(`/api/sessions/${encodeURIComponent(id)}`, signal);
}

export interface EventPage {
  events: ObsEvent[];
  next: number | null;
}

export function fetchEvents(
  id: string,
  after = 0,
  limit = 200,
  signal?: AbortSignal,
): Promise<EventPage> {
  return getJson<EventPage>(
    `/api/sessions/${encodeURIComponent(id)}/events?after=${after}&limit=${limit}`,
    signal,
  );
}

export function fetchLiveStats(signal?: AbortSignal): Promise<LiveStats> {
  return getJson<LiveStats>('/api/live/stats', signal);
}

export function fetchHealth(signal?: AbortSignal): Promise<{ status: string; version: string; last_seq: number }> {
  return getJson('/api/health', signal);
}

/** `null` when the server does not have `/api/config` yet (404). */
export async function fetchConfig(signal?: AbortSignal): Promise<ServerConfig | null> {
  try {
    return await getJson<ServerConfig>('/api/config', signal);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

// Control: what can be done to a session's agent process, and doing it.

/** What can be done to the session's agent process now, and why not when not. */
export function fetchControl(id: string, signal?: AbortSignal): Promise<SessionControl> {
  return getJson<SessionControl>(`/api/sessions/${encodeURIComponent(id)}/control`, signal);
}

/** Interrupts, kills or restarts the session's agent; resolves once the server has done it (or
 *  failed to: `outcome`), throws the server's refusal (409 not now, 403 not allowed, 429). */
export function sendControl(id: string, action: ControlAction): Promise<ControlResult> {
  return sendJson<ControlResult>('POST', `/api/sessions/${encodeURIComponent(id)}/${action}`, {});
}

// Answers: agents' permission prompts (checked by `prompts.ts`), and answering them.

/** A session's pending prompts and its most recent resolved ones, newest first. */
export async function fetchPrompts(sessionId: string, signal?: AbortSignal): Promise<unknown[]> {
  const page = await getJson<{ prompts?: unknown }>(`/api/prompts?session=${encodeURIComponent(sessionId)}`, signal);
  return Array.isArray(page.prompts) ? page.prompts : [];
}

/** Allows or denies a prompt once; resolves to the prompt as it now stands, throws the server's
 *  refusal (409 answered already or cannot be, 403 not from this device, 404 unknown). */
export async function sendAnswer(id: string, answer: PromptAnswer, message?: string): Promise<unknown> {
  const body = answer === 'deny' && message ? { message } : {};
  return (await sendJson<{ prompt?: unknown }>('POST', `/api/prompts/${encodeURIComponent(id)}/${answer}`, body)).prompt;
}

// Access: who this browser is, pairing, devices, the audit log.

/**
 * Who this browser is. Answered without a credential, but a stale one (a revoked device's
 * cookie) is refused with a 401 that also clears it: the caller asks again. A server older than
 * access control answers 404. Its 401s are not told to the listeners: they are who asks.
 */
export function fetchAccess(signal?: AbortSignal): Promise<Access> {
  return getJson<Access>('/api/access', signal, { tell: false });
}

/** Pairs this browser with a one-time code; the server sets the device cookie. */
export async function pair(code: string, name?: string): Promise<Device> {
  const body = name ? { code, name } : { code };
  return (await sendJson<{ device: Device }>('POST', '/api/pair', body, { tell: false })).device;
}

export function createPairingCode(): Promise<PairingCode> {
  return sendJson<PairingCode>('POST', '/api/pairing-codes');
}

/** A device's id, or `current` for the browser making the request. */
export type DeviceRef = string;

function devicePath(ref: DeviceRef): string {
  return `/api/devices/${encodeURIComponent(ref)}`;
}

export async function listDevices(signal?: AbortSignal): Promise<Device[]> {
  return (await getJson<{ devices: Device[] }>('/api/devices', signal)).devices;
}

export type DevicePatch = Partial<Pick<Device, 'name' | 'kinds' | 'quiet_hours'>>;

export function updateDevice(ref: DeviceRef, patch: DevicePatch): Promise<Device> {
  return sendJson<Device>('PATCH', devicePath(ref), patch);
}

/** Revokes a device: its cookie stops working, its stream closes, its push subscription goes. */
export async function revokeDevice(ref: DeviceRef): Promise<void> {
  await sendJson<void>('DELETE', devicePath(ref));
}

export interface PushRegistration {
  /** `PushSubscription.toJSON()`. */
  subscription: PushSubscriptionJSON;
}

/** Gives this (paired) browser's device a push subscription, replacing any it had (the cookie
 *  says which device: no old endpoint is needed); 409 when this browser is not paired. */
export function putPush(body: PushRegistration): Promise<Device> {
  return sendJson<Device>('PUT', '/api/devices/current/push', body);
}

/** Turns push off for this browser's device (its subscription is forgotten). */
export async function deletePush(): Promise<void> {
  await sendJson<void>('DELETE', '/api/devices/current/push');
}

/** Sends a test notification; resolves once the push service answered. */
export async function sendTest(ref: DeviceRef = 'current'): Promise<Delivery> {
  return (await sendJson<{ delivery: Delivery }>('POST', `${devicePath(ref)}/test`)).delivery;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Pass as `before` for the next (older) page; null at the end. */
  next: number | null;
}

export function fetchAudit(opts: { limit?: number; before?: number } = {}, signal?: AbortSignal): Promise<AuditPage> {
  const q = new URLSearchParams();
  q.set('limit', String(opts.limit ?? 50));
  if (opts.before !== undefined) q.set('before', String(opts.before));
  return getJson<AuditPage>(`/api/audit?${q.toString()}`, signal);
}

// Alerts.

export interface AlertPage {
  alerts: Alert[];
  /** Pass as `before` for the next (older) page; null at the end. */
  next: number | null;
}

export function fetchAlerts(opts: { limit?: number; before?: number } = {}, signal?: AbortSignal): Promise<AlertPage> {
  const q = new URLSearchParams();
  q.set('limit', String(opts.limit ?? 50));
  if (opts.before !== undefined) q.set('before', String(opts.before));
  return getJson<AlertPage>(`/api/alerts?${q.toString()}`, signal);
}
