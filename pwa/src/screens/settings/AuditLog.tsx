import { useEffect } from 'react';
import { auditActionName, auditActorName, formatRelative, nanoToIso } from '../../app/format';
import { useAuditLoad, useDashboard, useNow } from '../../app/hooks';
import { store } from '../../app/store';
import type { AuditEntry } from '../../app/types';

/** The server's audit log, newest first; new entries arrive live, older ones a page at a time. */
export function AuditLog() {
  const { audit, auditNext } = useDashboard();
  const load = useAuditLoad();
  const now = useNow(30_000);

  useEffect(() => {
    void store.refreshAudit();
  }, []);

  if (load.unsupported) return <p className="empty">This server keeps no audit log: update observatory to get one.</p>;
  return (
    <div role="group" aria-labelledby="audit-h">
      {load.error && (
        <p className="banner banner-warn" role="alert">
          Could not load the audit log: {load.error}
        </p>
      )}
      {audit.length === 0 ? (
        <p className="empty">{load.loadedAt === null && load.loading ? 'Loading the audit log…' : 'Nothing logged yet.'}</p>
      ) : (
        <ol className="cards audit" aria-label="Audit log, newest first">
          {audit.map((e) => (
            <AuditRow key={e.id} entry={e} now={now} />
          ))}
        </ol>
      )}
      {audit.length > 0 && auditNext !== null && (
        <button type="button" className="button more" onClick={() => void store.moreAudit()} disabled={load.loading}>
          {load.loading ? 'Loading…' : 'Load older entries'}
        </button>
      )}
    </div>
  );
}

function AuditRow({ entry: e, now }: { entry: AuditEntry; now: number }) {
  const iso = nanoToIso(e.time_unix_nano);
  const bad = e.outcome !== 'ok';
  return (
    <li className={`card audit-entry${bad ? ' audit-bad' : ''}`}>
      <div className="card-row">
        <span className="audit-action">
          {auditActionName(e.action)}
          {bad && <span className="badge badge-failed">{e.outcome}</span>}
        </span>
        {iso && (
          <time className="muted small" dateTime={iso} title={new Date(iso).toLocaleString()}>
            {formatRelative(iso, now)}
          </time>
        )}
      </div>
      {e.detail && <p className="audit-detail">{e.detail}</p>}
      <div className="muted small">
        {auditActorName(e)}
        {e.peer ? ` · ${e.peer}` : ''}
        {e.remote ? ' · remote' : ''}
      </div>
    </li>
  );
}
