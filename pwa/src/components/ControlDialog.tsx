import { useEffect, useId, useRef } from 'react';
import type { Confirmation } from '../app/control';
import { CodeText } from './CodeText';

/**
 * Asks before an action on an agent's process. A modal `<dialog>`: the rest of the page is inert,
 * Esc cancels, focus starts on Cancel (the safe answer). `onClose` says whether it was confirmed;
 * the caller puts focus back where it belongs.
 */
export function ControlDialog({ confirmation: c, onClose }: { confirmation: Confirmation; onClose: (confirmed: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const whatId = useId();

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    d.returnValue = '';
    // Open once: StrictMode runs this twice, and closing in a cleanup would fire `close` (a cancel).
    if (!d.open) d.showModal();
    cancel.current?.focus();
  }, []);

  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-modal="true"
      aria-labelledby={titleId}
      aria-describedby={whatId}
      // Esc and both buttons end here: the form's submitter sets `returnValue`, Esc leaves it empty.
      onClose={() => onClose(ref.current?.returnValue === 'confirm')}
    >
      <form method="dialog">
        <h2 id={titleId} className="dialog-title">
          {c.title}
        </h2>
        <p id={whatId} className="dialog-what">
          <CodeText text={c.what} />
        </p>
        <div className="actions dialog-actions">
          <button ref={cancel} type="submit" value="cancel" className="button">
            Cancel
          </button>
          <button type="submit" value="confirm" className={`button ${c.destructive ? 'button-destructive' : 'button-primary'}`}>
            {c.confirm}
          </button>
        </div>
      </form>
    </dialog>
  );
}
