/**
 * Rootless mode: what changes when the runtime is not real root (runc's rules, one home here).
 *
 * runc tells two things apart, and so do we:
 *  - an unprivileged caller (euid ≠ 0): the container needs a user namespace, id maps other than
 *    the caller's own go through newuidmap/newgidmap, supplementary groups are off when setgroups
 *    is denied, and nothing can raise an rlimit or lower oom_score_adj;
 *  - rootless cgroups (`--rootless`, by default: euid ≠ 0, or euid 0 in a user namespace other
 *    than the initial one, as under rootless Podman): a cgroup the caller may not create is
 *    skipped when the config names none and asks for no resources, instead of failing.
 *
 * Pure: the caller's identity and what the host allows come in as facts (src/launch/caller.ts,
 * src/launch/host-probe.ts).
 */
import { InvalidConfigError, RuntimeError } from '../errors';
import type { Caller } from './caller-rules';
import { controllerFor, fieldsNeedingCgroup } from './rules/resources';
import type { IDMapping, LinuxResources, Process, Spec } from '../generated/config';
import { RLIMITS } from './linux-constants';

// ------------------------------------------------------------------------------------------ cgroups

/** Whether the caller can make the container's cgroup: the first directory it may not write. */
export interface CgroupAccess {
  writable: boolean;
  denied?: string;
}

export type CgroupUse = { use: true } | { use: false; reason: string };

/**
 * Whether a container gets a cgroup. Without rootless cgroups, always (a refusal is then an
 * error). With them, a cgroup the caller may write (a delegated subtree) is used; otherwise,
 * as runc does, the container goes without one when its config names no cgroupsPath and asks
 * for no resources, and fails with a clear error when it does.
 */
export function planCgroupUse(o: { rootless: boolean; configPath?: string; access: CgroupAccess; resources?: LinuxResources }): CgroupUse {
  if (!o.rootless || o.access.writable) return { use: true };
  const why = `no write access to ${o.access.denied}`;
  const fix = 'run from a cgroup delegated to this user (a systemd user session on cgroup v2), or as root';
  if (o.configPath) {
    throw new RuntimeError(`linux.cgroupsPath: cannot create cgroup ${o.configPath} in a rootless container: ${why}; ${fix}, or leave cgroupsPath unset to run without a cgroup`);
  }
  const asked = fieldsNeedingCgroup(o.resources);
  if (asked.length) {
    throw new InvalidConfigError(
      `linux.resources.${asked[0]}: cannot set ${controllerFor(asked[0], false)} limit: container could not join or create cgroup (rootless: ${why}); ${fix}, or drop linux.resources`,
    );
  }
  return { use: false, reason: why };
}

// ------------------------------------------------------------------------------------------ id maps


/** How the runtime writes a new user namespace's maps. */
export interface IdMapWrite {
  /** 'direct': the runtime writes /proc/PID/uid_map; 'helper': newuidmap does. */
  uid: 'direct' | 'helper';
  gid: 'direct' | 'helper';
  /** Write "deny" to /proc/PID/setgroups first: the kernel's condition for an unprivileged gid_map. */
  denySetgroups: boolean;
}

export const PRIVILEGED_ID_MAPS: IdMapWrite = { uid: 'direct', gid: 'direct', denySetgroups: false };

function onlyOwn(maps: readonly IDMapping[] | undefined, own: number): boolean {
  return maps?.length === 1 && maps[0].hostID === own && maps[0].size === 1;
}

/**
 * Root (of any user namespace: there it holds CAP_SETUID over its ids) writes maps itself. An
 * unprivileged caller may write only a map of its own id, and for gids only with setgroups
 * denied; anything more goes through newuidmap/newgidmap, which check /etc/subuid and /etc/subgid.
 */
export function planIdMapWrite(uidMappings: readonly IDMapping[] | undefined, gidMappings: readonly IDMapping[] | undefined, c: Caller): IdMapWrite {
  if (c.euid === 0) return PRIVILEGED_ID_MAPS;
  const gidDirect = onlyOwn(gidMappings, c.egid);
  return { uid: onlyOwn(uidMappings, c.euid) ? 'direct' : 'helper', gid: gidDirect ? 'direct' : 'helper', denySetgroups: gidDirect };
}

export function formatMappings(maps: readonly IDMapping[] | undefined): string {
  return (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}`).join(', ');
}

// ------------------------------------------------------------------------------------------ checks

/** What a caller without real root may do, read from the host. */
export interface RootlessFacts extends Caller {
  /** newuidmap and newgidmap, when installed. */
  newuidmap?: string;
  newgidmap?: string;
  /** The runtime's own hard rlimits by resource number (unlimited: 2^64-1); missing: unknown. */
  hardLimits: Partial<Record<number, bigint>>;
  /** The runtime's own oom_score_adj. */
  oomScoreAdj: number;
  /** /proc/self/setgroups of the runtime's user namespace allows setgroups(2). */
  setgroupsAllowed: boolean;
}

const UNLIMITED = (1n << 64n) - 1n;

function limitText(v: bigint): string {
  return v >= UNLIMITED ? 'unlimited' : String(v);
}

/**
 * The config fields an unprivileged caller cannot honour, as errors that say so before anything
 * is made. Returns how the id maps are written (when the config makes a user namespace).
 */
export function checkRootless(spec: Spec, f: RootlessFacts, userns: { types: Set<string>; isNew: boolean }): IdMapWrite | undefined {
  const linux = spec.linux ?? {};
  const who = f.euid !== 0 ? `uid ${f.euid}` : 'root of a user namespace';
  if (f.euid !== 0 && !userns.types.has('user')) {
    throw new InvalidConfigError(
      `linux.namespaces: rootless container requires user namespaces (tsruntime runs as uid ${f.euid}, not root): add a "user" namespace with uidMappings and gidMappings, as \`tsruntime spec --rootless\` writes`,
    );
  }
  if (linux.netDevices && Object.keys(linux.netDevices).length) {
    throw new InvalidConfigError(`linux.netDevices: moving host network devices needs root; a rootless container (${who}) cannot`);
  }
  checkRlimitsRootless(spec.process, f, who);
  const adj = spec.process?.oomScoreAdj;
  if (adj !== undefined && adj < f.oomScoreAdj) {
    throw new InvalidConfigError(`process.oomScoreAdj: ${adj} is below the runtime's own (${f.oomScoreAdj}): a rootless container (${who}) can only raise it`);
  }
  if (userns.isNew) checkMountIds(spec);
  let write: IdMapWrite | undefined;
  if (userns.isNew) {
    write = planIdMapWrite(linux.uidMappings, linux.gidMappings, f);
    if (write.uid === 'helper' && !f.newuidmap) throw missingHelper('newuidmap', 'linux.uidMappings', linux.uidMappings, `uid ${f.euid}`);
    if (write.gid === 'helper' && !f.newgidmap) throw missingHelper('newgidmap', 'linux.gidMappings', linux.gidMappings, `gid ${f.egid}`);
  }
  return write;
}

function missingHelper(helper: string, field: string, maps: readonly IDMapping[] | undefined, own: string): InvalidConfigError {
  return new InvalidConfigError(
    `${field}: mapping ${formatMappings(maps)} needs ${helper} (an unprivileged user may map only its own ${own} itself), and ${helper} is not installed: install it (Debian and Ubuntu: package uidmap)`,
  );
}

/**
 * uid=/gid= mount options must name ids the container's user namespace maps (runc's check):
 * the kernel refuses the mount otherwise (devpts's gid= is dropped in a user namespace anyway).
 */
function checkMountIds(spec: Spec): void {
  const linux = spec.linux ?? {};
  for (const m of spec.mounts ?? []) {
    if (m.type === 'devpts') continue;
    for (const opt of m.options ?? []) {
      const hit = /^(uid|gid)=(\d+)$/.exec(opt);
      if (!hit) continue;
      const maps = hit[1] === 'uid' ? linux.uidMappings : linux.gidMappings;
      const id = Number(hit[2]);
      if ((maps ?? []).some((x) => id >= x.containerID && id < x.containerID + x.size)) continue;
      throw new InvalidConfigError(`mounts: ${m.destination}: cannot specify ${opt} mount option for rootless container: ${hit[1]} ${id} is not mapped in its user namespace (${formatMappings(maps) || 'no mappings'})`);
    }
  }
}

function checkRlimitsRootless(proc: Process | undefined, f: RootlessFacts, who: string): void {
  for (const rl of proc?.rlimits ?? []) {
    const have = f.hardLimits[RLIMITS[rl.type]];
    if (have === undefined) continue;
    // JSON numbers are doubles: 2^64-1 (RLIM_INFINITY) arrives as 2^64.
    const want = rl.hard >= 2 ** 64 - 1 ? UNLIMITED : BigInt(Math.trunc(rl.hard));
    if (want > have) {
      throw new InvalidConfigError(
        `process.rlimits: ${rl.type} hard limit ${limitText(want)} is above the caller's own (${limitText(have)}): a rootless container (${who}) cannot raise it; lower it in config.json, or raise this user's limit`,
      );
    }
  }
}

/**
 * Whether the process may call setgroups(2) in the user namespace it ends up in, and the error
 * for additionalGids when it may not (runc: "cannot set any additional groups in a rootless
 * container"). Supplementary groups are then left as they are, as runc does.
 */
export function checkSetgroups(proc: Process | undefined, allowed: boolean): void {
  if (allowed || !proc?.user?.additionalGids?.length) return;
  throw new InvalidConfigError(
    'process.user.additionalGids: cannot set any additional groups in a rootless container: its user namespace denies setgroups (a gid map of only the caller\'s own gid); map more gids through newgidmap and /etc/subgid, or drop additionalGids',
  );
}
