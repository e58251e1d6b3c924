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
  /** Flags the options explicitly cleared (rw, suid, ...): a bind remount must not keep them. */
  cleared: number;
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
  iversion: MS.I_VERSION,
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
  noiversion: MS.I_VERSION,
};

/** Options that are valid and mean "nothing to set" (mount(8)'s "defaults" = rw,suid,dev,exec,auto,nouser,async). */
const NO_OP = new Set(['defaults']);

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

// Recursive attributes, as runc maps them: [set or clear, attribute]. The atime family is a
// 3-bit field: setting one of its values (RELATIME is 0) also clears the whole field.
const REC: Record<string, [boolean, number]> = {
  rro: [true, MOUNT_ATTR.RDONLY],
  rrw: [false, MOUNT_ATTR.RDONLY],
  rnosuid: [true, MOUNT_ATTR.NOSUID],
  rsuid: [false, MOUNT_ATTR.NOSUID],
  rnodev: [true, MOUNT_ATTR.NODEV],
  rdev: [false, MOUNT_ATTR.NODEV],
  rnoexec: [true, MOUNT_ATTR.NOEXEC],
  rexec: [false, MOUNT_ATTR.NOEXEC],
  rnodiratime: [true, MOUNT_ATTR.NODIRATIME],
  rdiratime: [false, MOUNT_ATTR.NODIRATIME],
  rrelatime: [true, MOUNT_ATTR.RELATIME],
  rnorelatime: [false, MOUNT_ATTR.RELATIME],
  rnoatime: [true, MOUNT_ATTR.NOATIME],
  ratime: [false, MOUNT_ATTR.NOATIME],
  rstrictatime: [true, MOUNT_ATTR.STRICTATIME],
  rnostrictatime: [false, MOUNT_ATTR.STRICTATIME],
  rnosymfollow: [true, MOUNT_ATTR.NOSYMFOLLOW],
  rsymfollow: [false, MOUNT_ATTR.NOSYMFOLLOW],
};
const ATIME_VALUES: number[] = [MOUNT_ATTR.RELATIME, MOUNT_ATTR.NOATIME, MOUNT_ATTR.STRICTATIME];

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  const out: ParsedMountOptions = { flags: 0, cleared: 0, propagation: [], recAttrSet: 0, recAttrClr: 0, data: '', bind: false };
  const data: string[] = [];
  for (const opt of options) {
    if (opt in SET_FLAGS) {
      out.flags |= SET_FLAGS[opt];
      out.cleared &= ~SET_FLAGS[opt];
    } else if (opt in CLEAR_FLAGS) {
      out.flags &= ~CLEAR_FLAGS[opt];
      out.cleared |= CLEAR_FLAGS[opt];
    }
    else if (opt in PROPAGATION) out.propagation.push(PROPAGATION[opt]);
    else if (opt in REC) {
      const [set, attr] = REC[opt];
      if (set) {
        out.recAttrSet |= attr;
        out.recAttrClr &= ~attr;
      } else {
        out.recAttrClr |= attr;
        out.recAttrSet &= ~attr;
      }
      // mount_setattr(2): an access-time value in attr_set needs MOUNT_ATTR__ATIME in attr_clr.
      if (ATIME_VALUES.includes(attr)) out.recAttrClr |= MOUNT_ATTR.ATIME_MASK;
    } else if (NO_OP.has(opt)) {
      // valid, nothing to do
    } else if (opt === 'tmpcopyup' || opt === 'idmap' || opt === 'ridmap') {
      // Extensions, never passed to the filesystem as data: idmap and ridmap are mount-rules.ts's.
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
  ...Object.keys(REC), ...NO_OP, 'tmpcopyup', 'idmap', 'ridmap',
].sort();
