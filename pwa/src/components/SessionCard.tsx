import { formatRelative, formatSince, formatUsd, projectName } from '../app/format';
import { useAgents } from '../app/hooks';
import { sessionPath } from '../app/router';
import type { Session } from '../app/types';
import { Link } from './Link';
import { StateBadge } from './StateBadge';

export function SessionCard({ session: s, now }: { session: Session; now: number }) {
  const agents = useAgents();
  const project = projectName(s.cwd);
  return (
    <li>
      <Link className="card session-card" href={sessionPath(s.id)}>
        <div className="card-row">
          <span className="card-title">{project}</span>
          <span className="card-cost" title={s.cost_complete ? 'Cost' : 'Cost (some requests unknown)'}>
            {formatUsd(s.cost_usd, s.cost_complete)}
          </span>
        </div>
        <div className="card-row">
          <span className="muted">{agents.name(s.agent)}</span>
          <span className="muted">
            {s.counts.turns ?? 0} turn{s.counts.turns === 1 ? '' : 's'} · {formatRelative(s.last_activity, now)}
          </span>
        </div>
        <div className="card-row">
          <span>
            <StateBadge state={s.state} /> <span className="muted">for {formatSince(s.state_since, now)}</span>
          </span>
          {s.current_tool && <span className="tool-chip">{s.current_tool}</span>}
        </div>
      </Link>
    </li>
  );
}
