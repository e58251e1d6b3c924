/**
 * Whether a cgroup is frozen by its own freezer (not a frozen ancestor), read from one file.
 * `state` and `list` ask it of every running container: the container's record keeps where that
 * file is (CgroupManager.freezer(), saved at create), so they need neither the host's cgroup
 * layout nor a driver. The v1 and v2 managers answer isFrozen() here too.
 */
import path from 'path';
import { RuntimeError } from '../errors';
import { errCode, readCgroupFile, waitFor } from './cgroup-fs';

/** Where a cgroup's freezer is: v1, its directory in the freezer hierarchy; v2, its directory. */
export interface FreezerFile {
  version: 1 | 2;
  dir: string;
}

/** How long a v1 FREEZING state may take to settle before it counts as frozen (runc waits too). */
const SETTLE_MS = 1000;

export function isFrozenAt(f: FreezerFile): boolean {
  return f.version === 2 ? v2Frozen(f.dir) : v1Frozen(f.dir);
}

function v2Frozen(dir: string): boolean {
  try {
    return readCgroupFile(path.join(dir, 'cgroup.freeze')).trim() === '1';
  } catch {
    return false; // no such cgroup, or no freezer
  }
}

/** freezer.state of a v1 cgroup; undefined if the cgroup is gone. */
export function v1FreezerState(dir: string, missingOk: boolean, cgroupsPath = dir): string | undefined {
  const file = path.join(dir, 'freezer.state');
  try {
    return readCgroupFile(file).trim();
  } catch (e) {
    const code = errCode(e);
    if (missingOk && (code === 'ENOENT' || code === 'ENODEV')) return undefined;
    if (code === 'ENOENT') throw new RuntimeError(`cgroup ${cgroupsPath} does not exist in the freezer hierarchy`);
    throw new RuntimeError(`read ${file}: ${code}`);
  }
}

function v1Frozen(dir: string): boolean {
  let state = v1FreezerState(dir, true);
  // FREEZING is transient: wait (briefly) for a stable answer.
  if (state === 'FREEZING') waitFor(() => (state = v1FreezerState(dir, true)) !== 'FREEZING', SETTLE_MS);
  if (state === undefined || state === 'THAWED') return false;
  if (state !== 'FROZEN') return true; // still FREEZING after the wait
  // FROZEN may come from a frozen ancestor; only our own freezing counts.
  try {
    return readCgroupFile(path.join(dir, 'freezer.self_freezing')).trim() !== '0';
  } catch {
    return true; // old kernels: no self_freezing
  }
}
