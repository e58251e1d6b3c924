/**
 * Test harness: real containers from a busybox rootfs, driven through the real CLI, with
 * every container, bundle and state root removed in teardown even when a test fails.
 */
import { spawnSync, SpawnSyncReturns } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { scaled, waitSync } from './wait';

export const PROJECT = path.resolve(__dirname, '..', '..', '..');
export const BIN = path.join(PROJECT, 'bin', 'tsruntime');

/** For `{ skip: NEEDS_ROOT }`: false as root, else the reason (real containers and cgroups need root). */
export const NEEDS_ROOT: false | string = process.getuid?.() === 0 ? false : 'needs root (real containers and cgroups)';

let rootfsCache: string | undefined;
let templateCache: Record<string, any> | undefined;

/** One busybox rootfs per test process (make-bundle.sh), removed when the process exits. */
export function sharedBundleTemplate(): { rootfs: string; spec: Record<string, any> } {
  if (!rootfsCache) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-test-rootfs-'));
    const res = spawnSync('bash', [path.join(PROJECT, 'scripts', 'make-bundle.sh'), dir, 'true'], { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`make-bundle.sh failed: ${res.stderr}`);
    rootfsCache = path.join(dir, 'rootfs');
    templateCache = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return { rootfs: rootfsCache, spec: JSON.parse(JSON.stringify(templateCache)) };
}

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

export interface TapLike {
  teardown(fn: () => void | Promise<void>): void;
}

let counter = 0;

/** A state root, bundles and container ids that all disappear at teardown. */
export class Sandbox {
  readonly root: string;
  readonly dir: string;
  private readonly ids = new Set<string>();

  constructor(t: TapLike) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-test-'));
    this.root = path.join('/run', `tsruntime-test-${process.pid}-${++counter}`);
    t.teardown(() => this.cleanup());
  }

  /** A unique container id, remembered for cleanup. */
  id(prefix = 'c'): string {
    const id = `${prefix}-${process.pid}-${++counter}`;
    this.ids.add(id);
    return id;
  }

  /** A bundle whose rootfs is the shared busybox one; `edit` may change the spec freely. */
  bundle(args: string[], edit?: (spec: Record<string, any>) => void, ownRootfs = false): string {
    const { rootfs, spec } = sharedBundleTemplate();
    const dir = fs.mkdtempSync(path.join(this.dir, 'bundle-'));
    if (ownRootfs) {
      fs.cpSync(rootfs, path.join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
      spec.root.path = 'rootfs';
    } else {
      spec.root.path = rootfs;
    }
    spec.process.args = args;
    edit?.(spec);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    return dir;
  }

  /**
   * Run the CLI with this sandbox's --root. Output goes through files, not pipes: a detached
   * container inherits the runtime's stdio and would hold a pipe open for its whole life.
   * The timeout (30 s by default) is scaled in a slow guest (wait.ts, scaled).
   */
  tsr(args: string[], opts: { timeout?: number; cwd?: string } = {}): Result {
    const out = path.join(this.dir, `out-${++counter}`);
    const err = path.join(this.dir, `err-${counter}`);
    const outFd = fs.openSync(out, 'w');
    const errFd = fs.openSync(err, 'w');
    let res: SpawnSyncReturns<Buffer>;
    try {
      res = spawnSync(BIN, ['--root', this.root, ...args], {
        stdio: ['ignore', outFd, errFd],
        timeout: scaled(opts.timeout ?? 30_000),
        cwd: opts.cwd,
      });
    } finally {
      fs.closeSync(outFd);
      fs.closeSync(errFd);
    }
    if (res.error) throw res.error;
    const result = {
      status: res.status ?? 128 + (res.signal ? os.constants.signals[res.signal] : 0),
      stdout: fs.readFileSync(out, 'utf8'),
      stderr: fs.readFileSync(err, 'utf8'),
    };
    fs.rmSync(out);
    fs.rmSync(err);
    return result;
  }

  state(id: string): Record<string, any> {
    const r = this.tsr(['state', id]);
    if (r.status !== 0) throw new Error(`state ${id}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  /** Wait until the container reports `status` (polling `state`). */
  waitStatus(id: string, status: string, timeoutMs = 5000): boolean {
    return waitSync(() => this.state(id).status === status, scaled(timeoutMs), 10);
  }

  cleanup(): void {
    for (const id of this.ids) this.tsr(['delete', '--force', id]);
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** Everything a container may leave behind, for "nothing left behind" assertions. */
export function leftovers(sb: Sandbox, id: string, bundle: string): string[] {
  const found: string[] = [];
  if (fs.existsSync(path.join(sb.root, id))) found.push(`state dir ${path.join(sb.root, id)}`);
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of mountinfo.split('\n')) if (line.includes(bundle) || line.includes(`/${id} `)) found.push(`mount: ${line}`);
  for (const base of cgroupRoots()) {
    const dir = path.join(base, 'tsruntime', id);
    if (fs.existsSync(dir)) found.push(`cgroup ${dir}`);
  }
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      if (cgroup.includes(`/${id}\n`)) found.push(`process ${pid} in cgroup of ${id}`);
    } catch {
      /* gone, or a kernel thread */
    }
  }
  return found;
}

export function cgroupRoots(): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') out.push(line.split(' ')[4]);
  }
  return out;
}
