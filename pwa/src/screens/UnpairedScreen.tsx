import { shouldRead } from '../app/access';
import { useAccess } from '../app/hooks';
import { Link } from '../components/Link';
import { PairForm } from '../components/PairForm';

/**
 * What a browser that may not read sees, instead of screens that would fail: how to pair it, and
 * the code field. Also the page of a pairing link (`/pair#<code>`) while it pairs, and where it
 * stays with the server's reason when that fails.
 */
export function UnpairedScreen() {
  const state = useAccess();
  const { access, pairing } = state;
  const readable = shouldRead(state) === true;

  return (
    <section aria-labelledby="unpaired-h" className="unpaired">
      <h1 id="unpaired-h" className="page-title">
        Scan the pairing code from your laptop
      </h1>
      <p role="status" className={pairing.busy ? 'pairing-now' : 'visually-hidden'}>
        {pairing.busy ? 'Pairing this browser…' : ''}
      </p>
      <p>
        This browser is not paired with the observatory yet, so it cannot show your sessions. Pairing takes a
        one-time code from the laptop the observatory runs on.
      </p>
      <ol className="card steps">
        <li>
          Get a code: in a terminal on the laptop, run <code>observatory pair</code>. Or, in a dashboard that is
          already paired, open <strong>Settings → Pair a phone</strong>.
        </li>
        <li>Scan the QR code it shows with this phone's camera, or open the link it prints in this browser.</li>
        <li>No camera at hand? Type the code shown with the QR code below.</li>
      </ol>
      <PairForm />
      {access?.local && !readable && (
        <p className="muted small">
          This is the laptop itself, and its observatory shows sessions to paired browsers only (
          <code>local_reads = "paired"</code>): run <code>observatory pair</code> here and open the link it prints.
        </p>
      )}
      {readable && !pairing.busy && (
        <p>
          <Link href="/">Back to the dashboard</Link>
        </p>
      )}
    </section>
  );
}
