/** ps: the processes of a container. */
import { StateStore } from '../state/store';
import { containerProcesses } from './container-cgroup';

/**
 * Every process of the container (host pids), in its cgroup and sub-cgroups (runc's GetAllPids),
 * or in its pid namespace when a rootless create made no cgroup.
 */
export function containerPids(store: StateStore, id: string): number[] {
  return containerProcesses(store.load(id));
}
