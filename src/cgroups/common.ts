/**
 * What the v1 and v2 drivers share: the CgroupManager interface, cgroupsPath normalization,
 * and the filesystem routines (join, pids, kill, rmdir with retry) that do not depend on the
 * cgroup version. Everything is synchronous: the CLI's kill/delete/state load this module and
 * fs sync calls are the cheapest way to do a handful of small reads and writes.
 */
import fs from 'fs';
import path from 'path';
import { RuntimeError } from '../errors';
import type { CgroupMode } from './detect';
import type { LinuxResources } from '../generated/config';
import type { FreezerFile } from './frozen';
import { errCode, isSigkill, mkdirTracked, readProcs, removeCgroupDirs, writeCgroupFile, subdirs } from './cgroup-fs';

export interface CgroupManager {
  /** Normalized cgroupsPath: "/tsruntime/abc" (absolute: under each hierarchy root) or "a/b" (relative: under our own cgroup). */
  readonly cgroupsPath: string;
  /** 'v1' drives v1 and hybrid hosts, 'v2' pure cgroup v2 hosts. */
  readonly driver: 'v1' | 'v2';
  /** The host layout the manager was built for. */
  readonly mode: CgroupMode;
  /**
   * Absolute directory per controller (v1: "memory", "cpu", "name=systemd", ...; the cgroup2
   * directory is under ""). Co-mounted controllers share a directory.
   */
  readonly paths: Readonly<Record<string, string>>;
  /**
   * Whether a new process can enter the cgroup as it starts (born in it with CLONE_INTO_CGROUP, or
   * writing the v1 tasks files itself). false while the cgroup cannot exist before its first
   * process (a systemd scope is started with its pids): the process is then spawned where the
   * runtime is, and join(pid) puts it in before it is let go.
   */
  readonly selfJoin: boolean;
  /**
   * mkdir -p in every hierarchy used (v1: also fills empty cpuset.cpus/mems; v2: enables the available
   * controllers down the path). On failure, removes the directories this call created and throws.
   */
  create(): void;
  /** Write pid into cgroup.procs of every hierarchy (0 means the writing process). */
  join(pid: number): void;
  /** Pids in the cgroup (the pids hierarchy, or the first one, on v1). recursive adds sub-cgroups. */
  pids(recursive?: boolean): number[];
  /** Send signal to every process in the cgroup and its sub-cgroups, frozen meanwhile to avoid fork races. */
  killAll(signal: NodeJS.Signals | number): void;
  /** Freeze and wait until frozen (throws RuntimeError if the freezer is unavailable or times out). */
  freeze(): void;
  /** Thaw and wait until thawed. */
  thaw(): void;
  /** Whether this cgroup itself is frozen (not counting a frozen ancestor). false if it does not exist. */
  isFrozen(): boolean;
  /** Where isFrozen() reads, for a container's record (cgroups/frozen.ts); undefined without a freezer. */
  freezer(): FreezerFile | undefined;
  /** rmdir in every hierarchy (sub-cgroups first), retrying while EBUSY for budgetMs (1 s); ENOENT is fine. Parents are left. */
  destroy(budgetMs?: number): void;
  /**
   * The directories destroy() removes, when removing them is all it does (v1, v2); undefined when
   * it needs the driver (systemd stops the unit). create records them, so that delete can remove
   * an empty cgroup without reading the host's layout or loading a driver.
   */
  dirsToRemove(): readonly string[] | undefined;
  /** Whether the cgroup directory exists in any hierarchy used. */
  exists(): boolean;
  /**
   * Apply linux.resources to the cgroup: create calls it after create() and before join(), `update`
   * on a live container. Errors name the config field ("linux.resources.memory.swap: ...").
   * Device rules are always applied at create (runc's defaults even with no config rules).
   */
  applyResources(resources: LinuxResources, opts?: ApplyOptions): void;
  /** Usage counters in the shape of runc's `events --stats` data (types.Stats). */
  stats(): import('./stats').Stats;
  /** OOM kills in the cgroup so far (memory.events oom_kill, v1 memory.oom_control oom_kill); undefined without a memory controller. */
  oomKillCount(): number | undefined;
}

export interface ApplyOptions {
  /**
   * linux.devices of the config: runc leaves out a default device rule whose device path the
   * config lists itself (its own resources.devices rule then decides).
   */
  linuxDevicePaths?: readonly string[];
  /**
   * `update`: the resources are the container's merged, updated set; devices are left alone
   * (runc's update never touches them).
   */
  update?: boolean;
  /**
   * Leave the device rules alone (a rootless create): only root may load a device filter or
   * write devices.allow, and runc skips them too.
   */
  skipDevices?: boolean;
}

export interface CgroupManagerOptions {
  /** linux.cgroupsPath from config.json; empty or absent → "/tsruntime/<id>". */
  cgroupsPath?: string;
  /** Container id (names the default cgroup). */
  id: string;
  /** --systemd-cgroup: cgroupsPath is "slice:prefix:name", the cgroup a transient systemd scope. */
  systemd?: boolean;
}

export const DEFAULT_PARENT = '/tsruntime';

/**
 * Normalize a cgroupsPath like runc's cgroupfs driver: repeated slashes and "." dropped, ".."
 * resolved lexically. Unlike runc (which clamps ".." at the root) a ".." that would climb above the
 * start (the hierarchy root for absolute paths, our own cgroup for relative ones) is rejected, and so
 * is a path naming the root itself. No path → "/tsruntime/<id>".
 */
export function normalizeCgroupsPath(cgroupsPath: string | undefined, id: string): string {
  if (cgroupsPath === undefined || cgroupsPath === '') {
    if (id === '' || id === '.' || id === '..' || /[/\0\n]/.test(id)) {
      throw new RuntimeError(`invalid container id for a cgroup name: ${JSON.stringify(id)}`);
    }
    return `${DEFAULT_PARENT}/${id}`;
  }
  if (/[\0\n]/.test(cgroupsPath)) throw new RuntimeError(`invalid cgroupsPath ${JSON.stringify(cgroupsPath)}`);
  const absolute = cgroupsPath.startsWith('/');
  const parts: string[] = [];
  for (const seg of cgroupsPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length === 0) {
        throw new RuntimeError(`cgroupsPath ${JSON.stringify(cgroupsPath)} escapes the cgroup ${absolute ? 'hierarchy root' : 'of the runtime'}`);
      }
      parts.pop();
    } else parts.push(seg);
  }
  if (parts.length === 0) {
    throw new RuntimeError(`cgroupsPath ${JSON.stringify(cgroupsPath)} names the ${absolute ? 'root cgroup' : "runtime's own cgroup"}, not a cgroup of its own`);
  }
  return (absolute ? '/' : '') + parts.join('/');
}

/**
 * The directory of cgroupsPath in one hierarchy mounted at mountPoint (whose mountinfo root is
 * mountRoot). Absolute: mountPoint + path. Relative: mountPoint + (own cgroup relative to the
 * mount root) + path. ownPath is this process's cgroup in that hierarchy, from /proc/self/cgroup.
 */
export function resolveDir(mountPoint: string, mountRoot: string, cgroupsPath: string, ownPath?: string): string {
  if (cgroupsPath.startsWith('/')) return path.posix.join(mountPoint, cgroupsPath);
  if (ownPath === undefined) throw new RuntimeError(`cannot resolve relative cgroupsPath ${JSON.stringify(cgroupsPath)}: own cgroup not found for ${mountPoint}`);
  let own = ownPath;
  if (mountRoot !== '/' && (own === mountRoot || own.startsWith(mountRoot + '/'))) own = own.slice(mountRoot.length) || '/';
  return path.posix.join(mountPoint, own, cgroupsPath);
}

// ---------------------------------------------------------------------------------------------
// Small synchronous filesystem helpers.

/** The parts of a manager that do not depend on the cgroup version. */
export abstract class CgroupBase implements CgroupManager {
  abstract readonly driver: 'v1' | 'v2';
  readonly selfJoin = true;
  protected constructor(
    readonly mode: CgroupMode,
    readonly cgroupsPath: string,
    readonly paths: Readonly<Record<string, string>>,
    /** Every distinct directory to create, join and remove. */
    protected readonly dirs: string[],
    /** Where pids() reads cgroup.procs. */
    protected readonly procsDir: string,
  ) {}

  abstract applyResources(resources: LinuxResources, opts?: ApplyOptions): void;
  abstract stats(): import('./stats').Stats;
  abstract oomKillCount(): number | undefined;
  abstract freeze(): void;
  abstract thaw(): void;
  abstract isFrozen(): boolean;
  abstract freezer(): FreezerFile | undefined;
  /** Whether freeze() can work here (a freezer exists for this cgroup). */
  protected abstract canFreeze(): boolean;
  /** Driver hook run on each directory create() made or found, outermost first (cpuset copy, controller enabling). */
  protected abstract prepareDir(dir: string): void;
  /** Kill everything at once if the driver can (v2 cgroup.kill); false to fall back to signalling each pid. */
  protected fastKill(_signal: NodeJS.Signals | number): boolean {
    return false;
  }

  create(): void {
    const made: string[] = [];
    try {
      for (const dir of this.dirs) {
        made.push(...mkdirTracked(dir));
        this.prepareDir(dir);
      }
    } catch (e) {
      for (const dir of made.reverse()) {
        try {
          fs.rmdirSync(dir);
        } catch {
          /* best effort */
        }
      }
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(`create cgroup ${this.cgroupsPath}: ${errCode(e)}`);
    }
  }

  join(pid: number): void {
    if (!Number.isInteger(pid) || pid < 0) throw new RuntimeError(`join cgroup: invalid pid ${pid}`);
    for (const dir of this.dirs) {
      const file = path.join(dir, 'cgroup.procs');
      try {
        writeCgroupFile(file, String(pid));
      } catch (e) {
        const code = errCode(e);
        if (code === 'ESRCH') throw new RuntimeError(`join cgroup ${dir}: no process ${pid}`);
        if (code === 'ENOENT') throw new RuntimeError(`join cgroup ${dir}: cgroup does not exist`);
        throw new RuntimeError(`join cgroup ${dir} (pid ${pid}): ${code}`);
      }
    }
  }

  pids(recursive = false): number[] {
    if (!recursive) return readProcs(this.procsDir);
    const out: number[] = [];
    const walk = (dir: string): void => {
      out.push(...readProcs(dir));
      for (const sub of subdirs(dir)) walk(sub);
    };
    walk(this.procsDir);
    return out;
  }

  killAll(signal: NodeJS.Signals | number): void {
    if (!this.exists()) return;
    if (this.fastKill(signal)) return;
    const self = process.pid;
    const pids = this.pids(true);
    // Nothing to freeze or signal in an empty cgroup: a stopped container's, which delete sees most.
    if (!pids.some((pid) => pid !== self)) return;
    // Never freeze a cgroup we are in ourselves: we could not thaw it.
    const freezable = !pids.includes(self) && this.canFreeze();
    const wasFrozen = freezable && this.isFrozen();
    let froze = false;
    if (freezable && !wasFrozen) {
      try {
        this.freeze();
        froze = true;
      } catch {
        // Could not freeze: signal anyway, racing with forks.
      }
    }
    const failures: string[] = [];
    try {
      for (const pid of this.pids(true)) {
        if (pid === self) continue;
        try {
          process.kill(pid, signal);
        } catch (e) {
          if (errCode(e) !== 'ESRCH') failures.push(`${pid}: ${errCode(e)}`);
        }
      }
    } finally {
      // A frozen task cannot act on SIGKILL on v1: thaw a paused container that is being killed.
      if (froze || (wasFrozen && isSigkill(signal))) this.thaw();
    }
    if (failures.length > 0) throw new RuntimeError(`kill processes of cgroup ${this.cgroupsPath}: ${failures.join(', ')}`);
  }

  destroy(budgetMs?: number): void {
    removeCgroupDirs(this.dirs, budgetMs);
  }

  dirsToRemove(): readonly string[] {
    return this.dirs;
  }

  exists(): boolean {
    return this.dirs.some((dir) => fs.existsSync(dir));
  }
}
