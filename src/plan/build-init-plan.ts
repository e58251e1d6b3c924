/**
 * config.json → the launch plan for a container's init: which namespaces to clone, and the
 * ordered ops the init runs (mounts, devices, pivot_root, hostname, user, capabilities, exec).
 *
 * Pure: every fact about the host comes in through `HostFacts`, so this runs in unit tests
 * without root. Anything the config asks for that cannot work is a RuntimeError here, before
 * the runtime has created anything.
 */
import * as path from 'path';
import type { Spec, Mount } from '../generated/config';
import { RuntimeError } from '../errors';
import { Op } from './ops';
import { CLONE, MS, NAMESPACE_FLAG, PR, S_IFBLK, S_IFCHR, S_IFIFO, makedev } from './linux-constants';
import { BIND_REMOUNT_FLAGS, parseMountOptions } from './mount-options';
import { planExec, planProcessSetup } from './process-ops';

export type PathKind = 'dir' | 'file' | 'missing';

export interface CgroupHierarchy {
  /** Host mount point, e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup (pure v2). */
  mountpoint: string;
  /** The directory name inside a container's /sys/fs/cgroup: "memory", "unified", "" for pure v2. */
  name: string;
  version: 1 | 2;
}

export interface HostFacts {
  /** /proc/sys/kernel/cap_last_cap */
  lastCap: number;
  /** What a host path is (following symlinks), for bind-mount sources. */
  pathKind(p: string): PathKind;
  /** The host's cgroup hierarchies, for `type: cgroup` mounts. */
  cgroupHierarchies: CgroupHierarchy[];
  /** The container's cgroup path inside each hierarchy, e.g. /tsruntime/abc. */
  cgroupPath: string;
}

export interface InitPlanInput {
  spec: Spec;
  /** Absolute rootfs path on the host. */
  rootfs: string;
  /** Absolute bundle path: relative bind sources are relative to it. */
  bundle: string;
  /** O_PATH fd of the exec fifo the init waits on until `start`. */
  fifoFd: number;
  /** fds opened on linux.namespaces[].path, by namespace type. */
  namespaceFds: Record<string, number>;
  noPivot?: boolean;
  preserveFds?: number;
  /** Runs prestart/createRuntime/createContainer hooks: the init stops and waits for them. */
  hookSyncs?: boolean;
  host: HostFacts;
}

export interface InitPlan {
  cloneFlags: number;
  ops: Op[];
  /** A new user namespace: the parent writes these maps before letting the init go on. */
  userns: boolean;
}


/** Devices every container gets (runtime-spec config-linux.md "Default Devices"). */
const DEFAULT_DEVICES: Array<{ path: string; major: number; minor: number }> = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 },
  { path: '/dev/tty', major: 5, minor: 0 },
];

const DEV_SYMLINKS: Array<[string, string]> = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

function mountWhat(m: Mount): string {
  const kind = m.type && m.type !== 'none' && m.type !== 'bind' ? m.type : 'bind';
  return `mount ${kind === 'bind' ? m.source ?? '' : kind} on ${m.destination}`;
}

export function buildInitPlan(input: InitPlanInput): InitPlan {
  const { spec, rootfs, host } = input;
  const linux = spec.linux ?? {};
  const proc = spec.process;
  if (!proc) throw new RuntimeError('config.json: process is required to create a container');
  const ops: Op[] = [];
  // Until it execs, the init is a copy of the runtime: nothing in the container may open its
  // /proc/PID/exe, mem or fds (the runc CVE-2019-5736 class), so it is not dumpable.
  ops.push({ op: 'PRCTL', a: [PR.SET_DUMPABLE, 0, 0, 0], what: 'make the init non-dumpable' });
  const namespaces = linux.namespaces ?? [];
  const nsTypes = new Set(namespaces.map((n) => n.type));
  const userns = namespaces.some((n) => n.type === 'user' && !n.path);

  // --- namespaces: new ones through clone flags; joined ones (path) through setns, user first.
  let cloneFlags = 0;
  const joinOrder = ['user', 'ipc', 'uts', 'network', 'pid', 'mount', 'cgroup', 'time'];
  for (const ns of [...namespaces].sort((x, y) => joinOrder.indexOf(x.type) - joinOrder.indexOf(y.type))) {
    if (ns.path) {
      const fd = input.namespaceFds[ns.type];
      if (fd === undefined) throw new Error(`internal: no fd opened for the ${ns.type} namespace path`);
      ops.push({ op: 'SETNS', a: [fd, NAMESPACE_FLAG[ns.type]], what: `join ${ns.type} namespace ${ns.path}` });
      ops.push({ op: 'CLOSE', a: [fd], what: `close ${ns.type} namespace fd` });
    } else if (ns.type === 'cgroup') {
      // Unshared after the parent placed us in our cgroup, so that cgroup is the namespace's root.
    } else if (ns.type === 'time') {
      throw new RuntimeError('linux.namespaces: a new time namespace is not supported yet');
    } else {
      cloneFlags |= NAMESPACE_FLAG[ns.type];
    }
  }
  if (namespaces.some((n) => n.type === 'pid' && n.path)) {
    throw new RuntimeError('linux.namespaces: joining a pid namespace by path is not supported yet');
  }
  if (nsTypes.has('cgroup') && !namespaces.find((n) => n.type === 'cgroup')?.path) {
    ops.push({ op: 'UNSHARE', a: [CLONE.NEWCGROUP], what: 'create cgroup namespace' });
  }
  if (!nsTypes.has('mount')) throw new RuntimeError('linux.namespaces: a mount namespace is required');
  if ((spec.hostname || spec.domainname) && !nsTypes.has('uts')) {
    throw new RuntimeError('hostname: unable to set the hostname without a private UTS namespace');
  }

  if (input.hookSyncs) ops.push({ op: 'SYNC', what: 'run prestart/createRuntime hooks', tag: 'createRuntime' });

  // --- root filesystem: nothing we mount may propagate to the host.
  const rootProp = rootPropagationFlags(linux.rootfsPropagation);
  ops.push({ op: 'MOUNT', a: [rootProp], strs: [null, '/', null, null], what: 'make / a slave mount' });
  ops.push({ op: 'MOUNT', a: [MS.BIND | MS.REC], strs: [rootfs, rootfs, null, null], what: `bind rootfs ${rootfs} onto itself` });
  ops.push({ op: 'OPEN_ROOT', strs: [rootfs], what: `open rootfs ${rootfs}` });

  for (const m of spec.mounts ?? []) planMount(ops, m, input, userns);

  // --- /dev: default devices, then linux.devices, then the standard symlinks.
  const devMounted = (spec.mounts ?? []).some((m) => path.posix.normalize(m.destination) === '/dev');
  if (devMounted) {
    for (const d of DEFAULT_DEVICES) planDevice(ops, { path: d.path, type: 'c', major: d.major, minor: d.minor, fileMode: 0o666, uid: 0, gid: 0 }, userns);
  }
  for (const d of linux.devices ?? []) planDevice(ops, d, userns);
  if (devMounted) {
    for (const [target, link] of DEV_SYMLINKS) ops.push({ op: 'SYMLINK_IN_ROOT', strs: [target, link], what: `symlink ${link} -> ${target}` });
    ops.push({ op: 'SYMLINK_IN_ROOT', strs: ['pts/ptmx', '/dev/ptmx'], what: 'symlink /dev/ptmx -> pts/ptmx' });
  }

  if (input.hookSyncs) ops.push({ op: 'SYNC', what: 'run createContainer hooks', tag: 'createContainer' });

  if (input.noPivot) ops.push({ op: 'MOVE_ROOT', what: `move rootfs ${rootfs} to / (no pivot_root)` });
  else ops.push({ op: 'PIVOT_ROOT', what: `pivot_root into ${rootfs}` });
  ops.push({ op: 'OPEN_ROOT', strs: ['/'], what: 'open the new /' });

  for (const p of linux.readonlyPaths ?? []) ops.push({ op: 'READONLY_PATH', strs: [p], what: `make ${p} read-only` });
  for (const p of linux.maskedPaths ?? []) ops.push({ op: 'MASK_PATH', strs: [p], what: `mask ${p}` });
  if (spec.root?.readonly) ops.push({ op: 'REMOUNT_RO_ROOT', what: 'remount / read-only' });

  if (spec.hostname) ops.push({ op: 'SETHOSTNAME', strs: [spec.hostname], what: `set hostname ${spec.hostname}` });
  if (spec.domainname) ops.push({ op: 'SETDOMAINNAME', strs: [spec.domainname], what: `set domainname ${spec.domainname}` });
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) {
    const file = '/proc/sys/' + key.replace(/\./g, '/');
    ops.push({ op: 'WRITE_FILE', strs: [file, value], what: `set sysctl ${key}=${value}` });
  }
  planProcessSetup(ops, proc, { lastCap: host.lastCap, createCwd: true, consoleBind: true });
  planExec(ops, proc, { fifoFd: input.fifoFd, preserveFds: input.preserveFds });

  return { cloneFlags, ops, userns };
}

function rootPropagationFlags(p: string | undefined): number {
  switch (p ?? '') {
    case '': return MS.SLAVE | MS.REC;
    case 'shared': return MS.SHARED;
    case 'rshared': return MS.SHARED | MS.REC;
    case 'slave': return MS.SLAVE;
    case 'rslave': return MS.SLAVE | MS.REC;
    case 'private': return MS.PRIVATE;
    case 'rprivate': return MS.PRIVATE | MS.REC;
    case 'unbindable': return MS.UNBINDABLE;
    case 'runbindable': return MS.UNBINDABLE | MS.REC;
    default: throw new RuntimeError(`linux.rootfsPropagation: unknown value "${p}"`);
  }
}

function planMount(ops: Op[], m: Mount, input: InitPlanInput, userns: boolean): void {
  const dest = path.posix.resolve('/', m.destination);
  const opts = parseMountOptions(m.options ?? []);
  const isBind = opts.bind || m.type === 'bind';
  const what = mountWhat(m);

  if (m.type === 'cgroup') {
    planCgroupMount(ops, dest, opts.flags, input.host, input.spec);
    return;
  }

  if (isBind) {
    const src = path.resolve(input.bundle, m.source ?? ''); // relative sources are relative to the bundle
    const kind = input.host.pathKind(src);
    if (kind === 'missing') throw new RuntimeError(`mounts: ${m.destination}: bind source ${src} does not exist`);
    if (kind === 'dir') ops.push({ op: 'MKDIR_IN_ROOT', a: [0o755], strs: [dest], what: `create mount point ${dest}` });
    else ops.push({ op: 'MKFILE_IN_ROOT', a: [0o644], strs: [dest], what: `create mount point ${dest}` });
    const bindFlags = MS.BIND | (opts.flags & MS.REC);
    ops.push({ op: 'MOUNT_IN_ROOT', a: [bindFlags], strs: [src, dest, null, null], what });
    // A bind mount ignores most flags until it is remounted.
    if (opts.flags & BIND_REMOUNT_FLAGS) {
      ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REMOUNT | (opts.flags & ~MS.REC & ~MS.BIND)], strs: [null, dest, null, null], what: `remount ${dest} with its options` });
    }
  } else {
    ops.push({ op: 'MKDIR_IN_ROOT', a: [0o755], strs: [dest], what: `create mount point ${dest}` });
    let data = opts.data;
    if (userns && m.type === 'devpts') data = data.split(',').filter((o) => !o.startsWith('gid=')).join(',');
    ops.push({ op: 'MOUNT_IN_ROOT', a: [opts.flags], strs: [m.source ?? m.type ?? 'none', dest, m.type ?? null, data || null], what });
  }
  for (const prop of opts.propagation) {
    ops.push({ op: 'MOUNT_IN_ROOT', a: [prop], strs: [null, dest, null, null], what: `set propagation of ${dest}` });
  }
  if (opts.recAttrSet || opts.recAttrClr) {
    const AT_RECURSIVE = 0x8000;
    ops.push({ op: 'MOUNT_SETATTR', a: [opts.recAttrSet, opts.recAttrClr, 0, AT_RECURSIVE], strs: [dest], what: `set recursive attributes of ${dest}` });
  }
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
    const src = path.posix.join(hierarchies[0].mountpoint, host.cgroupPath);
    ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC], strs: [src, dest, null, null], what: `bind ${src} on ${dest}` });
    ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REMOUNT | (flags & ~MS.REC)], strs: [null, dest, null, null], what: `remount ${dest}` });
    return;
  }
  const baseFlags = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
  ops.push({ op: 'MOUNT_IN_ROOT', a: [baseFlags], strs: ['tmpfs', dest, 'tmpfs', 'mode=755'], what: `mount tmpfs on ${dest}` });
  for (const h of hierarchies) {
    const sub = path.posix.join(dest, h.name);
    const src = path.posix.join(h.mountpoint, host.cgroupPath);
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

interface DeviceLike {
  path: string;
  type: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

function planDevice(ops: Op[], d: DeviceLike, userns: boolean): void {
  const what = `create device ${d.path}`;
  if (userns) {
    // mknod is not allowed in a user namespace: bind the host's node instead, as runc does.
    ops.push({ op: 'MKFILE_IN_ROOT', a: [0o644], strs: [d.path], what });
    ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND], strs: [d.path, d.path, null, null], what });
    return;
  }
  const typeBits = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
  const mode = typeBits | ((d.fileMode ?? 0o666) & 0o7777);
  const dev = d.type === 'p' ? 0n : makedev(d.major ?? 0, d.minor ?? 0);
  ops.push({ op: 'MKNOD_IN_ROOT', a: [mode, dev, d.uid ?? 0, d.gid ?? 0], strs: [d.path], what });
}
