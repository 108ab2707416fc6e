//! Answers to an agent's permission prompts from the session page (issue 13; the contract is
//! notes/answers-api.md). One session's prompts come from `GET /api/prompts?session=` and then
//! from the live feed's `prompt` frames; `SessionPrompts` keeps them merged, with the answers under
//! way and the server's refusals. What a card shows is pure (`promptView`): a pending prompt's
//! Allow and Deny — disabled, with the reason, when no answer can reach the agent or when this
//! browser may not answer (a remote one, as `/api/access`'s `answer` setting says) — and the
//! countdown to the terminal's own prompt; a resolved one's one line of outcome. Only one-shot
//! answers exist here: never "always allow". `answersFeature` says whether the server has answers
//! at all (`features.answers`). `components/PromptCard.tsx` draws it; `public/sw.js` answers from a
//! notification's buttons with the same two requests.

import { ApiError, fetchPrompts, sendAnswer } from './api';
import { ServerFeature } from './feature';
import { formatClock, formatCountdown, formatRelative, nanoToIso } from './format';
import type { StreamListener } from './stream';
import type { Access, Prompt, PromptAnswer } from './types';

/** Whether this server has answers: null until `/api/config` said. */
export const answersFeature = new ServerFeature('answers');

/** As many resolved prompts as the server lists for a session (it keeps the newest 20). */
export const RESOLVED_KEPT = 20;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A prompt from a frame or a page, with its required fields checked; null if unusable. */
export function readPrompt(v: unknown): Prompt | null {
  if (!isObject(v)) return null;
  const { id, session_id: sessionId, state } = v;
  if (typeof id !== 'string' || !id || typeof sessionId !== 'string' || !sessionId) return null;
  if (typeof state !== 'string' || !state) return null;
  const str = (x: unknown) => (typeof x === 'string' ? x : '');
  const text = (x: unknown) => (typeof x === 'string' && x ? x : null);
  const nanos = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : 0);
  return {
    id,
    session_id: sessionId,
    agent: text(v.agent) ?? sessionId.split(':')[0] ?? '',
    tool: str(v.tool),
    detail: str(v.detail),
    asked_unix_nano: nanos(v.asked_unix_nano),
    state,
    resolved_unix_nano: nanos(v.resolved_unix_nano),
    by: text(v.by),
    message: text(v.message),
    delivered: v.delivered === true,
    // Only the server's explicit "no" hides the answer: a refused one says why anyway (409).
    answerable: v.answerable !== false,
    why_not: text(v.why_not),
    holds_terminal_prompt_until_unix_nano: nanos(v.holds_terminal_prompt_until_unix_nano),
  };
}

export function isPending(p: Prompt): boolean {
  return p.state === 'pending';
}

/**
 * `old` with `incoming` in it, newest first: every pending prompt and the newest resolved ones.
 * A resolved prompt never goes back to pending, and a delivered answer never back to undelivered:
 * a read that left before the answer can arrive after the frame that told it.
 */
export function mergePrompts(old: readonly Prompt[], incoming: readonly Prompt[]): Prompt[] {
  const byId = new Map(old.map((p) => [p.id, p]));
  for (const p of incoming) {
    const had = byId.get(p.id);
    if (had && !isPending(had) && (isPending(p) || (had.state === p.state && had.delivered && !p.delivered))) continue;
    byId.set(p.id, p);
  }
  const all = [...byId.values()].sort((a, b) => b.asked_unix_nano - a.asked_unix_nano || a.id.localeCompare(b.id));
  let resolved = 0;
  return all.filter((p) => isPending(p) || ++resolved <= RESOLVED_KEPT);
}

/** Why this browser may not give each answer (null: it may, or it cannot be known here). */
export interface AnswerBlocks {
  allow: string | null;
  deny: string | null;
}

const NOT_ANSWERABLE = 'No answer can reach this agent from the observatory: answer it in its terminal.';
// As the server words its refusals (403), so that a disabled button and a refused answer agree.
const REMOTE_OFF =
  'Answers from another device are off: set `[access] remote_answers = "allow-and-deny"` (or `"deny-only"`) on the laptop.';
const REMOTE_DENY_ONLY =
  'From another device only Deny is allowed: set `[access] remote_answers = "allow-and-deny"` on the laptop to allow from here too.';

/**
 * What keeps each answer from this browser: the prompt (no answer can reach its agent), a browser
 * that may not write, and for a remote one the server's `remote_answers` setting (`can.answer` of
 * `/api/access`); a browser on the laptop itself answers whatever the setting. With access not
 * known (yet), nothing is blocked: the server's refusal then says why.
 */
export function answerBlocks(prompt: Prompt, access: Access | null): AnswerBlocks {
  const both = (why: string | null): AnswerBlocks => ({ allow: why, deny: why });
  if (!prompt.answerable) return both(prompt.why_not ? sentence(prompt.why_not) : NOT_ANSWERABLE);
  if (!access) return both(null);
  if (!access.can.write) {
    return both(access.device ? 'This browser is paired for reading only.' : 'Pair this browser to answer: open the link `observatory pair` prints.');
  }
  if (access.local) return both(null);
  if (access.can.answer === 'off') return both(REMOTE_OFF);
  if (access.can.answer === 'deny-only') return { allow: REMOTE_DENY_ONLY, deny: null };
  return both(null);
}

export interface AnswerButton {
  answer: PromptAnswer;
  /** "Allow"; "Allowing…" while it is the answer under way. */
  label: string;
  disabled: boolean;
}

const VERB: Record<PromptAnswer, { verb: string; pending: string; done: string }> = {
  allow: { verb: 'Allow', pending: 'Allowing…', done: 'Allowed' },
  deny: { verb: 'Deny', pending: 'Denying…', done: 'Denied' },
};

/** How the card names who answered through the observatory. */
export interface Answerer {
  /** This device's name (`/api/access`), to know its own answers given elsewhere (another tab). */
  deviceName: string | null;
  /** What this device calls itself: "this phone", "this browser". */
  here: string;
  /** Answered from this page. */
  answeredHere: boolean;
}

function byWhom(p: Prompt, who: Answerer): string {
  if (who.answeredHere || (p.by !== null && p.by === who.deviceName)) return ` from ${who.here}`;
  if (p.by === 'token') return ' with the control token';
  return p.by ? ` from ${p.by}` : '';
}

export type OutcomeTone = 'ok' | 'muted' | 'warn';

/** A resolved prompt's one line: who answered it and where; or why it went unanswered here. */
export function outcomeLine(p: Prompt, who: Answerer): { tone: OutcomeTone; text: string } {
  switch (p.state) {
    case 'allowed':
    case 'denied': {
      const answer = p.state === 'allowed' ? 'allow' : 'deny';
      const message = answer === 'deny' && p.message ? `: “${p.message}”` : '';
      const taken = p.delivered ? '' : ' · not taken by the agent yet';
      return { tone: answer === 'allow' ? 'ok' : 'muted', text: `${VERB[answer].done}${byWhom(p, who)}${message}${taken}` };
    }
    case 'answered_in_terminal':
      return { tone: 'muted', text: 'Answered in the terminal' };
    case 'agent_gone':
      return { tone: 'warn', text: 'The agent is gone' };
    case 'expired':
      return { tone: 'warn', text: 'Expired — answer it in the terminal' };
    default:
      return { tone: 'muted', text: capitalised(p.state.replace(/_/g, ' ')) };
  }
}

function capitalised(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The server writes its reasons as lower-case phrases: one as a sentence. */
function sentence(s: string): string {
  const t = capitalised(s.trim());
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** Agents whose own terminal prompt waits for the hook: when it appears, counted down. */
export function holdText(p: Prompt, now: number): string | null {
  const until = p.holds_terminal_prompt_until_unix_nano;
  if (!isPending(p) || until <= 0) return null;
  const left = until / 1e6 - now;
  if (left <= 0) return 'The terminal prompt is showing now: answer it there or here';
  return `The terminal prompt appears in ${formatCountdown(left)} if not answered here`;
}

function clause(s: string): string {
  return s.replace(/[.\s]+$/, '');
}

/** The server's refusal (409: answered already, or cannot be; 403/401: not from here), or none. */
export function answerFailure(answer: PromptAnswer, e: unknown): string {
  const verb = VERB[answer].verb;
  if (e instanceof ApiError) {
    const why = clause(e.message);
    if (e.status === 409) return `Not answered: ${why}.`;
    if (e.status === 404) return 'Not answered: the observatory no longer knows this prompt.';
    if (e.status === 401 || e.status === 403) return `${verb} refused: ${why}.`;
    if (e.status === 429 && e.retryAfter !== null) return `${verb} refused: ${why}. Try again in ${Math.max(1, Math.ceil(e.retryAfter))} s.`;
    return `${verb} failed: ${why}.`;
  }
  const why = clause(e instanceof Error ? e.message : String(e));
  return `${verb}: no answer from the observatory (${why}); this card shows whether it was taken.`;
}

export interface PendingView {
  kind: 'pending';
  /** "Claude Code wants to use Bash". */
  title: string;
  /** The command, file or question in full ("" when the agent did not say). */
  detail: string;
  /** "Asked at 10:02:03 · 2m ago". */
  asked: string;
  buttons: AnswerButton[];
  /** Why a button is disabled, one line (null when none is, or one only waits for an answer). */
  why: string | null;
  hold: string | null;
  /** The last try's refusal, shown under the buttons. */
  failure: string | null;
  /** Deny may take a message. */
  canMessage: boolean;
}

export interface ResolvedView {
  kind: 'resolved';
  /** "Bash: echo hi". */
  what: string;
  tone: OutcomeTone;
  line: string;
}

export type PromptView = PendingView | ResolvedView;

function askedText(p: Prompt, now: number): string {
  const iso = nanoToIso(p.asked_unix_nano);
  return iso ? `Asked at ${formatClock(iso)} · ${formatRelative(iso, now)}` : 'Asked';
}

export function promptView(
  p: Prompt,
  ctx: { agentName: string; access: Access | null; pending: PromptAnswer | null; failure: string | null; who: Answerer; now: number },
): PromptView {
  if (!isPending(p)) {
    const { tone, text } = outcomeLine(p, ctx.who);
    return { kind: 'resolved', what: [p.tool || 'Permission', p.detail].filter(Boolean).join(': '), tone, line: text };
  }
  const blocks = answerBlocks(p, ctx.access);
  const buttons = (['allow', 'deny'] as const).map((answer) => ({
    answer,
    label: ctx.pending === answer ? VERB[answer].pending : VERB[answer].verb,
    disabled: ctx.pending !== null || blocks[answer] !== null,
  }));
  return {
    kind: 'pending',
    title: p.tool ? `${ctx.agentName} wants to use ${p.tool}` : `${ctx.agentName} asks for permission`,
    detail: p.detail,
    asked: askedText(p, ctx.now),
    buttons,
    why: blocks.allow ?? blocks.deny,
    hold: holdText(p, ctx.now),
    failure: ctx.failure,
    canMessage: blocks.deny === null,
  };
}

export interface PromptsState {
  /** Newest first (see `mergePrompts`). */
  prompts: Prompt[];
  /** The first read has answered. */
  loaded: boolean;
  /** Why the last read failed. */
  error: string | null;
  /** The answer under way, by prompt id. */
  pending: Readonly<Record<string, PromptAnswer>>;
  /** The last try's refusal, by prompt id. */
  failures: Readonly<Record<string, string>>;
  /** Prompts answered from this page. */
  answeredHere: ReadonlySet<string>;
}

export interface PromptsDeps {
  fetchPrompts(sessionId: string, signal?: AbortSignal): Promise<unknown[]>;
  sendAnswer(id: string, answer: PromptAnswer, message?: string): Promise<unknown>;
  /** The live feed (`store.stream`). */
  stream: { subscribe(listener: StreamListener): () => void };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function without<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const rest = { ...record };
  delete rest[key];
  return rest;
}

/**
 * One session's prompts while its page is open: read at `start`, again after each (re)connection
 * of the live feed (frames missed while away are not replayed), merged with its `prompt` frames.
 */
export class SessionPrompts {
  readonly sessionId: string;
  private state: PromptsState = { prompts: [], loaded: false, error: null, pending: {}, failures: {}, answeredHere: new Set() };
  private readonly deps: PromptsDeps;
  private readonly listeners = new Set<() => void>();
  private unsubscribe: (() => void) | null = null;
  private reading: AbortController | null = null;

  constructor(sessionId: string, deps: Omit<PromptsDeps, 'fetchPrompts' | 'sendAnswer'> & Partial<PromptsDeps>) {
    this.sessionId = sessionId;
    this.deps = { fetchPrompts, sendAnswer, ...deps };
  }

  getState = (): PromptsState => this.state;

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  private set(patch: Partial<PromptsState>): void {
    this.state = { ...this.state, ...patch };
    for (const fn of [...this.listeners]) fn();
  }

  private merge(incoming: Prompt[]): void {
    this.set({ prompts: mergePrompts(this.state.prompts, incoming) });
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.deps.stream.subscribe({
      prompt: (p) => {
        if (p.session_id === this.sessionId) this.merge([p]);
      },
      connected: () => void this.load(),
      resync: () => void this.load(),
    });
    void this.load();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.reading?.abort();
    this.reading = null;
  }

  /** Reads the session's prompts; a read still on its way is dropped for the newer one. */
  async load(): Promise<void> {
    this.reading?.abort();
    const ctl = new AbortController();
    this.reading = ctl;
    try {
      const raw = await this.deps.fetchPrompts(this.sessionId, ctl.signal);
      if (ctl.signal.aborted) return;
      const read = raw.map(readPrompt).filter((p): p is Prompt => p !== null && p.session_id === this.sessionId);
      this.set({ prompts: mergePrompts(this.state.prompts, read), loaded: true, error: null });
    } catch (e) {
      if (!ctl.signal.aborted) this.set({ error: message(e) });
    } finally {
      if (this.reading === ctl) this.reading = null;
    }
  }

  /** Allows or denies a pending prompt; one answer at a time per prompt. */
  async answer(id: string, answer: PromptAnswer, note?: string): Promise<void> {
    if (this.state.pending[id]) return;
    this.set({ pending: { ...this.state.pending, [id]: answer }, failures: without(this.state.failures, id) });
    try {
      const p = readPrompt(await this.deps.sendAnswer(id, answer, note?.trim() || undefined));
      this.set({ answeredHere: new Set([...this.state.answeredHere, id]) });
      if (p) this.merge([p]);
    } catch (e) {
      this.set({ failures: { ...this.state.failures, [id]: answerFailure(answer, e) } });
      // Answered elsewhere, gone or unknown: what it has become is worth reading now.
      if (e instanceof ApiError && (e.status === 409 || e.status === 404)) void this.load();
    } finally {
      this.set({ pending: without(this.state.pending, id) });
    }
  }
}
