//! Control of an agent's process from the session page: interrupt, kill, restart. What the server
//! offers for a session (`GET /api/sessions/{id}/control`, through `api.ts`) becomes the buttons'
//! state and the reasons shown next to them; a chosen action becomes its confirmation's text; the
//! answer to `POST /api/sessions/{id}/{action}` becomes one line of outcome. All of it is pure
//! except `ControlFeature`, whether this server has control at all (`features.control` of
//! `/api/config`), asked once. `components/ControlPanel.tsx` draws it; the events and the audit
//! entry an action makes come on the live feed like any other.

import { ApiError, fetchControl } from './api';
import { featureOffered, ServerFeature } from './feature';
import { projectName } from './format';
import type { ControlAction, ControlOption, ControlResult, ServerConfig, SessionControl } from './types';

export const CONTROL_ACTIONS: readonly ControlAction[] = ['interrupt', 'kill', 'restart'];

/** States with no process left to interrupt or kill: only a restart means anything. */
export const FINAL_STATES: ReadonlySet<string> = new Set(['ended', 'crashed', 'killed']);

interface ActionWords {
  verb: string;
  pending: string;
  done: string;
  /** Stops the agent's process: a red button, a red confirmation. */
  destructive: boolean;
  /** Said when the server does not say `what` (it always should). */
  what: string;
}

const WORDS: Record<ControlAction, ActionWords> = {
  interrupt: {
    verb: 'Interrupt',
    pending: 'Interrupting…',
    done: 'Interrupted',
    destructive: false,
    what: "stops what the agent is doing now; its process keeps running",
  },
  kill: {
    verb: 'Kill',
    pending: 'Killing…',
    done: 'Killed',
    destructive: true,
    what: "stops the agent's process",
  },
  restart: {
    verb: 'Restart',
    pending: 'Restarting…',
    done: 'Restarted',
    destructive: true,
    what: "stops the agent's process and resumes this session",
  },
};

export function isControlAction(s: unknown): s is ControlAction {
  return typeof s === 'string' && (CONTROL_ACTIONS as readonly string[]).includes(s);
}

function capitalised(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** "Kill"; an action this app does not know, capitalised. */
export function controlActionName(action: string | undefined): string {
  if (!action) return 'Control';
  return isControlAction(action) ? WORDS[action].verb : capitalised(action.replace(/_/g, ' '));
}

/** "Killed"; an action this app does not know, "<Action> done". */
export function controlDoneName(action: string | undefined): string {
  if (!action) return 'Control done';
  return isControlAction(action) ? WORDS[action].done : `${controlActionName(action)} done`;
}

/** Whether this server offers control: only a `features.control` of true does (a server older than
 *  control has no such key, or no `/api/config` at all). */
export function controlOffered(config: ServerConfig | null): boolean {
  return featureOffered(config, 'control');
}

function readOption(raw: unknown): ControlOption {
  if (typeof raw !== 'object' || raw === null) return { available: false, why: null, what: null };
  const o = raw as Record<string, unknown>;
  return {
    available: o.available === true,
    why: typeof o.why === 'string' && o.why ? o.why : null,
    what: typeof o.what === 'string' && o.what ? o.what : null,
  };
}

/** The server's answer with its shape checked (null when it is not one); an action it does not
 *  describe is not available. */
export function readControl(raw: unknown): SessionControl | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const c = raw as Record<string, unknown>;
  if (typeof c.actions !== 'object' || c.actions === null) return null;
  const actions = c.actions as Record<string, unknown>;
  return {
    session_id: typeof c.session_id === 'string' ? c.session_id : '',
    agent: typeof c.agent === 'string' ? c.agent : '',
    pid: typeof c.pid === 'number' && Number.isFinite(c.pid) ? c.pid : null,
    launched: c.launched === true,
    actions: {
      interrupt: readOption(actions.interrupt),
      kill: readOption(actions.kill),
      restart: readOption(actions.restart),
    },
  };
}

/** What can be done to the session now, read and checked. */
export async function loadControl(id: string, signal?: AbortSignal): Promise<SessionControl> {
  const control = readControl(await fetchControl(id, signal));
  if (!control) throw new Error('the server sent something that is not a control answer');
  return control;
}

export interface ControlButton {
  action: ControlAction;
  /** "Kill"; "Killing…" while it is the action under way. */
  label: string;
  disabled: boolean;
  /** Why it cannot be pressed, shown next to it; null when it can, or only waits for an answer. */
  why: string | null;
  destructive: boolean;
}

export interface ControlView {
  buttons: ControlButton[];
  /** One line under the buttons: still checking, the check failed, nothing left to do. */
  note: string | null;
}

function clause(s: string): string {
  return s.replace(/[.\s]+$/, '');
}

/**
 * The section's buttons for what the server said (`control`, null until it answered), the
 * session's state and the action under way (all buttons wait for its answer). A session that is
 * over shows only Restart, and only when it can be done.
 */
export function controlView(input: {
  control: SessionControl | null;
  /** Why the last check failed. */
  error: string | null;
  state: string;
  pending: ControlAction | null;
}): ControlView {
  const { control, error, state, pending } = input;
  const final = FINAL_STATES.has(state);
  const shown = final ? (['restart'] as const) : CONTROL_ACTIONS;
  const button = (action: ControlAction, option: ControlOption | null): ControlButton => ({
    action,
    label: pending === action ? WORDS[action].pending : WORDS[action].verb,
    disabled: pending !== null || !option?.available,
    why: option && !option.available ? (option.why ?? 'not available now') : null,
    destructive: WORDS[action].destructive,
  });
  if (!control) {
    return {
      buttons: final ? [] : shown.map((a) => button(a, null)),
      note: error ? `Could not check what can be done: ${clause(error)}.` : 'Checking what can be done…',
    };
  }
  const buttons = shown.filter((a) => !final || control.actions[a].available).map((a) => button(a, control.actions[a]));
  let note: string | null = null;
  if (final && buttons.length === 0) {
    note = `Restart is not available: ${clause(control.actions.restart.why ?? 'the server did not say why')}.`;
  } else if (error) {
    note = `Could not check again (this may be out of date): ${clause(error)}.`;
  }
  return { buttons, note };
}

/** "Kill"ing a running Claude Code asks first: what, to which agent, in which project. */
export interface Confirmation {
  /** "Kill Claude Code in observatory?" */
  title: string;
  /** What will happen, as a sentence (it may hold `backquoted` commands). */
  what: string;
  /** The confirm button: "Kill Claude Code". */
  confirm: string;
  destructive: boolean;
}

/** `what` as a sentence: capital first letter, a full stop at the end. */
function sentence(s: string): string {
  const t = s.trim();
  return /[.!?]$/.test(t) ? capitalised(t) : `${capitalised(t)}.`;
}

export function confirmation(
  action: ControlAction,
  agentName: string,
  cwd: string | null | undefined,
  option: ControlOption | null,
): Confirmation {
  const w = WORDS[action];
  const project = cwd ? projectName(cwd) : null;
  return {
    title: `${w.verb} ${agentName}${project ? ` in ${project}` : ''}?`,
    what: sentence(option?.what ?? w.what),
    confirm: `${w.verb} ${agentName}`,
    destructive: w.destructive,
  };
}

/** The line the section shows after an action. */
export interface ControlOutcome {
  tone: 'ok' | 'bad';
  text: string;
}

/** What the section says while an action waits for the server's answer. */
export function pendingText(action: ControlAction): string {
  return `${WORDS[action].pending} waiting for the observatory's answer.`;
}

/** The server's answer: done, or tried and failed. */
export function outcomeOf(action: ControlAction, r: ControlResult): ControlOutcome {
  const done = r.done ? `: ${clause(r.done)}.` : '.';
  if (r.outcome === 'ok') return { tone: 'ok', text: `${WORDS[action].done}${done}` };
  return { tone: 'bad', text: `${WORDS[action].verb} failed${done}` };
}

/** The server's refusal (409: not now; 403/401: not allowed; 429: too many), or no answer. */
export function failureOf(action: ControlAction, e: unknown): ControlOutcome {
  const verb = WORDS[action].verb;
  if (e instanceof ApiError) {
    const why = clause(e.message);
    if (e.status === 409) return { tone: 'bad', text: `${verb} not done: ${why}.` };
    if (e.status === 429) {
      const wait = e.retryAfter !== null ? ` Try again in ${Math.max(1, Math.ceil(e.retryAfter))} s.` : '';
      return { tone: 'bad', text: `${verb} refused: ${why}.${wait}` };
    }
    if (e.status === 401 || e.status === 403) return { tone: 'bad', text: `${verb} refused: ${why}.` };
    return { tone: 'bad', text: `${verb} failed: ${why}.` };
  }
  const why = clause(e instanceof Error ? e.message : String(e));
  // The request may have reached the server: the timeline's events say whether it did.
  return { tone: 'bad', text: `${verb}: no answer from the observatory (${why}); the timeline shows whether it was done.` };
}

/** Whether this server offers control: null until `/api/config` answered (see `feature.ts`). */
export class ControlFeature extends ServerFeature {
  constructor(config?: () => Promise<ServerConfig | null>) {
    super('control', config);
  }
}

export const controlFeature = new ControlFeature();
