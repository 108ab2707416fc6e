//! The server's HTTP API over `fetch`: one function per endpoint, each returning parsed JSON or
//! throwing an `ApiError`. Components never call `fetch` themselves. Every state-changing call
//! carries `X-Observatory: 1`, the custom header the server's CSRF check asks for.

import type {
  Alert,
  Delivery,
  Device,
  LiveStats,
  ObsEvent,
  QuietHours,
  ServerConfig,
  Session,
  SessionDetail,
} from './types';

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function failure(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string; message?: string };
    message = body.error ?? body.message ?? message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message);
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, signal });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** Headers of every state-changing request (the server answers 403 without the custom one). */
export const WRITE_HEADERS: Readonly<Record<string, string>> = {
  Accept: 'application/json',
  'Content-Type': 'application/json',
  'X-Observatory': '1',
};

/** A POST/PATCH/DELETE; `undefined` for a 204. */
async function sendJson<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: WRITE_HEADERS,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await failure(res);
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

// Web Push devices (one browser push subscription each).

export interface DeviceRegistration {
  /** `PushSubscription.toJSON()`. */
  subscription: PushSubscriptionJSON;
  name?: string;
  kinds?: string[];
  quiet_hours?: QuietHours | null;
  /** The endpoint this subscription replaces (a key change, or `pushsubscriptionchange`). */
  previous_endpoint?: string;
}

export type DevicePatch = Partial<Pick<Device, 'name' | 'kinds' | 'quiet_hours'>>;

/** 201 for a new device, 200 when the endpoint was known (updated); the Device either way. */
export function registerDevice(body: DeviceRegistration): Promise<Device> {
  return sendJson<Device>('POST', '/api/push/subscriptions', body);
}

export async function listDevices(signal?: AbortSignal): Promise<Device[]> {
  return (await getJson<{ devices: Device[] }>('/api/push/subscriptions', signal)).devices;
}

/** The device registered for this push endpoint, or null when the server does not know it. */
export async function deviceByEndpoint(endpoint: string, signal?: AbortSignal): Promise<Device | null> {
  const page = await getJson<{ devices: Device[] }>(
    `/api/push/subscriptions?endpoint=${encodeURIComponent(endpoint)}`,
    signal,
  );
  return page.devices[0] ?? null;
}

export function updateDevice(id: string, patch: DevicePatch): Promise<Device> {
  return sendJson<Device>('PATCH', `/api/push/subscriptions/${encodeURIComponent(id)}`, patch);
}

export async function deleteDevice(id: string): Promise<void> {
  await sendJson<void>('DELETE', `/api/push/subscriptions/${encodeURIComponent(id)}`);
}

/** Sends a test notification; resolves once the push service answered. */
export async function sendTest(id: string): Promise<Delivery> {
  return (await sendJson<{ delivery: Delivery }>('POST', `/api/push/subscriptions/${encodeURIComponent(id)}/test`)).delivery;
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
