/**
 * mounts[].options → mount(2) flags, propagation, recursive attributes and filesystem data,
 * with the option vocabulary runc accepts (libcontainer/specconv). Unknown options are passed
 * to the filesystem as data, as runc does (e.g. "mode=755", "size=65536k").
 */
import { MS } from './linux-constants';

// mount_setattr(2) attributes, for the "r*" recursive options.
export const MOUNT_ATTR = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  ATIME_MASK: 0x70,
  RELATIME: 0x0,
  NOATIME: 0x10,
  STRICTATIME: 0x20,
  NODIRATIME: 0x80,
  NOSYMFOLLOW: 0x200000,
} as const;

export interface ParsedMountOptions {
  /** Flags to set. */
  flags: number;
  /** Propagation flags (MS_SHARED etc., possibly with MS_REC), applied by a separate mount call. */
  propagation: number[];
  /** Recursive attributes for mount_setattr(AT_RECURSIVE). */
  recAttrSet: number;
  recAttrClr: number;
  /** Filesystem-specific options, joined with ",". */
  data: string;
  bind: boolean;
}

const SET_FLAGS: Record<string, number> = {
  ro: MS.RDONLY,
  nosuid: MS.NOSUID,
  nodev: MS.NODEV,
  noexec: MS.NOEXEC,
  sync: MS.SYNCHRONOUS,
  remount: MS.REMOUNT,
  mand: MS.MANDLOCK,
  dirsync: MS.DIRSYNC,
  noatime: MS.NOATIME,
  nodiratime: MS.NODIRATIME,
  relatime: MS.RELATIME,
  strictatime: MS.STRICTATIME,
  lazytime: MS.LAZYTIME,
  nosymfollow: MS.NOSYMFOLLOW,
  bind: MS.BIND,
  rbind: MS.BIND | MS.REC,
  silent: MS.SILENT,
};

const CLEAR_FLAGS: Record<string, number> = {
  rw: MS.RDONLY,
  suid: MS.NOSUID,
  dev: MS.NODEV,
  exec: MS.NOEXEC,
  async: MS.SYNCHRONOUS,
  nomand: MS.MANDLOCK,
  atime: MS.NOATIME,
  diratime: MS.NODIRATIME,
  norelatime: MS.RELATIME,
  nostrictatime: MS.STRICTATIME,
  nolazytime: MS.LAZYTIME,
  symfollow: MS.NOSYMFOLLOW,
  loud: MS.SILENT,
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

const REC_SET: Record<string, number> = {
  rro: MOUNT_ATTR.RDONLY,
  rnosuid: MOUNT_ATTR.NOSUID,
  rnodev: MOUNT_ATTR.NODEV,
  rnoexec: MOUNT_ATTR.NOEXEC,
  rnodiratime: MOUNT_ATTR.NODIRATIME,
  rnosymfollow: MOUNT_ATTR.NOSYMFOLLOW,
};
const REC_CLR: Record<string, number> = {
  rrw: MOUNT_ATTR.RDONLY,
  rsuid: MOUNT_ATTR.NOSUID,
  rdev: MOUNT_ATTR.NODEV,
  rexec: MOUNT_ATTR.NOEXEC,
  rdiratime: MOUNT_ATTR.NODIRATIME,
  rsymfollow: MOUNT_ATTR.NOSYMFOLLOW,
};
// The atime family replaces the whole ATIME_MASK field.
const REC_ATIME: Record<string, number> = {
  rnoatime: MOUNT_ATTR.NOATIME,
  rrelatime: MOUNT_ATTR.RELATIME,
  rstrictatime: MOUNT_ATTR.STRICTATIME,
};

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  const out: ParsedMountOptions = { flags: 0, propagation: [], recAttrSet: 0, recAttrClr: 0, data: '', bind: false };
  const data: string[] = [];
  for (const opt of options) {
    if (opt in SET_FLAGS) out.flags |= SET_FLAGS[opt];
    else if (opt in CLEAR_FLAGS) out.flags &= ~CLEAR_FLAGS[opt];
    else if (opt in PROPAGATION) out.propagation.push(PROPAGATION[opt]);
    else if (opt in REC_SET) {
      out.recAttrSet |= REC_SET[opt];
      out.recAttrClr &= ~REC_SET[opt];
    } else if (opt in REC_CLR) {
      out.recAttrClr |= REC_CLR[opt];
      out.recAttrSet &= ~REC_CLR[opt];
    } else if (opt in REC_ATIME) {
      out.recAttrClr |= MOUNT_ATTR.ATIME_MASK;
      out.recAttrSet = (out.recAttrSet & ~MOUNT_ATTR.ATIME_MASK) | REC_ATIME[opt];
    } else if (opt === 'tmpcopyup' || opt === 'idmap' || opt === 'ridmap') {
      // Extensions handled elsewhere (or not yet): they never reach the filesystem as data.
    } else data.push(opt);
  }
  out.bind = (out.flags & MS.BIND) !== 0;
  out.data = data.join(',');
  return out;
}

/** Flags that a bind mount only honours on a remount (the first bind ignores them). */
export const BIND_REMOUNT_FLAGS =
  MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.NOATIME | MS.NODIRATIME | MS.RELATIME |
  MS.STRICTATIME | MS.NOSYMFOLLOW;

/** Every option name this parser understands, for `features`. */
export const MOUNT_OPTION_NAMES: string[] = [
  ...Object.keys(SET_FLAGS), ...Object.keys(CLEAR_FLAGS), ...Object.keys(PROPAGATION),
  ...Object.keys(REC_SET), ...Object.keys(REC_CLR), ...Object.keys(REC_ATIME), 'tmpcopyup',
].sort();
