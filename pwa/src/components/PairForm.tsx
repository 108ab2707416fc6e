import { useId, useState } from 'react';
import { accessStore } from '../app/access';
import { useAccess } from '../app/hooks';
import { navigate } from '../app/router';
import { CodeText } from './CodeText';

/**
 * The pairing code typed by hand (`POST /api/pair`). The field starts with the code a pairing
 * link tried, so a failed link can be corrected; the server's reason for a failure shows under it.
 * Paired from `/pair`, the app goes to `/`.
 */
export function PairForm() {
  const { pairing } = useAccess();
  const [typed, setTyped] = useState<string | null>(null);
  const id = useId();
  const value = typed ?? pairing.code;

  return (
    <form
      className="pair-form"
      onSubmit={(e) => {
        e.preventDefault();
        void accessStore.pair(value).then((ok) => {
          if (ok && location.pathname === '/pair') navigate('/', true);
        });
      }}
    >
      <label htmlFor={`${id}-code`} className="field-label">
        Pairing code
      </label>
      <div className="field-row">
        <input
          id={`${id}-code`}
          className="field code-field"
          value={value}
          onChange={(e) => setTyped(e.target.value)}
          placeholder="K7Q2-M9XD-4F"
          autoComplete="off"
          autoCapitalize="characters"
          autoCorrect="off"
          spellCheck={false}
          enterKeyHint="go"
          aria-invalid={pairing.error ? true : undefined}
          aria-describedby={pairing.error ? `${id}-error` : undefined}
        />
        <button type="submit" className="button button-primary" disabled={pairing.busy}>
          {pairing.busy ? 'Pairing…' : 'Pair this browser'}
        </button>
      </div>
      {pairing.error && (
        <p id={`${id}-error`} className="banner banner-warn" role="alert">
          <CodeText text={pairing.error} />
        </p>
      )}
    </form>
  );
}
