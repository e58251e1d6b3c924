/** ps: the processes of a container. */
import { StateStore } from '../state/store';
import { containerCgroupManager } from '../cgroups';

/** Every process of the container (host pids), in its cgroup and sub-cgroups (runc's GetAllPids). */
export function containerPids(store: StateStore, id: string): number[] {
  const rec = store.load(id);
  return containerCgroupManager(rec).pids(true);
}
