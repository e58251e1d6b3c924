/**
 * delete: remove everything create made (process, cgroup, state). A running or paused
 * container needs --force, which kills it first; a created one is deleted as runc does.
 *
 * It also finishes containers whose `create` died half-way (status "creating" in the record, its
 * creator gone: reported as stopped): the record names the cgroup before the cgroup is made and
 * the init as soon as it is cloned, so whatever exists is found. Concurrent deletes of one id
 * queue on the container's lock; those that find it gone succeed with --force.
 */
import { ContainerNotFoundError, ContainerStateError, RuntimeError } from '../errors';
import { StateStore, ContainerRecord, ContainerGone, validateId } from '../state/store';
import { isAlive, signalProcess } from '../state/proc';
import fs from 'fs';
import path from 'path';
import { containerCgroup } from './container-cgroup';
import { CgroupManager, DEFAULT_PARENT } from '../cgroups/common';
import { computeStatus, stateDocument } from './status';
import { runHooks } from './hooks';
import type { Spec } from '../generated/config';
import type { Logger } from '../log';

const SIGKILL = 9;

/**
 * collectGarbage: also remove what dead runtimes left under --root (store.gc(), which lists it);
 * `run` deleting the container it has just made skips that, to cost the same at any scale.
 */
export function deleteContainer(store: StateStore, id: string, force: boolean, log: Logger, collectGarbage = true): void {
  validateId(id);
  if (collectGarbage) store.gc();
  if (!store.hasDir(id)) {
    // containerd's shim deletes twice, the second time with --force: that must succeed.
    if (force) return;
    throw new ContainerNotFoundError(id);
  }
  try {
    store.withLock(id, (lock) => {
      const rec = store.tryLoad(id);
      if (!rec) {
        // A directory without a record: left by an older version's create; nothing runs from it.
        if (!force) throw new ContainerNotFoundError(id);
        lock.removeDir();
        return;
      }
      const status = computeStatus(store, rec);
      if (status === 'running' || status === 'paused') {
        if (!force) throw new ContainerStateError(`cannot delete container ${id} that is not stopped: ${status}`, id, status);
      }
      destroy(rec, status, log);
      lock.removeDir();
    });
  } catch (e) {
    if (force && e instanceof ContainerGone) return; // another delete got there first
    throw e;
  }
}

/**
 * Remove a container's cgroup, and the default parent (/tsruntime) once its last container is
 * gone: that parent is ours. Shared by delete and by a create that fails.
 */
export function destroyCgroup(cgroups: CgroupManager, id: string): void {
  cgroups.destroy();
  if (cgroups.cgroupsPath !== `${DEFAULT_PARENT}/${id}`) return;
  for (const dir of new Set(Object.values(cgroups.paths).map((leaf) => path.dirname(leaf)))) {
    try {
      fs.rmdirSync(dir);
    } catch {
      /* other containers still there (EBUSY/ENOTEMPTY), or already gone */
    }
  }
}

function destroy(rec: ContainerRecord, status: string, log: Logger): void {
  // A rootless container may have no cgroup: its init then goes alone (with its pid namespace).
  const cgroups = containerCgroup(rec);
  if (status === 'paused') cgroups?.thaw();
  // The init, if it still runs: a pid-namespace init ignores SIGTERM without a handler, so
  // SIGKILL. Whatever the status says: a half-made container's init may be alive too. Its death
  // (waited for on its pidfd) takes its pid namespace with it, so the cgroup is often empty below.
  signalProcess(rec.pid, rec.startTime, SIGKILL, { waitExitMs: 5000 });
  if (isAlive(rec.pid, rec.startTime)) throw new RuntimeError(`container ${rec.id}: init ${rec.pid} did not die after SIGKILL`);
  // Processes that outlived the init (no pid namespace), or an init whose pid create could not
  // record before it died, die with the container's cgroup.
  if (cgroups?.exists()) {
    cgroups.killAll('SIGKILL');
  }
  if (cgroups) destroyCgroup(cgroups, rec.id);
  // A create that never finished ran no poststart and owes no poststop (as when create fails).
  if (rec.status === 'creating') return;
  // The container is gone whatever a poststop hook says: warn, and run the others (runtime.md).
  runHooks('poststop', (rec.config as Spec).hooks?.poststop, stateDocument(rec, 'stopped'), (m) => log.warn(m));
}
