/**
 * What the planner needs to know about this host (HostFacts), read by create and exec: the
 * capabilities, cgroup hierarchies, LSMs and resctrl the kernel has; and the seccomp compiler.
 * What only some configs need (a cgroup root's files, huge page sizes) is read when first asked.
 */
import * as fs from 'fs';
import * as path from 'path';
import { libseccomp } from '../native/seccomp';
import { SeccompFilter, seccompProgram } from '../plan/seccomp-plan';
import type { LsmFacts } from '../plan/process-fields';
import type { CgroupHierarchy, HostFacts } from '../plan/build-init-plan';
import { isRuntimeNamespace } from './namespaces';
import { hostHugePageSizes, parseMountInfo, readLayout, type CgroupLayout } from '../cgroups/detect';
import type { CgroupFacts } from '../plan/rules/resources';

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

/** libseccomp, in this (parent) process: the plan's filter in, the program the init loads out. */
export function compileSeccomp(filter: SeccompFilter): Buffer {
  return seccompProgram(filter, libseccomp());
}

/** The host's cgroup hierarchies as the planner's `type: cgroup` mounts need them. */
export function hostCgroupHierarchies(mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = parseMountInfo(mountinfo)
    .filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2')
    .map((m) => ({ mountpoint: m.mountPoint, name: path.basename(m.mountPoint), version: m.fsType === 'cgroup2' ? 2 : 1 }));
  // Pure v2: the one hierarchy is the whole /sys/fs/cgroup.
  if (out.length === 1 && out[0].version === 2) out[0].name = '';
  return out;
}

/**
 * The host's cgroups as the resource rules see them, from the layout the cgroup manager uses;
 * the files and controllers of a hierarchy's root are read once, when a rule first asks.
 */
export function cgroupFacts(layout: CgroupLayout = readLayout()): CgroupFacts {
  const mountOf = new Map<string, string>();
  for (const h of layout.v1) for (const c of h.controllers) mountOf.set(c, h.mountPoint);
  if (layout.unified) mountOf.set('', layout.unified.mountPoint);
  const files = new Map<string, string[]>();
  let unifiedControllers: string[] | undefined;
  let hugePageSizes: string[] | undefined;
  return {
    mode: layout.mode,
    v1Controllers: layout.v1.flatMap((h) => h.controllers).filter((c) => !c.startsWith('name=')),
    unifiedMount: layout.unified?.mountPoint,
    get unifiedControllers() {
      const root = layout.unified?.mountPoint;
      unifiedControllers ??= root ? (readTrimmed(path.join(root, 'cgroup.controllers')) ?? '').split(/\s+/).filter(Boolean) : [];
      return unifiedControllers;
    },
    get hugePageSizes() {
      hugePageSizes ??= hostHugePageSizes();
      return hugePageSizes;
    },
    rootFiles(controller) {
      let list = files.get(controller);
      if (!list) {
        const root = mountOf.get(controller);
        try {
          list = root ? fs.readdirSync(root) : [];
        } catch {
          list = [];
        }
        files.set(controller, list);
      }
      return list;
    },
  };
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
    cgroup: cgroupFacts(),
    lsm: lsmFacts(),
    resctrlMount: mountPointOf('resctrl'),
    isRuntimeNamespace,
  };
}

function readTrimmed(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The first mount point of a filesystem type, from /proc/self/mountinfo. */
function mountPointOf(fstype: string): string | undefined {
  for (const line of (readTrimmed('/proc/self/mountinfo') ?? '').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep >= 0 && line.slice(sep + 3).split(' ')[0] === fstype) return line.split(' ')[4];
  }
  return undefined;
}
