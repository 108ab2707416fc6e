import { stateName } from '../app/format';
import { stateGroup } from '../app/state';

/** A session's state; its group's colour, and its own look where a group holds states that mean
 *  different things (killed on purpose is no crash). */
export function StateBadge({ state }: { state: string }) {
  return <span className={`badge badge-${stateGroup(state)} state-${state}`}>{stateName(state)}</span>;
}
