/**
 * Which cgroup layout this host has, found by reading /proc/self/mountinfo (never from config).
 *
 * - 'v2'     : a cgroup2 mount (normally /sys/fs/cgroup) and no v1 controller hierarchies.
 * - 'v1'     : v1 hierarchies (cpu, memory, ..., name=systemd), no cgroup2 mount.
 * - 'hybrid' : v1 hierarchies plus a cgroup2 mount (normally /sys/fs/cgroup/unified) that holds
 *              few or no controllers; processes are placed in both.
 *
 * Everything here is pure (text in, data out) except readLayout(), readOwnCgroups() and
 * hostHugePageSizes(), so the unit tests can feed sample mountinfo text.
 */
import fs from 'fs';
import { RuntimeError } from '../errors';
import { hugePageSizeName } from './resources';

export interface MountInfoEntry {
  mountId: number;
  parentId: number;
  majorMinor: string;
  /** Path inside the filesystem that is mounted here ("/" unless a bind mount or a cgroup namespace). */
  root: string;
  mountPoint: string;
  mountOptions: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

/** One v1 hierarchy: a mount of fstype "cgroup" with one or more controllers, or a named one. */
export interface V1Hierarchy {
  mountPoint: string;
  root: string;
  /** Controller names (e.g. ["cpu", "cpuacct"]); named hierarchies appear as "name=systemd". */
  controllers: string[];
  /** Mounted with "noprefix": controller files lack their "<controller>." prefix (old cpuset setups). */
  noprefix: boolean;
}

export interface UnifiedMount {
  mountPoint: string;
  root: string;
}

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

export interface CgroupLayout {
  mode: CgroupMode;
  /** v1 hierarchies in mountinfo order (empty for 'v2'). Only name=systemd is kept of the named ones. */
  v1: V1Hierarchy[];
  /** The cgroup2 mount ('v2' and 'hybrid'). */
  unified?: UnifiedMount;
}

/** Undo the octal escapes mountinfo uses for space, tab, newline and backslash in paths. */
export function unescapeMountPath(s: string): string {
  return s.indexOf('\\') < 0 ? s : s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Parse /proc/<pid>/mountinfo text (proc(5)):
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * Malformed lines are skipped.
 */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (fields.length < 10 || sep < 0 || fields.length < sep + 4) continue;
    out.push({
      mountId: Number(fields[0]),
      parentId: Number(fields[1]),
      majorMinor: fields[2],
      root: unescapeMountPath(fields[3]),
      mountPoint: unescapeMountPath(fields[4]),
      mountOptions: fields[5].split(','),
      fsType: fields[sep + 1],
      source: unescapeMountPath(fields[sep + 2]),
      superOptions: fields[sep + 3].split(','),
    });
  }
  return out;
}

/** Super options of a v1 cgroup mount that are not controllers. */
const V1_NON_CONTROLLER_OPTIONS = new Set(['rw', 'ro', 'noprefix', 'clone_children', 'xattr', 'cpuset_v2_mode', 'none', 'all']);

function v1Controllers(superOptions: string[]): string[] {
  const out: string[] = [];
  for (const opt of superOptions) {
    if (V1_NON_CONTROLLER_OPTIONS.has(opt)) continue;
    if (opt.startsWith('name=')) out.push(opt);
    else if (!opt.includes('=')) out.push(opt); // release_agent=..., etc. are not controllers
  }
  return out;
}

function isUnder(path: string, dir: string): boolean {
  return path === dir || dir === '/' || path.startsWith(dir + '/');
}

/** Drop entries hidden by a later mount on the same place or on one of their ancestors. */
function visibleMounts(entries: MountInfoEntry[]): MountInfoEntry[] {
  return entries.filter((e, i) => !entries.some((later, j) => j > i && isUnder(e.mountPoint, later.mountPoint)));
}

/** The cgroup layout described by mountinfo (text or parsed). Throws RuntimeError when no cgroup is mounted. */
export function detectLayout(mountinfo: string | MountInfoEntry[]): CgroupLayout {
  const mounts = visibleMounts(typeof mountinfo === 'string' ? parseMountInfo(mountinfo) : mountinfo);

  const v1: V1Hierarchy[] = [];
  const seen = new Set<string>();
  // Prefer mounts under /sys/fs/cgroup when a hierarchy is mounted more than once.
  const v1Mounts = mounts.filter((m) => m.fsType === 'cgroup');
  v1Mounts.sort((a, b) => Number(!isUnder(a.mountPoint, '/sys/fs/cgroup')) - Number(!isUnder(b.mountPoint, '/sys/fs/cgroup')));
  for (const m of v1Mounts) {
    const controllers = v1Controllers(m.superOptions);
    if (controllers.length === 0 || controllers.some((c) => seen.has(c))) continue;
    const named = controllers.filter((c) => c.startsWith('name='));
    if (named.length > 0 && !named.includes('name=systemd')) continue; // other named hierarchies are not ours
    controllers.forEach((c) => seen.add(c));
    v1.push({ mountPoint: m.mountPoint, root: m.root, controllers, noprefix: m.superOptions.includes('noprefix') });
  }
  // Back to mountinfo order.
  v1.sort((a, b) => mounts.findIndex((m) => m.mountPoint === a.mountPoint) - mounts.findIndex((m) => m.mountPoint === b.mountPoint));

  const v2Mounts = mounts.filter((m) => m.fsType === 'cgroup2');
  const pick =
    v2Mounts.find((m) => m.mountPoint === '/sys/fs/cgroup') ??
    v2Mounts.find((m) => m.mountPoint === '/sys/fs/cgroup/unified') ??
    v2Mounts[0];
  const unified = pick ? { mountPoint: pick.mountPoint, root: pick.root } : undefined;

  const hasV1Controllers = v1.some((h) => h.controllers.some((c) => !c.startsWith('name=')));
  if (hasV1Controllers) return { mode: unified ? 'hybrid' : 'v1', v1, unified };
  if (unified) return { mode: 'v2', v1: [], unified };
  throw new RuntimeError('no cgroup filesystem is mounted (checked /proc/self/mountinfo)');
}

let selfMounts: MountInfoEntry[] | undefined;

/**
 * This process's mounts, read and parsed once per process: the cgroup layout and the planner's
 * host facts (cgroup hierarchies, resctrl) all come from this one read. The runtime mounts nothing
 * in its own namespace, so it cannot go stale while a command runs.
 */
export function selfMountInfo(): MountInfoEntry[] {
  return (selfMounts ??= parseMountInfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')));
}

let cachedLayout: CgroupLayout | undefined;

/** The layout of this process's mount namespace (read once per process). */
export function readLayout(): CgroupLayout {
  if (!cachedLayout) cachedLayout = detectLayout(selfMountInfo());
  return cachedLayout;
}

/**
 * Parse /proc/<pid>/cgroup ("hierarchy-id:controller,list:/path" per line) into
 * controller → path; the cgroup2 line ("0::/path") is stored under the key "".
 */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (controllers === '') {
      if (line.slice(0, first) === '0') out.set('', path);
      continue;
    }
    for (const c of controllers.split(',')) out.set(c, path);
  }
  return out;
}

/** This process's own cgroups (for cgroupsPath values that are relative). */
export function readOwnCgroups(): Map<string, string> {
  return parseProcCgroup(fs.readFileSync('/proc/self/cgroup', 'utf8'));
}

/** Huge page sizes of this host ("2MB", "1GB"), from /sys/kernel/mm/hugepages. */
export function hostHugePageSizes(): string[] {
  let names: string[];
  try {
    names = fs.readdirSync('/sys/kernel/mm/hugepages');
  } catch {
    return [];
  }
  return names.map(hugePageSizeName).filter((s): s is string => s !== undefined);
}
