import { deviceStore } from '../../app/devices';
import { useAccess, useDevices } from '../../app/hooks';
import { PairForm } from '../../components/PairForm';

/** Who this browser is to the server: paired as a device, local, or read-only; and what it may do. */
export function ThisBrowser() {
  const { access, status } = useAccess();
  useDevices();

  if (!access) {
    return (
      <div className="card muted" role="group" aria-labelledby="browser-h">
        {status === 'loading' ? 'Asking the server who this browser is…' : 'Could not ask the server who this browser is.'}
      </div>
    );
  }
  // The list's copy is the newer one after a rename.
  const name = access.device ? (deviceStore.current()?.name ?? access.device.name) : null;
  const allowed = [
    access.can.read && 'read',
    access.can.write && 'change settings',
    access.can.control && 'control agents',
  ].filter(Boolean);

  return (
    <div className="card notify" role="group" aria-labelledby="browser-h">
      {name ? (
        <p>
          Paired as <strong>{name}</strong>. This browser keeps its own key; revoke it under Devices to unpair it.
        </p>
      ) : access.local ? (
        <p>
          <strong>Local{access.can.write ? '' : ', read-only'}.</strong> This is the laptop the observatory runs on
          {access.can.write
            ? ': it may read and change settings without pairing.'
            : ': it may read without pairing, but changes need a paired browser.'}
        </p>
      ) : (
        <p>
          <strong>Not paired.</strong> {access.can.read ? 'This browser may read without pairing.' : ''}
        </p>
      )}
      <p className="muted small">Allowed here: {allowed.length ? allowed.join(', ') : 'nothing'}.</p>
      {access.public_url && (
        <p className="muted small">
          Other devices reach it at <code>{access.public_url}</code>.
        </p>
      )}
      {!access.device && (
        <details className="pair-here">
          <summary>Pair this browser</summary>
          <p className="small">
            Run <code>observatory pair</code> in a terminal and open the link it prints here, or type its code:
          </p>
          <PairForm />
        </details>
      )}
    </div>
  );
}
