/** state and list: the state document of one container, or of every container under the root. */
import { StateStore } from '../state/store';
import { computeStatus, stateDocument, State } from './status';

export type { State };

/** The state of one container; a container still being created is reported as "creating". */
export function containerState(store: StateStore, id: string): State {
  const rec = store.load(id, { creating: true });
  return stateDocument(rec, computeStatus(store, rec));
}

/** The state of every container under the store's root, sorted by id. */
export function listContainers(store: StateStore): State[] {
  return store.list().flatMap((id) => {
    try {
      return [containerState(store, id)];
    } catch {
      return []; // deleted while we listed
    }
  });
}
