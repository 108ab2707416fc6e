//! The read API over `fetch`: one function per endpoint, each returning parsed JSON or throwing
//! an `ApiError`. Components never call `fetch` themselves.

import type { LiveStats, ObsEvent, ServerConfig, Session, SessionDetail } from './types';

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, signal });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: string; message?: string };
      message = body.error ?? body.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(res.status, message);
  }
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
