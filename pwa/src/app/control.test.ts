import { describe, expect, it } from 'vitest';
import { fakeServer, json } from './fakeServer.test-util';
import { ApiError, fetchControl, sendControl } from './api';
import {
  confirmation,
  ControlFeature,
  controlOffered,
  controlView,
  failureOf,
  loadControl,
  outcomeOf,
  readControl,
} from './control';
import type { ServerConfig, SessionControl } from './types';

const SESSION = 'claude_code:cb477963-4b6f-40e1-8e01-103aaeb9e9b5';

// The contract's example answers (notes/control-api.md).
const WHAT = {
  interrupt: 'sends SIGINT to claude (pid 1234): stops the current turn',
  kill: 'SIGTERM to claude (pid 1234) and its 2 child processes, SIGKILL after 5 s',
  restart: 'kills it, then runs `claude --resume <id>` in its terminal',
};

/** A live process: everything can be done. */
const live = (): SessionControl => ({
  session_id: SESSION,
  agent: 'claude_code',
  pid: 1234,
  launched: true,
  actions: {
    interrupt: { available: true, why: null, what: WHAT.interrupt },
    kill: { available: true, why: null, what: WHAT.kill },
    restart: { available: true, why: null, what: WHAT.restart },
  },
});

/** A recorded session with no process known: nothing can be done, and each says why. */
const noProcess = (): SessionControl => {
  const no = { available: false, why: 'no live process for this session', what: null };
  return { session_id: SESSION, agent: 'claude_code', pid: null, launched: false, actions: { interrupt: no, kill: no, restart: no } };
};

const config = (features: Record<string, unknown>): ServerConfig => ({ version: '0.1.0', features, vapid_public_key: null });

describe('whether the server offers control', () => {
  it('only when /api/config says features.control is true', () => {
    expect(controlOffered(config({ push: true, control: true }))).toBe(true);
    expect(controlOffered(config({ push: true, control: false }))).toBe(false);
    // Older servers: no such feature, or no /api/config at all.
    expect(controlOffered(config({ push: true }))).toBe(false);
    expect(controlOffered(null)).toBe(false);
    expect(controlOffered(config({ control: 'yes' }))).toBe(false);
  });

  it('is asked once; a failed read leaves it unknown and the next load asks again', async () => {
    const answers: (ServerConfig | Error)[] = [new TypeError('Failed to fetch'), config({ control: true })];
    let calls = 0;
    const feature = new ControlFeature(async () => {
      calls++;
      const a = answers.shift();
      if (!a || a instanceof Error) throw a ?? new Error('no answer left');
      return a;
    });
    let told = 0;
    feature.subscribe(() => told++);
    await Promise.all([feature.load(), feature.load()]);
    expect(calls).toBe(1);
    expect(feature.getOffered()).toBeNull();
    await feature.load();
    expect(feature.getOffered()).toBe(true);
    expect(told).toBe(1);
    await feature.load();
    expect(calls).toBe(2);
  });
});

describe('reading the control answer', () => {
  it('keeps the contract fields', () => {
    expect(readControl(live())).toEqual(live());
  });

  it('makes an action the server does not describe unavailable, and drops what is not its shape', () => {
    const c = readControl({ session_id: SESSION, agent: 'codex', pid: 'x', actions: { kill: { available: true, why: null, what: 'w' } } });
    expect(c?.pid).toBeNull();
    expect(c?.launched).toBe(false);
    expect(c?.actions.kill).toEqual({ available: true, why: null, what: 'w' });
    expect(c?.actions.interrupt).toEqual({ available: false, why: null, what: null });
    expect(readControl({ error: 'no such session' })).toBeNull();
    expect(readControl(null)).toBeNull();
  });
});

describe('the buttons', () => {
  const idle = { error: null, state: 'idle', pending: null };

  it('are all pressable for a live process, Kill and Restart marked destructive', () => {
    const v = controlView({ ...idle, control: live() });
    expect(v.buttons.map((b) => [b.label, b.disabled, b.why, b.destructive])).toEqual([
      ['Interrupt', false, null, false],
      ['Kill', false, null, true],
      ['Restart', false, null, true],
    ]);
    expect(v.note).toBeNull();
  });

  it('are disabled with the reason when an action is not available', () => {
    const c = live();
    c.actions.restart = { available: false, why: 'Gemini CLI cannot be resumed non-interactively', what: null };
    c.actions.interrupt = { available: false, why: null, what: null };
    const v = controlView({ ...idle, control: c });
    expect(v.buttons.map((b) => [b.action, b.disabled, b.why])).toEqual([
      ['interrupt', true, 'not available now'],
      ['kill', false, null],
      ['restart', true, 'Gemini CLI cannot be resumed non-interactively'],
    ]);
  });

  it('say why for a session with no live process (what the e2e session shows)', () => {
    const v = controlView({ ...idle, state: 'awaiting_permission', control: noProcess() });
    expect(v.buttons).toHaveLength(3);
    for (const b of v.buttons) {
      expect(b.disabled).toBe(true);
      expect(b.why).toBe('no live process for this session');
    }
  });

  it('all wait while an action is under way, the pending one saying so', () => {
    const v = controlView({ ...idle, control: live(), pending: 'kill' });
    expect(v.buttons.map((b) => [b.label, b.disabled, b.why])).toEqual([
      ['Interrupt', true, null],
      ['Killing…', true, null],
      ['Restart', true, null],
    ]);
  });

  it('are only Restart, and only when it can be done, once the session is over', () => {
    for (const state of ['ended', 'crashed', 'killed']) {
      const v = controlView({ ...idle, state, control: live() });
      expect(v.buttons.map((b) => b.action)).toEqual(['restart']);
      expect(v.note).toBeNull();
    }
    const c = live();
    c.actions.restart = { available: false, why: 'that process is gone.', what: null };
    const v = controlView({ ...idle, state: 'killed', control: c });
    expect(v.buttons).toEqual([]);
    expect(v.note).toBe('Restart is not available: that process is gone.');
  });

  it('wait disabled, without a reason of their own, until the server answered', () => {
    const v = controlView({ ...idle, control: null });
    expect(v.buttons.map((b) => [b.disabled, b.why])).toEqual([
      [true, null],
      [true, null],
      [true, null],
    ]);
    expect(v.note).toBe('Checking what can be done…');
    expect(controlView({ ...idle, control: null, error: 'server down' }).note).toBe('Could not check what can be done: server down.');
    expect(controlView({ ...idle, state: 'ended', control: null }).buttons).toEqual([]);
    // A failed re-check keeps the last answer and says it may be stale.
    expect(controlView({ ...idle, control: live(), error: 'server down' }).note).toMatch(/out of date/);
  });
});

describe('the confirmation', () => {
  it('names the action, the agent and the project, and says what will happen', () => {
    const c = confirmation('kill', 'Claude Code', '/home/me/src/observatory/', live().actions.kill);
    expect(c).toEqual({
      title: 'Kill Claude Code in observatory?',
      what: 'SIGTERM to claude (pid 1234) and its 2 child processes, SIGKILL after 5 s.',
      confirm: 'Kill Claude Code',
      destructive: true,
    });
  });

  it('keeps backquoted commands for the code spans, and interrupt is not destructive', () => {
    expect(confirmation('restart', 'Codex', '/p/app', live().actions.restart).what).toBe(
      'Kills it, then runs `claude --resume <id>` in its terminal.',
    );
    const i = confirmation('interrupt', 'Gemini CLI', null, live().actions.interrupt);
    expect(i.title).toBe('Interrupt Gemini CLI?');
    expect(i.confirm).toBe('Interrupt Gemini CLI');
    expect(i.destructive).toBe(false);
  });

  it('says something true when the server did not say what', () => {
    expect(confirmation('kill', 'Pi', '/w/x', null).what).toBe("Stops the agent's process.");
  });
});

describe('the outcome', () => {
  const result = { action: 'kill', session_id: SESSION, pid: 1234, audit_id: 17 };

  it("is the server's `done`, or that it failed", () => {
    expect(outcomeOf('kill', { ...result, outcome: 'ok', done: 'sent SIGTERM to 1234 and 2 children; all exited within 0.2 s' })).toEqual({
      tone: 'ok',
      text: 'Killed: sent SIGTERM to 1234 and 2 children; all exited within 0.2 s.',
    });
    expect(outcomeOf('kill', { ...result, outcome: 'failed', done: 'SIGTERM refused: operation not permitted' })).toEqual({
      tone: 'bad',
      text: 'Kill failed: SIGTERM refused: operation not permitted.',
    });
  });

  it("is the server's reason for a refusal", () => {
    expect(failureOf('kill', new ApiError(409, 'that process is gone')).text).toBe('Kill not done: that process is gone.');
    expect(failureOf('restart', new ApiError(403, 'control from another device is off: set `allow_remote_control`')).text).toBe(
      'Restart refused: control from another device is off: set `allow_remote_control`.',
    );
    expect(failureOf('interrupt', new ApiError(429, 'too many control requests', { retryAfter: 2.5 })).text).toBe(
      'Interrupt refused: too many control requests. Try again in 3 s.',
    );
    expect(failureOf('kill', new ApiError(500, 'store unavailable')).text).toBe('Kill failed: store unavailable.');
  });

  it('says the action may have happened when no answer came', () => {
    const o = failureOf('kill', new TypeError('Failed to fetch'));
    expect(o.tone).toBe('bad');
    expect(o.text).toBe('Kill: no answer from the observatory (Failed to fetch); the timeline shows whether it was done.');
  });
});

// --- The API calls, with the server faked at `fetch`.

describe('control API', () => {
  const server = fakeServer();

  it('reads what can be done at the session\'s control path', async () => {
    server.answer = () => json(200, live());
    expect(await fetchControl(SESSION)).toEqual(live());
    expect(server.calls).toEqual([
      { method: 'GET', url: `/api/sessions/${encodeURIComponent(SESSION)}/control`, headers: { Accept: 'application/json' }, body: undefined },
    ]);
    server.answer = () => json(200, { nothing: true });
    await expect(loadControl(SESSION)).rejects.toThrow(/not a control answer/);
  });

  it('posts the action with the write header and returns what was done', async () => {
    const done = { action: 'kill', session_id: SESSION, pid: 1234, outcome: 'ok', done: 'sent SIGTERM to 1234', audit_id: 17 };
    server.answer = () => json(200, done);
    expect(await sendControl(SESSION, 'kill')).toEqual(done);
    const c = server.calls[0]!;
    expect(c.method).toBe('POST');
    expect(c.url).toBe(`/api/sessions/${encodeURIComponent(SESSION)}/kill`);
    expect(c.headers['X-Observatory']).toBe('1');
    expect(c.body).toEqual({});
  });

  it("throws the server's refusal with its status, message and Retry-After", async () => {
    server.answer = () => json(409, { error: 'that process is gone' });
    const gone = await sendControl(SESSION, 'interrupt').catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(ApiError);
    expect((gone as ApiError).status).toBe(409);
    expect((gone as ApiError).message).toBe('that process is gone');
    server.answer = () => json(429, { error: 'too many control requests' }, { 'Retry-After': '4' });
    const limited = (await sendControl(SESSION, 'restart').catch((e: unknown) => e)) as ApiError;
    expect(limited.status).toBe(429);
    expect(limited.retryAfter).toBe(4);
  });
});
