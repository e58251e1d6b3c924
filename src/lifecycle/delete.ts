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
import { DEFAULT_PARENT } from '../cgroups/common';
import { removeCgroupDirs } from '../cgroups/cgroup-fs';
import type { CgroupManager } from '../cgroups/common';
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
    // No such container (its lock found no directory), or another delete got there first.
    // containerd's shim deletes twice, the second time with --force: that must succeed.
    if (force && e instanceof ContainerGone) return;
    throw e;
  }
}

/**
 * Remove a container's cgroup, and the default parent (/tsruntime) once its last container is
 * gone: that parent is ours. Shared by delete and by a create that fails.
 */
export function destroyCgroup(cgroups: CgroupManager, id: string, budgetMs?: number): void {
  cgroups.destroy(budgetMs);
  removeDefaultParent(Object.values(cgroups.paths), cgroups.cgroupsPath, id);
}

function removeDefaultParent(leaves: readonly string[], cgroupsPath: string, id: string): void {
  if (cgroupsPath !== `${DEFAULT_PARENT}/${id}`) return;
  for (const dir of new Set(leaves.map((leaf) => path.dirname(leaf)))) {
    try {
      fs.rmdirSync(dir);
    } catch {
      /* other containers still there (EBUSY/ENOTEMPTY), or already gone */
    }
  }
}

/**
 * The container's cgroup, and whatever still runs in it. When the container has a pid namespace
 * of its own and its init is known, the init's death took every process of that namespace with
 * it (the kernel kills them and waits for them before the init is gone): the cgroup is empty, and
 * only a process put there from outside, which its removal then finds, needs the cgroup's kill.
 * Its directories recorded at create are then all it takes (no host layout, no driver); else its
 * driver removes it. Otherwise (a shared or no pid namespace, or an init that create could not
 * record before it died) the processes that outlived the init die with the cgroup first, as runc
 * does.
 */
function removeCgroup(rec: ContainerRecord, manager: () => CgroupManager): void {
  if (rec.pid > 0 && ownsPidNamespace(rec.config as Spec)) {
    try {
      if (rec.cgroupDirs) {
        removeCgroupDirs(rec.cgroupDirs, 0);
        removeDefaultParent(rec.cgroupDirs, rec.cgroupsPath, rec.id);
      } else {
        destroyCgroup(manager(), rec.id, 0);
      }
      return;
    } catch {
      // busy at once: a process from outside is in it
    }
  }
  const cgroups = manager();
  if (cgroups.exists()) cgroups.killAll('SIGKILL');
  destroyCgroup(cgroups, rec.id);
}

function ownsPidNamespace(spec: Spec): boolean {
  return spec.linux?.namespaces?.some((ns) => ns.type === 'pid' && !ns.path) ?? false;
}

function destroy(rec: ContainerRecord, status: string, log: Logger): void {
  // A rootless container may have no cgroup: its init then goes alone (with its pid namespace).
  // The driver is loaded only when needed: most deletes remove an empty cgroup from its record.
  let cgroups: CgroupManager | undefined;
  const manager = () => (cgroups ??= (require('./container-cgroup') as typeof import('./container-cgroup')).requireCgroup(rec, 'delete'));
  if (status === 'paused' && !rec.noCgroup) manager().thaw();
  // The init, if it still runs: a pid-namespace init ignores SIGTERM without a handler, so
  // SIGKILL. Whatever the status says: a half-made container's init may be alive too.
  const signalled = signalProcess(rec.pid, rec.startTime, SIGKILL, { waitExitMs: 5000 });
  if (signalled && isAlive(rec.pid, rec.startTime)) throw new RuntimeError(`container ${rec.id}: init ${rec.pid} did not die after SIGKILL`);
  if (!rec.noCgroup) removeCgroup(rec, manager);
  // A create that never finished ran no poststart and owes no poststop (as when create fails).
  if (rec.status === 'creating') return;
  // The container is gone whatever a poststop hook says: warn, and run the others (runtime.md).
  runHooks('poststop', (rec.config as Spec).hooks?.poststop, stateDocument(rec, 'stopped'), (m) => log.warn(m));
}
