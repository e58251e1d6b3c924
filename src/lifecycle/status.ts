/**
 * A container's status is computed from the kernel, never trusted from the state file: a pid
 * that is gone, a zombie, or a pid whose start time changed (or is not recorded) means the
 * container stopped. A record `create` has not finished is "creating" while that create runs,
 * and a half-made container, "stopped", once it is gone (killed): delete cleans it up.
 */
import fs from 'fs';
import { ContainerRecord, OCI_VERSION, StateStore, Status } from '../state/store';
import { identityAlive, isAlive } from '../state/proc';

/**
 * The part of the status that needs only the record and /proc: a create still running, a
 * container whose init is gone, or one whose init lives (created, running or paused, which
 * computeStatus tells apart with the freezer and the exec fifo). kill needs no more.
 */
export function liveness(rec: ContainerRecord): 'creating' | 'stopped' | 'alive' {
  if (rec.status === 'creating') return identityAlive(rec.creator) ? 'creating' : 'stopped';
  return isAlive(rec.pid, rec.startTime) ? 'alive' : 'stopped';
}

export function computeStatus(store: StateStore, rec: ContainerRecord): Status {
  const live = liveness(rec);
  if (live !== 'alive') return live;
  // Frozen first, as runc: `pause` freezes a created container too, which must then resume (or
  // be deleted with --force, which thaws it) before it can start.
  if (isFrozen(rec)) return 'paused';
  return fs.existsSync(store.fifoPath(rec.id)) ? 'created' : 'running';
}

function isFrozen(rec: ContainerRecord): boolean {
  if (rec.noCgroup) return false; // no freezer: never paused
  try {
    // Loaded here, not at the top: the recorded freezer file is all most calls need.
    if (rec.freezer) return (require('../cgroups/frozen') as typeof import('../cgroups/frozen')).isFrozenAt(rec.freezer);
    // A record from before freezer files were recorded: the driver finds it.
    const { containerCgroupManager } = require('../cgroups') as typeof import('../cgroups');
    return containerCgroupManager(rec).isFrozen();
  } catch {
    return false; // no freezer here: cannot be paused
  }
}

/**
 * The state document of runtime.md, with runc's extra fields (rootfs, created, owner): what
 * `state` prints, what `list` lists, and what hooks read on their stdin.
 */
export interface State {
  ociVersion: string;
  id: string;
  /** The init's host pid; 0 once the container has stopped. */
  pid: number;
  status: Status;
  /** Absolute path of the bundle directory. */
  bundle: string;
  /** Absolute path of the root filesystem. */
  rootfs: string;
  /** When the container was created (RFC 3339). */
  created: string;
  /** The user who created it ('' for root, as runc). */
  owner: string;
  annotations?: Record<string, string>;
}

export function stateDocument(rec: ContainerRecord, status: Status): State {
  const doc: State = {
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
