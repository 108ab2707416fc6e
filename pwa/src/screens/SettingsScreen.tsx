import { useEffect, useState } from 'react';
import { fetchHealth } from '../app/api';
import { ALERT_KIND_INFO, alertKindName, formatRelative, formatUtcOffset, nanoToIso, outcomeName } from '../app/format';
import { useLoadStatus, useNow, usePush, useStream } from '../app/hooks';
import { localUtcOffset, pushStore, type PushState } from '../app/push';
import { ALERT_KINDS, type Delivery, type Device, type QuietHours } from '../app/types';

export function SettingsScreen() {
  const status = useStream();
  const load = useLoadStatus();
  const push = usePush();
  const [healthVersion, setHealthVersion] = useState<string | null>(null);

  useEffect(() => {
    void pushStore().load();
    const ctl = new AbortController();
    // Servers without /api/config still say their version in /api/health.
    fetchHealth(ctl.signal).then((h) => setHealthVersion(h.version), () => undefined);
    return () => ctl.abort();
  }, []);

  const config = push.config;
  const features = config ? Object.entries(config.features ?? {}) : [];
  return (
    <section aria-labelledby="settings-h">
      <h1 id="settings-h" className="page-title">Settings</h1>
      <dl className="card kv">
        <dt>Server version</dt>
        <dd>{config ? config.version : config === null || push.error ? (healthVersion ?? 'unknown') : '…'}</dd>
        <dt>Live feed</dt>
        <dd>{status}</dd>
        <dt>Sessions last loaded</dt>
        <dd>{load.loadedAt ? new Date(load.loadedAt).toLocaleString() : 'never'}</dd>
        {features.length > 0 && (
          <>
            <dt>Features</dt>
            <dd>{features.map(([k, v]) => `${k}: ${String(v)}`).join(', ')}</dd>
          </>
        )}
      </dl>

      <h2 className="group-title" id="notify-h">Notifications on this device</h2>
      <ThisDevice push={push} />

      {push.devices !== null && (
        <>
          <h2 className="group-title" id="devices-h">Devices</h2>
          <DeviceList devices={push.devices} current={push.device?.id ?? null} />
        </>
      )}
      <p className="muted small">Build {import.meta.env.MODE}. Pairing will be set here.</p>
    </section>
  );
}

function ThisDevice({ push }: { push: PushState }) {
  const { verdict, device, busy, error, lastTest, config } = push;
  const store = pushStore();
  const kinds = config?.alert_kinds?.length ? config.alert_kinds : ALERT_KINDS;

  return (
    <div className="card notify" aria-labelledby="notify-h" role="group">
      {!verdict ? (
        <p className="muted">{busy === 'loading' ? 'Checking what this browser can do…' : 'Could not check push support.'}</p>
      ) : (
        <div className={`verdict ${verdict.ok ? 'verdict-ok' : 'verdict-no'}`}>
          <p className="verdict-title">{device ? 'Notifications are on for this device' : verdict.title}</p>
          {!(device && verdict.ok) && <p className="small">{verdict.help}</p>}
        </div>
      )}
      {error && (
        <p className="banner banner-warn" role="alert">
          {error}
        </p>
      )}

      {!device && verdict?.ok && (
        <button type="button" className="button button-primary" onClick={() => void store.turnOn()} disabled={busy !== null}>
          {busy === 'subscribing' ? 'Turning on…' : 'Turn on notifications'}
        </button>
      )}

      {device && (
        <>
          <p className="muted small">
            Registered as <strong>{device.name}</strong> · via {device.endpoint_origin}
          </p>
          <fieldset className="kinds" disabled={busy === 'subscribing' || busy === 'unsubscribing'}>
            <legend>Tell me when</legend>
            {kinds.map((k) => {
              const on = device.kinds.includes(k);
              return (
                <label key={k} className="toggle">
                  <input
                    type="checkbox"
                    checked={on}
                    onChange={() =>
                      void store.update({ kinds: on ? device.kinds.filter((x) => x !== k) : [...device.kinds, k] })
                    }
                  />
                  <span>
                    <span className="toggle-name">{alertKindName(k)}</span>
                    <span className="toggle-explain">{ALERT_KIND_INFO[k]?.explain ?? ''}</span>
                  </span>
                </label>
              );
            })}
            {device.kinds.length === 0 && <p className="small muted">No kinds chosen: only test notifications reach this device.</p>}
          </fieldset>
          <QuietHoursForm key={JSON.stringify(device.quiet_hours)} value={device.quiet_hours} saving={busy === 'saving'} />
          <div className="actions">
            <button type="button" className="button" onClick={() => void store.test()} disabled={busy !== null}>
              {busy === 'testing' ? 'Sending…' : 'Send test notification'}
            </button>
            <button type="button" className="button button-danger" onClick={() => void store.turnOff()} disabled={busy !== null}>
              {busy === 'unsubscribing' ? 'Turning off…' : 'Turn off'}
            </button>
          </div>
          <p className="small" role="status">
            {lastTest ? testOutcome(lastTest) : ''}
          </p>
        </>
      )}
    </div>
  );
}

function testOutcome(d: Delivery): string {
  const last = d.attempts[d.attempts.length - 1];
  const status = last?.status ? ` (HTTP ${last.status})` : '';
  switch (d.outcome) {
    case 'sent':
      return `Test sent: the push service took it${status}. It should show in a moment.`;
    case 'gone':
      return `The push service says this subscription no longer exists${status}; the server removed this device. Turn notifications on again.`;
    case 'failed':
      return `Test failed${status}: ${d.reason || last?.error || 'no reason given'}.`;
    case 'skipped':
      return `Test skipped: ${d.reason || 'no reason given'}.`;
    default:
      return `Test ${outcomeName(d.outcome).toLowerCase()}${status}.`;
  }
}

function QuietHoursForm({ value, saving }: { value: QuietHours | null; saving: boolean }) {
  const [enabled, setEnabled] = useState(value !== null);
  const [start, setStart] = useState(value?.start ?? '22:00');
  const [end, setEnd] = useState(value?.end ?? '07:00');
  const offset = localUtcOffset();
  const next: QuietHours | null = enabled ? { start, end, utc_offset_minutes: offset } : null;
  const dirty =
    (value === null) !== (next === null) || (value !== null && next !== null && (value.start !== start || value.end !== end));
  const valid = !enabled || (/^\d\d:\d\d$/.test(start) && /^\d\d:\d\d$/.test(end) && start !== end);

  return (
    <form
      className="quiet"
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) void pushStore().update({ quiet_hours: next });
      }}
    >
      <fieldset>
        <legend>Quiet hours</legend>
        <label className="toggle">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
          <span>
            <span className="toggle-name">No notifications between</span>
            <span className="toggle-explain">
              In this device's time ({formatUtcOffset(offset)}). Alerts still show on the Alerts page.
            </span>
          </span>
        </label>
        <div className="times">
          <label>
            From <input type="time" value={start} onChange={(e) => setStart(e.target.value)} disabled={!enabled} required={enabled} />
          </label>
          <label>
            to <input type="time" value={end} onChange={(e) => setEnd(e.target.value)} disabled={!enabled} required={enabled} />
          </label>
        </div>
        <button type="submit" className="button" disabled={!dirty || !valid || saving}>
          {saving ? 'Saving…' : 'Save quiet hours'}
        </button>
      </fieldset>
    </form>
  );
}

function DeviceList({ devices, current }: { devices: readonly Device[]; current: string | null }) {
  const now = useNow(30_000);
  if (devices.length === 0) return <p className="empty">No device gets notifications yet.</p>;
  return (
    <ul className="cards devices">
      {devices.map((d) => {
        const last = d.last_delivery;
        const at = last ? nanoToIso(last.at_unix_nano) : null;
        return (
          <li key={d.id} className="card device">
            <div className="card-row">
              <span className="card-title">
                {d.name}
                {d.id === current && <span className="tag">this device</span>}
              </span>
              <button
                type="button"
                className="button button-danger button-small"
                aria-label={`Remove ${d.name}`}
                onClick={() => {
                  if (window.confirm(`Stop sending notifications to ${d.name}?`)) void pushStore().remove(d.id);
                }}
              >
                Remove
              </button>
            </div>
            <div className="muted small">{d.endpoint_origin}</div>
            <div className="small">
              {d.kinds.length === 0 ? 'No kinds' : d.kinds.map(alertKindName).join(', ')}
              {d.quiet_hours ? ` · quiet ${d.quiet_hours.start}–${d.quiet_hours.end} (${formatUtcOffset(d.quiet_hours.utc_offset_minutes)})` : ''}
            </div>
            <div className="small muted">
              Last delivery:{' '}
              {last
                ? `${outcomeName(last.outcome).toLowerCase()}${last.status ? ` (HTTP ${last.status})` : ''}${at ? `, ${formatRelative(at, now)}` : ''}${last.error ? ` · ${last.error}` : ''}`
                : 'none yet'}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
