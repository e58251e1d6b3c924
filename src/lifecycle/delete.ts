/**
 * delete: remove everything create made (process, cgroup, state). A running or paused
 * container needs --force, which kills it first; a created one is deleted as runc does.
 */
import { RuntimeError } from '../errors';
import { StateStore, ContainerRecord } from '../state/store';
import { isAlive, sleepMs } from '../state/proc';
import * as fs from 'fs';
import * as path from 'path';
import { cgroupManager } from '../cgroups';
import { CgroupManager, DEFAULT_PARENT } from '../cgroups/common';
import { computeStatus, stateDocument } from './status';
import { runHooks } from './hooks';
import type { Spec } from '../generated/config';
import type { Logger } from '../log';

export function deleteContainer(store: StateStore, id: string, force: boolean, log: Logger): void {
  if (!store.exists(id)) {
    // containerd's shim deletes twice, the second time with --force: that must succeed.
    if (force) return;
    throw new RuntimeError(`container ${id} does not exist`);
  }
  store.withLock(id, () => {
    const rec = store.load(id);
    const status = computeStatus(store, rec);
    if (status === 'running' || status === 'paused') {
      if (!force) throw new RuntimeError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    destroy(rec, status, log);
    store.removeDir(id);
  });
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
  const cgroups = cgroupManager({ cgroupsPath: rec.cgroupsPath, id: rec.id });
  if (status !== 'stopped') {
    // A pid-namespace init ignores SIGTERM without a handler: go straight to SIGKILL.
    if (status === 'paused') cgroups.thaw();
    try {
      process.kill(rec.pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  // Processes that outlived the init (no pid namespace) die with the container.
  if (cgroups.exists()) {
    cgroups.killAll('SIGKILL');
  }
  for (let i = 0; i < 500 && isAlive(rec.pid, rec.startTime); i++) sleepMs(i < 50 ? 1 : 10);
  if (isAlive(rec.pid, rec.startTime)) throw new RuntimeError(`container ${rec.id}: init ${rec.pid} did not die after SIGKILL`);
  destroyCgroup(cgroups, rec.id);
  // The container is gone whatever a poststop hook says: warn, and run the others (runtime.md).
  runHooks('poststop', (rec.config as Spec).hooks?.poststop, stateDocument(rec, 'stopped'), (m) => log.warn(m));
}
