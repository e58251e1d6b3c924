/**
 * Real container engines, each set up privately, with tsruntime or runc as their OCI runtime:
 * Podman + conmon, containerd + its runc v2 shim (driven by ctr), and dockerd (on a containerd of
 * its own). Used by the engine tests (test/engines) and by `npm run bench`.
 *
 * Private means: every engine runs in a mount and network namespace of its own, held by a
 * `sleep` process, where /run and /var/lib are empty tmpfs mounts. Its config, storage, state and
 * sockets live in a temp dir; its runtime roots (/run/tsruntime, /run/runc, /run/containerd/...),
 * Podman's /run/netns and CNI's /var/lib/cni are in those tmpfs mounts; its bridges, veths and
 * iptables rules are in the private network namespace; its cgroups are under a parent named after
 * the test process (tsr-eng-<pid>-<engine>). Nothing of the system's own engines (their sockets,
 * /var/lib/docker, /etc/cni, the host's network) is read or changed, and everything made goes away
 * at teardown: the daemons, any process left in the namespaces or cgroups, the namespaces with
 * every mount in them (dockerd's data-root bind-mounted on itself included), the cgroups, the temp
 * dir. No registry: the image is the busybox rootfs of scripts/make-bundle.sh, loaded from an OCI
 * archive (`podman load`, `ctr image import`) or a rootfs tarball (`docker import`).
 *
 * Every engine command is synchronous (spawnSync with stdio on files, and a timeout), like the
 * runtime harness: a detached container may inherit the CLI's stdio and would hold a pipe open.
 */
import { spawn, spawnSync } from 'child_process';
import crypto from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { BIN, PROJECT, TapLike, cgroupRoots } from './runtime';
import { CACHE_DIR as SECCOMP_CACHE_DIR } from '../../src/launch/seccomp-cache';

// ------------------------------------------------------------------------------------------ basics

export interface Runtime {
  /** tsruntime or runc: Podman's runtime name, dockerd's --runtime, part of ctr container ids. */
  name: string;
  bin: string;
}

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** tsruntime (this checkout's bin/tsruntime) and runc, the runtimes every engine is run with. */
export function engineRuntimes(): Runtime[] {
  const out: Runtime[] = [{ name: 'tsruntime', bin: process.env.ENGINES_TSRUNTIME || BIN }];
  const runc = which('runc');
  if (runc) out.push({ name: 'runc', bin: runc });
  return out;
}

/** Quotes argv for `sh -c` (script(1) runs its command through the shell). */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

let seq = 0;

export interface CallOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Run under script(1), so the command's stdio is a terminal (for -t). */
  tty?: boolean;
}

/**
 * Runs argv with stdin from `input` (or /dev/null) and stdout/stderr on files in dir.
 * On timeout the command is SIGKILLed and the result says so in stderr (status 137).
 */
export function call(dir: string, argv: string[], opts: CallOptions = {}): Result {
  const n = ++seq;
  const files = ['in', 'out', 'err'].map((s) => path.join(dir, `call-${process.pid}-${n}.${s}`));
  fs.writeFileSync(files[0], opts.input ?? '');
  const fds = [fs.openSync(files[0], 'r'), fs.openSync(files[1], 'w'), fs.openSync(files[2], 'w')];
  const cmd = opts.tty ? ['script', '-qec', shellQuote(argv), '/dev/null'] : argv;
  let res;
  try {
    res = spawnSync(cmd[0], cmd.slice(1), {
      stdio: fds,
      env: { ...process.env, ...opts.env },
      timeout: opts.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
    });
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
  let stdout = fs.readFileSync(files[1], 'utf8');
  let stderr = fs.readFileSync(files[2], 'utf8');
  for (const f of files) fs.rmSync(f, { force: true });
  if (opts.tty) stdout = stdout.replace(/\r/g, '');
  if (res.error) stderr += `\n[${argv[0]}: ${(res.error as Error).message}]`;
  const status = res.status ?? 128 + (res.signal ? os.constants.signals[res.signal] : 0);
  return { status, stdout, stderr };
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Polls fn until it returns a truthy value (returned) or timeoutMs passes (undefined). */
export function poll<T>(fn: () => T | undefined | false, timeoutMs = 10_000, stepMs = 20): T | undefined {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) return undefined;
    sleepMs(stepMs);
  }
}

function readOr(file: string, dflt = ''): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return dflt;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readOr(`/proc/${pid}/stat`);
    return stat !== '' && !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** SIGTERM, up to graceMs for it to exit, then SIGKILL. Only for processes this module started. */
function stopProcess(pid: number, graceMs: number): void {
  if (!pidAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (poll(() => !pidAlive(pid), graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  poll(() => !pidAlive(pid), 5000);
}

// ------------------------------------------------------------------------------------------ image

export interface BusyboxImage {
  /** The rootfs of scripts/make-bundle.sh (read-only use only: ctr --config specs point at it). */
  rootfs: string;
  /** make-bundle.sh's config.json, the base of ctr --config specs. */
  spec: Record<string, any>;
  /** An OCI image layout as a tar (one uncompressed layer), named localhost/tsr-busybox:latest. */
  ociArchive: string;
  /** The rootfs as a tar, for `docker import`. */
  rootfsTar: string;
}

export const IMAGE = 'localhost/tsr-busybox:latest';

export function busyboxImage(dir: string): BusyboxImage {
  const bundle = path.join(dir, 'bundle');
  const mk = spawnSync('bash', [path.join(PROJECT, 'scripts', 'make-bundle.sh'), bundle, 'sh'], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`make-bundle.sh: ${mk.stderr}`);
  const rootfs = path.join(bundle, 'rootfs');
  const rootfsTar = path.join(dir, 'rootfs.tar');
  const tar = spawnSync('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', rootfsTar, '.'], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`tar: ${tar.stderr}`);

  const layout = fs.mkdtempSync(path.join(dir, 'oci-'));
  const blobs = path.join(layout, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer) => {
    const hex = crypto.createHash('sha256').update(data).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layer = blob(fs.readFileSync(rootfsTar));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: goArch(),
        os: 'linux',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = blob(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  // ctr names the image from io.containerd.image.name, Podman from org.opencontainers.image.ref.name.
  const annotations = { 'io.containerd.image.name': IMAGE, 'org.opencontainers.image.ref.name': IMAGE };
  fs.writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations }] }),
  );
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const ociArchive = path.join(dir, 'busybox-oci.tar');
  const t2 = spawnSync('tar', ['-C', layout, '-cf', ociArchive, '.'], { encoding: 'utf8' });
  if (t2.status !== 0) throw new Error(`tar: ${t2.stderr}`);
  fs.rmSync(layout, { recursive: true, force: true });
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  return { rootfs, spec, ociArchive, rootfsTar };
}

function goArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

// ------------------------------------------------------------------------------------------ namespaces

/**
 * A mount + network namespace held by a `sleep infinity` (which dies with this process, by
 * PR_SET_PDEATHSIG). Inside, /run and /var/lib are fresh tmpfs mounts and propagation is private:
 * what an engine mounts there is never seen by the host, and disappears with the namespace.
 */
export class PrivateNamespaces {
  private constructor(readonly pid: number, readonly mntNs: string) {}

  static async create(): Promise<PrivateNamespaces> {
    const setup = 'mount -t tmpfs -o mode=0755 tmpfs /run && mount -t tmpfs -o mode=0755 tmpfs /var/lib && echo ready && exec setpriv --pdeathsig KILL -- sleep infinity';
    const child = spawn('unshare', ['--mount', '--net', '--propagation', 'private', '--', 'sh', '-c', setup], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('ready\n')) resolve();
      });
      child.stderr!.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`private namespaces: unshare exited ${code}: ${err.trim()}`)));
    });
    child.removeAllListeners('exit');
    child.stdout!.destroy();
    child.stderr!.destroy();
    child.unref();
    const pid = child.pid!;
    return new PrivateNamespaces(pid, fs.readlinkSync(`/proc/${pid}/ns/mnt`));
  }

  /** argv that runs cmd in these namespaces (nsenter does not fork for mnt + net: same pid). */
  argv(cmd: string[]): string[] {
    return ['nsenter', '-t', String(this.pid), '-m', '-n', '--', ...cmd];
  }

  /** A path as seen inside (through the holder's /proc/<pid>/root). */
  inside(p: string): string {
    return `/proc/${this.pid}/root${p}`;
  }

  /** Mount points inside, one per line of its mountinfo. */
  mountPoints(): string[] {
    return readOr(`/proc/${this.pid}/mountinfo`)
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')[4]);
  }

  /** Every live process in this mount namespace but the holder. */
  processes(): number[] {
    const out: number[] = [];
    for (const p of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(p) || Number(p) === this.pid) continue;
      try {
        if (fs.readlinkSync(`/proc/${p}/ns/mnt`) === this.mntNs && pidAlive(Number(p))) out.push(Number(p));
      } catch {
        /* gone, or a kernel thread */
      }
    }
    return out;
  }

  destroy(): void {
    // Everything still in the namespace is ours (started through it); then the holder.
    for (const p of this.processes()) stopProcess(p, 2000);
    stopProcess(this.pid, 0);
  }
}

// ------------------------------------------------------------------------------------------ cgroups

/** The dirs named `rel` (e.g. /tsr-eng-123-podman) in every mounted cgroup hierarchy. */
function cgroupDirs(rel: string): string[] {
  return cgroupRoots()
    .map((root) => path.join(root, rel))
    .filter((d) => fs.existsSync(d));
}

/** Sub-cgroups below rel, relative to it (the same names in every hierarchy are listed once). */
function cgroupChildren(rel: string): string[] {
  const found = new Set<string>();
  const walk = (base: string, dir: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      found.add(path.relative(base, path.join(dir, e.name)));
      walk(base, path.join(dir, e.name));
    }
  };
  for (const d of cgroupDirs(rel)) walk(d, d);
  return [...found].sort();
}

function cgroupProcs(rel: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    for (const p of readOr(path.join(dir, 'cgroup.procs')).split('\n').filter(Boolean)) if (pidAlive(Number(p))) pids.add(Number(p));
    try {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
    } catch {
      /* gone */
    }
  };
  for (const d of cgroupDirs(rel)) walk(d);
  return [...pids];
}

/** Thaws, kills every process in, and removes the cgroup `rel` (ours) in every hierarchy. */
function removeCgroupTree(rel: string): void {
  for (const d of cgroupDirs(rel)) {
    const thaw = (dir: string) => {
      for (const [file, value] of [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']]) {
        try {
          if (fs.existsSync(path.join(dir, file))) fs.writeFileSync(path.join(dir, file), value);
        } catch {
          /* not freezable here */
        }
      }
      try {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) thaw(path.join(dir, e.name));
      } catch {
        /* gone */
      }
    };
    thaw(d);
  }
  for (const pid of cgroupProcs(rel)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  poll(() => cgroupProcs(rel).length === 0, 5000);
  for (const d of cgroupDirs(rel)) {
    const rm = (dir: string) => {
      try {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(path.join(dir, e.name));
        fs.rmdirSync(dir);
      } catch {
        /* busy or gone: reported by leftovers() */
      }
    };
    rm(d);
  }
}

// ------------------------------------------------------------------------------------------ engines

export interface RunOptions {
  /** Text for the container's stdin (-i; ctr always attaches stdin). */
  stdin?: string;
  /** A terminal (-t), driven through script(1). */
  tty?: boolean;
  /** Memory limit in bytes (swap limited to the same, so an overrun is an OOM kill). */
  memory?: number;
  pidsLimit?: number;
  readOnly?: boolean;
  /** "uid:gid" */
  user?: string;
  capDropAll?: boolean;
  /** Network mode; the default is none (the tests' engines attach no network unless asked). */
  network?: 'bridge';
  /** Join this container's network, pid and ipc namespaces. */
  shareWith?: Container;
  /** Make the ipc namespace joinable by others (docker's --ipc shareable). */
  shareable?: boolean;
  /** Podman's --userns=keep-id (rootless): the user is itself inside the container. */
  keepId?: boolean;
}

export interface Container {
  id: string;
  rt: Runtime;
  /** Where ctr's detached containers log (--log-uri file://). */
  logFile?: string;
}

export type Status = 'running' | 'paused' | 'stopped' | 'missing';

/** Exit codes an engine gives when the command cannot be started: not found, not executable. */
export interface CommandErrorCodes {
  run: [number, number];
  exec: [number, number];
}

export abstract class Engine {
  abstract readonly name: string;
  /**
   * Podman and Docker turn the runtime's error into 127 (not found) or 126 (not executable) by its
   * wording ("executable file not found", "no such file or directory", "permission denied").
   */
  abstract readonly commandErrorCodes: CommandErrorCodes;
  /** Features of the scenarios this engine lacks, with the reason (skipped for every runtime). */
  readonly unsupported: Record<string, string> = {};
  readonly runtimes: Runtime[];
  protected readonly dir: string;
  protected ns!: PrivateNamespaces;
  protected image!: BusyboxImage;
  /** Pids of the daemons we started (kept out of "processes left behind"). */
  protected daemons: number[] = [];
  /** Our cgroup parents (relative paths), removed at teardown. */
  protected cgroupParents: string[] = [];
  private baselineMounts = new Set<string>();
  private counter = 0;

  protected constructor(tap: TapLike, runtimes?: Runtime[]) {
    this.runtimes = runtimes ?? engineRuntimes();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `tsr-eng-${this.constructor.name.toLowerCase()}-`));
    tap.teardown(() => this.destroy());
  }

  /** The engine's CLI argv (inside the namespaces) and env. */
  protected abstract cli(args: string[]): { argv: string[]; env?: NodeJS.ProcessEnv };
  protected abstract setUp(): Promise<void>;

  /** Runs the engine's CLI. */
  cmd(args: string[], opts: CallOptions = {}): Result {
    const { argv, env } = this.cli(args);
    return call(this.dir, argv, { ...opts, env: { ...env, ...opts.env } });
  }

  protected cmdOk(args: string[], opts: CallOptions = {}): Result {
    const r = this.cmd(args, opts);
    if (r.status !== 0) throw new Error(`${this.name} ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim() || r.stdout.trim()}`);
    return r;
  }

  protected async start(): Promise<this> {
    this.ns = await PrivateNamespaces.create();
    this.image = busyboxImage(this.dir);
    await this.setUp();
    this.baselineMounts = new Set(this.ns.mountPoints());
    return this;
  }

  unique(prefix: string): string {
    return `${prefix}-${process.pid}-${++this.counter}`;
  }

  /** A foreground run, removed when it exits; the result carries the container's exit code. */
  abstract run(rt: Runtime, cmd: string[], opts?: RunOptions): Result;
  /** A detached container. */
  abstract runDetached(rt: Runtime, cmd: string[], opts?: RunOptions): Container;
  abstract exec(c: Container, cmd: string[], opts?: { stdin?: string; tty?: boolean }): Result;
  /** The detached container's output so far (stdout and stderr). */
  abstract logs(c: Container): string;
  /** Graceful stop (SIGTERM, then the engine's timeout); returns the exit code. */
  abstract stop(c: Container): number;
  /** SIGKILL; returns the exit code. */
  abstract kill(c: Container): number;
  abstract pause(c: Container): Result;
  abstract resume(c: Container): Result;
  abstract status(c: Container): Status;
  abstract restart(c: Container): Result;
  /** The container's processes by host pid, as the engine lists them (podman top, docker top, ctr task ps). */
  abstract top(c: Container): { result: Result; pids: number[] };
  /** The host pid of the container's init, as the engine reports it. */
  abstract initPid(c: Container): number;
  /** Removes the container whatever its state (teardown: never throws). */
  abstract remove(c: Container): void;
  /** Containers the engine still knows of. */
  abstract containers(): string[];
  /** The runtime's state dir entries (its --root, as this engine calls it). */
  protected abstract runtimeStateDirs(rt: Runtime): string[];
  /** Sub-cgroups of our parents that are the engine's own, not a container's (conmon's). */
  protected engineCgroups(): string[] {
    return [];
  }

  /** Everything the containers of this engine could leave behind; [] when clean. */
  leftovers(rt: Runtime): string[] {
    const found: string[] = [];
    for (const c of this.containers()) found.push(`container ${c} still known to ${this.name}`);
    for (const d of this.runtimeStateDirs(rt)) {
      let entries: string[] = [];
      try {
        entries = fs.readdirSync(this.ns.inside(d));
      } catch {
        /* never made */
      }
      // tsruntime's compiled seccomp programs: kept for the next container on purpose, no container's.
      for (const e of entries) if (e !== SECCOMP_CACHE_DIR) found.push(`${rt.name} state ${d}/${e}`);
    }
    for (const m of this.ns.mountPoints()) if (!this.baselineMounts.has(m) && !this.engineMount(m)) found.push(`mount ${m}`);
    for (const line of readOr('/proc/self/mountinfo').split('\n')) if (line.includes(this.dir)) found.push(`host mount: ${line}`);
    const own = new Set(this.engineCgroups());
    for (const parent of this.cgroupParents) {
      for (const c of cgroupChildren(parent)) if (!own.has(c)) found.push(`cgroup ${parent}/${c}`);
      for (const p of cgroupProcs(parent)) found.push(`process ${p} (${readOr(`/proc/${p}/cmdline`).replace(/\0/g, ' ').trim()}) in cgroup ${parent}`);
    }
    for (const p of this.ns.processes()) {
      if (this.daemons.includes(p)) continue;
      found.push(`process ${p} (${readOr(`/proc/${p}/cmdline`).replace(/\0/g, ' ').trim()}) in the engine's namespaces`);
    }
    return found;
  }

  /** Mounts the engine itself makes on first use of a feature (not a container's). */
  protected engineMount(_mountPoint: string): boolean {
    return false;
  }

  protected spawnDaemon(argv: string[], logFile: string, env?: NodeJS.ProcessEnv): number {
    const log = fs.openSync(logFile, 'a');
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log], env: { ...process.env, ...env }, detached: true });
    fs.closeSync(log);
    child.unref();
    this.daemons.push(child.pid!);
    return child.pid!;
  }

  protected waitFor(what: string, logFile: string, pid: number, ready: () => boolean, timeoutMs = 30_000): void {
    const ok = poll(() => ready() || !pidAlive(pid), timeoutMs, 50);
    if (!ok || !pidAlive(pid)) {
      const tail = readOr(logFile).trim().split('\n').slice(-15).join('\n');
      throw new Error(`${what} did not start${pidAlive(pid) ? ` within ${timeoutMs} ms` : ''}; its log ends with:\n${tail}`);
    }
  }

  /**
   * A containerd of our own in the namespaces: its config (no CRI plugin, no debug or metrics
   * listener), root, state and sockets under <temp dir>/containerd. Returns its socket.
   */
  protected startContainerd(): string {
    const dir = path.join(this.dir, 'containerd');
    fs.mkdirSync(dir, { recursive: true });
    const socket = path.join(dir, 'containerd.sock');
    const q = JSON.stringify;
    const config = path.join(dir, 'config.toml');
    fs.writeFileSync(
      config,
      [
        'version = 2',
        `root = ${q(path.join(dir, 'root'))}`,
        `state = ${q(path.join(dir, 'state'))}`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = ${q(socket)}`,
        '[ttrpc]',
        `  address = ${q(socket + '.ttrpc')}`,
        '[debug]',
        '  address = ""',
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    const log = path.join(dir, 'containerd.log');
    const pid = this.spawnDaemon(this.ns.argv(['setpriv', '--pdeathsig', 'TERM', '--', 'containerd', '--config', config]), log);
    this.waitFor('containerd', log, pid, () => call(this.dir, this.ns.argv(['ctr', '--address', socket, 'version']), { timeoutMs: 5000 }).status === 0);
    return socket;
  }

  /** Teardown: engine-level cleanup, daemons, namespaces, cgroups, temp dir. Never throws. */
  protected beforeDestroy(): void {}

  private destroy(): void {
    const step = (fn: () => void) => {
      try {
        fn();
      } catch {
        /* keep cleaning */
      }
    };
    step(() => this.beforeDestroy());
    for (const pid of [...this.daemons].reverse()) step(() => stopProcess(pid, 10_000));
    step(() => this.ns?.destroy());
    for (const parent of this.cgroupParents) step(() => removeCgroupTree(parent));
    // Nothing should be mounted under the temp dir on the host (the engines mount inside their
    // namespace); unmount defensively before removing it.
    step(() => {
      const points = readOr('/proc/self/mountinfo')
        .split('\n')
        .map((l) => l.split(' ')[4])
        .filter((m) => m && (m === this.dir || m.startsWith(this.dir + '/')))
        .reverse();
      for (const m of points) spawnSync('umount', ['-l', m]);
    });
    step(() => fs.rmSync(this.dir, { recursive: true, force: true }));
  }
}

function exitCodeOf(r: Result): number {
  const n = Number(r.stdout.trim().split('\n').pop());
  return Number.isInteger(n) ? n : NaN;
}

/** The first column of each line but the header, as numbers (pids of top, ps, task ps). */
function numbersAfterHeader(out: string): number[] {
  return out
    .split('\n')
    .slice(1)
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function mapStatus(s: string): Status {
  s = s.trim().toLowerCase();
  if (s === 'running') return 'running';
  if (s === 'paused') return 'paused';
  if (s === '') return 'missing';
  return 'stopped';
}

// ------------------------------------------------------------------------------------------ podman / docker

/** What Podman and Docker share: the same CLI for runs and containers. */
export abstract class DockerLike extends Engine {
  protected abstract runtimeFlag(rt: Runtime): string[];
  protected abstract runDefaults(): string[];

  protected runArgs(rt: Runtime, opts: RunOptions): string[] {
    const a = [...this.runtimeFlag(rt), ...this.runDefaults()];
    if (opts.stdin !== undefined) a.push('-i');
    if (opts.tty) a.push('-t');
    if (opts.memory) a.push('--memory', `${opts.memory}b`, '--memory-swap', `${opts.memory}b`);
    if (opts.pidsLimit) a.push('--pids-limit', String(opts.pidsLimit));
    if (opts.readOnly) a.push('--read-only');
    if (opts.user) a.push('--user', opts.user);
    if (opts.capDropAll) a.push('--cap-drop', 'ALL');
    if (opts.network) a.push('--network', opts.network);
    if (opts.keepId) a.push('--userns', 'keep-id');
    if (opts.shareWith) {
      const peer = `container:${opts.shareWith.id}`;
      a.push('--net', peer, '--pid', peer, '--ipc', peer);
    }
    return a;
  }

  run(rt: Runtime, cmd: string[], opts: RunOptions = {}): Result {
    return this.cmd(['run', '--rm', ...this.runArgs(rt, opts), this.imageName(), ...cmd], { input: opts.stdin, tty: opts.tty });
  }

  runDetached(rt: Runtime, cmd: string[], opts: RunOptions = {}): Container {
    const r = this.cmdOk(['run', '-d', ...this.runArgs(rt, opts), this.imageName(), ...cmd]);
    return { id: r.stdout.trim().split('\n').pop()!, rt };
  }

  exec(c: Container, cmd: string[], opts: { stdin?: string; tty?: boolean } = {}): Result {
    const a = ['exec'];
    if (opts.stdin !== undefined) a.push('-i');
    if (opts.tty) a.push('-t');
    return this.cmd([...a, c.id, ...cmd], { input: opts.stdin, tty: opts.tty });
  }

  logs(c: Container): string {
    const r = this.cmd(['logs', c.id]);
    return r.stdout + r.stderr;
  }

  stop(c: Container): number {
    this.cmdOk(['stop', '-t', '10', c.id]);
    return exitCodeOf(this.cmd(['inspect', '-f', '{{.State.ExitCode}}', c.id]));
  }

  kill(c: Container): number {
    this.cmdOk(['kill', c.id]);
    this.cmd(['wait', c.id]);
    return exitCodeOf(this.cmd(['inspect', '-f', '{{.State.ExitCode}}', c.id]));
  }

  pause(c: Container): Result {
    return this.cmd(['pause', c.id]);
  }

  resume(c: Container): Result {
    return this.cmd(['unpause', c.id]);
  }

  status(c: Container): Status {
    const r = this.cmd(['inspect', '-f', '{{.State.Status}}', c.id]);
    return r.status === 0 ? mapStatus(r.stdout) : 'missing';
  }

  restart(c: Container): Result {
    return this.cmd(['restart', '-t', '10', c.id]);
  }

  containers(): string[] {
    return this.cmd(['ps', '-a', '-q']).stdout.split('\n').filter(Boolean);
  }

  initPid(c: Container): number {
    return exitCodeOf(this.cmd(['inspect', '-f', '{{.State.Pid}}', c.id]));
  }

  protected imageName(): string {
    return IMAGE;
  }
}

/**
 * Rootful Podman with conmon, its own containers.conf and storage.conf (CONTAINERS_CONF,
 * CONTAINERS_STORAGE_CONF): cgroupfs, overlay storage and run root in the temp dir, network mode
 * none unless asked, a private CNI config dir for --network bridge, and the two runtimes by name
 * in [engine.runtimes]. tsruntime is in runtime_supports_json, so conmon passes it
 * --log-format=json --log <file> as it does runc. The default ulimits are lowered: rootful Podman
 * asks for nofile/nproc 1048576, which a host without CAP_SYS_RESOURCE cannot grant.
 */
export class Podman extends DockerLike {
  readonly name = 'podman';
  readonly commandErrorCodes: CommandErrorCodes = { run: [127, 126], exec: [127, 126] };
  private env: NodeJS.ProcessEnv = {};
  private parent = '';

  static async create(tap: TapLike, runtimes?: Runtime[]): Promise<Podman> {
    return new Podman(tap, runtimes).start();
  }

  static missing(): string | undefined {
    for (const b of ['podman', 'conmon', 'nsenter', 'unshare', 'setpriv', 'script']) if (!which(b)) return `${b} is not installed`;
    return undefined;
  }

  protected async setUp(): Promise<void> {
    const d = (s: string) => {
      const p = path.join(this.dir, s);
      fs.mkdirSync(p, { recursive: true });
      return p;
    };
    this.parent = `/tsr-eng-${process.pid}-podman`;
    this.cgroupParents.push(this.parent);
    const q = JSON.stringify;
    const [nofile, nproc] = [hardLimit('-Hn', 1024), hardLimit('-Hu', 4096)];
    fs.writeFileSync(
      path.join(this.dir, 'containers.conf'),
      [
        '[containers]',
        `default_ulimits = [${q(`nofile=${nofile}:${nofile}`)}, ${q(`nproc=${nproc}:${nproc}`)}]`,
        'netns = "none"',
        '[network]',
        'network_backend = "cni"',
        `network_config_dir = ${q(d('cni'))}`,
        'default_network = "tsr-eng"',
        'default_subnet = "10.231.0.0/24"',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = ${q(path.join(this.dir, 'events.log'))}`,
        `tmp_dir = ${q(d('libpod-tmp'))}`,
        `volume_path = ${q(d('volumes'))}`,
        `image_copy_tmp_dir = ${q(d('image-tmp'))}`,
        `hooks_dir = [${q(d('hooks'))}]`,
        'runtime = "runc"',
        `runtime_supports_json = ["crun", "runc", ${this.runtimes.map((r) => q(path.basename(r.bin))).join(', ')}]`,
        '[engine.runtimes]',
        ...this.runtimes.map((r) => `${r.name} = [${q(r.bin)}]`),
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(this.dir, 'storage.conf'),
      ['[storage]', 'driver = "overlay"', `graphroot = ${q(d('storage'))}`, `runroot = ${q(d('run'))}`, ''].join('\n'),
    );
    fs.writeFileSync(path.join(this.dir, 'registries.conf'), '');
    this.env = {
      CONTAINERS_CONF: path.join(this.dir, 'containers.conf'),
      CONTAINERS_STORAGE_CONF: path.join(this.dir, 'storage.conf'),
      CONTAINERS_REGISTRIES_CONF: path.join(this.dir, 'registries.conf'),
    };
    this.cmdOk(['load', '-q', '-i', this.image.ociArchive], { timeoutMs: 120_000 });
  }

  protected cli(args: string[]) {
    return { argv: this.ns.argv(['podman', ...args]), env: this.env };
  }

  protected runtimeFlag(rt: Runtime): string[] {
    return ['--runtime', rt.name];
  }

  protected runDefaults(): string[] {
    return ['--pull', 'never', '--cgroup-parent', this.parent];
  }

  remove(c: Container): void {
    this.cmd(['rm', '-f', '-t', '0', c.id]);
  }

  // Podman reads the container's processes itself (no runtime call): its host pids.
  top(c: Container): { result: Result; pids: number[] } {
    const result = this.cmd(['top', c.id, 'hpid']);
    return { result, pids: numbersAfterHeader(result.stdout) };
  }

  // Podman never passes --root: the runtime's default root, which is in the private /run.
  protected runtimeStateDirs(rt: Runtime): string[] {
    return [rt.name === 'tsruntime' ? '/run/tsruntime' : `/run/${rt.name}`];
  }

  // conmon is moved to <cgroup parent>/conmon; Podman leaves that cgroup for the next one.
  protected override engineCgroups(): string[] {
    return ['conmon'];
  }

  // Podman's netns dir, bind-mounted on itself the first time a network namespace is made.
  protected override engineMount(m: string): boolean {
    return m === '/run/netns';
  }

  protected override beforeDestroy(): void {
    if (this.ns) this.cmd(['rm', '-a', '-f', '-t', '0'], { timeoutMs: 60_000 });
  }
}

function hardLimit(flag: string, want: number): number {
  const r = spawnSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' });
  const v = r.stdout.trim();
  return v === 'unlimited' || !/^\d+$/.test(v) ? want : Math.min(want, Number(v));
}

/**
 * containerd, driven by ctr as its man page shows: `ctr run --runc-binary <runtime>` (the runc v2
 * shim calls the runtime with --root /run/containerd/runc/<namespace>, in the private /run).
 * ctr has no --user and no pids limit: those runs pass a full spec (`ctr run --config`, based on
 * make-bundle's config.json with the image's rootfs as an absolute, read-only root.path).
 */
export class Containerd extends Engine {
  readonly name = 'containerd';
  // ctr prints the error and exits 1.
  readonly commandErrorCodes: CommandErrorCodes = { run: [1, 1], exec: [1, 1] };
  private socket = '';
  private namespace = '';

  static async create(tap: TapLike, runtimes?: Runtime[]): Promise<Containerd> {
    return new Containerd(tap, runtimes).start();
  }

  static missing(): string | undefined {
    for (const b of ['containerd', 'ctr', 'containerd-shim-runc-v2', 'nsenter', 'unshare', 'setpriv', 'script']) if (!which(b)) return `${b} is not installed`;
    return undefined;
  }

  constructor(tap: TapLike, runtimes?: Runtime[]) {
    super(tap, runtimes);
    this.unsupported.network = "ctr's --cni takes its networks from /etc/cni/net.d and /opt/cni/bin, the host's: no private bridge network";
  }

  protected async setUp(): Promise<void> {
    this.namespace = `tsr-eng-${process.pid}`;
    this.socket = this.startContainerd();
    // ctr's cgroupsPath is /<namespace>/<id>.
    this.cgroupParents.push(`/${this.namespace}`);
    this.cmdOk(['image', 'import', this.image.ociArchive], { timeoutMs: 120_000 });
  }

  protected cli(args: string[]) {
    return { argv: this.ns.argv(['ctr', '--address', this.socket, '--namespace', this.namespace, ...args]) };
  }

  private runArgs(rt: Runtime, id: string, cmd: string[], opts: RunOptions): string[] {
    const a = ['--runc-binary', rt.bin];
    if (opts.tty) a.push('-t');
    if (opts.network) throw new Error(this.unsupported.network);
    if (opts.user || opts.pidsLimit) {
      // A full spec: ctr then takes no image, only the id.
      const spec = JSON.parse(JSON.stringify(this.image.spec));
      // The image's rootfs is shared by every such run: read-only, always.
      spec.root = { path: this.image.rootfs, readonly: true };
      spec.process.args = cmd;
      spec.process.terminal = !!opts.tty;
      if (opts.user) {
        const [uid, gid] = opts.user.split(':').map(Number);
        spec.process.user = { uid, gid: gid ?? uid };
      }
      spec.linux.cgroupsPath = `/${this.namespace}/${id}`;
      spec.linux.resources = { ...spec.linux.resources };
      if (opts.pidsLimit) spec.linux.resources.pids = { limit: opts.pidsLimit };
      if (opts.memory) spec.linux.resources.memory = { limit: opts.memory, swap: opts.memory };
      const file = path.join(this.dir, `spec-${id}.json`);
      fs.writeFileSync(file, JSON.stringify(spec));
      return [...a, '--config', file, id];
    }
    if (opts.readOnly) a.push('--read-only');
    if (opts.memory) a.push('--memory-limit', String(opts.memory));
    // ctr wants each capability by name (no ALL): its default set, all of them.
    if (opts.capDropAll) for (const cap of CTR_DEFAULT_CAPS) a.push('--cap-drop', cap);
    if (opts.shareWith) {
      const pid = this.taskPid(opts.shareWith);
      for (const [t, f] of [['network', 'net'], ['pid', 'pid'], ['ipc', 'ipc']]) a.push('--with-ns', `${t}:/proc/${pid}/ns/${f}`);
    }
    return [...a, IMAGE, id, ...cmd];
  }

  run(rt: Runtime, cmd: string[], opts: RunOptions = {}): Result {
    const id = this.unique(rt.name);
    try {
      return this.cmd(['run', '--rm', ...this.runArgs(rt, id, cmd, opts)], { input: opts.stdin, tty: opts.tty });
    } finally {
      fs.rmSync(path.join(this.dir, `spec-${id}.json`), { force: true });
    }
  }

  runDetached(rt: Runtime, cmd: string[], opts: RunOptions = {}): Container {
    const id = this.unique(rt.name);
    const logFile = path.join(this.dir, `${id}.log`);
    this.cmdOk(['run', '-d', '--log-uri', `file://${logFile}`, ...this.runArgs(rt, id, cmd, opts)]);
    return { id, rt, logFile };
  }

  exec(c: Container, cmd: string[], opts: { stdin?: string; tty?: boolean } = {}): Result {
    const a = ['task', 'exec', '--exec-id', this.unique('exec')];
    if (opts.tty) a.push('-t');
    return this.cmd([...a, c.id, ...cmd], { input: opts.stdin, tty: opts.tty });
  }

  logs(c: Container): string {
    return readOr(c.logFile!);
  }

  private tasks(): Map<string, { pid: number; status: string }> {
    const out = new Map<string, { pid: number; status: string }>();
    for (const line of this.cmd(['task', 'ls']).stdout.split('\n').slice(1)) {
      const [id, pid, status] = line.trim().split(/\s+/);
      if (id) out.set(id, { pid: Number(pid), status });
    }
    return out;
  }

  private taskPid(c: Container): number {
    const t = this.tasks().get(c.id);
    if (!t) throw new Error(`ctr: no task ${c.id}`);
    return t.pid;
  }

  /** A container without a task (deleted after it stopped) is stopped too. */
  // The shim asks the runtime: `ps --format json <id>`.
  top(c: Container): { result: Result; pids: number[] } {
    const result = this.cmd(['task', 'ps', c.id]);
    return { result, pids: numbersAfterHeader(result.stdout) };
  }

  initPid(c: Container): number {
    return this.taskPid(c);
  }

  status(c: Container): Status {
    const t = this.tasks().get(c.id);
    if (t) return mapStatus(t.status);
    return this.cmd(['container', 'ls', '-q']).stdout.split('\n').includes(c.id) ? 'stopped' : 'missing';
  }

  /** Signals the task, waits for it to stop, deletes it: the exit code is in ctr's warning. */
  private signalAndReap(c: Container, signal: string): number {
    this.cmdOk(['task', 'kill', '-s', signal, c.id]);
    if (!poll(() => this.status(c) === 'stopped', 15_000)) throw new Error(`ctr: task ${c.id} did not stop after ${signal}`);
    const r = this.cmdOk(['task', 'rm', c.id]);
    const m = /exit with non-zero exit code (\d+)/.exec(r.stderr);
    return m ? Number(m[1]) : 0;
  }

  stop(c: Container): number {
    return this.signalAndReap(c, 'SIGTERM');
  }

  kill(c: Container): number {
    return this.signalAndReap(c, 'SIGKILL');
  }

  pause(c: Container): Result {
    return this.cmd(['task', 'pause', c.id]);
  }

  resume(c: Container): Result {
    return this.cmd(['task', 'resume', c.id]);
  }

  /** A new task for the container (what restarting is in containerd's terms). */
  restart(c: Container): Result {
    if (this.tasks().has(c.id)) this.signalAndReap(c, 'SIGKILL');
    return this.cmd(['task', 'start', '-d', '--log-uri', `file://${c.logFile}`, c.id]);
  }

  remove(c: Container): void {
    if (this.status(c) === 'paused') this.resume(c);
    this.cmd(['task', 'rm', '-f', c.id]);
    this.cmd(['container', 'rm', c.id]);
  }

  containers(): string[] {
    const ids = new Set(this.cmd(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean));
    for (const id of this.tasks().keys()) ids.add(id);
    return [...ids];
  }

  protected runtimeStateDirs(): string[] {
    return [`/run/containerd/runc/${this.namespace}`];
  }

  protected override beforeDestroy(): void {
    if (!this.socket) return;
    for (const id of this.containers()) this.remove({ id, rt: this.runtimes[0] });
  }
}

/** ctr's default capabilities (containerd 1.6 oci.populateDefaultUnixSpec). */
const CTR_DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/**
 * dockerd 20.10 on a private containerd (--containerd), with its own daemon.json, data-root,
 * exec-root, pidfile and socket, cgroups under --cgroup-parent, and tsruntime added with
 * --add-runtime (runc is dockerd's built-in default). It calls every runtime with
 * --root <exec-root>/runtime-runc/moby. Its default bridge (docker0, iptables NAT) lives in the
 * private network namespace; if it cannot be set up (no iptables), dockerd runs with
 * --bridge=none and the bridge scenario is skipped, saying why.
 */
export class Docker extends DockerLike {
  readonly name = 'docker';
  // docker 20.10's exec exits 126 whenever the process cannot be started.
  readonly commandErrorCodes: CommandErrorCodes = { run: [127, 126], exec: [126, 126] };
  private env: NodeJS.ProcessEnv = {};
  private execRoot = '';

  static async create(tap: TapLike, runtimes?: Runtime[]): Promise<Docker> {
    return new Docker(tap, runtimes).start();
  }

  static missing(): string | undefined {
    for (const b of ['dockerd', 'docker', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'nsenter', 'unshare', 'setpriv', 'script']) if (!which(b)) return `${b} is not installed`;
    return undefined;
  }

  protected async setUp(): Promise<void> {
    // dockerd's own containerd namespace is moby.
    const containerd = this.startContainerd();
    const parent = `/tsr-eng-${process.pid}-docker`;
    this.cgroupParents.push(parent);
    const sock = path.join(this.dir, 'docker.sock');
    this.execRoot = path.join(this.dir, 'exec');
    this.env = { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(this.dir, 'cli') };
    fs.writeFileSync(path.join(this.dir, 'daemon.json'), '{}\n');
    const base = [
      'dockerd',
      '--config-file', path.join(this.dir, 'daemon.json'),
      '--data-root', path.join(this.dir, 'data'),
      '--exec-root', this.execRoot,
      '--pidfile', path.join(this.dir, 'docker.pid'),
      '-H', `unix://${sock}`,
      '--containerd', containerd,
      '--cgroup-parent', parent,
      '--userland-proxy=false',
      ...this.runtimes.filter((r) => r.name !== 'runc').map((r) => `--add-runtime=${r.name}=${r.bin}`),
    ];
    const startDockerd = (extra: string[]): string | undefined => {
      const log = path.join(this.dir, `dockerd-${this.daemons.length}.log`);
      const pid = this.spawnDaemon(this.ns.argv(['setpriv', '--pdeathsig', 'TERM', '--', ...base, ...extra]), log);
      try {
        this.waitFor('dockerd', log, pid, () => this.cmd(['version'], { timeoutMs: 5000 }).status === 0);
        return undefined;
      } catch (e) {
        stopProcess(pid, 5000);
        this.daemons = this.daemons.filter((p) => p !== pid);
        return (e as Error).message;
      }
    };
    const why = startDockerd([]);
    if (why) {
      const again = startDockerd(['--bridge=none', '--iptables=false']);
      if (again) throw new Error(again);
      this.unsupported.network = `dockerd could not set up its bridge network here, so it runs with --bridge=none: ${why.split('\n').slice(-1)[0]}`;
    }
    this.cmdOk(['import', this.image.rootfsTar, IMAGE], { timeoutMs: 120_000 });
  }

  protected cli(args: string[]) {
    return { argv: this.ns.argv(['docker', ...args]), env: this.env };
  }

  protected runtimeFlag(rt: Runtime): string[] {
    return ['--runtime', rt.name];
  }

  protected override runArgs(rt: Runtime, opts: RunOptions): string[] {
    const a = super.runArgs(rt, opts);
    // dockerd's default network is its bridge: none unless asked, as for the other engines.
    if (!opts.network && !opts.shareWith) a.push('--network', 'none');
    if (opts.shareable) a.push('--ipc', 'shareable');
    return a;
  }

  protected runDefaults(): string[] {
    return [];
  }

  remove(c: Container): void {
    this.cmd(['rm', '-f', c.id]);
  }

  // dockerd asks the runtime (`ps --format json <id>`) for the pids, then runs ps(1) on them.
  top(c: Container): { result: Result; pids: number[] } {
    const result = this.cmd(['top', c.id, '-o', 'pid']);
    return { result, pids: numbersAfterHeader(result.stdout) };
  }

  // dockerd 20.10 passes every runtime of the runc v2 shim --root <exec-root>/runtime-runc/moby
  // (runc's, whatever the runtime's name): look in every runtime-* dir there is.
  protected runtimeStateDirs(): string[] {
    let dirs: string[] = [];
    try {
      dirs = fs.readdirSync(this.execRoot).filter((d) => d.startsWith('runtime-'));
    } catch {
      /* not made yet */
    }
    return dirs.map((d) => `${this.execRoot}/${d}/moby`);
  }

  // libnetwork's namespace dir (bind-mounted on itself) and dockerd's data-root bind mount.
  protected override engineMount(m: string): boolean {
    return m === `${this.execRoot}/netns` || m === path.join(this.dir, 'data');
  }

  protected override beforeDestroy(): void {
    if (!this.ns) return;
    const ids = this.containers();
    if (ids.length) this.cmd(['rm', '-f', ...ids], { timeoutMs: 60_000 });
  }
}
