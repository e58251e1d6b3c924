/**
 * The id-mapped mounts a plan names (InitPlan.idmapMounts), made by the runtime before the spawn:
 * each a detached, id-mapped bind, bound to its slot of the plan for the init to move into place.
 *
 * Each distinct mapping gets one throwaway user namespace, shared by the mounts that use it. An
 * idmap without mappings in a container with a new user namespace gets one with the container's
 * maps, because that namespace does not exist yet (a namespace with the same maps maps ids the
 * same way). A joined user namespace is used as it is.
 */
import { errnoName, errnoText, RuntimeError } from '../errors';
import type { IdmapMount } from '../plan/mounts-plan';
import { idMapText } from './id-maps';
import { IdmapShim, loadIdmapShim } from '../native/idmap';
import { closeAll } from '../state/proc';

const EINVAL = 22;

/**
 * Make the mounts: slot → mount fd. Every mount fd is pushed to `fds` as soon as it exists (the
 * caller closes them once the init has its copies); the user namespaces made for them are closed
 * here. Throws a RuntimeError naming the mount and what failed.
 */
export function makeIdmapMounts(mounts: readonly IdmapMount[], fds: number[]): Record<string, number> {
  const slots: Record<string, number> = {};
  if (!mounts.length) return slots;
  const shim = loadIdmapShim();
  const namespaces = new Map<string, number>();
  try {
    for (const m of mounts) {
      let userns: number;
      if ('usernsFd' in m.mapping) {
        userns = m.mapping.usernsFd;
      } else {
        const uid = idMapText(m.mapping.maps.uid);
        const gid = idMapText(m.mapping.maps.gid);
        const made = namespaces.get(`${uid}/${gid}`) ?? makeUserns(shim, m, uid, gid);
        namespaces.set(`${uid}/${gid}`, made);
        userns = made;
      }
      slots[m.slot] = makeMount(shim, m, userns);
      fds.push(slots[m.slot]);
    }
  } finally {
    closeAll([...namespaces.values()]);
  }
  return slots;
}

const USERNS_STEPS = ['', 'clone', 'write uid_map', 'write gid_map', 'open its ns/user'];

function makeUserns(shim: IdmapShim, m: IdmapMount, uid: string, gid: string): number {
  const r = shim.usernsFd(uid, gid);
  if ('fd' in r) return r.fd;
  throw new RuntimeError(`mounts: ${m.destination}: failed to create userns for ${m.source} id-mapping: ${USERNS_STEPS[r.step] ?? 'step ' + r.step}: ${errnoText(errnoName(r.errno))}`);
}

function makeMount(shim: IdmapShim, m: IdmapMount, userns: number): number {
  const r = shim.idmappedMount(m.source, userns, { rbind: m.rbind, recursive: m.recursive });
  if ('fd' in r) return r.fd;
  const why = errnoText(errnoName(r.errno));
  const where = `mounts: ${m.destination}`;
  if (r.step === 1) throw new RuntimeError(`${where}: open_tree(OPEN_TREE_CLONE) ${m.source}: ${why}`);
  if (r.step === 2) throw new RuntimeError(`${where}: make the bind of ${m.source} a slave mount: ${why}`);
  // runc's words. EINVAL is what a filesystem that cannot be id-mapped answers.
  const unsupported = "EINVAL (maybe the filesystem used doesn't support idmap mounts on this kernel?)";
  throw new RuntimeError(`${where}: failed to set MOUNT_ATTR_IDMAP on ${m.source}: ${r.errno === EINVAL ? unsupported : why}`);
}
