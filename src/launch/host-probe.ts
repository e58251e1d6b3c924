/**
 * What the planner needs to know about this host (HostFacts), read by create and exec: the
 * capabilities, cgroup hierarchies, LSMs, resctrl and id-mapped mounts the kernel has; and the
 * seccomp compiler. What only some configs need (a cgroup root's files, huge page sizes, whether
 * mounts can be id-mapped) is read when first asked.
 */
import fs from 'fs';
import path from 'path';
import { libseccomp } from '../native/seccomp';
import { loadIdmapShim } from '../native/idmap';
import { SeccompFilter, seccompProgram } from '../plan/seccomp-plan';
import type { LsmFacts } from '../plan/process-fields';
import type { CgroupHierarchy, HostFacts } from '../plan/build-init-plan';
import { isRuntimeNamespace } from './namespaces';
import { hostHugePageSizes, MountInfoEntry, parseMountInfo, parseProcCgroup, readLayout, selfMountInfo, type CgroupLayout } from '../cgroups/detect';
import type { CgroupFacts } from '../plan/rules/resources';
import type { CgroupManager } from '../cgroups/common';
import { CgroupAccess, RootlessFacts } from '../plan/rootless';
import { unprivileged } from '../plan/caller-rules';
import { caller } from './caller';

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

let idmapCache: boolean | undefined;

/** Whether this kernel can make id-mapped mounts (mount_setattr(2), Linux 5.12): asked once. */
export function idmapMountsSupported(): boolean {
  idmapCache ??= loadIdmapShim().supported();
  return idmapCache;
}

/** libseccomp, in this (parent) process: the plan's filter in, the program the init loads out. */
export function compileSeccomp(filter: SeccompFilter): Buffer {
  return seccompProgram(filter, libseccomp());
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
    rootless: rootlessFacts(),
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
    get idmapMounts() {
      return idmapMountsSupported();
    },
    get procKcore() {
      return fs.existsSync('/proc/kcore');
    },
  };
}

function readTrimmed(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The first mount point of a filesystem type. */
function mountPointOf(fstype: string): string | undefined {
  return selfMountInfo().find((m) => m.fsType === fstype)?.mountPoint;
}

// ------------------------------------------------------------------------------------------ rootless

/** What a caller without real root may do (undefined for real root: nothing is limited). */
export function rootlessFacts(): RootlessFacts | undefined {
  const c = caller();
  if (!unprivileged(c)) return undefined;
  return {
    ...c,
    newuidmap: findProgram('newuidmap'),
    newgidmap: findProgram('newgidmap'),
    hardLimits: parseProcLimits(readTrimmed('/proc/self/limits') ?? ''),
    oomScoreAdj: Number(readTrimmed('/proc/self/oom_score_adj') ?? 0),
    setgroupsAllowed: setgroupsAllowed('self'),
  };
}

/** /proc/PID/setgroups says "allow" (or the kernel predates the file). */
export function setgroupsAllowed(pid: number | 'self'): boolean {
  return (readTrimmed(`/proc/${pid}/setgroups`) ?? 'allow') !== 'deny';
}

/** An executable in $PATH or in the usual system directories. */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/usr/sbin', '/bin', '/sbin'];
  for (const dir of dirs) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/**
 * Hard limits from /proc/PID/limits, by RLIMIT_* number: its rows are in that order (the
 * kernel's rlim_names table), after a header; "unlimited" is RLIM_INFINITY.
 */
export function parseProcLimits(text: string): Record<number, bigint> {
  const out: Record<number, bigint> = {};
  const rows = text.split('\n').slice(1).filter((l) => l.trim());
  rows.forEach((row, resource) => {
    const cols = row.slice(26).trim().split(/\s+/);
    const hard = cols[1];
    if (hard === 'unlimited') out[resource] = (1n << 64n) - 1n;
    else if (/^\d+$/.test(hard ?? '')) out[resource] = BigInt(hard);
  });
  return out;
}

/**
 * Whether this process may make (or use) the cgroup's directories: for each, the directory's
 * cgroup.procs when it exists, else the deepest ancestor that exists, must be writable.
 */
export function cgroupAccess(m: CgroupManager): CgroupAccess {
  for (const dir of new Set(Object.values(m.paths))) {
    let probe = path.join(dir, 'cgroup.procs');
    if (!fs.existsSync(dir)) {
      probe = path.dirname(dir);
      while (probe !== '/' && !fs.existsSync(probe)) probe = path.dirname(probe);
    }
    try {
      fs.accessSync(probe, fs.constants.W_OK);
    } catch {
      return { writable: false, denied: probe };
    }
  }
  return { writable: true };
}

/**
 * Each hierarchy with the host directory a `cgroup` mount shows the container: its own cgroup,
 * or (a rootless container without one) the cgroup the runtime, and so the init, is in; a
 * hierarchy where that is unknown is left out then.
 */
export function containerCgroupDirs(
  hs: CgroupHierarchy[],
  m: CgroupManager | undefined,
  mountinfo: string | MountInfoEntry[] = selfMountInfo(),
  procSelfCgroup = readTrimmed('/proc/self/cgroup') ?? '',
): CgroupHierarchy[] {
  if (m) {
    return hs.map((h) => {
      const dir = Object.values(m.paths).find((d) => d === h.mountpoint || d.startsWith(h.mountpoint + '/'));
      return dir ? { ...h, dir } : h;
    });
  }
  const own = parseProcCgroup(procSelfCgroup);
  const mounts = (typeof mountinfo === 'string' ? parseMountInfo(mountinfo) : mountinfo).filter((x) => x.fsType === 'cgroup' || x.fsType === 'cgroup2');
  const out: CgroupHierarchy[] = [];
  for (const h of hs) {
    const mnt = mounts.find((x) => x.mountPoint === h.mountpoint);
    const key = mnt?.fsType === 'cgroup2' ? '' : mnt?.superOptions.find((o) => own.has(o));
    const ownPath = key === undefined ? undefined : own.get(key);
    if (!mnt || ownPath === undefined) continue;
    const rel = mnt.root !== '/' && (ownPath === mnt.root || ownPath.startsWith(mnt.root + '/')) ? ownPath.slice(mnt.root.length) : ownPath;
    out.push({ ...h, dir: path.posix.join(h.mountpoint, rel) });
  }
  return out;
}
