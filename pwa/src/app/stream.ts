//! The live feed client: one WebSocket to `/api/stream?since=<seq>`, kept open across drops.
//! It resumes from the last event seq it delivered, reconnects with capped exponential backoff
//! (with jitter, reset once a connection says hello), follows `resync` frames, ignores frames it
//! cannot read and never hands the same event seq out twice. A connection that goes silent
//! (no frame for `SILENCE_LIMIT_MS`) is taken for dead and replaced. It also tells the server
//! what this page is looking at (`viewing`), so the server does not push what is on screen.
//! A close with code 4401 (this device was revoked) stops it for good, as `unpaired`: it does not
//! reconnect, it tells its listeners (who ask the server what this browser may do now).
//! Everything it touches outside itself (sockets, timers, randomness, online and visibility
//! state) is injected, so tests drive it by hand.

import { browserAttentionEnv, watchAttention } from './attention';
import { readPrompt } from './prompts';
import type { Alert, AuditEntry, Delivery, ObsEvent, Prompt, Session, Tick } from './types';

/** `unpaired`: stopped because the server refused this browser (see `UNPAIRED_CLOSE`). */
export type StreamStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'unpaired';

/** The close code of a socket whose device was revoked: reconnecting would only be refused. */
export const UNPAIRED_CLOSE = 4401;

/** The part of `WebSocket` the client uses. */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(): void;
}

export interface StreamListener {
  event?(e: ObsEvent): void;
  session?(s: Session): void;
  tick?(t: Tick): void;
  /** An alert was made, or its deliveries changed (same id). */
  alert?(a: Alert): void;
  /** A connection said hello. Alerts are not replayed like events: refetch them here. */
  connected?(): void;
  /** The feed skipped events: refetch what is shown from the read API. */
  resync?(): void;
  /** A line of the audit log was written. */
  audit?(e: AuditEntry): void;
  /** An agent asked a permission prompt, or one changed state (same id). */
  prompt?(p: Prompt): void;
  /** The server closed the feed because this device was revoked; the client has stopped. */
  unpaired?(): void;
}

export interface StreamDeps {
  /** Builds the socket URL for a `since` seq. */
  url(since: number): string;
  createSocket(url: string): SocketLike;
  /** The newest committed seq, asked when there is nothing to resume from. */
  newestSeq(): Promise<number>;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  random(): number;
  isOnline(): boolean;
  /** Subscribes to online/offline changes; returns the unsubscribe function. */
  watchOnline(onChange: (online: boolean) => void): () => void;
  /** Whether the page is visible (default: always). */
  isVisible?(): boolean;
  /** Subscribes to visibility changes; returns the unsubscribe function. */
  watchVisibility?(onChange: (visible: boolean) => void): () => void;
  /** Milliseconds since some fixed point (default `Date.now`). */
  now?(): number;
  /** How many events before the newest to replay on a fresh start (fills the live list). */
  backfill?: number;
  /** Silence after which a connection is taken for dead (default `SILENCE_LIMIT_MS`). */
  silenceLimitMs?: number;
}

/** The server forgets a `viewing` claim two minutes after it was last made: say it again this
 *  often (on the next `tick` after it is due). */
export const VIEWING_REFRESH_MS = 60_000;

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10_000;
/**
 * The longest a healthy connection stays quiet: the server sends a `tick` frame every 5 s. (Its
 * WebSocket pings, every 20 s, are answered by the browser itself and never reach the page.)
 */
export const HEARTBEAT_MS = 5_000;
/** No frame for this long (2.5 heartbeats) and the connection is closed and reopened. */
export const SILENCE_LIMIT_MS = HEARTBEAT_MS * 2.5;

/** Delay before reconnect attempt `attempt` (0-based): doubling, capped, with 50–100 % jitter. */
export function backoffDelay(attempt: number, random: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling * (0.5 + random * 0.5));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An alert from a frame or a page, with its required fields checked; null if unusable. */
export function readAlert(v: unknown): Alert | null {
  if (!isObject(v) || typeof v.id !== 'number' || !Number.isFinite(v.id)) return null;
  if (typeof v.kind !== 'string' || typeof v.session_id !== 'string') return null;
  const deliveries = Array.isArray(v.deliveries)
    ? (v.deliveries.filter((d) => isObject(d) && typeof d.outcome === 'string') as unknown as Delivery[]).map((d) => ({
        ...d,
        attempts: Array.isArray(d.attempts) ? d.attempts : [],
      }))
    : [];
  return {
    ...(v as unknown as Alert),
    time_unix_nano: typeof v.time_unix_nano === 'number' ? v.time_unix_nano : 0,
    agent: typeof v.agent === 'string' ? v.agent : (v.session_id.split(':')[0] ?? ''),
    title: typeof v.title === 'string' ? v.title : '',
    body: typeof v.body === 'string' ? v.body : '',
    deliveries,
  };
}

/** An audit entry from a frame or a page, with its required fields checked; null if unusable. */
export function readAuditEntry(v: unknown): AuditEntry | null {
  if (!isObject(v) || typeof v.id !== 'number' || !Number.isFinite(v.id)) return null;
  if (typeof v.action !== 'string' || typeof v.outcome !== 'string') return null;
  const str = (x: unknown) => (typeof x === 'string' ? x : undefined);
  return {
    id: v.id,
    time_unix_nano: typeof v.time_unix_nano === 'number' ? v.time_unix_nano : 0,
    actor: str(v.actor) ?? 'anonymous',
    ...(str(v.device_id) ? { device_id: str(v.device_id) } : {}),
    ...(str(v.device_name) ? { device_name: str(v.device_name) } : {}),
    peer: str(v.peer) ?? '',
    remote: v.remote === true,
    action: v.action,
    ...(str(v.target) ? { target: str(v.target) } : {}),
    outcome: v.outcome,
    detail: str(v.detail) ?? '',
  };
}

/** The close code of a socket's close event, when it has one. */
function closeCode(ev: unknown): number | null {
  return isObject(ev) && typeof ev.code === 'number' ? ev.code : null;
}

export interface Viewing {
  session_id: string | null;
  visible: boolean;
}

export class StreamClient {
  private readonly deps: StreamDeps;
  private socket: SocketLike | null = null;
  private timer: unknown = null;
  /** The silent-connection check of the current socket. */
  private watchdog: unknown = null;
  /** When the current socket last gave a sign of life (opened, or any frame). */
  private lastHeard = 0;
  private unwatchVisibility: (() => void) | null = null;
  private viewing: Viewing = { session_id: null, visible: true };
  /** When `viewing` was last sent. */
  private viewingSentAt = 0;
  private unwatch: (() => void) | null = null;
  private running = false;
  private everConnected = false;
  private attempt = 0;
  /** Seq of the last event handed to listeners; `null` before the first hello. */
  private lastSeq: number | null = null;
  private status: StreamStatus = 'connecting';
  /** Bumped on every connect so callbacks of an abandoned socket are ignored. */
  private generation = 0;
  private readonly listeners = new Set<StreamListener>();
  private readonly statusListeners = new Set<() => void>();

  constructor(deps: StreamDeps) {
    this.deps = deps;
  }

  getStatus = (): StreamStatus => this.status;
  getLastSeq = (): number | null => this.lastSeq;

  subscribeStatus = (fn: () => void): (() => void) => {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  };

  subscribe(listener: StreamListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unwatch = this.deps.watchOnline((online) => this.onOnlineChange(online));
    this.viewing = { ...this.viewing, visible: this.deps.isVisible?.() ?? true };
    this.unwatchVisibility =
      this.deps.watchVisibility?.((visible) => {
        if (visible === this.viewing.visible) return;
        this.viewing = { ...this.viewing, visible };
        this.sendViewing();
      }) ?? null;
    if (this.deps.isOnline()) this.connect();
    else this.setStatus('offline');
  }

  /** Closes the feed until `start`; `as` is the status it then shows (the last one by default). */
  stop(as?: StreamStatus): void {
    this.running = false;
    this.unwatch?.();
    this.unwatch = null;
    this.unwatchVisibility?.();
    this.unwatchVisibility = null;
    this.clearTimer();
    this.dropSocket();
    if (as) this.setStatus(as);
  }

  /** The session this page shows (null for any other screen); told to the server at once. */
  setViewing(sessionId: string | null): void {
    if (sessionId === this.viewing.session_id) return;
    this.viewing = { ...this.viewing, session_id: sessionId };
    this.sendViewing();
  }

  getViewing = (): Viewing => this.viewing;

  /** Sent on change while connected, and again after every hello (a new connection knows nothing). */
  private sendViewing(): void {
    if (this.status !== 'connected' || !this.socket) return;
    try {
      this.socket.send(JSON.stringify({ type: 'viewing', ...this.viewing }));
      this.viewingSentAt = (this.deps.now ?? Date.now)();
    } catch {
      // not open after all: the next hello sends it
    }
  }

  private setStatus(s: StreamStatus): void {
    if (s === this.status) return;
    this.status = s;
    for (const fn of this.statusListeners) fn();
  }

  private clearTimer(): void {
    if (this.timer !== null) this.deps.clearTimeout(this.timer);
    this.timer = null;
  }

  private dropSocket(): void {
    this.generation++;
    if (this.watchdog !== null) this.deps.clearTimeout(this.watchdog);
    this.watchdog = null;
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onopen = s.onmessage = s.onclose = s.onerror = null;
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }

  private onOnlineChange(online: boolean): void {
    if (!this.running) return;
    if (!online) {
      this.clearTimer();
      this.dropSocket();
      this.setStatus('offline');
    } else if (this.status === 'offline') {
      this.attempt = 0;
      this.connect();
    }
  }

  /** What to call a connection attempt: never reached the server yet and failed once: offline. */
  private tryingStatus(): StreamStatus {
    if (this.everConnected) return 'reconnecting';
    return this.attempt > 0 ? 'offline' : 'connecting';
  }

  private connect(): void {
    this.clearTimer();
    this.dropSocket();
    this.setStatus(this.tryingStatus());
    const gen = this.generation;
    if (this.lastSeq !== null) {
      this.open(this.lastSeq, gen);
      return;
    }
    this.deps.newestSeq().then(
      (newest) => {
        if (gen !== this.generation || !this.running) return;
        this.open(Math.max(0, newest - (this.deps.backfill ?? 0)), gen);
      },
      () => {
        if (gen !== this.generation || !this.running) return;
        this.scheduleReconnect();
      },
    );
  }

  private open(since: number, gen: number): void {
    let socket: SocketLike;
    try {
      socket = this.deps.createSocket(this.deps.url(since));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.hear();
    this.armWatchdog(gen);
    socket.onopen = () => {
      if (gen === this.generation) this.hear();
    };
    socket.onmessage = (ev) => {
      if (gen !== this.generation) return;
      this.hear();
      this.onFrame(ev.data);
    };
    socket.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.socket = null;
      if (closeCode(ev) === UNPAIRED_CLOSE) {
        this.stop('unpaired');
        this.emit((l) => l.unpaired?.());
        return;
      }
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // A close always follows an error; reconnecting happens there.
    };
  }

  private hear(): void {
    this.lastHeard = (this.deps.now ?? Date.now)();
  }

  /**
   * One timer per socket, not one per frame: when it fires it checks how long the socket has
   * been quiet, and either gives up on it or waits for the rest of the limit.
   */
  private armWatchdog(gen: number, ms = this.deps.silenceLimitMs ?? SILENCE_LIMIT_MS): void {
    this.watchdog = this.deps.setTimeout(() => {
      this.watchdog = null;
      if (gen !== this.generation || !this.running) return;
      const limit = this.deps.silenceLimitMs ?? SILENCE_LIMIT_MS;
      const quiet = (this.deps.now ?? Date.now)() - this.lastHeard;
      if (quiet >= limit) this.scheduleReconnect();
      else this.armWatchdog(gen, limit - quiet);
    }, ms);
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    this.dropSocket();
    if (!this.deps.isOnline()) {
      this.setStatus('offline');
      return;
    }
    this.attempt++;
    this.setStatus(this.tryingStatus());
    const delay = backoffDelay(this.attempt - 1, this.deps.random());
    this.clearTimer();
    this.timer = this.deps.setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private onFrame(data: unknown): void {
    if (typeof data !== 'string') return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!isObject(frame)) return;
    switch (frame.type) {
      case 'hello': {
        this.everConnected = true;
        this.attempt = 0;
        if (this.lastSeq === null && typeof frame.since === 'number') this.lastSeq = frame.since;
        this.setStatus('connected');
        this.sendViewing();
        this.emit((l) => l.connected?.());
        return;
      }
      case 'event': {
        const e = frame.event;
        if (!isObject(e) || typeof e.seq !== 'number' || typeof e.session_id !== 'string') return;
        if (this.lastSeq !== null && e.seq <= this.lastSeq) return;
        this.lastSeq = e.seq;
        this.emit((l) => l.event?.(e as unknown as ObsEvent));
        return;
      }
      case 'session': {
        const s = frame.session;
        if (!isObject(s) || typeof s.id !== 'string') return;
        this.emit((l) => l.session?.(s as unknown as Session));
        return;
      }
      case 'tick': {
        if (!isObject(frame.burn)) return;
        const tick: Tick = {
          burn: frame.burn as unknown as Tick['burn'],
          sessions_by_state: isObject(frame.sessions_by_state)
            ? (frame.sessions_by_state as Tick['sessions_by_state'])
            : {},
        };
        this.emit((l) => l.tick?.(tick));
        if ((this.deps.now ?? Date.now)() - this.viewingSentAt >= VIEWING_REFRESH_MS) {
          this.sendViewing();
        }
        return;
      }
      case 'alert': {
        const a = readAlert(frame.alert);
        if (a) this.emit((l) => l.alert?.(a));
        return;
      }
      case 'audit': {
        const e = readAuditEntry(frame.entry);
        if (e) this.emit((l) => l.audit?.(e));
        return;
      }
      case 'prompt': {
        const p = readPrompt(frame.prompt);
        if (p) this.emit((l) => l.prompt?.(p));
        return;
      }
      case 'resync': {
        const sent = frame.last_sent_seq;
        if (typeof sent === 'number') this.lastSeq = Math.max(this.lastSeq ?? 0, sent);
        else this.lastSeq = null;
        this.emit((l) => l.resync?.());
        this.attempt = 0;
        this.connect();
        return;
      }
      default:
        return;
    }
  }

  private emit(call: (l: StreamListener) => void): void {
    for (const l of [...this.listeners]) {
      try {
        call(l);
      } catch (err) {
        console.error('stream listener failed', err);
      }
    }
  }
}

/** A client wired to the browser: same-origin `ws:`/`wss:`, real timers, `navigator.onLine`. */
export function browserStreamClient(newestSeq: () => Promise<number>): StreamClient {
  return new StreamClient({
    url: (since) => {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      return `${proto}//${location.host}/api/stream?since=${since}`;
    },
    createSocket: (url) => new WebSocket(url) as unknown as SocketLike,
    newestSeq,
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (h) => window.clearTimeout(h as number),
    random: Math.random,
    isOnline: () => navigator.onLine,
    // "Visible" to the server means someone is looking: the tab is shown and in use.
    isVisible: () => document.visibilityState === 'visible',
    watchVisibility: (onChange) => watchAttention(browserAttentionEnv(), onChange).stop,
    watchOnline: (onChange) => {
      const on = () => onChange(true);
      const off = () => onChange(false);
      window.addEventListener('online', on);
      window.addEventListener('offline', off);
      return () => {
        window.removeEventListener('online', on);
        window.removeEventListener('offline', off);
      };
    },
    backfill: 100,
  });
}
