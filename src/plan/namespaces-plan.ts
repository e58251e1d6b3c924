/**
 * linux.namespaces (+ uidMappings/gidMappings, timeOffsets, hostname/domainname checks) → how
 * the init is cloned and the ops that put it into its namespaces. Pure.
 *
 * Two shapes:
 *  - Fast path (nothing joined by path while a new user namespace is made): clone() creates every
 *    new namespace at once; the parent writes the id maps before the init's first op; joined
 *    namespaces are entered with setns (user first, so the others are owned by it).
 *  - New user namespace + namespaces joined by path (e.g. Podman's userns with a netns from
 *    /run/netns): the joined ones belong to the host's user namespace, so they must be entered
 *    while we still have the host's capabilities. As runc does: clone without namespaces, setns
 *    into the paths, unshare(CLONE_NEWUSER), stop for the parent to write the id maps, then
 *    unshare the other new namespaces.
 *
 * The pid and time namespaces only apply to children: a new time namespace (its offsets are
 * written between unshare and the first process entering it) or joining a pid namespace by path
 * needs one more process. FORK (with CLONE_PARENT, so the runtime stays the parent) makes it; a
 * new pid namespace is then created by that fork rather than by the first clone, so that the
 * short-lived intermediate is not its pid 1.
 */
import type { Spec } from '../generated/config';
import { InvalidConfigError } from '../errors';
import { Op } from './ops';
import { CLONE, NAMESPACE_FLAG, PR } from './linux-constants';

/** CLONE_PARENT: the forked process is the runtime's child, not the intermediate's. */
export const CLONE_PARENT = 0x00008000;

/** Namespaces a container init enters by path, in this order (user first: it owns the rest). */
const JOIN_ORDER = ['user', 'ipc', 'uts', 'network', 'pid', 'mount', 'cgroup', 'time'];

/** The clocks a time namespace can offset (time_namespaces(7)). */
const TIME_CLOCKS = ['monotonic', 'boottime'];

export interface NamespacesPlan {
  cloneFlags: number;
  /** Ops that run first in the init (before anything else). */
  ops: Op[];
  /** A new user namespace: the parent writes uid_map/gid_map. */
  userns: boolean;
  /** When: right after clone (before the first op), or at the SYNC op tagged 'userns'. */
  idMapsAt?: 'clone' | 'sync';
  /** The types of namespaces the container gets of its own or joins (a set of spec type names). */
  types: Set<string>;
  /** Types joined by path. */
  joined: Set<string>;
}

export interface NamespaceInput {
  spec: Spec;
  /** fds opened on linux.namespaces[].path, by type (placeholders in a dry run). */
  namespaceFds: Record<string, number>;
  /** The runtime is not real root: it writes the maps as the init's owner, not as root. */
  rootless?: boolean;
}

export function planNamespaces({ spec, namespaceFds, rootless }: NamespaceInput): NamespacesPlan {
  const linux = spec.linux ?? {};
  const namespaces = linux.namespaces ?? [];
  const types = new Set<string>();
  for (const ns of namespaces) {
    if (types.has(ns.type)) throw new InvalidConfigError(`linux.namespaces: duplicated namespace "${ns.type}"`);
    if (NAMESPACE_FLAG[ns.type] === undefined) throw new InvalidConfigError(`linux.namespaces: unknown namespace type "${ns.type}"`);
    types.add(ns.type);
  }
  const byType = new Map<string, { type: string; path?: string }>(namespaces.map((n) => [n.type, n]));
  const isNew = (type: string) => byType.has(type) && !byType.get(type)!.path;
  const joined = new Set(namespaces.filter((n) => n.path).map((n) => n.type));

  // --- the checks runc's validator makes
  const hasMappings = Boolean(linux.uidMappings?.length || linux.gidMappings?.length);
  if (isNew('user') && !hasMappings) {
    throw new InvalidConfigError('linux.namespaces: user namespaces enabled, but no namespace path to join nor mappings to apply specified');
  }
  // The field named is the one that is set (uidMappings when both are) or, below, the one missing.
  const mappingsField = linux.uidMappings?.length ? 'linux.uidMappings' : 'linux.gidMappings';
  if (!types.has('user') && hasMappings) {
    throw new InvalidConfigError(`${mappingsField}: user namespace mappings specified, but the user namespace is not enabled in the config`);
  }
  if (joined.has('user') && hasMappings) {
    throw new InvalidConfigError(`${mappingsField}: mappings cannot be applied to a user namespace joined by path`);
  }
  if (isNew('user') && (!linux.uidMappings?.length || !linux.gidMappings?.length)) {
    const missing = linux.uidMappings?.length ? 'linux.gidMappings' : 'linux.uidMappings';
    throw new InvalidConfigError(`${missing}: a new user namespace needs both uidMappings and gidMappings`);
  }
  const offsets = linux.timeOffsets;
  if (offsets && Object.keys(offsets).length) {
    if (!types.has('time')) throw new InvalidConfigError('linux.timeOffsets: time namespace offsets specified, but the time namespace is not enabled in the config');
    if (joined.has('time')) throw new InvalidConfigError('linux.timeOffsets: time namespace enabled, but both namespace path and time offsets specified -- you may only provide one');
    for (const clock of Object.keys(offsets)) {
      if (!TIME_CLOCKS.includes(clock)) throw new InvalidConfigError(`linux.timeOffsets: unknown clock "${clock}" (only ${TIME_CLOCKS.join(' and ')} can be offset)`);
    }
  }
  if (spec.hostname && !types.has('uts')) throw new InvalidConfigError('hostname: unable to set hostname without a private UTS namespace');
  if (spec.domainname && !types.has('uts')) throw new InvalidConfigError('domainname: unable to set domainname without a private UTS namespace');
  if (!types.has('mount') && (linux.maskedPaths?.length || linux.readonlyPaths?.length)) {
    const field = linux.maskedPaths?.length ? 'linux.maskedPaths' : 'linux.readonlyPaths';
    throw new InvalidConfigError(`${field}: unable to restrict paths without a private mount namespace`);
  }
  if (!types.has('mount') && spec.root?.readonly) {
    // remounting the chroot's "/" read-only would remount the host filesystem holding it
    throw new InvalidConfigError('root.readonly: a read-only root needs a private mount namespace');
  }

  const ops: Op[] = [];
  const fdOf = (type: string): number => {
    const fd = namespaceFds[type];
    if (fd === undefined) throw new Error(`internal: no fd opened for the ${type} namespace path`);
    return fd;
  };
  // Once mapped (or joined), become root of the user namespace: until then the init still has the
  // runtime's ids (host root, unmapped there), and filesystems mounted in the namespace refuse
  // to create files for an unmapped owner (EOVERFLOW). runc's nsexec does the same.
  const becomeRoot = (): void => {
    ops.push({ op: 'SETRESGID', a: [0], what: 'become gid 0 of the user namespace' });
    ops.push({ op: 'SETRESUID', a: [0], what: 'become uid 0 of the user namespace' });
  };
  const joinOps = (): void => {
    for (const type of JOIN_ORDER) {
      const ns = byType.get(type);
      if (!ns?.path) continue;
      const fd = fdOf(type);
      ops.push({ op: 'SETNS', a: [fd, NAMESPACE_FLAG[type]], what: `join ${type} namespace ${ns.path}` });
      ops.push({ op: 'CLOSE', a: [fd], what: `close ${type} namespace fd` });
      if (type === 'user') becomeRoot();
    }
  };

  // New namespaces other than user/pid/time/cgroup, as clone or unshare flags.
  let otherNew = 0;
  for (const type of ['ipc', 'uts', 'network', 'mount']) if (isNew(type)) otherNew |= NAMESPACE_FLAG[type];
  const userns = isNew('user');
  const newTime = isNew('time');
  // Joined namespaces next to a user namespace (new, or joined too): enter the joined ones
  // first, then create the new ones, so that each is owned by the right user namespace.
  const unshareAfterJoin = joined.size > 0 && (userns || joined.has('user'));
  const needFork = newTime || joined.has('pid') || (unshareAfterJoin && isNew('pid'));
  // Without a fork the init itself becomes pid 1 of a new pid namespace (clone flag).
  const pidByClone = isNew('pid') && !needFork;

  let cloneFlags = 0;
  if (unshareAfterJoin) {
    joinOps();
    if (userns) {
      ops.push({ op: 'UNSHARE', a: [CLONE.NEWUSER], what: 'create user namespace' });
      // A non-dumpable process's /proc files belong to real root: a rootless runtime (and
      // newuidmap, which checks the owner) could not write its maps. Dumpable just for that.
      if (rootless) ops.push({ op: 'PRCTL', a: [PR.SET_DUMPABLE, 1, 0, 0], what: 'let the runtime write the id maps' });
      ops.push({ op: 'SYNC', what: 'write the user namespace id maps', tag: 'userns' });
      if (rootless) ops.push({ op: 'PRCTL', a: [PR.SET_DUMPABLE, 0, 0, 0], what: 'make the init non-dumpable again' });
      becomeRoot();
    }
    if (otherNew) ops.push({ op: 'UNSHARE', a: [otherNew], what: 'create namespaces' });
  } else {
    cloneFlags = otherNew | (userns ? CLONE.NEWUSER : 0) | (pidByClone ? CLONE.NEWPID : 0);
    if (userns) becomeRoot();
    joinOps();
  }
  // The cgroup namespace is made after the parent placed us in our cgroup, so that is its root.
  if (isNew('cgroup')) ops.push({ op: 'UNSHARE', a: [CLONE.NEWCGROUP], what: 'create cgroup namespace' });

  if (needFork) {
    if (newTime) {
      ops.push({ op: 'UNSHARE', a: [CLONE.NEWTIME], what: 'create time namespace' });
      const text = Object.entries(offsets ?? {})
        .map(([clock, o]) => `${clock} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`)
        .join('');
      if (text) ops.push({ op: 'WRITE_PROC', strs: ['self/timens_offsets', text], what: 'set the time namespace offsets' });
    }
    const forkFlags = CLONE_PARENT | (isNew('pid') ? CLONE.NEWPID : 0);
    ops.push({ op: 'FORK', a: [forkFlags], what: 'fork into the new pid/time namespace' });
  }
  const idMapsAt: 'clone' | 'sync' | undefined = !userns ? undefined : unshareAfterJoin ? 'sync' : 'clone';
  return { cloneFlags, ops, userns, idMapsAt, types, joined };
}

/**
 * What the runtime found at a namespace path (src/launch/namespaces.ts looks, without opening
 * anything that is not a namespace): a namespace, with its runtime-spec type when the kernel can
 * tell (NS_GET_NSTYPE, Linux 4.11); another kind of file; or nothing it could open.
 */
export type NamespaceFile =
  | { kind: 'namespace'; type?: string }
  | { kind: 'other'; what: string }
  | { kind: 'unopenable'; code: string; text?: string };

/** "an ipc namespace", "a uts namespace" (said you-tee-ess), "a regular file". */
const article = (word: string): string => (word === 'ipc' ? 'an' : 'a');

/**
 * Why a namespace file cannot be joined as a namespace of `type`, or undefined when it can.
 * runtime-spec config-linux.md requires an error when the path is not a namespace of that type.
 * Any nsfs file qualifies, /proc/PID/ns/* or a bind mount of one (`ip netns add`, Podman, CNI,
 * the CRI's pod sandboxes). Without a type from the kernel, setns(fd, type) still refuses.
 */
export function namespaceFileProblem(type: string, nsPath: string, file: NamespaceFile): string | undefined {
  if (file.kind === 'unopenable') {
    if (file.code === 'ENOENT') return `${nsPath} does not exist`;
    return `cannot open ${nsPath}: ${file.code}${file.text ? ` (${file.text})` : ''}`;
  }
  if (file.kind === 'other') return `${nsPath} is not a namespace file (it is ${article(file.what)} ${file.what})`;
  if (file.type !== undefined && file.type !== type) return `${nsPath} is ${article(file.type)} ${file.type} namespace, not ${article(type)} ${type} namespace`;
  return undefined;
}
