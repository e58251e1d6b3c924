/**
 * cgroup v2 driver (pure unified hosts): one directory under the cgroup2 mount.
 *
 * create() enables, best effort, every available controller in cgroup.subtree_control of each
 * ancestor (like runc's CreateCgroupPath) so that the container's cgroup gets memory, pids, ...
 * linux.resources are written by v2-resources.ts (memory.max, pids.max, ..., the device filter).
 */
import fs from 'fs';
import path from 'path';
import { RuntimeError } from '../errors';
import { CgroupBase, resolveDir } from './common';
import { enableControllers, errCode, isSigkill, readCgroupFile, waitFor, writeCgroupFile } from './cgroup-fs';
import type { CgroupLayout } from './detect';
import type { LinuxResources } from '../generated/config';
import type { ApplyOptions } from './common';
import type { Stats } from './stats';
import { FreezerFile, isFrozenAt } from './frozen';

const FREEZE_TIMEOUT_MS = 5000;
const THAW_TIMEOUT_MS = 1000;

export class V2Manager extends CgroupBase {
  readonly driver = 'v2' as const;
  readonly dir: string;
  private readonly mountPoint: string;

  /**
   * own: this process's cgroups (parseProcCgroup), needed only when cgroupsPath is relative.
   * A relative path goes under the *parent* of our own cgroup, as in runc: our own cgroup has
   * processes (us), so controllers could not be enabled for its children.
   */
  constructor(layout: CgroupLayout, cgroupsPath: string, own?: Map<string, string>) {
    const unified = layout.unified;
    if (!unified) throw new RuntimeError('no cgroup2 filesystem is mounted');
    const ownPath = own?.get('');
    const dir = resolveDir(unified.mountPoint, unified.root, cgroupsPath, ownPath === undefined ? undefined : path.posix.dirname(ownPath));
    super(layout.mode, cgroupsPath, { '': dir }, [dir], dir);
    this.dir = dir;
    this.mountPoint = unified.mountPoint;
  }

  applyResources(resources: LinuxResources, opts?: ApplyOptions): void {
    resourcesV2().applyV2(this.dir, resources, opts);
  }

  stats(): Stats {
    return resourcesV2().statsV2(this.dir);
  }

  oomKillCount(): number | undefined {
    return resourcesV2().oomKillCountV2(this.dir);
  }

  protected prepareDir(dir: string): void {
    enableControllers(this.mountPoint, dir);
  }

  protected canFreeze(): boolean {
    return fs.existsSync(path.join(this.dir, 'cgroup.freeze'));
  }

  /** cgroup.kill (Linux 5.14+) kills the whole subtree at once, with no fork race. */
  protected override fastKill(signal: NodeJS.Signals | number): boolean {
    if (!isSigkill(signal)) return false;
    try {
      writeCgroupFile(path.join(this.dir, 'cgroup.kill'), '1');
      return true;
    } catch {
      return false; // no cgroup.kill: signal each process
    }
  }

  private writeFreeze(value: '0' | '1'): void {
    const file = path.join(this.dir, 'cgroup.freeze');
    try {
      writeCgroupFile(file, value);
    } catch (e) {
      const code = errCode(e);
      if (code === 'ENOENT') {
        if (!fs.existsSync(this.dir)) throw new RuntimeError(`cgroup ${this.cgroupsPath} does not exist`);
        throw new RuntimeError('cannot freeze or thaw: this kernel has no cgroup v2 freezer (cgroup.freeze needs Linux 5.2)');
      }
      throw new RuntimeError(`write ${value} to ${file}: ${code}`);
    }
  }

  /** The "frozen" field of cgroup.events (effective state, including a frozen ancestor). */
  private frozenEvent(): boolean {
    const file = path.join(this.dir, 'cgroup.events');
    let text: string;
    try {
      text = readCgroupFile(file);
    } catch (e) {
      throw new RuntimeError(`read ${file}: ${errCode(e)}`);
    }
    return /^frozen 1$/m.test(text);
  }

  freeze(): void {
    this.writeFreeze('1');
    if (!waitFor(() => this.frozenEvent(), FREEZE_TIMEOUT_MS)) {
      try {
        this.writeFreeze('0');
      } catch {
        /* the timeout matters more */
      }
      throw new RuntimeError(`unable to freeze cgroup ${this.cgroupsPath}: timed out`);
    }
  }

  thaw(): void {
    this.writeFreeze('0');
    if (!waitFor(() => !this.frozenEvent(), THAW_TIMEOUT_MS)) {
      throw new RuntimeError(`cgroup ${this.cgroupsPath} is still frozen after thawing (is a parent cgroup frozen?)`);
    }
  }

  isFrozen(): boolean {
    return isFrozenAt({ version: 2, dir: this.dir });
  }

  freezer(): FreezerFile {
    return { version: 2, dir: this.dir };
  }
}

/**
 * Resources and stats load when used: state, start, kill and delete use this manager only to
 * freeze, kill and remove, and pay for no more.
 */
function resourcesV2(): typeof import('./v2-resources') {
  return require('./v2-resources');
}
