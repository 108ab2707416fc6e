import { useMemo, useState } from 'react';
import { inRegistryOrder } from '../app/agents';
import { useAgents, useDashboard, useLoadStatus, useNow } from '../app/hooks';
import { groupSessions, STATE_GROUPS, type StateGroup } from '../app/state';
import { SessionCard } from '../components/SessionCard';

function toggle<T>(list: readonly T[], v: T): T[] {
  return list.includes(v) ? list.filter((x) => x !== v) : [...list, v];
}

export function SessionsScreen() {
  const state = useDashboard();
  const load = useLoadStatus();
  const now = useNow(1000);
  const known = useAgents();
  const [agents, setAgents] = useState<string[]>([]);
  const [groups, setGroups] = useState<StateGroup[]>([]);
  const grouped = useMemo(() => groupSessions(state, { agents, groups }), [state, agents, groups]);
  // The agents that have sessions here, in the server's registry order.
  const presentAgents = useMemo(
    () => inRegistryOrder(known, Object.values(state.sessions).map((s) => s.agent)),
    [known, state.sessions],
  );
  const total = grouped.reduce((n, g) => n + g.sessions.length, 0);

  return (
    <section aria-labelledby="sessions-h">
      <h1 id="sessions-h" className="page-title">Sessions</h1>
      <div className="chips" role="group" aria-label="Filter by state">
        {STATE_GROUPS.map((g) => (
          <button
            key={g.id}
            type="button"
            className={`chip chip-${g.id}`}
            aria-pressed={groups.includes(g.id)}
            onClick={() => setGroups((x) => toggle(x, g.id))}
          >
            {g.label}
          </button>
        ))}
      </div>
      {presentAgents.length > 1 && (
        <div className="chips" role="group" aria-label="Filter by agent">
          {presentAgents.map((a) => (
            <button key={a} type="button" className="chip" aria-pressed={agents.includes(a)} onClick={() => setAgents((x) => toggle(x, a))}>
              {known.name(a)}
            </button>
          ))}
        </div>
      )}
      {total === 0 && (
        <p className="empty">
          {load.loadedAt === null && !load.error
            ? 'Loading sessions…'
            : state.order.length === 0
              ? 'No sessions yet. Point an agent at the observatory (see the README) and its sessions appear here.'
              : 'No sessions match these filters.'}
        </p>
      )}
      {grouped
        .filter((g) => g.sessions.length > 0)
        .map((g) => (
          <section key={g.id} className={`group group-${g.id}`} aria-labelledby={`g-${g.id}`}>
            <h2 id={`g-${g.id}`} className="group-title">
              {g.label} <span className="count">{g.sessions.length}</span>
            </h2>
            <ul className="cards">
              {g.sessions.map((s) => (
                <SessionCard key={s.id} session={s} now={now} />
              ))}
            </ul>
          </section>
        ))}
    </section>
  );
}
