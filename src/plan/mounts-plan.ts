/**
 * config.json's mounts → ops: binds, filesystems, `cgroup` mounts (a cgroup2 mount, or a tmpfs of
 * v1 hierarchy binds), and the rule on mounts on or inside /proc. Part of the init planner.
 */
import path from 'path';
import type { Spec, Mount } from '../generated/config';
import { InvalidConfigError } from '../errors';
import type { Op } from './ops';
import { MS } from './linux-constants';
import { BIND_REMOUNT_FLAGS, parseMountOptions } from './mount-options';
import type { HostFacts, InitPlanInput } from './build-init-plan';
import { formatIdMappings, IdmapEnv, IdmapMapping, idmapOf } from './mount-rules';

function mountWhat(m: Mount): string {
  const kind = m.type && m.type !== 'none' && m.type !== 'bind' ? m.type : 'bind';
  return `mount ${kind === 'bind' ? m.source ?? '' : kind} on ${m.destination}`;
}

/**
 * An id-mapped bind the runtime makes, detached, before the init exists (native/shim/idmap.c says
 * why), and binds to `slot`: the init's MOVE_MOUNT_IN_ROOT puts it in place.
 */
export interface IdmapMount {
  slot: string;
  /** Host path of the bind's source. */
  source: string;
  /** For messages: the mount's destination in the container. */
  destination: string;
  /** rbind: the whole tree under source. */
  rbind: boolean;
  /** ridmap: every mount of that tree is mapped, not only its top. */
  recursive: boolean;
  mapping: IdmapMapping;
}

export interface MountContext {
  /** A new user namespace. */
  userns: boolean;
  /** For id-mapped mounts: the container's user namespace, rootless, the kernel's support. */
  idmap: IdmapEnv;
  /** Id-mapped mounts for the runtime to make (collected here). */
  idmapMounts: IdmapMount[];
  /** A network namespace of the container's own (not joined). */
  netns: boolean;
  /** Mounts to remount read-only after the pivot (collected here). */
  readonlyLater: string[];
}

/** Files under /proc that a bind may replace, for lxcfs and the like (runc's list). */
const PROC_BIND_ALLOWED = new Set([
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime', '/proc/loadavg',
  '/proc/slabinfo', '/proc/pressure/cpu', '/proc/pressure/io', '/proc/pressure/memory', '/proc/net/dev', '/proc/sys/kernel/ns_last_pid',
]);

/**
 * Mounts on or inside /proc: the init writes sysctls and its own settings through procfs, and
 * masks /proc's dangerous files, so a mount there could redirect those writes or undo the masks
 * (the CVE-2019-16884 and CVE-2023-27561 classes). Only a procfs on /proc and a bind over one of
 * a few informational files are allowed. Returns whether the resolved target may be on a procfs.
 */
function checkProcMount(m: Mount, dest: string, isBind: boolean): boolean {
  if (dest === '/proc') {
    if (m.type !== 'proc' || isBind) throw new InvalidConfigError(`mounts: ${m.destination}: cannot be mounted because it is not of type proc`);
    return false;
  }
  if (!dest.startsWith('/proc/')) return false;
  if (isBind && PROC_BIND_ALLOWED.has(dest)) return true;
  throw new InvalidConfigError(`mounts: ${m.destination}: cannot be mounted because it is inside /proc (only binds over ${[...PROC_BIND_ALLOWED].join(', ')} are allowed)`);
}

export function planMount(ops: Op[], m: Mount, input: InitPlanInput, ctx: MountContext): void {
  const dest = path.posix.resolve('/', m.destination);
  const opts = parseMountOptions(m.options ?? []);
  let isBind = opts.bind || m.type === 'bind';
  const idmap = idmapOf(m, isBind, ctx.idmap);
  // a2 = 1: the init refuses a target that resolves onto a procfs anyway (a symlink to /proc/sys).
  const procTarget = checkProcMount(m, dest, isBind) ? 0 : 1;
  let source = m.source;
  const what = mountWhat(m);

  if (m.type === 'cgroup') {
    planCgroupMount(ops, dest, opts.flags, input.host, input.spec);
    return;
  }
  if (m.type === 'sysfs' && ctx.userns && !ctx.netns) {
    // sysfs cannot be mounted from a user namespace that does not own the network namespace:
    // bind the runtime's /sys instead, as runc's rootless spec does.
    isBind = true;
    source = '/sys';
    opts.flags |= MS.BIND | MS.REC;
  }

  if (isBind) {
    const src = path.resolve(input.bundle, source ?? ''); // relative sources are relative to the bundle
    const kind = input.pendingDirs?.includes(src) ? 'dir' : input.host.pathKind(src);
    if (kind === 'missing') throw new InvalidConfigError(`mounts: ${m.destination}: bind source ${src} does not exist`);
    if (kind === 'dir') ops.push({ op: 'MKDIR_IN_ROOT', a: [0o755], strs: [dest], what: `create mount point ${dest}` });
    else ops.push({ op: 'MKFILE_IN_ROOT', a: [0o644], strs: [dest], what: `create mount point ${dest}` });
    if (idmap) {
      const slot = `idmap-mount-${ctx.idmapMounts.length}`;
      ctx.idmapMounts.push({ slot, source: src, destination: dest, rbind: (opts.flags & MS.REC) !== 0, ...idmap });
      ops.push({ op: 'MOVE_MOUNT_IN_ROOT', a: [{ slot }, 0, procTarget], strs: [dest], what: `${what}, id-mapped (${describeMapping(idmap.mapping)})` });
    } else {
      ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND | (opts.flags & MS.REC), 0, procTarget], strs: [src, dest, null, null], what });
    }
    // A bind mount ignores the other flags until it is remounted (runc: when any flag is set or cleared).
    const flags = opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (flags || opts.cleared) {
      ops.push({ op: 'BIND_REMOUNT', a: [flags & BIND_REMOUNT_FLAGS, opts.cleared], strs: [dest], what: `remount ${dest} with its options` });
    }
  } else {
    ops.push({ op: 'MKDIR_IN_ROOT', a: [0o755], strs: [dest], what: `create mount point ${dest}` });
    let data = opts.data;
    if (ctx.userns && m.type === 'devpts') data = data.split(',').filter((o) => !o.startsWith('gid=')).join(',');
    let flags = opts.flags;
    // A read-only tmpfs (or /dev) is populated first (devices, symlinks) and made read-only after.
    if (flags & MS.RDONLY && !(flags & MS.REMOUNT) && (m.type === 'tmpfs' || dest === '/dev')) {
      flags &= ~MS.RDONLY;
      ctx.readonlyLater.push(dest);
    }
    ops.push({ op: 'MOUNT_IN_ROOT', a: [flags, 0, procTarget], strs: [source ?? m.type ?? 'none', dest, m.type ?? null, data || null], what });
  }
  for (const prop of opts.propagation) {
    ops.push({ op: 'MOUNT_IN_ROOT', a: [prop], strs: [null, dest, null, null], what: `set propagation of ${dest}` });
  }
  if (opts.recAttrSet || opts.recAttrClr) {
    const AT_RECURSIVE = 0x8000;
    ops.push({ op: 'MOUNT_SETATTR', a: [opts.recAttrSet, opts.recAttrClr, 0, AT_RECURSIVE], strs: [dest], what: `set recursive attributes of ${dest}` });
  }
}

function describeMapping(mapping: IdmapMapping): string {
  if ('usernsFd' in mapping) return 'as the joined user namespace maps ids';
  return `uids ${formatIdMappings(mapping.maps.uid)}; gids ${formatIdMappings(mapping.maps.gid)}`;
}

/**
 * A `cgroup` mount shows the container its own cgroup. On v2 that is one cgroup2 mount; on
 * v1 and hybrid hosts, a tmpfs with one bind per hierarchy, as runc does.
 */
function planCgroupMount(ops: Op[], dest: string, flags: number, host: HostFacts, spec: Spec): void {
  const cgroupns = (spec.linux?.namespaces ?? []).some((n) => n.type === 'cgroup');
  const ro = flags & MS.RDONLY;
  const hierarchies = host.cgroupHierarchies;
  ops.push({ op: 'MKDIR_IN_ROOT', a: [0o755], strs: [dest], what: `create mount point ${dest}` });
  const pureV2 = hierarchies.length === 1 && hierarchies[0].version === 2;
  if (pureV2 && cgroupns) {
    ops.push({ op: 'MOUNT_IN_ROOT', a: [flags], strs: ['cgroup', dest, 'cgroup2', null], what: `mount cgroup2 on ${dest}` });
    return;
  }
  if (pureV2) {
    const src = hierarchies[0].dir ?? path.posix.join(hierarchies[0].mountpoint, host.cgroupPath);
    ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC], strs: [src, dest, null, null], what: `bind ${src} on ${dest}` });
    ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REMOUNT | (flags & ~MS.REC)], strs: [null, dest, null, null], what: `remount ${dest}` });
    return;
  }
  const baseFlags = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
  ops.push({ op: 'MOUNT_IN_ROOT', a: [baseFlags], strs: ['tmpfs', dest, 'tmpfs', 'mode=755'], what: `mount tmpfs on ${dest}` });
  for (const h of hierarchies) {
    const sub = path.posix.join(dest, h.name);
    const src = h.dir ?? path.posix.join(h.mountpoint, host.cgroupPath);
    ops.push({ op: 'MKDIR_IN_ROOT', a: [0o755], strs: [sub], what: `create mount point ${sub}` });
    ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC], strs: [src, sub, null, null], what: `bind ${src} on ${sub}` });
    if (ro) ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REMOUNT | baseFlags | MS.RDONLY], strs: [null, sub, null, null], what: `remount ${sub} read-only` });
    // cpu,cpuacct style co-mounts get per-controller symlinks, as on the host.
    if (h.name.includes(',')) {
      for (const part of h.name.split(',')) {
        if (part !== h.name) ops.push({ op: 'SYMLINK_IN_ROOT', strs: [h.name, path.posix.join(dest, part)], what: `symlink ${part} -> ${h.name}` });
      }
    }
  }
  if (ro) ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.REMOUNT | baseFlags | MS.RDONLY], strs: [null, dest, null, null], what: `remount ${dest} read-only` });
}
