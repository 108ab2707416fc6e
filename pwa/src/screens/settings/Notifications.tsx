import { useState } from 'react';
import { writeBlocked } from '../../app/access';
import { deviceStore } from '../../app/devices';
import { ALERT_KIND_INFO, alertKindName, formatUtcOffset, outcomeName } from '../../app/format';
import { useAccess, useDevices, usePush } from '../../app/hooks';
import { localUtcOffset, pushStore, pushVerdict } from '../../app/push';
import { ALERT_KINDS, type Delivery, type QuietHours } from '../../app/types';
import { CodeText } from '../../components/CodeText';

/** Push on this browser: whether it can, turning it on and off, its kinds, quiet hours and a test. */
export function Notifications() {
  const push = usePush();
  const { access } = useAccess();
  const { devices } = useDevices();
  const paired = access?.device != null;
  const device = paired ? deviceStore.current() : null;
  const verdict = pushVerdict(push, paired);
  const { busy, error, lastTest, config } = push;
  const store = pushStore();
  const kinds = config?.alert_kinds?.length ? config.alert_kinds : ALERT_KINDS;
  const on = device?.push != null;
  const blocked = paired ? writeBlocked(access) : null;
  // Until the list says whether this device has push, offering to turn it on may be wrong.
  const known = !paired || devices !== null;

  return (
    <div className="card notify" aria-labelledby="notify-h" role="group">
      {!verdict ? (
        <p className="muted">{busy === 'loading' ? 'Checking what this browser can do…' : 'Could not check push support.'}</p>
      ) : (
        <div className={`verdict ${verdict.ok ? 'verdict-ok' : 'verdict-no'}`}>
          <p className="verdict-title">{on ? 'Notifications are on for this device' : verdict.title}</p>
          {!(on && verdict.ok) && <p className="small">{verdict.help}</p>}
        </div>
      )}
      {error && (
        <p className="banner banner-warn" role="alert">
          <CodeText text={error} />
        </p>
      )}
      {blocked && (
        <p className="small muted">
          <CodeText text={blocked} />
        </p>
      )}

      {!on && known && verdict?.ok && (
        <button
          type="button"
          className="button button-primary"
          onClick={() => void store.turnOn()}
          disabled={busy !== null || blocked !== null}
        >
          {busy === 'subscribing' ? 'Turning on…' : 'Turn on notifications'}
        </button>
      )}

      {device && on && (
        <>
          <p className="muted small">
            This device: <strong>{device.name}</strong> · via {device.push?.endpoint_origin}
          </p>
          <fieldset className="kinds" disabled={busy === 'subscribing' || busy === 'unsubscribing' || blocked !== null}>
            <legend>Tell me when</legend>
            {kinds.map((k) => {
              const checked = device.kinds.includes(k);
              return (
                <label key={k} className="toggle">
                  <input
                    type="checkbox"
                    checked={checked}
                    onChange={() =>
                      void store.update({ kinds: checked ? device.kinds.filter((x) => x !== k) : [...device.kinds, k] })
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
          <QuietHoursForm
            key={JSON.stringify(device.quiet_hours)}
            value={device.quiet_hours}
            saving={busy === 'saving'}
            disabled={blocked !== null}
          />
          <div className="actions">
            <button type="button" className="button" onClick={() => void store.test()} disabled={busy !== null || blocked !== null}>
              {busy === 'testing' ? 'Sending…' : 'Send test notification'}
            </button>
            <button
              type="button"
              className="button button-danger"
              onClick={() => void store.turnOff()}
              disabled={busy !== null || blocked !== null}
            >
              {busy === 'unsubscribing' ? 'Turning off…' : 'Turn off'}
            </button>
          </div>
        </>
      )}
      <p className="small" role="status">
        {lastTest ? testOutcome(lastTest) : ''}
      </p>
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
      return `The push service says this subscription no longer exists${status}; the server dropped it. Turn notifications on again.`;
    case 'failed':
      return `Test failed${status}: ${d.reason || last?.error || 'no reason given'}.`;
    case 'skipped':
      return `Test skipped: ${d.reason || 'no reason given'}.`;
    default:
      return `Test ${outcomeName(d.outcome).toLowerCase()}${status}.`;
  }
}

function QuietHoursForm({ value, saving, disabled }: { value: QuietHours | null; saving: boolean; disabled: boolean }) {
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
      <fieldset disabled={disabled}>
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
