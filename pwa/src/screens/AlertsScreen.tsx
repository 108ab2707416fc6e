import { useEffect } from 'react';
import { ALERT_KIND_INFO, alertKindName, formatClock, formatRelative, nanoToIso, outcomeName } from '../app/format';
import { useAgents, useAlertLoad, useDashboard, useNow } from '../app/hooks';
import { sessionPath } from '../app/router';
import { store } from '../app/store';
import type { Alert, Delivery } from '../app/types';
import { Link } from '../components/Link';

export function AlertsScreen() {
  const { alerts, alertsNext } = useDashboard();
  const load = useAlertLoad();
  const now = useNow(10_000);

  // The live feed keeps the list current; opening the page also fetches what came while closed.
  useEffect(() => {
    void store.refreshAlerts();
  }, []);

  return (
    <section aria-labelledby="alerts-h">
      <h1 id="alerts-h" className="page-title">Alerts</h1>
      {load.unsupported && (
        <p className="banner banner-warn">This server does not keep alerts yet: update observatory to get them.</p>
      )}
      {load.error && (
        <p className="banner banner-warn" role="alert">
          Could not load alerts: {load.error}
        </p>
      )}
      {alerts.length === 0 ? (
        load.loadedAt === null && load.loading ? (
          <p className="empty">Loading alerts…</p>
        ) : (
          <EmptyAlerts />
        )
      ) : (
        <ol className="cards alerts" aria-label="Alerts, newest first">
          {alerts.map((a) => (
            <AlertCard key={a.id} alert={a} now={now} />
          ))}
        </ol>
      )}
      {alerts.length > 0 && alertsNext !== null && (
        <button type="button" className="button more" onClick={() => void store.moreAlerts()} disabled={load.loading}>
          {load.loading ? 'Loading…' : 'Load older alerts'}
        </button>
      )}
    </section>
  );
}

function EmptyAlerts() {
  return (
    <div className="card prose">
      <p>
        No alerts yet. This page lists what the observatory told you and when: a session that{' '}
        <strong>needs you</strong> (a permission prompt or a question), one that <strong>finished</strong> a long turn,{' '}
        <strong>stalled</strong>, <strong>crashed</strong>, hit an <strong>error</strong>, or crossed a <strong>budget</strong> —
        each with where it was delivered and how that went.
      </p>
      <p>
        To get them as notifications on this device, turn them on in <Link href="/settings">Settings</Link>. Meanwhile the{' '}
        <Link href="/">Sessions</Link> page shows sessions that need you at the top, live.
      </p>
    </div>
  );
}

/** A same-origin path for the alert's session: the server's `url` when it is one, else built. */
function alertHref(a: Alert): string {
  if (a.url && a.url.startsWith('/') && !a.url.startsWith('//')) return a.url;
  return sessionPath(a.session_id);
}

function kindClass(kind: string): string {
  return ALERT_KIND_INFO[kind] ? `kind-${kind}` : 'kind-other';
}

function AlertCard({ alert: a, now }: { alert: Alert; now: number }) {
  const agents = useAgents();
  const iso = nanoToIso(a.time_unix_nano);
  return (
    <li className={`card alert ${kindClass(a.kind)}`}>
      <div className="card-row">
        <span className={`badge badge-kind ${kindClass(a.kind)}`}>{alertKindName(a.kind)}</span>
        {iso && (
          <time className="muted small" dateTime={iso} title={new Date(iso).toLocaleString()}>
            {formatRelative(iso, now)}
          </time>
        )}
      </div>
      <p className="alert-title">
        <Link href={alertHref(a)}>{a.title || `${agents.name(a.agent)} · ${a.session_id}`}</Link>
      </p>
      {a.body && <p className="alert-body">{a.body}</p>}
      <Deliveries deliveries={a.deliveries} />
    </li>
  );
}

/** "2 sent · 1 skipped", or why nothing went out. */
function deliverySummary(ds: readonly Delivery[]): string {
  if (ds.length === 0) return 'Not delivered anywhere (no devices subscribed)';
  const counts = new Map<string, number>();
  for (const d of ds) counts.set(d.outcome, (counts.get(d.outcome) ?? 0) + 1);
  return [...counts].map(([o, n]) => `${n} ${outcomeName(o).toLowerCase()}`).join(' · ');
}

function outcomeTone(outcome: string): string {
  if (outcome === 'sent') return 'working';
  if (outcome === 'failed' || outcome === 'gone') return 'failed';
  if (outcome === 'pending') return 'stalled';
  return 'plain';
}

function Deliveries({ deliveries }: { deliveries: readonly Delivery[] }) {
  if (deliveries.length === 0) return <p className="muted small deliveries-none">{deliverySummary(deliveries)}</p>;
  return (
    <details className="deliveries">
      <summary>
        <span className="muted small">Deliveries: {deliverySummary(deliveries)}</span>
      </summary>
      <ul className="delivery-list">
        {deliveries.map((d, i) => (
          <li key={`${d.channel}:${d.device_id ?? i}`}>
            <div className="card-row">
              <span className="delivery-name">{d.name || d.device_id || d.channel}</span>
              <span className={`badge badge-${outcomeTone(d.outcome)}`}>{outcomeName(d.outcome)}</span>
            </div>
            <div className="muted small">
              {d.channel === 'web_push' ? 'Web Push' : d.channel}
              {d.reason ? ` · ${d.reason}` : ''}
            </div>
            {d.attempts.length > 0 && (
              <ol className="attempts small" aria-label="Attempts">
                {d.attempts.map((t, j) => {
                  const at = nanoToIso(t.at_unix_nano);
                  return (
                    <li key={j}>
                      <span className="mono">{at ? formatClock(at) : '—'}</span>
                      {t.status ? ` · HTTP ${t.status}` : ''}
                      {t.error ? ` · ${t.error}` : ''}
                    </li>
                  );
                })}
              </ol>
            )}
          </li>
        ))}
      </ul>
    </details>
  );
}
