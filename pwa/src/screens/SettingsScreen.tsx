import { useEffect, useState } from 'react';
import { fetchHealth } from '../app/api';
import { deviceStore } from '../app/devices';
import { useLoadStatus, usePush, useStream } from '../app/hooks';
import { pushStore } from '../app/push';
import { AuditLog } from './settings/AuditLog';
import { Devices } from './settings/Devices';
import { Notifications } from './settings/Notifications';
import { PairPhone } from './settings/PairPhone';
import { ThisBrowser } from './settings/ThisBrowser';

export function SettingsScreen() {
  const status = useStream();
  const load = useLoadStatus();
  const push = usePush();
  const [healthVersion, setHealthVersion] = useState<string | null>(null);

  useEffect(() => {
    void pushStore().load();
    void deviceStore.load();
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

      <h2 className="group-title" id="browser-h">This browser</h2>
      <ThisBrowser />

      <h2 className="group-title" id="notify-h">Notifications on this device</h2>
      <Notifications />

      <h2 className="group-title" id="pair-h">Pair a phone</h2>
      <PairPhone />

      <h2 className="group-title" id="devices-h">Devices</h2>
      <Devices />

      <h2 className="group-title" id="audit-h">Audit log</h2>
      <AuditLog />

      <p className="muted small">Build {import.meta.env.MODE}.</p>
    </section>
  );
}
