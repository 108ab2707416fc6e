import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BACKOFF_CAP_MS,
  backoffDelay,
  HEARTBEAT_MS,
  SILENCE_LIMIT_MS,
  StreamClient,
  type SocketLike,
  type StreamDeps,
  VIEWING_REFRESH_MS,
} from './stream';
import type { Alert, AuditEntry, ObsEvent, Prompt } from './types';

class FakeSocket implements SocketLike {
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  closed = false;
  /** What the client sent, parsed. */
  readonly sent: unknown[] = [];
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }
  close() {
    this.closed = true;
  }
  open() {
    this.onopen?.({});
  }
  /** The client sends. */
  send(data: string) {
    if (this.closed) throw new Error('send on a closed socket');
    this.sent.push(JSON.parse(data));
  }
  /** The server sends. */
  receive(frame: unknown) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  drop() {
    this.onclose?.({});
  }
  /** The server closes with a code. */
  closeWith(code: number, reason = '') {
    this.onclose?.({ code, reason, wasClean: true });
  }
}

/** A client over fake sockets and Vitest's fake clock. */
function harness(opts: { newest?: number | Error; online?: boolean; random?: number; visible?: boolean } = {}) {
  const sockets: FakeSocket[] = [];
  const delays: number[] = [];
  let online = opts.online ?? true;
  let visible = opts.visible ?? true;
  let onlineListener: ((o: boolean) => void) | null = null;
  let visibilityListener: ((v: boolean) => void) | null = null;
  let newestCalls = 0;
  const deps: StreamDeps = {
    url: (since) => `ws://test/api/stream?since=${since}`,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    newestSeq: () => {
      newestCalls++;
      return opts.newest instanceof Error ? Promise.reject(opts.newest) : Promise.resolve(opts.newest ?? 0);
    },
    setTimeout: (fn, ms) => {
      delays.push(ms);
      return setTimeout(fn, ms);
    },
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    random: () => opts.random ?? 1,
    now: () => Date.now(),
    isOnline: () => online,
    watchOnline: (fn) => {
      onlineListener = fn;
      return () => {
        onlineListener = null;
      };
    },
    isVisible: () => visible,
    watchVisibility: (fn) => {
      visibilityListener = fn;
      return () => {
        visibilityListener = null;
      };
    },
  };
  const client = new StreamClient(deps);
  const events: number[] = [];
  let resyncs = 0;
  client.subscribe({ event: (e: ObsEvent) => events.push(e.seq), resync: () => resyncs++ });
  return {
    client,
    sockets,
    events,
    get resyncs() {
      return resyncs;
    },
    get newestCalls() {
      return newestCalls;
    },
    last: () => sockets[sockets.length - 1]!,
    /** Runs the next timer (a reconnect, after a drop) and says how long it was set for. */
    fireTimer() {
      const before = delays.length;
      const start = Date.now();
      vi.advanceTimersToNextTimer();
      if (Date.now() === start && delays.length === before) throw new Error('no timer pending');
      return Date.now() - start;
    },
    setOnline(o: boolean) {
      online = o;
      onlineListener?.(o);
    },
    setVisible(v: boolean) {
      visible = v;
      visibilityListener?.(v);
    },
  };
}

/** Lets pending promise callbacks (the newest-seq lookup) run. */
const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});
const ev = (seq: number) => ({ type: 'event', event: { seq, session_id: 'claude_code:a', time: '2026-11-22T10:00:00Z', kind: 'prompt' } });

describe('StreamClient', () => {
  it('starts from the newest seq and goes connected on hello', async () => {
    const h = harness({ newest: 42 });
    h.client.start();
    expect(h.client.getStatus()).toBe('connecting');
    await flush();
    expect(h.last().url).toBe('ws://test/api/stream?since=42');
    h.last().open();
    h.last().receive({ type: 'hello', last_seq: 42, since: 42 });
    expect(h.client.getStatus()).toBe('connected');
  });

  it('resumes from the last delivered seq after a drop', async () => {
    const h = harness({ newest: 10 });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 10, since: 10 });
    h.last().receive(ev(11));
    h.last().receive(ev(12));
    h.last().drop();
    expect(h.client.getStatus()).toBe('reconnecting');
    h.fireTimer();
    expect(h.sockets).toHaveLength(2);
    expect(h.last().url).toBe('ws://test/api/stream?since=12');
    expect(h.newestCalls).toBe(1);
  });

  it('never delivers the same seq twice across a reconnect', async () => {
    const h = harness({ newest: 0 });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 0, since: 0 });
    h.last().receive(ev(1));
    h.last().receive(ev(2));
    h.last().drop();
    h.fireTimer();
    // The server replays an overlap (e.g. a commit seen both ways at the switch).
    h.last().receive({ type: 'hello', last_seq: 3, since: 2 });
    h.last().receive(ev(2));
    h.last().receive(ev(3));
    h.last().receive(ev(3));
    expect(h.events).toEqual([1, 2, 3]);
  });

  it('grows the backoff, caps it, and resets it after a hello', async () => {
    const h = harness({ newest: 5, random: 1 });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 5, since: 5 });
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      h.last().drop();
      delays.push(h.fireTimer());
    }
    expect(delays.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    expect(delays.every((d, i) => i === 0 || d >= delays[i - 1]!)).toBe(true);
    expect(Math.max(...delays)).toBe(BACKOFF_CAP_MS);
    h.last().receive({ type: 'hello', last_seq: 5, since: 5 });
    h.last().drop();
    expect(h.fireTimer()).toBe(500);
  });

  it('puts jitter in the delay, within half to all of the ceiling', () => {
    expect(backoffDelay(2, 0)).toBe(1000);
    expect(backoffDelay(2, 1)).toBe(2000);
    expect(backoffDelay(30, 0.5)).toBe(7500);
  });

  it('on resync tells subscribers to refetch and reconnects from last_sent_seq', async () => {
    const h = harness({ newest: 100 });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 100, since: 100 });
    h.last().receive(ev(101));
    const first = h.last();
    first.receive({ type: 'resync', reason: 'fell 3 commits behind', last_sent_seq: 150 });
    expect(h.resyncs).toBe(1);
    expect(first.closed).toBe(true);
    expect(h.sockets).toHaveLength(2);
    expect(h.last().url).toBe('ws://test/api/stream?since=150');
    // At once, not after a backoff: nothing more opens while the clock runs short of the watchdog.
    vi.advanceTimersByTime(SILENCE_LIMIT_MS - 1);
    expect(h.sockets).toHaveLength(2);
  });

  it('on resync without a seq reconnects from the newest', async () => {
    const h = harness({ newest: 7 });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 7, since: 7 });
    h.last().receive({ type: 'resync' });
    expect(h.resyncs).toBe(1);
    await flush();
    expect(h.newestCalls).toBe(2);
    expect(h.last().url).toBe('ws://test/api/stream?since=7');
  });

  it('ignores malformed frames and keeps going', async () => {
    const h = harness({ newest: 0 });
    const sessions: string[] = [];
    h.client.subscribe({ session: (s) => sessions.push(s.id) });
    h.client.start();
    await flush();
    const s = h.last();
    s.receive({ type: 'hello', last_seq: 0, since: 0 });
    for (const bad of ['not json', '[1,2]', 'null', '{"type":"event"}', '{"type":"event","event":{"seq":"x"}}', '{"type":"session","session":{}}', '{"type":"weird"}', '{"type":"tick","burn":3}']) {
      s.receive(bad);
    }
    s.onmessage?.({ data: new ArrayBuffer(4) });
    s.receive(ev(1));
    s.receive({ type: 'session', session: { id: 'codex:x' } });
    expect(h.events).toEqual([1]);
    expect(sessions).toEqual(['codex:x']);
    expect(h.client.getStatus()).toBe('connected');
    expect(h.sockets).toHaveLength(1);
  });

  it('goes offline without retrying, and reconnects at once when back online', async () => {
    const h = harness({ newest: 3 });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 3, since: 3 });
    h.setOnline(false);
    expect(h.client.getStatus()).toBe('offline');
    expect(h.last().closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    h.setOnline(true);
    expect(h.client.getStatus()).toBe('reconnecting');
    expect(h.sockets).toHaveLength(2);
    expect(h.last().url).toBe('ws://test/api/stream?since=3');
  });

  it('starts offline when the browser is offline', () => {
    const h = harness({ online: false });
    h.client.start();
    expect(h.client.getStatus()).toBe('offline');
    expect(h.sockets).toHaveLength(0);
  });

  it('ignores a dropped socket after stop', async () => {
    const h = harness({ newest: 1 });
    h.client.start();
    await flush();
    const s = h.last();
    h.client.stop();
    s.drop();
    expect(vi.getTimerCount()).toBe(0);
    expect(s.closed).toBe(true);
  });

  it('says offline, not connecting, when it has never reached the server and a try failed', async () => {
    const h = harness({ newest: new Error('Failed to fetch') });
    const seen: string[] = [];
    h.client.subscribeStatus(() => seen.push(h.client.getStatus()));
    h.client.start();
    expect(h.client.getStatus()).toBe('connecting');
    await flush();
    expect(h.client.getStatus()).toBe('offline');
    // Each retry fails the same way: the badge stays on "Offline", no flicker back to "Connecting".
    for (let i = 0; i < 3; i++) {
      h.fireTimer();
      await flush();
    }
    expect(h.client.getStatus()).toBe('offline');
    expect(seen).toEqual(['offline']);
  });

  it('says offline when the first socket closes before any hello, reconnecting once it had been live', async () => {
    const h = harness({ newest: 4 });
    h.client.start();
    await flush();
    h.last().drop();
    expect(h.client.getStatus()).toBe('offline');
    h.fireTimer();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 4, since: 4 });
    expect(h.client.getStatus()).toBe('connected');
    h.last().drop();
    expect(h.client.getStatus()).toBe('reconnecting');
  });
});

describe('StreamClient alerts', () => {
  const alert = (id: number, over: Partial<Alert> = {}) => ({
    id, time_unix_nano: 1_763_800_000_000_000_000, session_id: 'claude_code:abc', agent: 'claude_code',
    kind: 'needs_you', title: 'Claude Code · api', body: 'wants to run Bash', url: '/sessions/claude_code%3Aabc',
    seq: 12, deliveries: [{ channel: 'web_push', device_id: 'd_1', name: 'Pixel', outcome: 'pending', reason: '', attempts: [] }],
    ...over,
  });

  it('hands alert frames to subscribers and ignores malformed ones', async () => {
    const h = harness({ newest: 0 });
    const got: Alert[] = [];
    h.client.subscribe({ alert: (a) => got.push(a) });
    h.client.start();
    await flush();
    const s = h.last();
    s.receive({ type: 'hello', last_seq: 0, since: 0 });
    for (const bad of [
      { type: 'alert' },
      { type: 'alert', alert: null },
      { type: 'alert', alert: [] },
      { type: 'alert', alert: { ...alert(1), id: '1' } },
      { type: 'alert', alert: { ...alert(1), kind: 3 } },
      { type: 'alert', alert: { ...alert(1), session_id: undefined } },
    ]) {
      s.receive(bad);
    }
    s.receive({ type: 'alert', alert: alert(7) });
    s.receive({ type: 'alert', alert: { ...alert(8), deliveries: 'nope', title: 5 } });
    expect(got.map((a) => a.id)).toEqual([7, 8]);
    expect(got[0]!.deliveries[0]!.outcome).toBe('pending');
    expect(got[1]!.deliveries).toEqual([]);
    expect(got[1]!.title).toBe('');
    expect(h.client.getStatus()).toBe('connected');
  });

  it('tells subscribers on every hello, so they can refetch alerts missed while away', async () => {
    const h = harness({ newest: 2 });
    let hellos = 0;
    h.client.subscribe({ connected: () => hellos++ });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 2, since: 2 });
    h.last().drop();
    h.fireTimer();
    h.last().receive({ type: 'hello', last_seq: 2, since: 2 });
    expect(hellos).toBe(2);
  });
});

describe('StreamClient viewing messages', () => {
  const viewing = (session_id: string | null, visible = true) => ({ type: 'viewing', session_id, visible });

  it('says what is viewed after hello, on route change, and on visibility change', async () => {
    const h = harness({ newest: 1 });
    h.client.setViewing('claude_code:abc');
    h.client.start();
    await flush();
    const s = h.last();
    // Not before the server said hello.
    expect(s.sent).toEqual([]);
    s.receive({ type: 'hello', last_seq: 1, since: 1 });
    expect(s.sent).toEqual([viewing('claude_code:abc')]);
    h.client.setViewing(null);
    h.client.setViewing(null);
    h.setVisible(false);
    h.setVisible(false);
    h.setVisible(true);
    h.client.setViewing('codex:x');
    expect(s.sent).toEqual([
      viewing('claude_code:abc'),
      viewing(null),
      viewing(null, false),
      viewing(null, true),
      viewing('codex:x'),
    ]);
  });

  it('says it again on the first tick a minute after it last did, so the server keeps counting it', async () => {
    const h = harness({ newest: 1 });
    h.client.setViewing('claude_code:abc');
    h.client.start();
    await flush();
    const s = h.last();
    s.receive({ type: 'hello', last_seq: 1, since: 1 });
    const tick = { type: 'tick', burn: {}, sessions_by_state: {} };
    vi.setSystemTime(Date.now() + VIEWING_REFRESH_MS - 1);
    s.receive(tick);
    expect(s.sent).toEqual([viewing('claude_code:abc')]);
    vi.setSystemTime(Date.now() + 1);
    s.receive(tick);
    s.receive(tick);
    expect(s.sent).toEqual([viewing('claude_code:abc'), viewing('claude_code:abc')]);
  });

  it('keeps route changes made while disconnected and sends the latest after the reconnect', async () => {
    const h = harness({ newest: 1, visible: false });
    h.client.start();
    await flush();
    const first = h.last();
    first.receive({ type: 'hello', last_seq: 1, since: 1 });
    expect(first.sent).toEqual([viewing(null, false)]);
    first.drop();
    h.client.setViewing('pi:1');
    h.client.setViewing('pi:2');
    h.fireTimer();
    const second = h.last();
    expect(second).not.toBe(first);
    expect(second.sent).toEqual([]);
    second.receive({ type: 'hello', last_seq: 1, since: 1 });
    expect(second.sent).toEqual([viewing('pi:2', false)]);
    expect(first.sent).toHaveLength(1);
  });
});

describe('StreamClient silent-connection watchdog', () => {
  it('closes a connection that stays silent for 2.5 heartbeats and reconnects from the last seq', async () => {
    expect(SILENCE_LIMIT_MS).toBe(2.5 * HEARTBEAT_MS);
    const h = harness({ newest: 20, random: 1 });
    h.client.start();
    await flush();
    const s = h.last();
    s.receive({ type: 'hello', last_seq: 20, since: 20 });
    s.receive(ev(21));
    vi.advanceTimersByTime(SILENCE_LIMIT_MS - 1);
    expect(s.closed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(s.closed).toBe(true);
    expect(h.client.getStatus()).toBe('reconnecting');
    vi.advanceTimersByTime(500);
    expect(h.sockets).toHaveLength(2);
    expect(h.last().url).toBe('ws://test/api/stream?since=21');
  });

  it('leaves a connection alone while ticks keep arriving', async () => {
    const h = harness({ newest: 3 });
    h.client.start();
    await flush();
    const s = h.last();
    s.receive({ type: 'hello', last_seq: 3, since: 3 });
    const tick = { type: 'tick', burn: { usd_per_min: 0, usd_per_hour: 0, usd_today: 0, usd_projected_month: 0 }, sessions_by_state: {} };
    for (let i = 0; i < 40; i++) {
      vi.advanceTimersByTime(HEARTBEAT_MS);
      s.receive(tick);
    }
    expect(s.closed).toBe(false);
    expect(h.sockets).toHaveLength(1);
    // Any frame is a sign of life, even one it cannot read.
    vi.advanceTimersByTime(SILENCE_LIMIT_MS - 1);
    s.receive('garbage');
    vi.advanceTimersByTime(SILENCE_LIMIT_MS - 1);
    expect(s.closed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(s.closed).toBe(true);
  });

  it('gives up on a socket that never says hello', async () => {
    const h = harness({ newest: 0 });
    h.client.start();
    await flush();
    const s = h.last();
    vi.advanceTimersByTime(SILENCE_LIMIT_MS);
    expect(s.closed).toBe(true);
    expect(h.client.getStatus()).toBe('offline');
    h.fireTimer();
    await flush();
    expect(h.sockets).toHaveLength(2);
  });

  it('is disarmed when the client stops or goes offline', async () => {
    const h = harness({ newest: 0 });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 0, since: 0 });
    h.setOnline(false);
    vi.advanceTimersByTime(SILENCE_LIMIT_MS * 4);
    expect(h.sockets).toHaveLength(1);
    expect(h.client.getStatus()).toBe('offline');
  });
});

describe('StreamClient and a revoked device', () => {
  it('stops on close code 4401, says unpaired, and does not reconnect', async () => {
    const h = harness({ newest: 3 });
    let told = 0;
    h.client.subscribe({ unpaired: () => told++ });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 3, since: 3 });
    h.last().closeWith(4401, 'device revoked');
    expect(h.client.getStatus()).toBe('unpaired');
    expect(told).toBe(1);
    // Nothing is pending: no reconnect, no watchdog.
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(h.sockets).toHaveLength(1);
    // Coming back online does not wake it either.
    h.setOnline(false);
    h.setOnline(true);
    expect(h.sockets).toHaveLength(1);
  });

  it('reconnects after any other close, and starts again from where it was when asked', async () => {
    const h = harness({ newest: 3 });
    h.client.start();
    await flush();
    h.last().receive({ type: 'hello', last_seq: 3, since: 3 });
    h.last().closeWith(1006);
    expect(h.client.getStatus()).toBe('reconnecting');
    h.fireTimer();
    h.last().receive({ type: 'hello', last_seq: 3, since: 3 });
    h.last().receive(ev(4));
    h.last().closeWith(4401);
    h.client.start();
    expect(h.last().url).toBe('ws://test/api/stream?since=4');
    h.last().receive({ type: 'hello', last_seq: 4, since: 4 });
    expect(h.client.getStatus()).toBe('connected');
  });

  it('shows the status it was stopped as', () => {
    const h = harness({ newest: 0 });
    h.client.stop('unpaired');
    expect(h.client.getStatus()).toBe('unpaired');
  });
});

describe('StreamClient audit frames', () => {
  const entry = (id: number, over: Record<string, unknown> = {}) => ({
    id, time_unix_nano: 1_790_000_000_000_000_000, actor: 'device', device_id: 'dev_1', device_name: 'Pixel 8',
    peer: '100.64.0.7', remote: true, action: 'pair', outcome: 'ok', detail: 'paired Pixel 8', ...over,
  });

  it('hands audit entries to subscribers and ignores malformed ones', async () => {
    const h = harness({ newest: 0 });
    const got: AuditEntry[] = [];
    h.client.subscribe({ audit: (e) => got.push(e) });
    h.client.start();
    await flush();
    const s = h.last();
    s.receive({ type: 'hello', last_seq: 0, since: 0 });
    for (const bad of [
      { type: 'audit' },
      { type: 'audit', entry: null },
      { type: 'audit', entry: { ...entry(1), id: '1' } },
      { type: 'audit', entry: { ...entry(1), action: undefined } },
      { type: 'audit', entry: { ...entry(1), outcome: 7 } },
    ]) {
      s.receive(bad);
    }
    s.receive({ type: 'audit', entry: entry(2) });
    s.receive({ type: 'audit', entry: { id: 3, action: 'refused', outcome: 'refused' } });
    expect(got).toEqual([
      entry(2),
      { id: 3, time_unix_nano: 0, actor: 'anonymous', peer: '', remote: false, action: 'refused', outcome: 'refused', detail: '' },
    ]);
    expect(h.client.getStatus()).toBe('connected');
  });
});

describe('StreamClient prompt frames', () => {
  // The contract's example (notes/answers-api.md).
  const prompt = (over: Record<string, unknown> = {}) => ({
    id: '9f2c', session_id: 'claude_code:0c7e', agent: 'claude_code', tool: 'Bash', detail: 'echo hi > fake_out.txt',
    asked_unix_nano: 1_764_770_000_000_000_000, state: 'pending', resolved_unix_nano: 0, by: null, message: null,
    delivered: false, answerable: true, why_not: null, holds_terminal_prompt_until_unix_nano: 0, ...over,
  });

  it('hands prompts to subscribers, asked and resolved, and ignores malformed ones', async () => {
    const h = harness({ newest: 0 });
    const got: Prompt[] = [];
    h.client.subscribe({ prompt: (p) => got.push(p) });
    h.client.start();
    await flush();
    const s = h.last();
    s.receive({ type: 'hello', last_seq: 0, since: 0 });
    for (const bad of [
      { type: 'prompt' },
      { type: 'prompt', prompt: null },
      { type: 'prompt', prompt: [prompt()] },
      { type: 'prompt', prompt: prompt({ id: 7 }) },
      { type: 'prompt', prompt: prompt({ session_id: '' }) },
      { type: 'prompt', prompt: prompt({ state: undefined }) },
    ]) {
      s.receive(bad);
    }
    s.receive({ type: 'prompt', prompt: prompt() });
    s.receive({ type: 'prompt', prompt: prompt({ state: 'allowed', resolved_unix_nano: 1_764_770_005_000_000_000, by: 'Pixel 8', delivered: true }) });
    expect(got.map((p) => [p.id, p.state, p.by])).toEqual([
      ['9f2c', 'pending', null],
      ['9f2c', 'allowed', 'Pixel 8'],
    ]);
    expect(got[0]).toEqual(prompt());
    // Prompt frames carry no seq: they do not move the resume point.
    expect(h.client.getLastSeq()).toBe(0);
    expect(h.client.getStatus()).toBe('connected');
  });
});
