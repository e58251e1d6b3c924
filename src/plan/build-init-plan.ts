/**
 * config.json → the launch plan for a container's init: which namespaces to clone, and the
 * ordered ops the init runs (mounts, devices, pivot_root, hostname, user, capabilities, exec).
 *
 * Pure: every fact about the host comes in through `HostFacts`, so this runs in unit tests
 * without root. Anything the config asks for that cannot work is a RuntimeError here, before
 * the runtime has created anything.
 *
 * Field by field, the work is in: namespaces-plan.ts (namespaces, id maps, time offsets, the fork
 * for pid/time), sysctl-plan.ts, seccomp-plan.ts (decided here, compiled by the parent with
 * libseccomp), process-fields.ts (scheduler, ioPriority, personality, memoryPolicy, LSM labels,
 * rlimit checks), netdevices-plan.ts, mounts-plan.ts (with mount-options.ts), rules/resources.ts
 * (linux.resources, checked here and written by the cgroup drivers); process-ops.ts is shared
 * with `exec`.
 * The order of the ops follows runc's (libcontainer/standard_init_linux.go, rootfs_linux.go).
 */
import path from 'path';
import type { Spec } from '../generated/config';
import { InvalidConfigError, UnsupportedError } from '../errors';
import { specWarnings } from './spec-warnings';
import type { ContainerUserns } from './mount-rules';
import { FdSlot, Op } from './ops';
import { cgroupJoinOps } from './cgroup-join-plan';
import { MS, PR, S_IFBLK, S_IFCHR, S_IFIFO, makedev } from './linux-constants';
import { IdmapMount, MountContext, planMount } from './mounts-plan';
import { planExec, planProcessSetup, StartHooks } from './process-ops';
import { planNamespaces } from './namespaces-plan';
import { sysctlOps } from './sysctl-plan';
import { planNetDevices } from './netdevices-plan';
import { LsmFacts, planProcessFields } from './process-fields';
import type { SeccompFilter } from './seccomp-plan';
import { CgroupFacts, checkResourceRules } from './rules/resources';
import { insertEndMark, markOp } from './marks';
import { checkRootless, checkSetgroups, IdMapWrite, RootlessFacts } from './rootless';

export type PathKind = 'dir' | 'file' | 'missing';

export interface CgroupHierarchy {
  /** Host mount point, e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup (pure v2). */
  mountpoint: string;
  /** The directory name inside a container's /sys/fs/cgroup: "memory", "unified", "" for pure v2. */
  name: string;
  version: 1 | 2;
  /** The host directory a `cgroup` mount shows for it (default: mountpoint + HostFacts.cgroupPath). */
  dir?: string;
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
  /** The cgroup layout, controllers and files linux.resources is checked against. */
  cgroup: CgroupFacts;
  /** Which LSMs are enabled (default: none). */
  lsm?: LsmFacts;
  /** Where the resctrl filesystem is mounted, if it is (for linux.intelRdt). */
  resctrlMount?: string;
  /** Whether the namespace open as fd (a linux.namespaces[].path) is the runtime's own of that type (default: no). */
  isRuntimeNamespace?(type: string, fd: number): boolean;
  /** The runtime lacks real root (not euid 0 of the initial user namespace): what it may do. */
  rootless?: RootlessFacts;
  /** Whether the kernel can make id-mapped mounts (mount_setattr, Linux 5.12; default: yes). */
  idmapMounts?: boolean;
  /** Whether the host has /proc/kcore (CONFIG_PROC_KCORE): runc then links /dev/core to it (default: no). */
  procKcore?: boolean;
}

export interface InitPlanInput {
  spec: Spec;
  /** Absolute rootfs path on the host. */
  rootfs: string;
  /** Absolute bundle path: relative bind sources are relative to it. */
  bundle: string;
  /** O_PATH fd of the exec fifo the init waits on until `start` (a slot: it is made after the plan). */
  fifoFd: number | FdSlot;
  /** cgroup v1 directories the init joins itself, first thing (see src/launch/cgroup-join.ts). */
  cgroupJoin?: readonly string[];
  /** fds opened on linux.namespaces[].path, by namespace type. */
  namespaceFds: Record<string, number>;
  /**
   * Host directories the runtime makes only once the id is claimed, after planning (the
   * sd_notify socket's, in the state directory): bind sources that are directories to be.
   */
  pendingDirs?: readonly string[];
  noPivot?: boolean;
  preserveFds?: number;
  /** Runs prestart/createRuntime/createContainer hooks: the init stops and waits for them. */
  hookSyncs?: boolean;
  /** startContainer hooks, run by the init after `start` (with the container state). */
  startHooks?: StartHooks;
  /** --debug: the init reports the time at each group of ops (marks.ts). */
  trace?: boolean;
  host: HostFacts;
  /**
   * Compiles linux.seccomp's decided filter into the BPF program the init loads (libseccomp, in
   * the parent: see src/launch/host-probe.ts). Without it a plan still validates the profile and
   * holds an empty program (unit tests).
   */
  compileSeccomp?(filter: SeccompFilter): Buffer;
}

export interface InitPlan {
  cloneFlags: number;
  ops: Op[];
  /** A new user namespace: the parent writes these maps before letting the init go on. */
  userns: boolean;
  /**
   * When the parent writes the id maps: right after clone (before the go byte), or when the init
   * stops at the SYNC op tagged 'userns' (namespaces joined by path are entered first).
   */
  idMapsAt?: 'clone' | 'sync';
  /** How the parent writes those maps (absent: itself, as root). */
  idMapWrite?: IdMapWrite;
  /** Things the runtime should log as warnings (runtime.md: logged, the operation goes on). */
  warnings: string[];
  /**
   * linux.netDevices: host interfaces the parent moves into the container's network namespace
   * (tsr_netdev_move) once it exists, before the init's first op.
   */
  netDevices: Array<{ name: string; newName: string }>;
  /** Id-mapped mounts the runtime makes before the spawn, each bound to its slot of the plan. */
  idmapMounts: IdmapMount[];
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
/** Made only where the kernel has /proc/kcore, as runc does (the file is masked all the same). */
const KCORE_SYMLINK: [string, string] = ['/proc/kcore', '/dev/core'];

export function buildInitPlan(input: InitPlanInput): InitPlan {
  const { spec, rootfs, host } = input;
  const linux = spec.linux ?? {};
  const proc = spec.process;
  if (!proc) throw new InvalidConfigError('config.json: process is required to create a container');
  const ops: Op[] = cgroupJoinOps(input.cgroupJoin);
  const mark = (group: string): void => {
    if (input.trace) ops.push(markOp(group));
  };
  if (input.trace && ops.length) ops.unshift(markOp('cgroup'));
  mark('namespaces');
  const warnings: string[] = specWarnings(spec);
  // Until it execs, the init is a copy of the runtime: nothing in the container may open its
  // /proc/PID/exe, mem or fds (the runc CVE-2019-5736 class), so it is not dumpable.
  ops.push({ op: 'PRCTL', a: [PR.SET_DUMPABLE, 0, 0, 0], what: 'make the init non-dumpable' });

  // --- namespaces (namespaces-plan.ts): clone flags, setns/unshare, the fork for pid/time.
  const ns = planNamespaces({ spec, namespaceFds: input.namespaceFds, rootless: Boolean(host.rootless) });
  ops.push(...ns.ops);
  const userns = ns.userns;
  const idMapWrite = host.rootless ? checkRootless(spec, host.rootless, { types: ns.types, isNew: userns }) : undefined;
  // In any user namespace but the initial one (new, joined, or the runtime's own), devices are
  // bound, not made.
  const inUserns = ns.types.has('user') || Boolean(host.rootless?.inUserns);
  // setgroups(2) in the namespace the process ends up in: denied when an unprivileged runtime
  // wrote the gid map itself, or when the runtime's own namespace denies it.
  let setgroups = true;
  if (host.rootless && userns) setgroups = !idMapWrite?.denySetgroups;
  else if (host.rootless && !ns.types.has('user')) setgroups = host.rootless.setgroupsAllowed;
  checkSetgroups(proc, setgroups);
  const netFd = ns.joined.has('network') ? input.namespaceFds.network : undefined;
  const netIsHost = netFd !== undefined && (host.isRuntimeNamespace?.('network', netFd) ?? false);
  // A new network namespace has its loopback down; runc brings it up.
  if (ns.types.has('network') && !ns.joined.has('network')) ops.push({ op: 'LOOPBACK_UP', what: 'bring up the loopback interface' });

  // Everything that can be refused is checked before anything is created.
  const sysctl = sysctlOps(linux.sysctl, { types: ns.types, netIsHost });
  const fields = planProcessFields({ spec, proc, lastCap: host.lastCap, lsm: host.lsm, compileSeccomp: input.compileSeccomp });
  warnings.push(...fields.warnings);
  checkResourceRules(linux.resources ?? {}, host.cgroup, { linuxDevicePaths: (linux.devices ?? []).map((d) => d.path) });
  if (linux.intelRdt && !host.resctrlMount) {
    throw new InvalidConfigError('linux.intelRdt: Intel RDT is specified in config, but no resctrl filesystem is mounted on this host');
  }
  if (linux.intelRdt) {
    // Not silently ignored: the CLOS group, schemata and tasks are not written yet.
    throw new UnsupportedError(`linux.intelRdt: applying Intel RDT settings (resctrl at ${host.resctrlMount}) is not supported yet`);
  }
  const netDevices = planNetDevices(linux.netDevices, ns.types.has('network'), ns.idMapsAt === 'sync' && !ns.joined.has('network'));
  if (linux.mountLabel && host.lsm?.selinux) {
    warnings.push('linux.mountLabel: SELinux mount labels are not applied by tsruntime yet');
  }

  if (input.hookSyncs) {
    mark('wait for createRuntime hooks');
    ops.push({ op: 'SYNC', what: 'run prestart/createRuntime hooks', tag: 'createRuntime' });
  }
  mark('mounts');

  // --- root filesystem: nothing we mount may propagate to the host (runc's prepareRoot).
  const rootProp = rootPropagationFlags(linux.rootfsPropagation);
  if (input.noPivot && rootProp !== undefined && rootProp & MS.PRIVATE) {
    throw new InvalidConfigError('linux.rootfsPropagation: [r]private is not safe without pivot_root (--no-pivot)');
  }
  // Without a mount namespace of its own (runtime-spec allows it; runc mounts into the runtime's
  // namespace and chroots), nothing may change the propagation of the runtime's mounts.
  const mountns = ns.types.has('mount');
  if (mountns) {
    ops.push({ op: 'MOUNT', a: [rootProp ?? MS.SLAVE | MS.REC], strs: [null, '/', null, null], what: `make / ${linux.rootfsPropagation ?? 'rslave'}` });
    // pivot_root refuses a shared parent mount, and a bind under a shared mount would propagate.
    const parentProp = rootProp !== undefined && rootProp & MS.SLAVE ? MS.SLAVE : MS.PRIVATE;
    ops.push({ op: 'PARENT_MOUNT_PROPAGATION', a: [parentProp], strs: [rootfs], what: `make the mount holding ${rootfs} ${parentProp === MS.SLAVE ? 'slave' : 'private'}` });
    ops.push({ op: 'MOUNT', a: [MS.BIND | MS.REC], strs: [rootfs, rootfs, null, null], what: `bind rootfs ${rootfs} onto itself` });
  }
  ops.push({ op: 'OPEN_ROOT', strs: [rootfs], what: `open rootfs ${rootfs}` });

  const readonlyLater: string[] = [];
  const idmapMounts: IdmapMount[] = [];
  const mountCtx: MountContext = {
    userns: inUserns,
    idmap: {
      userns: containerUserns(spec, ns.userns, input.namespaceFds.user),
      unprivileged: Boolean(host.rootless && host.rootless.euid !== 0),
      supported: () => host.idmapMounts ?? true,
    },
    idmapMounts,
    netns: ns.types.has('network') && !ns.joined.has('network'),
    readonlyLater,
  };
  for (const m of spec.mounts ?? []) planMount(ops, m, input, mountCtx);

  // --- /dev: default devices, then linux.devices, then the standard symlinks.
  mark('devices');
  const devMounted = (spec.mounts ?? []).some((m) => path.posix.normalize(m.destination) === '/dev');
  if (devMounted) {
    for (const d of DEFAULT_DEVICES) planDevice(ops, { path: d.path, type: 'c', major: d.major, minor: d.minor, fileMode: 0o666, uid: 0, gid: 0 }, inUserns);
  }
  for (const d of linux.devices ?? []) planDevice(ops, d, inUserns);
  if (devMounted) {
    const links = host.procKcore ? [...DEV_SYMLINKS, KCORE_SYMLINK] : DEV_SYMLINKS;
    for (const [target, link] of links) ops.push({ op: 'SYMLINK_IN_ROOT', strs: [target, link], what: `symlink ${link} -> ${target}` });
    ops.push({ op: 'SYMLINK_IN_ROOT', strs: ['pts/ptmx', '/dev/ptmx'], what: 'symlink /dev/ptmx -> pts/ptmx' });
  }

  if (input.hookSyncs) {
    mark('wait for createContainer hooks');
    ops.push({ op: 'SYNC', what: 'run createContainer hooks', tag: 'createContainer' });
  }
  mark('rootfs');

  // Before pivot_root: a masked file gets the /dev/null the init verified among the runtime's
  // mounts (init/procfs.c), which the container's mount namespace can no longer bind once the
  // old root is gone. The paths are resolved inside the rootfs either way.
  for (const p of linux.readonlyPaths ?? []) ops.push({ op: 'READONLY_PATH', strs: [p], what: `make ${p} read-only` });
  for (const p of linux.maskedPaths ?? []) ops.push({ op: 'MASK_PATH', strs: [p], what: `mask ${p}` });

  if (!mountns) ops.push({ op: 'CHROOT', what: `chroot into ${rootfs}` });
  else if (input.noPivot) ops.push({ op: 'MOVE_ROOT', what: `move rootfs ${rootfs} to / (no pivot_root)` });
  else ops.push({ op: 'PIVOT_ROOT', what: `pivot_root into ${rootfs}` });
  ops.push({ op: 'OPEN_ROOT', strs: ['/'], what: 'open the new /' });
  // shared/unbindable apply to the new / itself (private/slave were handled before the bind).
  if (mountns && rootProp !== undefined && !(rootProp & (MS.PRIVATE | MS.SLAVE))) {
    ops.push({ op: 'MOUNT', a: [rootProp], strs: [null, '/', null, null], what: `make the container's / ${linux.rootfsPropagation}` });
  }
  // cwd is created before anything is made read-only (runc's prepareRootfs does it here too).
  const cwd = proc.cwd || '/';
  ops.push({ op: 'MKDIR_IN_ROOT', a: [0o755], strs: [cwd], what: `create cwd ${cwd}` });
  // tmpfs and /dev mounts asked read-only were mounted writable to be populated (runc's finalizeRootfs).
  for (const dest of readonlyLater) {
    ops.push({ op: 'BIND_REMOUNT', a: [MS.RDONLY, 0], strs: [dest], what: `remount ${dest} read-only` });
  }

  if (spec.hostname) ops.push({ op: 'SETHOSTNAME', strs: [spec.hostname], what: `set hostname ${spec.hostname}` });
  if (spec.domainname) ops.push({ op: 'SETDOMAINNAME', strs: [spec.domainname], what: `set domainname ${spec.domainname}` });
  // Through the /proc the init verified at start, so /proc/sys being read-only here is no matter.
  ops.push(...sysctl);
  if (spec.root?.readonly) ops.push({ op: 'BIND_REMOUNT', a: [MS.RDONLY, 0], strs: ['/'], what: 'remount / read-only' });

  mark('process');
  planProcessSetup(ops, proc, { lastCap: host.lastCap, createCwd: false, consoleBind: true, setgroups });
  mark('exec');
  planExec(ops, proc, { fifoFd: input.fifoFd, preserveFds: input.preserveFds, startHooks: input.startHooks });
  // oom_score_adj first of all (runc's nsexec order: once the init is non-dumpable, its /proc
  // files belong to the host's root, which the root of a new user namespace is not); scheduler,
  // I/O priority, personality, memory policy, LSM labels while still privileged; seccomp last
  // with no_new_privs, before the capability drop without.
  fields.apply(ops);
  if (input.trace) insertEndMark(ops);

  return { cloneFlags: ns.cloneFlags, ops, userns, idMapsAt: ns.idMapsAt, idMapWrite, warnings, netDevices, idmapMounts };
}

/** The container's user namespace as an idmap mount without mappings uses it. */
function containerUserns(spec: Spec, isNew: boolean, joinedFd: number | undefined): ContainerUserns {
  if (isNew) return { maps: { uid: spec.linux?.uidMappings ?? [], gid: spec.linux?.gidMappings ?? [] } };
  return joinedFd === undefined ? undefined : { usernsFd: joinedFd };
}

/** linux.rootfsPropagation → mount flags; undefined when unset (then / is made rslave). */
function rootPropagationFlags(p: string | undefined): number | undefined {
  switch (p ?? '') {
    case '': return undefined;
    case 'shared': return MS.SHARED;
    case 'rshared': return MS.SHARED | MS.REC;
    case 'slave': return MS.SLAVE;
    case 'rslave': return MS.SLAVE | MS.REC;
    case 'private': return MS.PRIVATE;
    case 'rprivate': return MS.PRIVATE | MS.REC;
    case 'unbindable': return MS.UNBINDABLE;
    case 'runbindable': return MS.UNBINDABLE | MS.REC;
    default: throw new InvalidConfigError(`linux.rootfsPropagation: unknown value "${p}"`);
  }
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
  const kind = d.type === 'p' ? 'p' : `${d.type} ${d.major ?? 0}:${d.minor ?? 0}`;
  const what = `create device ${d.path} (${kind})`;
  if (!['c', 'u', 'b', 'p'].includes(d.type)) throw new InvalidConfigError(`linux.devices: ${d.path}: invalid device type "${d.type}"`);
  if (d.type !== 'p' && (d.major === undefined || d.minor === undefined)) {
    throw new InvalidConfigError(`linux.devices: ${d.path}: major and minor are required for type "${d.type}"`);
  }
  if (userns) {
    // mknod is not allowed in a user namespace: bind the host's node instead, as runc does.
    ops.push({ op: 'MKFILE_IN_ROOT', a: [0o644], strs: [d.path], what });
    ops.push({ op: 'MOUNT_IN_ROOT', a: [MS.BIND], strs: [d.path, d.path, null, null], what });
    return;
  }
  const typeBits = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
  const mode = typeBits | ((d.fileMode ?? 0o666) & 0o7777);
  const dev = d.type === 'p' ? 0n : makedev(d.major ?? 0, d.minor ?? 0);
  // An existing file must already be this device (runtime-spec), else EEXIST.
  ops.push({ op: 'DEVICE_IN_ROOT', a: [mode, dev, d.uid ?? 0, d.gid ?? 0], strs: [d.path], what });
}
