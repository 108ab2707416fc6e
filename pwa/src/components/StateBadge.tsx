import { stateName } from '../app/format';
import { stateGroup } from '../app/state';

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge badge-${stateGroup(state)}`}>{stateName(state)}</span>;
}
