/** pause and resume: freeze and thaw every process of a container through its cgroup. */
import { ContainerStateError } from '../errors';
import { StateStore } from '../state/store';
import { requireCgroup } from './container-cgroup';
import { computeStatus } from './status';

export function pauseContainer(store: StateStore, id: string): void {
  store.withLock(id, () => {
    const rec = store.load(id);
    const status = computeStatus(store, rec);
    if (status !== 'running' && status !== 'created') throw new ContainerStateError(`container ${id} is not running`, id, status);
    requireCgroup(rec, 'pause').freeze();
  });
}

export function resumeContainer(store: StateStore, id: string): void {
  store.withLock(id, () => {
    const rec = store.load(id);
    const status = computeStatus(store, rec);
    if (status !== 'paused') throw new ContainerStateError(`container ${id} is not paused`, id, status);
    requireCgroup(rec, 'resume').thaw();
  });
}
