/**
 * Rules for id-mapped mounts (mounts[].uidMappings/gidMappings, the idmap and ridmap options),
 * in runc's words where runc has them. Checked with the rest of the plan, before anything is made.
 */
import type { Mount } from '../generated/config';
import { InvalidConfigError } from '../errors';

/** `userns`: the container has a user namespace (new or joined), whose maps idmap may use. */
export function checkIdmapMount(m: Mount, userns: boolean): void {
  const options = m.options ?? [];
  const uid = Boolean(m.uidMappings?.length);
  const gid = Boolean(m.gidMappings?.length);
  const idmapOption = options.some((o) => o === 'idmap' || o === 'ridmap');
  if (!uid && !gid && !idmapOption) return;
  const where = `mounts: ${m.destination}`;
  if (uid !== gid) throw new InvalidConfigError(`${where}: id-mapped mounts must have both uid and gid mappings specified`);
  if (!options.some((o) => o === 'bind' || o === 'rbind')) {
    throw new InvalidConfigError(`${where}: id-mapped mounts are only supported for bind-mounts`);
  }
  if (!uid && !userns) {
    throw new InvalidConfigError(`${where}: the idmap option needs uidMappings and gidMappings, or a user namespace to take them from`);
  }
}
