import { useId, useState } from 'react';
import { writeBlocked } from '../../app/access';
import { deviceStore } from '../../app/devices';
import { formatRelative, nanoToIso, outcomeName } from '../../app/format';
import { useAccess, useDevices, useNow } from '../../app/hooks';
import type { Device } from '../../app/types';
import { CodeText } from '../../components/CodeText';

/** The paired devices: which is this browser, when each was last seen, its push; rename, revoke. */
export function Devices() {
  const { devices, loading, error, busy } = useDevices();
  const { access } = useAccess();
  const blocked = writeBlocked(access);
  const now = useNow(30_000);

  return (
    <div role="group" aria-labelledby="devices-h">
      {error && (
        <p className="banner banner-warn" role="alert">
          {devices === null ? 'Could not load the devices: ' : ''}
          {error}
        </p>
      )}
      {devices === null ? (
        loading ? (
          <p className="empty">Loading devices…</p>
        ) : (
          error && (
            <button type="button" className="button" onClick={() => void deviceStore.load()}>
              Try again
            </button>
          )
        )
      ) : devices.length === 0 ? (
        <p className="empty">No browser is paired yet: pair a phone above.</p>
      ) : (
        <ul className="cards devices">
          {devices.map((d) => (
            <DeviceCard key={d.id} device={d} now={now} blocked={blocked} busy={busy === d.id} />
          ))}
        </ul>
      )}
      {blocked && devices !== null && devices.length > 0 && (
        <p className="muted small">
          <CodeText text={blocked} />
        </p>
      )}
    </div>
  );
}

function pushLine(d: Device, now: number): string {
  if (!d.push) return 'Notifications off';
  const last = d.push.last_delivery;
  const at = last ? nanoToIso(last.at_unix_nano) : null;
  const delivery = last
    ? ` · last ${outcomeName(last.outcome).toLowerCase()}${last.status ? ` (HTTP ${last.status})` : ''}${at ? ` ${formatRelative(at, now)}` : ''}${last.error ? `: ${last.error}` : ''}`
    : '';
  return `Notifications on · via ${d.push.endpoint_origin}${delivery}`;
}

function confirmText(d: Device): string {
  const what = `Revoke "${d.name}"? It stops seeing the observatory and getting notifications, until paired again.`;
  return d.current ? `${what} This is the browser you are using: it goes back to the pairing screen.` : what;
}

function DeviceCard({ device: d, now, blocked, busy }: { device: Device; now: number; blocked: string | null; busy: boolean }) {
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(d.name);
  const id = useId();
  const seen = nanoToIso(d.last_seen_unix_nano);
  const paired = nanoToIso(d.created_unix_nano);

  return (
    <li className="card device">
      <div className="card-row">
        <span className="card-title">
          {d.name}
          {d.current && <span className="tag">this browser</span>}
        </span>
      </div>
      <div className="small muted">
        {seen ? `Last seen ${formatRelative(seen, now)}` : 'Not seen yet'}
        {paired ? ` · paired ${new Date(paired).toLocaleDateString()}` : ''}
      </div>
      <div className="small">{pushLine(d, now)}</div>
      {renaming ? (
        <form
          className="rename"
          onSubmit={(e) => {
            e.preventDefault();
            void deviceStore.rename(d.id, name).then((ok) => ok && setRenaming(false));
          }}
        >
          <label htmlFor={`${id}-name`} className="field-label">
            New name for {d.name}
          </label>
          <div className="field-row">
            <input
              id={`${id}-name`}
              className="field"
              value={name}
              onChange={(e) => setName(e.target.value)}
              maxLength={64}
              autoFocus
              required
            />
            <button type="submit" className="button button-primary button-small" disabled={busy}>
              {busy ? 'Saving…' : 'Save'}
            </button>
            <button type="button" className="button button-small" onClick={() => setRenaming(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <div className="actions">
          <button
            type="button"
            className="button button-small"
            aria-label={`Rename ${d.name}`}
            disabled={busy || blocked !== null}
            onClick={() => {
              setName(d.name);
              setRenaming(true);
            }}
          >
            Rename
          </button>
          <button
            type="button"
            className="button button-danger button-small"
            aria-label={`Revoke ${d.name}`}
            disabled={busy || blocked !== null}
            onClick={() => {
              if (window.confirm(confirmText(d))) void deviceStore.revoke(d.id);
            }}
          >
            {busy ? 'Working…' : 'Revoke'}
          </button>
        </div>
      )}
    </li>
  );
}
