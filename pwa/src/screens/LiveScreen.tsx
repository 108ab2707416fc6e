import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { fetchLiveStats } from '../app/api';
import { formatDuration, formatUsd, stateName } from '../app/format';
import { useDashboard } from '../app/hooks';
import type { LiveStats, ObsEvent } from '../app/types';
import { EventRow } from '../components/EventRow';
import { Sparkline } from '../components/Sparkline';

const REFRESH_MS = 10_000;
const HISTORY = 30;

export function LiveScreen() {
  const { events, tick } = useDashboard();
  const [stats, setStats] = useState<LiveStats | null>(null);
  const [history, setHistory] = useState<Record<string, number[]>>({});
  const [statsError, setStatsError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    const refresh = () =>
      fetchLiveStats().then(
        (s) => {
          if (cancelled) return;
          setStats(s);
          setStatsError(null);
          setHistory((h) => {
            const next: Record<string, number[]> = {};
            for (const t of s.tool_latency.tools) next[t.tool] = [...(h[t.tool] ?? []), t.p50_ms].slice(-HISTORY);
            return next;
          });
        },
        (e: unknown) => {
          if (!cancelled) setStatsError(e instanceof Error ? e.message : String(e));
        },
      );
    void refresh();
    const id = window.setInterval(() => void refresh(), REFRESH_MS);
    return () => {
      cancelled = true;
      window.clearInterval(id);
    };
  }, []);

  const burn = tick?.burn ?? stats?.burn;
  const byState = tick?.sessions_by_state ?? stats?.sessions_by_state ?? {};
  const stateEntries = Object.entries(byState).filter(([, n]) => (n ?? 0) > 0);

  return (
    <section aria-labelledby="live-h">
      <h1 id="live-h" className="page-title">Live</h1>
      <dl className="stats burn" aria-label="Spend">
        <div><dt>Per minute</dt><dd>{burn ? formatUsd(burn.usd_per_min) : '—'}</dd></div>
        <div><dt>Per hour</dt><dd>{burn ? formatUsd(burn.usd_per_hour) : '—'}</dd></div>
        <div><dt>Today (UTC)</dt><dd>{burn ? formatUsd(burn.usd_today) : '—'}</dd></div>
        <div><dt>Month, projected</dt><dd>{burn ? formatUsd(burn.usd_projected_month) : '—'}</dd></div>
      </dl>

      <h2 className="group-title">Sessions by state</h2>
      {stateEntries.length === 0 ? (
        <p className="empty">No sessions.</p>
      ) : (
        <ul className="state-counts">
          {stateEntries.map(([st, n]) => (
            <li key={st}><span className="muted">{stateName(st)}</span> <strong>{n}</strong></li>
          ))}
        </ul>
      )}

      <h2 className="group-title">Events</h2>
      <EventFeed events={events} />

      <h2 className="group-title">
        Tool latency{stats ? <span className="muted small"> · last {formatDuration(stats.tool_latency.window_secs * 1000)}</span> : null}
      </h2>
      {statsError && <p className="banner banner-warn">Stats unavailable: {statsError}</p>}
      {stats && stats.tool_latency.tools.length === 0 && <p className="empty">No tool calls in the window.</p>}
      {stats && stats.tool_latency.tools.length > 0 && (
        <div className="table-wrap">
          <table className="latency">
            <thead>
              <tr>
                <th scope="col">Tool</th>
                <th scope="col" className="num">Calls</th>
                <th scope="col" className="num">P50</th>
                <th scope="col" className="num">P95</th>
                <th scope="col" className="num">P99</th>
                <th scope="col">P50 trend</th>
              </tr>
            </thead>
            <tbody>
              {stats.tool_latency.tools.map((t) => (
                <tr key={t.tool}>
                  <th scope="row" className="mono">{t.tool}</th>
                  <td className="num">{t.count}</td>
                  <td className="num">{formatDuration(t.p50_ms)}</td>
                  <td className="num">{formatDuration(t.p95_ms)}</td>
                  <td className="num">{formatDuration(t.p99_ms)}</td>
                  <td><Sparkline values={history[t.tool] ?? []} label={`P50 of ${t.tool} over the last refreshes`} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** The last events, newest at the bottom; follows new ones unless the reader scrolled up. */
function EventFeed({ events }: { events: readonly ObsEvent[] }) {
  const box = useRef<HTMLOListElement>(null);
  const [following, setFollowing] = useState(true);
  const lastSeq = events[events.length - 1]?.seq;

  useLayoutEffect(() => {
    const el = box.current;
    if (el && following) el.scrollTop = el.scrollHeight;
  }, [lastSeq, following]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atBottom !== following) setFollowing(atBottom);
  };

  if (events.length === 0) return <p className="empty">Waiting for events…</p>;
  return (
    <div className="feed-wrap">
      <ol className="events feed" ref={box} onScroll={onScroll} aria-label="Latest events" tabIndex={0}>
        {events.map((e) => (
          <li key={e.seq}>
            <EventRow event={e} showSession />
          </li>
        ))}
      </ol>
      {!following && (
        <button type="button" className="button jump" onClick={() => setFollowing(true)}>
          ↓ Jump to latest
        </button>
      )}
    </div>
  );
}
