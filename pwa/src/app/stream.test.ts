import { describe, expect, it } from 'vitest';
import { BACKOFF_CAP_MS, backoffDelay, StreamClient, type SocketLike, type StreamDeps } from './stream';
import type { ObsEvent } from './types';

class FakeSocket implements SocketLike {
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  closed = false;
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
  send(frame: unknown) {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) });
  }
  drop() {
    this.onclose?.({});
  }
}

/** A client over fake sockets and a manual clock. */
function harness(opts: { newest?: number; online?: boolean; random?: number } = {}) {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number; id: number }[] = [];
  let nextId = 1;
  let online = opts.online ?? true;
  let onlineListener: ((o: boolean) => void) | null = null;
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
      return Promise.resolve(opts.newest ?? 0);
    },
    setTimeout: (fn, ms) => {
      const id = nextId++;
      timers.push({ fn, ms, id });
      return id;
    },
    clearTimeout: (h) => {
      const i = timers.findIndex((t) => t.id === h);
      if (i >= 0) timers.splice(i, 1);
    },
    random: () => opts.random ?? 1,
    isOnline: () => online,
    watchOnline: (fn) => {
      onlineListener = fn;
      return () => {
        onlineListener = null;
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
    timers,
    events,
    get resyncs() {
      return resyncs;
    },
    get newestCalls() {
      return newestCalls;
    },
    last: () => sockets[sockets.length - 1]!,
    fireTimer() {
      const t = timers.shift();
      if (!t) throw new Error('no timer pending');
      t.fn();
      return t.ms;
    },
    setOnline(o: boolean) {
      online = o;
      onlineListener?.(o);
    },
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));
const ev = (seq: number) => ({ type: 'event', event: { seq, session_id: 'claude_code:a', time: '2026-11-22T10:00:00Z', kind: 'prompt' } });

describe('StreamClient', () => {
  it('starts from the newest seq and goes connected on hello', async () => {
    const h = harness({ newest: 42 });
    h.client.start();
    expect(h.client.getStatus()).toBe('connecting');
    await flush();
    expect(h.last().url).toBe('ws://test/api/stream?since=42');
    h.last().open();
    h.last().send({ type: 'hello', last_seq: 42, since: 42 });
    expect(h.client.getStatus()).toBe('connected');
  });

  it('resumes from the last delivered seq after a drop', async () => {
    const h = harness({ newest: 10 });
    h.client.start();
    await flush();
    h.last().send({ type: 'hello', last_seq: 10, since: 10 });
    h.last().send(ev(11));
    h.last().send(ev(12));
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
    h.last().send({ type: 'hello', last_seq: 0, since: 0 });
    h.last().send(ev(1));
    h.last().send(ev(2));
    h.last().drop();
    h.fireTimer();
    // The server replays an overlap (e.g. a commit seen both ways at the switch).
    h.last().send({ type: 'hello', last_seq: 3, since: 2 });
    h.last().send(ev(2));
    h.last().send(ev(3));
    h.last().send(ev(3));
    expect(h.events).toEqual([1, 2, 3]);
  });

  it('grows the backoff, caps it, and resets it after a hello', async () => {
    const h = harness({ newest: 5, random: 1 });
    h.client.start();
    await flush();
    h.last().send({ type: 'hello', last_seq: 5, since: 5 });
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      h.last().drop();
      delays.push(h.fireTimer());
    }
    expect(delays.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    expect(delays.every((d, i) => i === 0 || d >= delays[i - 1]!)).toBe(true);
    expect(Math.max(...delays)).toBe(BACKOFF_CAP_MS);
    h.last().send({ type: 'hello', last_seq: 5, since: 5 });
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
    h.last().send({ type: 'hello', last_seq: 100, since: 100 });
    h.last().send(ev(101));
    const first = h.last();
    first.send({ type: 'resync', reason: 'fell 3 commits behind', last_sent_seq: 150 });
    expect(h.resyncs).toBe(1);
    expect(first.closed).toBe(true);
    expect(h.sockets).toHaveLength(2);
    expect(h.last().url).toBe('ws://test/api/stream?since=150');
    expect(h.timers).toHaveLength(0);
  });

  it('on resync without a seq reconnects from the newest', async () => {
    const h = harness({ newest: 7 });
    h.client.start();
    await flush();
    h.last().send({ type: 'hello', last_seq: 7, since: 7 });
    h.last().send({ type: 'resync' });
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
    s.send({ type: 'hello', last_seq: 0, since: 0 });
    for (const bad of ['not json', '[1,2]', 'null', '{"type":"event"}', '{"type":"event","event":{"seq":"x"}}', '{"type":"session","session":{}}', '{"type":"weird"}', '{"type":"tick","burn":3}']) {
      s.send(bad);
    }
    s.onmessage?.({ data: new ArrayBuffer(4) });
    s.send(ev(1));
    s.send({ type: 'session', session: { id: 'codex:x' } });
    expect(h.events).toEqual([1]);
    expect(sessions).toEqual(['codex:x']);
    expect(h.client.getStatus()).toBe('connected');
    expect(h.sockets).toHaveLength(1);
  });

  it('goes offline without retrying, and reconnects at once when back online', async () => {
    const h = harness({ newest: 3 });
    h.client.start();
    await flush();
    h.last().send({ type: 'hello', last_seq: 3, since: 3 });
    h.setOnline(false);
    expect(h.client.getStatus()).toBe('offline');
    expect(h.last().closed).toBe(true);
    expect(h.timers).toHaveLength(0);
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
    expect(h.timers).toHaveLength(0);
    expect(s.closed).toBe(true);
  });
});
