/**
 * Cgroup manager factory. The cgroupfs driver is chosen from /proc/self/mountinfo (v2 on a pure
 * cgroup2 host, v1 on v1 and hybrid hosts), never from config; --systemd-cgroup puts a systemd
 * scope over it (systemd.ts). Nothing is serialized: the lifecycle keeps manager.cgroupsPath (and
 * whether systemd was used) in its state and calls containerCgroupManager(record) later.
 *
 * cgroupsPath follows runc's cgroupfs driver: absolute paths are taken from each hierarchy's root,
 * relative ones from the calling process's own cgroup (v1: per controller; v2: its parent, as in
 * runc's fs2). A relative path is therefore resolved again by every command that rebuilds the
 * manager: kill/delete must run from the same cgroup as create (true for containerd/CRI-O shims).
 *
 * Cheap to import: only fs and path, and the one driver the host needs, loaded when first used.
 */
import { CgroupManager, CgroupManagerOptions, normalizeCgroupsPath } from './common';
import { detectLayout, parseProcCgroup, readLayout, readOwnCgroups } from './detect';
import { parseSystemdCgroupsPath, SystemdUnit, systemdUnitFromCgroupPath } from './systemd-unit';
import type { SystemdManager } from './systemd';
import type { V1Manager } from './v1';
import type { V2Manager } from './v2';

export type { ApplyOptions, CgroupManager, CgroupManagerOptions } from './common';
export type { Stats } from './stats';
export { DEFAULT_PARENT, normalizeCgroupsPath } from './common';
export type { CgroupLayout, CgroupMode, MountInfoEntry, UnifiedMount, V1Hierarchy } from './detect';
export { detectLayout, parseMountInfo, parseProcCgroup, readLayout } from './detect';
export type { SystemdUnit } from './systemd-unit';
export { expandSlice, parseSystemdCgroupsPath, systemdUnitFromCgroupPath } from './systemd-unit';
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

/** The manager a new container's config asks for (create). */
export function cgroupManager(opts: CgroupManagerOptions, host: CgroupHostInfo = {}): CgroupManager {
  if (opts.systemd) return systemdManager(parseSystemdCgroupsPath(opts.cgroupsPath, opts.id), true, host);
  return filesManager(normalizeCgroupsPath(opts.cgroupsPath, opts.id), host);
}

/** What a container's state keeps of its cgroup: the path create's manager had, and the driver. */
export interface RecordedCgroup {
  id: string;
  cgroupsPath: string;
  systemdCgroup?: boolean;
}

/** The manager of an existing container, with the driver its create used. */
export function containerCgroupManager(rec: RecordedCgroup, host: CgroupHostInfo = {}): CgroupManager {
  if (rec.systemdCgroup) return systemdManager(systemdUnitFromCgroupPath(rec.cgroupsPath), false, host);
  return filesManager(normalizeCgroupsPath(rec.cgroupsPath, rec.id), host);
}

function systemdManager(unit: SystemdUnit, fresh: boolean, host: CgroupHostInfo): CgroupManager {
  const { SystemdManager: Driver } = require('./systemd') as { SystemdManager: typeof SystemdManager };
  return new Driver(unit, filesManager(unit.cgroupPath, host), fresh);
}

/** The cgroupfs manager (v1 or v2, as the host is) of a normalized path. */
function filesManager(cgroupsPath: string, host: CgroupHostInfo): CgroupManager {
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
