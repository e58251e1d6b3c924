/**
 * Cgroup manager factory. The driver is chosen from /proc/self/mountinfo (v2 on a pure cgroup2
 * host, v1 on v1 and hybrid hosts), never from config. Nothing is serialized: the lifecycle keeps
 * manager.cgroupsPath in its state and calls cgroupManager({ cgroupsPath, id }) again later.
 *
 * cgroupsPath follows runc's cgroupfs driver: absolute paths are taken from each hierarchy's root,
 * relative ones from the calling process's own cgroup (v1: per controller; v2: its parent, as in
 * runc's fs2). A relative path is therefore resolved again by every command that rebuilds the
 * manager: kill/delete must run from the same cgroup as create (true for containerd/CRI-O shims).
 *
 * Cheap to import: only fs and path, and the one driver the host needs, loaded when first used.
 */
import { RuntimeError } from '../errors';
import { CgroupManager, CgroupManagerOptions, normalizeCgroupsPath } from './common';
import { detectLayout, parseProcCgroup, readLayout, readOwnCgroups } from './detect';
import type { V1Manager } from './v1';
import type { V2Manager } from './v2';

export type { ApplyOptions, CgroupManager, CgroupManagerOptions } from './common';
export type { Stats } from './stats';
export { DEFAULT_PARENT, normalizeCgroupsPath } from './common';
export type { CgroupLayout, CgroupMode, MountInfoEntry, UnifiedMount, V1Hierarchy } from './detect';
export { detectLayout, parseMountInfo, parseProcCgroup, readLayout } from './detect';
// The drivers are loaded on demand (only one is ever needed): import V1Manager / V2Manager from
// './v1' and './v2' directly when the class itself is wanted.
export type { V1Manager, V2Manager };

/** For tests: describe the host instead of reading /proc/self. */
export interface CgroupHostInfo {
  /** Text of /proc/self/mountinfo. */
  mountinfo?: string;
  /** Text of /proc/self/cgroup (used only for relative cgroupsPath). */
  procSelfCgroup?: string;
}

export function cgroupManager(opts: CgroupManagerOptions, host: CgroupHostInfo = {}): CgroupManager {
  if (opts.systemd) throw new RuntimeError('systemd cgroup driver is not supported yet (--systemd-cgroup)');
  const cgroupsPath = normalizeCgroupsPath(opts.cgroupsPath, opts.id);
  const layout = host.mountinfo !== undefined ? detectLayout(host.mountinfo) : readLayout();
  let own: Map<string, string> | undefined;
  if (!cgroupsPath.startsWith('/')) own = host.procSelfCgroup !== undefined ? parseProcCgroup(host.procSelfCgroup) : readOwnCgroups();
  if (layout.mode === 'v2') {
    const { V2Manager: Driver } = require('./v2') as { V2Manager: typeof V2Manager };
    return new Driver(layout, cgroupsPath, own);
  }
  const { V1Manager: Driver } = require('./v1') as { V1Manager: typeof V1Manager };
  return new Driver(layout, cgroupsPath, own);
}
