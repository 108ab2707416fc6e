import { useEffect, useState } from 'react';
import { fetchConfig, fetchHealth } from '../app/api';
import { useLoadStatus, useStream } from '../app/hooks';
import type { ServerConfig } from '../app/types';

export function SettingsScreen() {
  const status = useStream();
  const load = useLoadStatus();
  const [config, setConfig] = useState<ServerConfig | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [healthVersion, setHealthVersion] = useState<string | null>(null);

  useEffect(() => {
    const ctl = new AbortController();
    fetchConfig(ctl.signal).then(setConfig, (e: unknown) => {
      if (!ctl.signal.aborted) setError(e instanceof Error ? e.message : String(e));
    });
    // Servers without /api/config still say their version in /api/health.
    fetchHealth(ctl.signal).then((h) => setHealthVersion(h.version), () => undefined);
    return () => ctl.abort();
  }, []);

  const features = config ? Object.entries(config.features ?? {}) : [];
  return (
    <section aria-labelledby="settings-h">
      <h1 id="settings-h" className="page-title">Settings</h1>
      <dl className="card kv">
        <dt>Server version</dt>
        <dd>{config ? config.version : config === null ? (healthVersion ?? 'unknown') : error ? `unavailable: ${error}` : '…'}</dd>
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
        <dt>Push notifications</dt>
        <dd>Not available yet: they come with alerts.{config?.vapid_public_key ? ' (The server has a push key.)' : ''}</dd>
      </dl>
      <p className="muted small">
        Build {import.meta.env.MODE}. Devices, pairing and alert preferences will be set here.
      </p>
    </section>
  );
}
