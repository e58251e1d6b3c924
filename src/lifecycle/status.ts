/**
 * A container's status is computed from the kernel, never trusted from the state file: a pid
 * that is gone, a zombie, or a pid whose start time changed (or is not recorded) means the
 * container stopped. A record `create` has not finished is "creating" while that create runs,
 * and a half-made container, "stopped", once it is gone (killed): delete cleans it up.
 */
import * as fs from 'fs';
import { ContainerRecord, OCI_VERSION, StateStore, Status } from '../state/store';
import { identityAlive, isAlive } from '../state/proc';

export function computeStatus(store: StateStore, rec: ContainerRecord): Status {
  if (rec.status === 'creating') return identityAlive(rec.creator) ? 'creating' : 'stopped';
  if (!isAlive(rec.pid, rec.startTime)) return 'stopped';
  if (fs.existsSync(store.fifoPath(rec.id))) return 'created';
  try {
    // Loaded here, not at the top: `start` and `kill` of a created container never need it.
    const { cgroupManager } = require('../cgroups') as typeof import('../cgroups');
    if (cgroupManager({ cgroupsPath: rec.cgroupsPath, id: rec.id }).isFrozen()) return 'paused';
  } catch {
    /* no freezer here: cannot be paused */
  }
  return 'running';
}

/** The state document of runtime.md, with runc's extra fields (rootfs, created, owner). */
export function stateDocument(rec: ContainerRecord, status: Status): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    ociVersion: OCI_VERSION,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.pid || 0,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
  };
  if (rec.annotations && Object.keys(rec.annotations).length) doc.annotations = rec.annotations;
  return doc;
}
