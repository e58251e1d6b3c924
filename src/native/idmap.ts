/**
 * Bindings of native/shim/idmap.c (in libtsrshim.so): the runtime's side of id-mapped mounts.
 * Failures come back as the errno and the number of the step that failed (idmap.c lists them),
 * for the caller's message.
 */
import { shimLibrary } from './shim';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => any;

export type NativeResult = { fd: number } | { errno: number; step: number };

export interface IdmapShim {
  /** Whether this kernel has mount_setattr(2) (Linux 5.12 or newer). */
  supported(): boolean;
  /** A user namespace holding these maps ("inside outside count" lines), as an fd; steps 1 clone, 2 uid_map, 3 gid_map, 4 ns/user. */
  usernsFd(uidMap: string, gidMap: string): NativeResult;
  /**
   * A detached bind of `source`, id-mapped with the maps of the user namespace `usernsFd`:
   * `rbind` takes the whole tree under source, `recursive` maps every mount of it (ridmap).
   * Steps: 1 open_tree, 2 propagation, 3 MOUNT_ATTR_IDMAP.
   */
  idmappedMount(source: string, usernsFd: number, opts: { rbind: boolean; recursive: boolean }): NativeResult;
}

let cached: IdmapShim | undefined;

export function loadIdmapShim(): IdmapShim {
  if (cached) return cached;
  const lib = shimLibrary();
  const supported: Fn = lib.func('int tsr_idmap_supported()');
  const usernsFd: Fn = lib.func('int tsr_userns_fd(const char *uid_map, const char *gid_map, _Out_ int32_t *step)');
  const idmappedMount: Fn = lib.func('int tsr_idmapped_mount(const char *source, int userns_fd, uint32_t flags, _Out_ int32_t *step)');
  const result = (rc: number, step: number): NativeResult => (rc >= 0 ? { fd: rc } : { errno: -rc, step });
  cached = {
    supported: () => supported() === 1,
    usernsFd(uidMap, gidMap) {
      const step = [0];
      return result(usernsFd(uidMap, gidMap, step), step[0]);
    },
    idmappedMount(source, fd, opts) {
      const step = [0];
      return result(idmappedMount(source, fd, (opts.rbind ? 1 : 0) | (opts.recursive ? 2 : 0), step), step[0]);
    },
  };
  return cached;
}
