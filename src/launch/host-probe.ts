/**
 * What the planner needs to know about this host (HostFacts), read by create and exec: the
 * capabilities, cgroup hierarchies, LSMs and resctrl the kernel has; and the seccomp compiler.
 */
import * as fs from 'fs';
import * as path from 'path';
import { RuntimeError } from '../errors';
import { loadConfigShim } from '../native/config-shim';
import type { LsmFacts } from '../plan/process-fields';
import type { CgroupHierarchy, HostFacts } from '../plan/build-init-plan';
import { isRuntimeNamespace } from './namespaces';
import { MountInfoEntry, selfMountInfo } from '../cgroups/detect';

/** The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap). */
export function lastCap(): number {
  return Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
}

export function lsmFacts(): LsmFacts {
  let apparmor = false;
  try {
    apparmor = fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y' && fs.existsSync('/sys/kernel/security/apparmor');
  } catch {
    /* no AppArmor module */
  }
  return { apparmor, selinux: fs.existsSync('/sys/fs/selinux/enforce') };
}

/** libseccomp, in this (parent) process: rules in, BPF out. */
export function compileSeccomp(rules: string): Buffer {
  try {
    return loadConfigShim().compileSeccomp(rules);
  } catch (e) {
    throw new RuntimeError(`linux.seccomp: cannot build the filter: ${(e as Error).message}`);
  }
}

/** The host's cgroup hierarchies as the planner's `type: cgroup` mounts need them. */
export function hostCgroupHierarchies(mounts: MountInfoEntry[] = selfMountInfo()): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = mounts
    .filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2')
    .map((m) => ({ mountpoint: m.mountPoint, name: path.basename(m.mountPoint), version: m.fsType === 'cgroup2' ? 2 : 1 }));
  // Pure v2: the one hierarchy is the whole /sys/fs/cgroup.
  if (out.length === 1 && out[0].version === 2) out[0].name = '';
  return out;
}

export function hostFacts(cgroupPath: string): HostFacts {
  return {
    lastCap: lastCap(),
    pathKind(p) {
      try {
        return fs.statSync(p).isDirectory() ? 'dir' : 'file';
      } catch {
        return 'missing';
      }
    },
    cgroupHierarchies: hostCgroupHierarchies(),
    cgroupPath,
    lsm: lsmFacts(),
    resctrlMount: mountPointOf('resctrl'),
    isRuntimeNamespace,
  };
}

/** The first mount point of a filesystem type. */
function mountPointOf(fstype: string): string | undefined {
  return selfMountInfo().find((m) => m.fsType === fstype)?.mountPoint;
}
