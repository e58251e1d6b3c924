/**
 * Rules for id-mapped mounts (mounts[].uidMappings/gidMappings, the idmap and ridmap options),
 * in runc's words where runc has them, and where each one takes its mapping from. Checked with
 * the rest of the plan, before anything is made.
 */
import type { IDMapping, Mount } from '../generated/config';
import { InvalidConfigError, UnsupportedError } from '../errors';

/**
 * Where an id-mapped mount takes its mapping from: a user namespace the runtime makes with these
 * maps (the mount's own, or those of the container's new user namespace, which does not exist
 * yet when the mount is made), or the user namespace the container joins (an fd of the plan's).
 */
export type IdmapMapping = { maps: { uid: IDMapping[]; gid: IDMapping[] } } | { usernsFd: number };

/** The container's user namespace, as idmap without mappings uses it: none, new (its maps), joined (an fd). */
export type ContainerUserns = IdmapMapping | undefined;

export interface IdmapRequest {
  /** ridmap: every mount of an rbind's tree is mapped, not only its top. */
  recursive: boolean;
  mapping: IdmapMapping;
}

/** What the rules need to know besides the mount. */
export interface IdmapEnv {
  /** The container's user namespace, for idmap without mappings of the mount's own. */
  userns: ContainerUserns;
  /** The runtime is not euid 0 (runc's RootlessEUID): it cannot id-map a host filesystem. */
  unprivileged?: boolean;
  /** Whether the kernel has mount_setattr(2) (default: yes); asked only of an id-mapped mount. */
  supported?(): boolean;
}

/**
 * Whether mount `m` is id-mapped, and how; undefined when it is a plain mount. `isBind`: the
 * planner's notion of a bind mount (a bind/rbind option, or type "bind").
 */
export function idmapOf(m: Mount, isBind: boolean, env: IdmapEnv): IdmapRequest | undefined {
  const options = m.options ?? [];
  const where = `mounts: ${m.destination}`;
  // crun's own syntax (mappings inside the option): as filesystem data a bind would drop it silently.
  const inline = options.find((o) => /^r?idmap=/.test(o));
  if (inline) throw new UnsupportedError(`${where}: option "${inline}" (mappings in the option) is not supported: give the mount uidMappings and gidMappings and the option "${inline.split('=')[0]}"`);
  const uid = m.uidMappings?.length ? m.uidMappings : undefined;
  const gid = m.gidMappings?.length ? m.gidMappings : undefined;
  // The last of the two options wins, as with every other option pair.
  const option = [...options].reverse().find((o) => o === 'idmap' || o === 'ridmap');
  if (!uid && !gid && !option) return undefined;
  if (!isBind) throw new InvalidConfigError(`${where}: id-mapped mounts are only supported for bind-mounts`);
  if (env.unprivileged) throw new UnsupportedError(`${where}: id-mapped mounts are not supported for rootless containers`);
  if (Boolean(uid) !== Boolean(gid)) throw new InvalidConfigError(`${where}: id-mapped mounts must have both uid and gid mappings specified`);
  // Mappings without either option: mapped, not recursively (runtime-spec: the option SHOULD be there).
  let mapping: IdmapMapping;
  if (uid && gid) mapping = { maps: { uid, gid } };
  else if (env.userns) mapping = env.userns;
  else throw new InvalidConfigError(`${where}: the idmap option needs uidMappings and gidMappings, or a user namespace to take them from`);
  if (env.supported && !env.supported()) {
    throw new UnsupportedError(`${where}: id-mapped mounts need mount_setattr(2) (Linux 5.12 or newer), which this kernel does not have`);
  }
  return { recursive: option === 'ridmap', mapping };
}

/** "0:100000:65536 70000:1000:1" (containerID:hostID:size) for a list of mappings, for step descriptions. */
export function formatIdMappings(maps: readonly IDMapping[]): string {
  return maps.map((m) => `${m.containerID}:${m.hostID}:${m.size}`).join(' ');
}
