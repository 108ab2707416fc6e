import { useEffect, useRef, useState } from 'react';
import { writeBlocked } from '../../app/access';
import { createPairingCode } from '../../app/api';
import { formatCountdown } from '../../app/format';
import { useAccess, useNow } from '../../app/hooks';
import { store } from '../../app/store';
import type { PairingCode } from '../../app/types';
import { CodeText } from '../../components/CodeText';

/**
 * A one-time pairing code for another browser (`POST /api/pairing-codes`): its QR code, its link
 * and the code to type, with the time left. A device pairing meanwhile (told by the live audit
 * log) ends it: codes work once.
 */
export function PairPhone() {
  const { access } = useAccess();
  const blocked = writeBlocked(access);
  const [code, setCode] = useState<PairingCode | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [paired, setPaired] = useState<string | null>(null);

  // Only pairings after this code was made count, so only live entries are watched.
  useEffect(() => {
    if (!code) return;
    return store.stream.subscribe({
      audit: (e) => {
        if (e.action === 'pair' && e.outcome === 'ok') setPaired(e.device_name || 'A device');
      },
    });
  }, [code]);

  const make = async () => {
    setBusy(true);
    setError(null);
    try {
      setCode(await createPairingCode());
      setPaired(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card notify" role="group" aria-labelledby="pair-h">
      <p>Let a phone (or another browser) see the observatory: show a code here and scan it with its camera.</p>
      {error && (
        <p className="banner banner-warn" role="alert">
          <CodeText text={error} />
        </p>
      )}
      {paired ? (
        <p className="verdict verdict-ok" role="status">
          <strong>{paired}</strong> is paired. It is listed under Devices.
        </p>
      ) : (
        code && <CodeCard code={code} />
      )}
      {blocked && (
        <p className="small muted">
          <CodeText text={blocked} />
        </p>
      )}
      <div className="actions">
        <button type="button" className="button button-primary" onClick={() => void make()} disabled={busy || blocked !== null}>
          {busy ? 'Making a code…' : code ? 'New code' : 'Show a pairing code'}
        </button>
      </div>
    </div>
  );
}

function CodeCard({ code }: { code: PairingCode }) {
  const now = useNow(1000);
  const left = code.expires_unix_nano / 1e6 - now;
  if (left <= 0) return <p className="verdict verdict-no">This code expired. Make a new one.</p>;
  const canCopy = typeof navigator !== 'undefined' && navigator.clipboard !== undefined;
  return (
    <div className="pair-code-card">
      <SvgImage svg={code.qr_svg} alt={`QR code of the pairing link for code ${code.code}`} />
      <div className="pair-code-text">
        <p className="small muted">Or type this code on the phone's pairing screen:</p>
        <p className="pair-code">{code.code}</p>
        <p className="small muted">
          Link: <code className="pair-url">{code.url}</code>
        </p>
        {canCopy && (
          <button type="button" className="button button-small" onClick={() => void navigator.clipboard.writeText(code.url)}>
            Copy link
          </button>
        )}
        <p className="small">
          Expires in <span className="mono">{formatCountdown(left)}</span>. It works once.
        </p>
      </div>
    </div>
  );
}

/** An SVG document as an image through a Blob URL: shown, never parsed into the page. */
function SvgImage({ svg, alt }: { svg: string; alt: string }) {
  const ref = useRef<HTMLImageElement>(null);
  useEffect(() => {
    const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
    if (ref.current) ref.current.src = url;
    return () => URL.revokeObjectURL(url);
  }, [svg]);
  return <img ref={ref} className="qr" alt={alt} width={220} height={220} />;
}
