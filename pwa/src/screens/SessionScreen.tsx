import { useEffect, useMemo, useState } from 'react';
import { fetchEvents, fetchSession } from '../app/api';
import { formatDuration, formatSince, formatTokens, formatUsd, projectName, totalTokens } from '../app/format';
import { useAgents, useDashboard, useNow } from '../app/hooks';
import { eventsByTurn, mergeEvents } from '../app/state';
import { store } from '../app/store';
import type { ObsEvent, SessionDetail, Turn } from '../app/types';
import { ControlPanel } from '../components/ControlPanel';
import { EventRow } from '../components/EventRow';
import { Link } from '../components/Link';
import { PromptCards } from '../components/PromptCard';
import { StateBadge } from '../components/StateBadge';

const PAGE = 500;

export function SessionScreen({ id }: { id: string }) {
  const now = useNow(1000);
  const dashboard = useDashboard();
  const agents = useAgents();
  const [detail, setDetail] = useState<SessionDetail | null>(null);
  const [events, setEvents] = useState<ObsEvent[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);

  useEffect(() => {
    const ctl = new AbortController();
    const load = () =>
      Promise.all([fetchSession(id, ctl.signal), fetchEvents(id, 0, PAGE, ctl.signal)]).then(
        ([d, page]) => {
          setDetail(d);
          store.sessionFetched(d);
          setEvents((old) => mergeEvents(old, page.events));
          setNext(page.next);
          setError(null);
        },
        (e: unknown) => {
          if (!ctl.signal.aborted) setError(e instanceof Error ? e.message : String(e));
        },
      );
    void load();
    const unsubscribe = store.stream.subscribe({
      event: (e) => {
        if (e.session_id === id) setEvents((old) => mergeEvents(old, [e]));
      },
      resync: () => void load(),
    });
    return () => {
      ctl.abort();
      unsubscribe();
    };
  }, [id]);

  // Turns change as events arrive: refetch the detail (debounced) when this session's copy moves.
  const live = dashboard.sessions[id];
  const liveSeq = live?.last_seq;
  useEffect(() => {
    if (liveSeq === undefined || !detail || liveSeq <= detail.last_seq) return;
    const t = window.setTimeout(() => {
      fetchSession(id).then(setDetail, () => undefined);
    }, 1500);
    return () => window.clearTimeout(t);
  }, [id, liveSeq, detail]);

  const loadMore = async () => {
    if (next === null) return;
    setLoadingMore(true);
    try {
      const page = await fetchEvents(id, next, PAGE);
      setEvents((old) => mergeEvents(old, page.events));
      setNext(page.next);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setLoadingMore(false);
    }
  };

  const s = live && detail && live.last_seq > detail.last_seq ? { ...detail, ...live } : (detail ?? live);
  const grouped = useMemo(() => eventsByTurn(events), [events]);
  const turns: Turn[] = useMemo(() => [...(detail?.turns ?? [])].sort((a, b) => b.index - a.index), [detail]);

  if (!s) {
    return (
      <section>
        <BackLink />
        <p className="empty">{error ? `Could not load this session: ${error}` : 'Loading…'}</p>
      </section>
    );
  }

  const outside = grouped.get(null) ?? [];
  const known = new Set(turns.map((t) => t.id));
  const orphanTurns = [...grouped.keys()].filter((k): k is string => k !== null && !known.has(k));

  return (
    <section aria-labelledby="session-h">
      <BackLink />
      <header className="session-head card">
        <div className="card-row">
          <h1 id="session-h" className="page-title">{projectName(s.cwd)}</h1>
          <StateBadge state={s.state} />
        </div>
        <p className="muted">
          {agents.name(s.agent)}
          {s.service_version ? ` ${s.service_version}` : ''} · {s.state.replace(/_/g, ' ')} for {formatSince(s.state_since, now)}
          {s.current_tool ? ` · running ${s.current_tool}` : ''}
        </p>
        {s.cwd && <p className="mono small">{s.cwd}</p>}
        <dl className="stats">
          <Stat label="Turns" value={String(s.counts.turns ?? detail?.turns.length ?? 0)} />
          <Stat label="Tool calls" value={`${s.counts.tool_calls}${s.counts.tool_errors ? ` (${s.counts.tool_errors} failed)` : ''}`} />
          <Stat label="API requests" value={`${s.counts.api_requests}${s.counts.api_errors ? ` (${s.counts.api_errors} errors)` : ''}`} />
          <Stat label="Tokens" value={formatTokens(totalTokens(s.tokens))} />
          <Stat label="Cost" value={formatUsd(s.cost_usd, s.cost_complete)} />
          <Stat label="Runs" value={String(s.runs)} />
        </dl>
        {s.models.length > 0 && <p className="small">Models: {s.models.join(', ')}</p>}
        {s.end_reason && <p className="small">Ended: {s.end_reason}</p>}
      </header>
      {error && <p className="banner banner-warn" role="alert">{error}</p>}
      <PromptCards session={s} />
      <ControlPanel session={s} />
      <h2 className="group-title">Timeline</h2>
      {turns.length === 0 && outside.length === 0 && orphanTurns.length === 0 && <p className="empty">No events yet.</p>}
      {orphanTurns.map((t) => (
        <TurnBlock key={t} title="Turn" events={grouped.get(t) ?? []} open />
      ))}
      {turns.map((t, i) => (
        <TurnBlock key={t.id} turn={t} title={`Turn ${t.index}`} events={grouped.get(t.id) ?? []} open={i === 0} />
      ))}
      {outside.length > 0 && <TurnBlock title="Session" events={outside} open={turns.length === 0} />}
      {next !== null && (
        <button type="button" className="button" onClick={() => void loadMore()} disabled={loadingMore}>
          {loadingMore ? 'Loading…' : 'Load more events'}
        </button>
      )}
    </section>
  );
}

function BackLink() {
  return (
    <Link href="/" className="back">
      ← Sessions
    </Link>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function TurnBlock({ turn, title, events, open }: { turn?: Turn; title: string; events: ObsEvent[]; open: boolean }) {
  const duration = turn?.ended ? Date.parse(turn.ended) - Date.parse(turn.started) : null;
  return (
    <details className={`turn turn-${turn?.status ?? 'none'}`} open={open}>
      <summary>
        <span className="turn-title">{title}</span>
        <span className="muted small">
          {turn ? turn.status : ''}
          {turn ? ` · ${turn.counts.tool_calls} tools · ${turn.counts.api_requests} req · ${formatUsd(turn.cost_usd, turn.cost_complete)}` : ''}
          {duration !== null && !Number.isNaN(duration) ? ` · ${formatDuration(duration)}` : ''}
          {` · ${events.length} events`}
        </span>
      </summary>
      {turn?.last_message ? <p className="turn-said">{turn.last_message}</p> : null}
      <ol className="events">
        {events.map((e) => (
          <li key={e.seq}>
            <EventRow event={e} />
          </li>
        ))}
      </ol>
    </details>
  );
}
