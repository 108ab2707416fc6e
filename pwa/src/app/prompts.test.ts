import { describe, expect, it } from 'vitest';
import { fakeServer, json } from './fakeServer.test-util';
import { ApiError, fetchPrompts, sendAnswer } from './api';
import { featureOffered, ServerFeature } from './feature';
import {
  answerBlocks,
  answerFailure,
  holdText,
  mergePrompts,
  outcomeLine,
  promptView,
  readPrompt,
  RESOLVED_KEPT,
  SessionPrompts,
  type Answerer,
  type PendingView,
} from './prompts';
import type { StreamListener } from './stream';
import type { Access, Prompt } from './types';

const SESSION = 'claude_code:0c7e4b6f';
const ASKED = 1_764_770_000_000_000_000;

/** The contract's example prompt (notes/answers-api.md), pending. */
const raw = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: '9f2c01',
  session_id: SESSION,
  agent: 'claude_code',
  tool: 'Bash',
  detail: 'echo hi > fake_out.txt',
  asked_unix_nano: ASKED,
  state: 'pending',
  resolved_unix_nano: 0,
  by: null,
  message: null,
  delivered: false,
  answerable: true,
  why_not: null,
  holds_terminal_prompt_until_unix_nano: 0,
  ...over,
});
const prompt = (over: Record<string, unknown> = {}): Prompt => readPrompt(raw(over))!;
const resolved = (state: string, over: Record<string, unknown> = {}) =>
  prompt({ state, resolved_unix_nano: ASKED + 5e9, delivered: true, ...over });

const access = (over: Partial<Access> = {}, can: Partial<Access['can']> = {}): Access => ({
  local: false,
  credential: 'device',
  device: { id: 'dev_1', name: 'Pixel 8' },
  can: { read: true, write: true, control: false, answer: 'allow-and-deny', ...can },
  local_reads: 'open',
  public_url: null,
  ...over,
});

const elsewhere: Answerer = { deviceName: 'Pixel 8', here: 'this phone', answeredHere: false };

describe('readPrompt', () => {
  it("reads the contract's example as it is", () => {
    expect(readPrompt(raw())).toEqual(raw());
  });

  it('fills what a prompt may leave out, and refuses one without its id, session or state', () => {
    expect(readPrompt({ id: 'a1', session_id: 'codex:77', state: 'pending' })).toEqual({
      id: 'a1', session_id: 'codex:77', agent: 'codex', tool: '', detail: '', asked_unix_nano: 0, state: 'pending',
      resolved_unix_nano: 0, by: null, message: null, delivered: false, answerable: true, why_not: null,
      holds_terminal_prompt_until_unix_nano: 0,
    });
    for (const bad of [null, 'x', [raw()], raw({ id: 9 }), raw({ id: '' }), raw({ session_id: null }), raw({ state: '' })]) {
      expect(readPrompt(bad)).toBeNull();
    }
    expect(readPrompt(raw({ answerable: false, why_not: 'Gemini CLI cannot' }))).toMatchObject({ answerable: false, why_not: 'Gemini CLI cannot' });
    expect(readPrompt(raw({ asked_unix_nano: 'soon', holds_terminal_prompt_until_unix_nano: -1 }))).toMatchObject({
      asked_unix_nano: 0,
      holds_terminal_prompt_until_unix_nano: 0,
    });
  });
});

describe('mergePrompts', () => {
  it('keeps one copy per id, newest first, the newer state winning', () => {
    const older = prompt({ id: 'a', asked_unix_nano: ASKED });
    const newer = prompt({ id: 'b', asked_unix_nano: ASKED + 1e9 });
    const list = mergePrompts([older], [newer]);
    expect(list.map((p) => p.id)).toEqual(['b', 'a']);
    const allowed = resolved('allowed', { id: 'a', by: 'Pixel 8' });
    expect(mergePrompts(list, [allowed])).toEqual([newer, allowed]);
  });

  it('never takes a resolved prompt back to pending, nor a delivered answer back to undelivered', () => {
    const done = resolved('denied', { delivered: true });
    expect(mergePrompts([done], [prompt()])).toEqual([done]);
    expect(mergePrompts([done], [{ ...done, delivered: false }])).toEqual([done]);
    const taken = { ...done, delivered: false };
    expect(mergePrompts([taken], [done])).toEqual([done]);
  });

  it('keeps every pending prompt and the newest resolved ones only', () => {
    const many = Array.from({ length: RESOLVED_KEPT + 5 }, (_, i) => resolved('expired', { id: `r${i}`, asked_unix_nano: ASKED + i * 1e9 }));
    const waiting = prompt({ id: 'old-pending', asked_unix_nano: 1 });
    const list = mergePrompts([], [...many, waiting]);
    expect(list).toHaveLength(RESOLVED_KEPT + 1);
    expect(list.at(-1)).toBe(waiting);
    expect(list[0]!.id).toBe(`r${RESOLVED_KEPT + 4}`);
  });
});

describe('answerBlocks', () => {
  it('blocks both answers with the reason when no answer can reach the agent', () => {
    const gemini = prompt({ answerable: false, why_not: "Gemini CLI's hooks cannot grant a tool confirmation: answer it in its terminal" });
    expect(answerBlocks(gemini, access({ local: true }))).toEqual({
      allow: "Gemini CLI's hooks cannot grant a tool confirmation: answer it in its terminal.",
      deny: "Gemini CLI's hooks cannot grant a tool confirmation: answer it in its terminal.",
    });
    // The server's reasons are phrases: shown as sentences.
    const unwired = prompt({ answerable: false, why_not: 'its hook does not wait for an answer: run `observatory setup claude` again' });
    expect(answerBlocks(unwired, null).deny).toBe('Its hook does not wait for an answer: run `observatory setup claude` again.');
    expect(answerBlocks(prompt({ answerable: false }), null).allow).toMatch(/answer it in its terminal/);
  });

  it('lets the laptop itself answer whatever the remote setting', () => {
    for (const answer of ['allow-and-deny', 'deny-only', 'off']) {
      expect(answerBlocks(prompt(), access({ local: true, credential: 'token', device: null }, { answer }))).toEqual({ allow: null, deny: null });
    }
  });

  it("follows the server's remote_answers setting for a remote device", () => {
    expect(answerBlocks(prompt(), access())).toEqual({ allow: null, deny: null });
    const denyOnly = answerBlocks(prompt(), access({}, { answer: 'deny-only' }));
    expect(denyOnly.deny).toBeNull();
    expect(denyOnly.allow).toMatch(/^From another device only Deny is allowed: set `\[access\] remote_answers = "allow-and-deny"`/);
    const off = answerBlocks(prompt(), access({}, { answer: 'off' }));
    expect(off.allow).toMatch(/^Answers from another device are off/);
    expect(off.deny).toBe(off.allow);
    // A setting this app does not know: the server decides, and its refusal shows.
    expect(answerBlocks(prompt(), access({}, { answer: 'ask-twice' }))).toEqual({ allow: null, deny: null });
  });

  it('blocks a browser that may not write, and nothing while access is unknown', () => {
    expect(answerBlocks(prompt(), access({}, { write: false })).allow).toBe('This browser is paired for reading only.');
    expect(answerBlocks(prompt(), access({ local: true, credential: 'none', device: null }, { write: false })).deny).toMatch(/^Pair this browser/);
    expect(answerBlocks(prompt(), null)).toEqual({ allow: null, deny: null });
  });
});

describe('outcomeLine', () => {
  it('says who answered, and where', () => {
    expect(outcomeLine(resolved('allowed', { by: 'iPad' }), elsewhere)).toEqual({ tone: 'ok', text: 'Allowed from iPad' });
    expect(outcomeLine(resolved('allowed', { by: 'Pixel 8' }), elsewhere).text).toBe('Allowed from this phone');
    expect(outcomeLine(resolved('denied', { by: 'token' }), { ...elsewhere, answeredHere: true }).text).toBe('Denied from this phone');
    expect(outcomeLine(resolved('denied', { by: 'token' }), elsewhere).text).toBe('Denied with the control token');
    expect(outcomeLine(resolved('denied', { by: 'iPad', message: 'use the test target' }), elsewhere).text).toBe(
      'Denied from iPad: “use the test target”',
    );
    expect(outcomeLine(resolved('allowed', { by: 'iPad', delivered: false }), elsewhere).text).toBe(
      'Allowed from iPad · not taken by the agent yet',
    );
  });

  it('says why a prompt went unanswered here', () => {
    expect(outcomeLine(resolved('answered_in_terminal'), elsewhere)).toEqual({ tone: 'muted', text: 'Answered in the terminal' });
    expect(outcomeLine(resolved('agent_gone'), elsewhere)).toEqual({ tone: 'warn', text: 'The agent is gone' });
    expect(outcomeLine(resolved('expired'), elsewhere)).toEqual({ tone: 'warn', text: 'Expired — answer it in the terminal' });
    expect(outcomeLine(resolved('withdrawn_by_agent'), elsewhere).text).toBe('Withdrawn by agent');
  });
});

describe('holdText', () => {
  const now = ASKED / 1e6;
  it("counts down to the terminal's own prompt while the prompt waits", () => {
    const held = prompt({ holds_terminal_prompt_until_unix_nano: ASKED + 83e9 });
    expect(holdText(held, now)).toBe('The terminal prompt appears in 1:23 if not answered here');
    expect(holdText(held, now + 82_500)).toBe('The terminal prompt appears in 0:01 if not answered here');
    expect(holdText(held, now + 83_000)).toBe('The terminal prompt is showing now: answer it there or here');
    expect(holdText({ ...held, state: 'allowed' }, now)).toBeNull();
    expect(holdText(prompt(), now)).toBeNull();
  });
});

describe('answerFailure', () => {
  it("shows the server's refusal in its words", () => {
    expect(answerFailure('allow', new ApiError(409, 'already answered in the terminal'))).toBe('Not answered: already answered in the terminal.');
    expect(answerFailure('allow', new ApiError(403, 'remote answers are deny-only; set [access] remote_answers to allow'))).toBe(
      'Allow refused: remote answers are deny-only; set [access] remote_answers to allow.',
    );
    expect(answerFailure('deny', new ApiError(404, 'no such prompt'))).toBe('Not answered: the observatory no longer knows this prompt.');
    expect(answerFailure('deny', new TypeError('Failed to fetch'))).toBe(
      'Deny: no answer from the observatory (Failed to fetch); this card shows whether it was taken.',
    );
  });
});

describe('promptView', () => {
  const ctx = { agentName: 'Claude Code', access: access(), pending: null, failure: null, who: elsewhere, now: ASKED / 1e6 + 120_000 };

  it('gives a pending prompt its tool, detail in full, time and both answers', () => {
    const v = promptView(prompt(), ctx) as PendingView;
    expect(v).toMatchObject({
      kind: 'pending',
      title: 'Claude Code wants to use Bash',
      detail: 'echo hi > fake_out.txt',
      why: null,
      hold: null,
      canMessage: true,
      buttons: [
        { answer: 'allow', label: 'Allow', disabled: false },
        { answer: 'deny', label: 'Deny', disabled: false },
      ],
    });
    expect(v.asked).toMatch(/^Asked at .+ · 2m ago$/);
    expect((promptView(prompt({ tool: '' }), ctx) as PendingView).title).toBe('Claude Code asks for permission');
  });

  it('disables both answers while one is on its way, and shows the last refusal', () => {
    const v = promptView(prompt(), { ...ctx, pending: 'deny', failure: 'Allow refused: no.' }) as PendingView;
    expect(v.buttons).toEqual([
      { answer: 'allow', label: 'Allow', disabled: true },
      { answer: 'deny', label: 'Denying…', disabled: true },
    ]);
    expect(v.failure).toBe('Allow refused: no.');
    // Waiting for an answer is no reason to show.
    expect(v.why).toBeNull();
  });

  it('disables Allow only, with the reason, for a deny-only remote device', () => {
    const v = promptView(prompt(), { ...ctx, access: access({}, { answer: 'deny-only' }) }) as PendingView;
    expect(v.buttons.map((b) => b.disabled)).toEqual([true, false]);
    expect(v.why).toMatch(/^From another device only Deny/);
    expect(v.canMessage).toBe(true);
    const off = promptView(prompt(), { ...ctx, access: access({}, { answer: 'off' }) }) as PendingView;
    expect(off.buttons.map((b) => b.disabled)).toEqual([true, true]);
    expect(off.canMessage).toBe(false);
  });

  it('turns a resolved prompt into one line', () => {
    expect(promptView(resolved('allowed', { by: 'Pixel 8' }), ctx)).toEqual({
      kind: 'resolved',
      what: 'Bash: echo hi > fake_out.txt',
      tone: 'ok',
      line: 'Allowed from this phone',
    });
  });
});

// --- The API calls, with the server faked at `fetch`.

describe('answers API', () => {
  const server = fakeServer();

  it("reads a session's prompts", async () => {
    server.answer = () => json(200, { prompts: [raw()] });
    expect(await fetchPrompts(SESSION)).toEqual([raw()]);
    expect(server.calls[0]).toMatchObject({ method: 'GET', url: `/api/prompts?session=${encodeURIComponent(SESSION)}` });
  });

  it('posts allow and deny with the write header; a deny may carry a message', async () => {
    server.answer = () => json(200, { prompt: raw({ state: 'allowed', by: 'Pixel 8' }) });
    expect(await sendAnswer('9f2c01', 'allow')).toEqual(raw({ state: 'allowed', by: 'Pixel 8' }));
    await sendAnswer('9f2c01', 'deny', 'use the test target');
    await sendAnswer('9f2c01', 'deny');
    expect(server.calls.map((c) => [c.method, c.url, c.headers['X-Observatory'], c.body])).toEqual([
      ['POST', '/api/prompts/9f2c01/allow', '1', {}],
      ['POST', '/api/prompts/9f2c01/deny', '1', { message: 'use the test target' }],
      ['POST', '/api/prompts/9f2c01/deny', '1', {}],
    ]);
  });

  it("throws the server's refusal with its status and words", async () => {
    server.answer = () => json(409, { error: 'already answered in the terminal' });
    const e = (await sendAnswer('9f2c01', 'allow').catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect([e.status, e.message]).toEqual([409, 'already answered in the terminal']);
  });
});

describe('whether the server has answers', () => {
  it('only when /api/config says features.answers is true', async () => {
    const config = (features: Record<string, unknown>) => ({ version: '0.2.0', features, vapid_public_key: null });
    expect(featureOffered(config({ answers: true, control: true }), 'answers')).toBe(true);
    expect(featureOffered(config({ control: true }), 'answers')).toBe(false);
    expect(featureOffered(null, 'answers')).toBe(false);
    const feature = new ServerFeature('answers', () => Promise.resolve(config({ answers: true })));
    expect(feature.getOffered()).toBeNull();
    await feature.load();
    expect(feature.getOffered()).toBe(true);
  });
});

// --- One session's prompts, over a fake server and a fake live feed.

function harness(reads: (unknown[] | Error)[]) {
  const listeners = new Set<StreamListener>();
  const answers: { id: string; answer: string; message?: string }[] = [];
  let reply: () => Promise<unknown> = () => Promise.resolve(undefined);
  let readCount = 0;
  const prompts = new SessionPrompts(SESSION, {
    fetchPrompts: (session) => {
      expect(session).toBe(SESSION);
      const r = reads[Math.min(readCount++, reads.length - 1)]!;
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    },
    sendAnswer: (id, answer, message) => {
      answers.push(message === undefined ? { id, answer } : { id, answer, message });
      return reply();
    },
    stream: {
      subscribe: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    },
  });
  return {
    prompts,
    answers,
    reads: () => readCount,
    listeners,
    send: (call: (l: StreamListener) => void) => [...listeners].forEach(call),
    replyWith: (fn: () => Promise<unknown>) => {
      reply = fn;
    },
  };
}

const flush = () => new Promise((ok) => setTimeout(ok, 0));

describe('SessionPrompts', () => {
  it("reads the session's prompts, then merges this session's frames only", async () => {
    const h = harness([[raw()]]);
    h.prompts.start();
    await flush();
    expect(h.prompts.getState()).toMatchObject({ loaded: true, error: null, prompts: [prompt()] });
    h.send((l) => l.prompt?.(prompt({ id: 'other', session_id: 'codex:1' })));
    h.send((l) => l.prompt?.(resolved('answered_in_terminal')));
    expect(h.prompts.getState().prompts).toEqual([resolved('answered_in_terminal')]);
    h.prompts.stop();
    expect(h.listeners.size).toBe(0);
  });

  it('reads again after the live feed reconnects, keeping what frames said meanwhile', async () => {
    const h = harness([[raw()], [raw()]]);
    h.prompts.start();
    await flush();
    h.send((l) => l.prompt?.(resolved('agent_gone')));
    h.send((l) => l.connected?.());
    await flush();
    expect(h.reads()).toBe(2);
    expect(h.prompts.getState().prompts.map((p) => p.state)).toEqual(['agent_gone']);
  });

  it('keeps the last known prompts and says why when a read fails', async () => {
    const h = harness([[raw()], new TypeError('Failed to fetch')]);
    h.prompts.start();
    await flush();
    await h.prompts.load();
    expect(h.prompts.getState()).toMatchObject({ error: 'Failed to fetch', prompts: [prompt()] });
  });

  it('answers once at a time and shows the result as answered here', async () => {
    const h = harness([[raw()]]);
    h.prompts.start();
    await flush();
    let done: (v: unknown) => void = () => undefined;
    h.replyWith(() => new Promise((ok) => (done = ok)));
    const first = h.prompts.answer('9f2c01', 'deny', '  not on main  ');
    void h.prompts.answer('9f2c01', 'allow');
    expect(h.prompts.getState().pending).toEqual({ '9f2c01': 'deny' });
    done({ ...raw(), state: 'denied', by: 'Pixel 8', message: 'not on main', resolved_unix_nano: ASKED + 1e9 });
    await first;
    const s = h.prompts.getState();
    expect(h.answers).toEqual([{ id: '9f2c01', answer: 'deny', message: 'not on main' }]);
    expect(s.pending).toEqual({});
    expect(s.prompts[0]!.state).toBe('denied');
    expect([...s.answeredHere]).toEqual(['9f2c01']);
  });

  it("shows a 409's words and reads what the prompt has become", async () => {
    const h = harness([[raw()], [raw({ state: 'answered_in_terminal' })]]);
    h.prompts.start();
    await flush();
    h.replyWith(() => Promise.reject(new ApiError(409, 'already answered in the terminal')));
    await h.prompts.answer('9f2c01', 'allow');
    await flush();
    const s = h.prompts.getState();
    expect(s.failures).toEqual({ '9f2c01': 'Not answered: already answered in the terminal.' });
    expect(s.prompts[0]!.state).toBe('answered_in_terminal');
    expect(s.answeredHere.size).toBe(0);
    // A 403 is not news about the prompt: no read.
    h.replyWith(() => Promise.reject(new ApiError(403, 'remote answers are off')));
    await h.prompts.answer('9f2c01', 'deny');
    expect(h.reads()).toBe(2);
    expect(h.prompts.getState().failures['9f2c01']).toBe('Deny refused: remote answers are off.');
  });
});
