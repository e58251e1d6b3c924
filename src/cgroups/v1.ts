/**
 * cgroup v1 driver (also used on hybrid hosts): one directory per mounted hierarchy (controllers
 * mounted together share one), plus name=systemd, plus on hybrid hosts the cgroup2 directory so
 * that the container's processes are placed there too (as runc does).
 *
 * linux.resources are written by v1-resources.ts through this.paths (memory.limit_in_bytes in
 * paths.memory, cpu.shares in paths.cpu, ...; on hybrid hosts hugetlb in the cgroup2 directory),
 * and usage is read by v1-stats.ts.
 */
import path from 'path';
import { RuntimeError } from '../errors';
import type { LinuxResources } from '../generated/config';
import { ApplyOptions, CgroupBase, resolveDir } from './common';
import { enableControllers, errCode, readCgroupFile, sleepMs, waitFor, writeCgroupFile } from './cgroup-fs';
import type { CgroupLayout } from './detect';
import type { V1Context } from './v1-resources';
import type { Stats } from './stats';
import { FreezerFile, isFrozenAt, v1FreezerState } from './frozen';

const FREEZE_TIMEOUT_MS = 5000;
const THAW_TIMEOUT_MS = 1000;

export class V1Manager extends CgroupBase {
  readonly driver = 'v1' as const;
  private readonly freezerDir?: string;
  private readonly cpuset?: { dir: string; mountPoint: string; prefix: string };
  private readonly unifiedMount?: string;

  /** own: this process's cgroups (parseProcCgroup), needed only when cgroupsPath is relative. */
  constructor(layout: CgroupLayout, cgroupsPath: string, own?: Map<string, string>) {
    const paths: Record<string, string> = {};
    const dirs: string[] = [];
    let procsDir: string | undefined;
    let cpuset: { dir: string; mountPoint: string; prefix: string } | undefined;
    for (const h of layout.v1) {
      const dir = resolveDir(h.mountPoint, h.root, cgroupsPath, own?.get(h.controllers[0]));
      for (const c of h.controllers) paths[c] = dir;
      dirs.push(dir);
      if (!procsDir && !h.controllers[0].startsWith('name=')) procsDir = dir;
      if (h.controllers.includes('cpuset')) cpuset = { dir, mountPoint: h.mountPoint, prefix: h.noprefix ? '' : 'cpuset.' };
    }
    if (layout.mode === 'hybrid' && layout.unified) {
      const dir = resolveDir(layout.unified.mountPoint, layout.unified.root, cgroupsPath, own?.get(''));
      paths[''] = dir;
      dirs.push(dir);
    }
    if (dirs.length === 0) throw new RuntimeError('no cgroup v1 hierarchy is mounted');
    super(layout.mode, cgroupsPath, paths, dirs, paths.pids ?? procsDir ?? dirs[0]);
    this.freezerDir = paths.freezer;
    this.cpuset = cpuset;
    if (layout.mode === 'hybrid' && layout.unified) this.unifiedMount = layout.unified.mountPoint;
  }

  private context(): V1Context {
    return {
      paths: this.paths,
      unifiedMount: this.unifiedMount,
      cpusetPrefix: this.cpuset?.prefix ?? 'cpuset.',
      enableUnified: (controllers) => {
        if (this.unifiedMount && this.paths['']) enableControllers(this.unifiedMount, this.paths[''], controllers);
      },
    };
  }

  applyResources(resources: LinuxResources, opts?: ApplyOptions): void {
    resourcesV1().applyV1(this.context(), resources, opts);
  }

  stats(): Stats {
    if (!this.exists()) throw new RuntimeError(`cgroup ${this.cgroupsPath} does not exist`);
    return (require('./v1-stats') as typeof import('./v1-stats')).statsV1(this.context());
  }

  oomKillCount(): number | undefined {
    return (require('./v1-stats') as typeof import('./v1-stats')).oomKillCountV1(this.paths);
  }

  protected prepareDir(dir: string): void {
    if (this.cpuset && dir === this.cpuset.dir) this.ensureCpuset();
  }

  /**
   * A new cpuset cgroup starts with empty cpuset.cpus and cpuset.mems (unless the hierarchy has
   * clone_children), and joining it then fails with ENOSPC. Fill every empty level from its
   * parent, top-down, like runc's cpuset ensureParent.
   */
  private ensureCpuset(): void {
    const { dir, mountPoint, prefix } = this.cpuset!;
    let parent = mountPoint;
    for (const seg of dir.slice(mountPoint.length).split('/').filter(Boolean)) {
      const current = path.join(parent, seg);
      for (const name of ['cpus', 'mems']) {
        const file = path.join(current, prefix + name);
        try {
          if (readCgroupFile(file).trim() !== '') continue;
          writeCgroupFile(file, readCgroupFile(path.join(parent, prefix + name)).trim());
        } catch (e) {
          throw new RuntimeError(`set up cpuset cgroup ${file}: ${errCode(e)}`);
        }
      }
      parent = current;
    }
  }

  protected canFreeze(): boolean {
    return this.freezerDir !== undefined && this.readState(true) !== undefined;
  }

  /** freezer.state trimmed; undefined if the cgroup (or the file) is missing and missingOk. */
  private readState(missingOk: boolean): string | undefined {
    return v1FreezerState(this.requireFreezer(), missingOk, this.cgroupsPath);
  }

  private writeState(state: 'FROZEN' | 'THAWED'): void {
    const file = path.join(this.requireFreezer(), 'freezer.state');
    try {
      writeCgroupFile(file, state);
    } catch (e) {
      if (errCode(e) === 'ENOENT') throw new RuntimeError(`cgroup ${this.cgroupsPath} does not exist in the freezer hierarchy`);
      throw new RuntimeError(`write ${state} to ${file}: ${errCode(e)}`);
    }
  }

  private requireFreezer(): string {
    if (this.freezerDir === undefined) throw new RuntimeError('cannot freeze or thaw: no cgroup v1 freezer hierarchy is mounted');
    return this.freezerDir;
  }

  freeze(): void {
    // The v1 freezer can stay FREEZING while tasks fork or join; like runc, rewrite FROZEN,
    // and now and then thaw briefly so that a stuck attempt can start over.
    try {
      const deadline = Date.now() + FREEZE_TIMEOUT_MS;
      for (let i = 0; ; i++) {
        if (i % 50 === 49) {
          this.writeState('THAWED');
          sleepMs(10);
        }
        this.writeState('FROZEN');
        const state = this.readState(false);
        if (state === 'FROZEN') return;
        if (state !== 'FREEZING') throw new RuntimeError(`unexpected freezer state ${state} while freezing ${this.cgroupsPath}`);
        if (Date.now() >= deadline) throw new RuntimeError(`unable to freeze cgroup ${this.cgroupsPath}: stuck in FREEZING`);
        if (i >= 20) sleepMs(1);
      }
    } catch (e) {
      // Never leave a cgroup half frozen.
      try {
        this.writeState('THAWED');
      } catch {
        /* the original error matters more */
      }
      throw e;
    }
  }

  thaw(): void {
    this.writeState('THAWED');
    if (!waitFor(() => this.readState(false) === 'THAWED', THAW_TIMEOUT_MS)) {
      throw new RuntimeError(`cgroup ${this.cgroupsPath} is still frozen after thawing (is a parent cgroup frozen?)`);
    }
  }

  isFrozen(): boolean {
    return this.freezerDir !== undefined && isFrozenAt({ version: 1, dir: this.freezerDir });
  }

  freezer(): FreezerFile | undefined {
    return this.freezerDir === undefined ? undefined : { version: 1, dir: this.freezerDir };
  }
}

/**
 * Resources and stats (v1-resources.ts, v1-stats.ts and what they load) load when used: state,
 * start, kill and delete use this manager only to freeze, kill and remove, and pay for no more.
 */
function resourcesV1(): typeof import('./v1-resources') {
  return require('./v1-resources');
}
