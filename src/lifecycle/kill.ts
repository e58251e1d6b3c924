/**
 * kill: send a signal to the init, or with --all to every process in the container's cgroup.
 * The init is signalled through a pidfd checked against its recorded start time (signalProcess):
 * never a process that merely has its pid now.
 */
import { ContainerStateError } from '../errors';
import { StateStore } from '../state/store';
import { signalProcess } from '../state/proc';
import { liveness } from './status';
import { parseSignal } from './signals';

export function killContainer(store: StateStore, id: string, signal: string | undefined, all = false): void {
  const sig = parseSignal(signal);
  const rec = store.load(id, { creating: true });
  // Created, running or paused alike: the signal goes to the init (runc sends it to a paused one too).
  const status = liveness(rec);
  if (status === 'creating') throw new ContainerStateError(`container ${id} is being created`, id, status);
  if (status === 'stopped' && !all) throw new ContainerStateError('container not running', id, status);
  if (all) {
    // Loaded here: the cgroup drivers cost the plain kill of an init (the common call) a few ms.
    const { containerCgroup, namespacePids } = require('./container-cgroup') as typeof import('./container-cgroup');
    const cgroup = containerCgroup(rec);
    if (cgroup) cgroup.killAll(sig);
    else signalEach(namespacePids(rec), sig);
    return;
  }
  if (!signalProcess(rec.pid, rec.startTime, sig)) throw new ContainerStateError('container not running', id, 'stopped');
}

/** kill --all without a cgroup: each process found, one by one (a fork may race, as runc's does). */
function signalEach(pids: number[], sig: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* exited meanwhile */
    }
  }
}
