import { useStream } from '../app/hooks';
import type { StreamStatus } from '../app/stream';

const LABELS: Record<StreamStatus, string> = {
  connecting: 'Connecting',
  connected: 'Live',
  reconnecting: 'Reconnecting',
  offline: 'Offline',
  unpaired: 'Not paired',
};

/** The live feed's state as a dot and a word; announced politely when it changes. */
export function ConnectionBadge() {
  const status = useStream();
  return (
    <span className={`conn conn-${status}`} role="status" aria-live="polite" title={`Live feed: ${LABELS[status]}`}>
      <span className="conn-dot" aria-hidden="true" />
      <span className="conn-label">{LABELS[status]}</span>
    </span>
  );
}
