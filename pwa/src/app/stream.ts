//! The live feed client: one WebSocket to `/api/stream?since=<seq>`, kept open across drops.
//! It resumes from the last event seq it delivered, reconnects with capped exponential backoff
//! (with jitter, reset once a connection says hello), follows `resync` frames, ignores frames it
//! cannot read and never hands the same event seq out twice. Everything it touches outside
//! itself (sockets, timers, randomness, online state) is injected, so tests drive it by hand.

import type { ObsEvent, Session, Tick } from './types';

export type StreamStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

/** The part of `WebSocket` the client uses. */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(): void;
}

export interface StreamListener {
  event?(e: ObsEvent): void;
  session?(s: Session): void;
  tick?(t: Tick): void;
  /** The feed skipped events: refetch what is shown from the read API. */
  resync?(): void;
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
  /** How many events before the newest to replay on a fresh start (fills the live list). */
  backfill?: number;
}

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10_000;

/** Delay before reconnect attempt `attempt` (0-based): doubling, capped, with 50–100 % jitter. */
export function backoffDelay(attempt: number, random: number): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling * (0.5 + random * 0.5));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class StreamClient {
  private readonly deps: StreamDeps;
  private socket: SocketLike | null = null;
  private timer: unknown = null;
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
    if (this.deps.isOnline()) this.connect();
    else this.setStatus('offline');
  }

  stop(): void {
    this.running = false;
    this.unwatch?.();
    this.unwatch = null;
    this.clearTimer();
    this.dropSocket();
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

  private connect(): void {
    this.clearTimer();
    this.dropSocket();
    this.setStatus(this.everConnected ? 'reconnecting' : 'connecting');
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
    socket.onmessage = (ev) => {
      if (gen === this.generation) this.onFrame(ev.data);
    };
    socket.onclose = () => {
      if (gen !== this.generation) return;
      this.socket = null;
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // A close always follows an error; reconnecting happens there.
    };
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    this.dropSocket();
    if (!this.deps.isOnline()) {
      this.setStatus('offline');
      return;
    }
    this.setStatus(this.everConnected ? 'reconnecting' : 'connecting');
    const delay = backoffDelay(this.attempt, this.deps.random());
    this.attempt++;
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
