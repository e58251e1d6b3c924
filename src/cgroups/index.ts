/**
 * Cgroup manager factory. The driver is chosen from /proc/self/mountinfo (v2 on a pure cgroup2
 * host, v1 on v1 and hybrid hosts), never from config. Nothing is serialized: the lifecycle keeps
 * manager.cgroupsPath in its state and calls cgroupManager({ cgroupsPath, id }) again later.
 *
 * Cheap to import: only fs and path.
 */
import { RuntimeError } from '../errors';
import { CgroupManager, CgroupManagerOptions, normalizeCgroupsPath } from './common';
import { detectLayout, parseProcCgroup, readLayout, readOwnCgroups } from './detect';
import { V1Manager } from './v1';
import { V2Manager } from './v2';

export type { CgroupManager, CgroupManagerOptions } from './common';
export { DEFAULT_PARENT, normalizeCgroupsPath } from './common';
export type { CgroupLayout, CgroupMode, MountInfoEntry, UnifiedMount, V1Hierarchy } from './detect';
export { detectLayout, parseMountInfo, parseProcCgroup, readLayout } from './detect';
export { V1Manager } from './v1';
export { V2Manager } from './v2';

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
  return layout.mode === 'v2' ? new V2Manager(layout, cgroupsPath, own) : new V1Manager(layout, cgroupsPath, own);
}
