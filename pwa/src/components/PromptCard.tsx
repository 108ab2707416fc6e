import { useEffect, useId, useRef, useState } from 'react';
import { useAccess, useAgents, useAnswersOffered, useNow, usePrompts } from '../app/hooks';
import { answersFeature, isPending, promptView, SessionPrompts, type PendingView, type ResolvedView } from '../app/prompts';
import { store } from '../app/store';
import type { PromptAnswer, Session } from '../app/types';
import { CodeText } from './CodeText';

/** Resolved prompts shown under the pending ones, newest first. */
const RESOLVED_SHOWN = 5;

/** What this device calls itself in "Allowed from this phone". */
function hereWord(): string {
  const coarse = typeof matchMedia === 'function' && matchMedia('(pointer: coarse)').matches;
  return coarse ? 'this phone' : 'this browser';
}

/** The session page's permission prompts: one card per pending prompt, with Allow and Deny, and
 *  the recent resolved ones a line each. Hidden on a server without answers, and while the session
 *  has no prompts. */
export function PromptCards({ session }: { session: Session }) {
  const offered = useAnswersOffered();
  useEffect(() => {
    void answersFeature.load();
  }, []);
  return offered ? <PromptSection key={session.id} session={session} /> : null;
}

function PromptSection({ session: s }: { session: Session }) {
  const [prompts] = useState(() => new SessionPrompts(s.id, { stream: store.stream }));
  useEffect(() => {
    prompts.start();
    return () => prompts.stop();
  }, [prompts]);
  const state = usePrompts(prompts);
  const { access } = useAccess();
  const agents = useAgents();
  const now = useNow(1000);
  const [here] = useState(hereWord);
  const headingId = useId();
  /** A prompt just answered here: its line takes the focus its card's button had. */
  const [focusId, setFocusId] = useState<string | null>(null);

  if (state.prompts.length === 0) return null;

  const answer = async (id: string, a: PromptAnswer, note?: string) => {
    await prompts.answer(id, a, note);
    if (prompts.getState().answeredHere.has(id)) setFocusId(id);
  };
  const view = (p: (typeof state.prompts)[number]) =>
    promptView(p, {
      agentName: agents.name(p.agent),
      access,
      pending: state.pending[p.id] ?? null,
      failure: state.failures[p.id] ?? null,
      who: { deviceName: access?.device?.name ?? null, here, answeredHere: state.answeredHere.has(p.id) },
      now,
    });
  const pending = state.prompts.filter(isPending);
  const resolved = state.prompts.filter((p) => !isPending(p)).slice(0, RESOLVED_SHOWN);

  return (
    <section aria-labelledby={headingId} className="prompts">
      <h2 id={headingId} className="group-title">
        Permission requests
      </h2>
      {pending.map((p) => (
        <PromptCard key={p.id} view={view(p) as PendingView} onAnswer={(a, note) => void answer(p.id, a, note)} />
      ))}
      {resolved.length > 0 && (
        <ul className="card prompt-done">
          {resolved.map((p) => {
            const v = view(p) as ResolvedView;
            return (
              <li
                key={p.id}
                tabIndex={-1}
                ref={(el) => {
                  if (el && p.id === focusId) {
                    el.focus();
                    setFocusId(null);
                  }
                }}
              >
                <span className={`prompt-outcome prompt-${v.tone}`}>{v.line}</span>
                <span className="prompt-done-what mono">{v.what}</span>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

/** One pending prompt: what the agent asks, in full, and the two one-shot answers. */
function PromptCard({ view: v, onAnswer }: { view: PendingView; onAnswer: (answer: PromptAnswer, note?: string) => void }) {
  const uid = useId();
  const [withMessage, setWithMessage] = useState(false);
  const [note, setNote] = useState('');
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (withMessage) field.current?.focus();
  }, [withMessage]);
  const whyId = `${uid}-why`;
  return (
    <article className="card prompt" aria-labelledby={`${uid}-t`}>
      <h3 id={`${uid}-t`} className="prompt-title">
        {v.title}
      </h3>
      <p className="muted small">{v.asked}</p>
      {v.detail && <pre className="prompt-detail">{v.detail}</pre>}
      {v.hold && (
        <p role="timer" className="prompt-hold">
          {v.hold}
        </p>
      )}
      {withMessage && v.canMessage && (
        <div className="prompt-message">
          <label htmlFor={`${uid}-m`} className="field-label">
            Message to the agent
          </label>
          <input
            ref={field}
            id={`${uid}-m`}
            className="field"
            value={note}
            maxLength={500}
            autoComplete="off"
            onChange={(e) => setNote(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !v.buttons[1]?.disabled) onAnswer('deny', note);
            }}
          />
        </div>
      )}
      <div className="prompt-actions">
        {v.buttons.map((b) => (
          <button
            key={b.answer}
            type="button"
            className={`button ${b.answer === 'allow' ? 'button-primary' : 'button-danger'}`}
            disabled={b.disabled}
            aria-describedby={v.why ? whyId : undefined}
            onClick={() => onAnswer(b.answer, b.answer === 'deny' && withMessage ? note : undefined)}
          >
            {b.label}
          </button>
        ))}
      </div>
      {v.why && (
        <p id={whyId} className="control-why">
          <CodeText text={v.why} />
        </p>
      )}
      {v.canMessage && (
        <button type="button" className="link-button" aria-expanded={withMessage} onClick={() => setWithMessage((w) => !w)}>
          {withMessage ? 'No message' : 'Deny with a message'}
        </button>
      )}
      {/* Always rendered, so that screen readers announce a refusal. */}
      <p role="status" className="prompt-failure">
        {v.failure && <CodeText text={v.failure} />}
      </p>
    </article>
  );
}
