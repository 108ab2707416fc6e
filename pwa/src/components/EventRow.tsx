import { controlActionName, controlDoneName } from '../app/control';
import { formatClock, formatDuration, formatTokens, formatUsd, stateName, totalTokens } from '../app/format';
import { useAgents } from '../app/hooks';
import type { ObsEvent } from '../app/types';

const KIND_LABELS: Record<string, string> = {
  session_started: 'Session started',
  prompt: 'Prompt',
  api_request: 'API request',
  api_error: 'API error',
  tool_started: 'Tool started',
  tool_finished: 'Tool',
  tool_decision: 'Tool decision',
  permission_requested: 'Permission requested',
  input_requested: 'Input requested',
  assistant_response: 'Response',
  turn_finished: 'Turn finished',
  turn_failed: 'Turn failed',
  subagent_started: 'Sub-agent started',
  subagent_finished: 'Sub-agent finished',
  session_ended: 'Session ended',
  state_changed: 'State',
  control_requested: 'Control requested',
  control_finished: 'Control finished',
};

export function eventTone(e: ObsEvent): 'ok' | 'bad' | 'warn' | 'plain' {
  if (e.kind === 'api_error' || e.kind === 'turn_failed' || e.error || e.success === false) return 'bad';
  if (e.kind === 'permission_requested' || e.kind === 'input_requested') return 'warn';
  if (e.success === true) return 'ok';
  return 'plain';
}

/** The one-line summary of an event: what happened and its figures. */
export function eventSummary(e: ObsEvent): { title: string; detail: string } {
  let title = KIND_LABELS[e.kind] ?? e.kind;
  const parts: string[] = [];
  switch (e.kind) {
    // `name` is the action; `detail` who asked, then what was done.
    case 'control_requested':
      title = `${controlActionName(e.name)} requested`;
      if (e.detail) parts.push(e.detail);
      break;
    case 'control_finished':
      if (e.success === true) title = controlDoneName(e.name);
      else title = `${controlActionName(e.name)} ${e.success === false ? 'failed' : 'finished'}`;
      if (e.detail) parts.push(e.detail);
      break;
    case 'tool_started':
    case 'tool_finished':
    case 'tool_decision':
    case 'permission_requested':
      if (e.tool_name) parts.push(e.tool_name);
      if (e.detail) parts.push(e.detail);
      if (e.duration_ms !== undefined) parts.push(formatDuration(e.duration_ms));
      if (e.success === true) parts.push('ok');
      if (e.success === false) parts.push('failed');
      if (e.reason) parts.push(e.reason);
      break;
    case 'api_request':
    case 'api_error':
      if (e.model) parts.push(e.model);
      if (e.tokens) parts.push(`${formatTokens(totalTokens(e.tokens))} tok`);
      if (e.cost_usd !== undefined) parts.push(formatUsd(e.cost_usd) + (e.cost_estimated ? ' est.' : ''));
      if (e.duration_ms !== undefined) parts.push(formatDuration(e.duration_ms));
      if (e.status_code !== undefined) parts.push(String(e.status_code));
      break;
    case 'state_changed':
      parts.push(`${e.previous_state ? stateName(e.previous_state) + ' → ' : ''}${stateName(e.state ?? '')}`);
      if (e.reason) parts.push(e.reason);
      break;
    default:
      if (e.name && e.name !== e.kind) parts.push(e.name);
      if (e.tool_name) parts.push(e.tool_name);
      if (e.detail) parts.push(e.detail);
      if (e.duration_ms !== undefined) parts.push(formatDuration(e.duration_ms));
  }
  if (e.error) parts.push(e.error);
  return { title, detail: parts.join(' · ') };
}

/** An event as an expander: the summary, and its raw attributes when opened. */
export function EventRow({ event, showSession = false }: { event: ObsEvent; showSession?: boolean }) {
  const agents = useAgents();
  const { title, detail } = eventSummary(event);
  const agent = event.session_id.split(':')[0] ?? '';
  return (
    <details className={`event tone-${eventTone(event)}`}>
      <summary>
        <span className="event-time">{formatClock(event.time)}</span>
        <span className="event-main">
          <span className="event-title">{title}</span>
          {detail && <span className="event-detail">{detail}</span>}
          {showSession && <span className="event-session">{agents.name(agent)} · {event.session_id.slice(agent.length + 1, agent.length + 9)}</span>}
        </span>
      </summary>
      <pre className="event-raw">{JSON.stringify(event.attributes ?? withoutAttributes(event), null, 2)}</pre>
    </details>
  );
}

function withoutAttributes(e: ObsEvent): object {
  return { note: 'attributes are not sent on the live feed; open the session for them', ...e };
}
