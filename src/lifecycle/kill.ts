/**
 * kill: send a signal to the init, or with --all to every process in the container's cgroup.
 * The init is signalled through a pidfd checked against its recorded start time (signalProcess):
 * never a process that merely has its pid now.
 */
import { ContainerStateError } from '../errors';
import { StateStore } from '../state/store';
import { signalProcess } from '../state/proc';
import { containerCgroupManager } from '../cgroups';
import { computeStatus } from './status';
import { parseSignal } from './signals';

export function killContainer(store: StateStore, id: string, signal: string | undefined, all = false): void {
  const sig = parseSignal(signal);
  const rec = store.load(id, { creating: true });
  const status = computeStatus(store, rec);
  if (status === 'creating') throw new ContainerStateError(`container ${id} is being created`, id, status);
  if (status === 'stopped' && !all) throw new ContainerStateError('container not running', id, status);
  if (all) {
    containerCgroupManager(rec).killAll(sig);
    return;
  }
  if (!signalProcess(rec.pid, rec.startTime, sig)) throw new ContainerStateError('container not running', id, 'stopped');
}
