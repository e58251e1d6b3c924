/**
 * Rootless Podman, as a plain user made for the test (test/helpers/rootless.ts: subordinate ids
 * from useradd, removed after), with tsruntime or runc as its runtime. Like the rootful engines
 * (engines.ts) it runs in private mount and network namespaces with its own containers.conf and
 * storage.conf, so neither the system's Podman configuration nor the user database's other users
 * are touched: the user's storage (overlay, vfs where this kernel will not mount overlay for a
 * user), configuration and image are in its home, its runtime dir is /run/user/<uid> inside the
 * private /run. The image is the busybox archive every engine test loads.
 *
 * Without a systemd user session, rootless Podman runs with the cgroupfs manager and no cgroup it
 * may write: containers get none (the runtime skips it, as runc does), so limits and pause are
 * not scenarios here.
 */
import fs from 'fs';
import path from 'path';
import { CommandErrorCodes, DockerLike, Podman, Result, Runtime, which } from './engines';
import { TapLike } from './runtime';
import { cannotAddUsers, TestUser } from './rootless';

export class RootlessPodman extends DockerLike {
  readonly name = 'rootless podman';
  readonly commandErrorCodes: CommandErrorCodes = { run: [127, 126], exec: [127, 126] };
  user!: TestUser;
  /** XDG_RUNTIME_DIR, inside the private namespaces. */
  runDir = '';
  private env: Record<string, string> = {};
  private storageDriver = 'overlay';

  private constructor(private readonly tap: TapLike, runtimes?: Runtime[]) {
    super(tap, runtimes);
    const why = 'rootless Podman with the cgroupfs manager and no systemd user session gives its containers no cgroup to limit or freeze';
    this.unsupported.cgroups = why;
    this.unsupported.network = 'a rootless bridge network needs slirp4netns or pasta and rootlessport: the tests use --network none';
  }

  static async create(tap: TapLike, runtimes?: Runtime[]): Promise<RootlessPodman> {
    return new RootlessPodman(tap, runtimes).start();
  }

  static missing(): string | undefined {
    const podman = Podman.missing();
    if (podman) return podman;
    for (const b of ['newuidmap', 'newgidmap']) if (!which(b) && !fs.existsSync(`/usr/bin/${b}`)) return `${b} is not installed (package uidmap)`;
    return cannotAddUsers() || undefined;
  }

  protected async setUp(): Promise<void> {
    this.user = TestUser.create(this.tap);
    if (!this.user.subuid || !this.user.subgid) throw new Error(`useradd gave ${this.user.name} no subordinate ids (SUB_UID_COUNT in /etc/login.defs)`);
    const { uid, gid } = this.user;
    this.runDir = `/run/user/${uid}`;
    fs.mkdirSync(this.ns.inside('/run/user'), { mode: 0o755 });
    fs.mkdirSync(this.ns.inside(this.runDir), { mode: 0o700 });
    fs.chownSync(this.ns.inside(this.runDir), uid, gid);
    const home = this.user.home;
    const mine = (name: string) => this.user.mkdir(name);
    const q = JSON.stringify;
    const file = (name: string, text: string) => {
      fs.writeFileSync(path.join(home, name), text);
      fs.chownSync(path.join(home, name), uid, gid);
      return path.join(home, name);
    };
    const conf = file(
      'containers.conf',
      [
        '[containers]',
        'netns = "none"',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = ${q(path.join(home, 'events.log'))}`,
        `image_copy_tmp_dir = ${q(mine('image-tmp'))}`,
        `runtime_supports_json = ["crun", "runc", ${this.runtimes.map((r) => q(path.basename(r.bin))).join(', ')}]`,
        '[engine.runtimes]',
        ...this.runtimes.map((r) => `${r.name} = [${q(r.bin)}]`),
        '',
      ].join('\n'),
    );
    const archive = path.join(home, 'busybox-oci.tar');
    fs.copyFileSync(this.image.ociArchive, archive);
    fs.chownSync(archive, uid, gid);
    const load = () => {
      const storage = file('storage.conf', ['[storage]', `driver = ${q(this.storageDriver)}`, `graphroot = ${q(path.join(home, 'storage'))}`, `runroot = ${q(`${this.runDir}/containers`)}`, ''].join('\n'));
      this.env = { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage, CONTAINERS_REGISTRIES_CONF: file('registries.conf', ''), TMPDIR: mine('tmp') };
      return this.cmd(['load', '-q', '-i', archive], { timeoutMs: 120_000 });
    };
    let r = load();
    if (r.status !== 0 && /overlay/i.test(r.stderr)) {
      this.storageDriver = 'vfs';
      this.cmd(['system', 'reset', '--force']);
      r = load();
    }
    if (r.status !== 0) throw new Error(`podman load (as ${this.user.name}, ${this.storageDriver} storage): ${r.stderr.trim()}`);
  }

  /** The storage driver in use (overlay, or vfs where this kernel refuses it to a user). */
  get storage(): string {
    return this.storageDriver;
  }

  protected cli(args: string[]) {
    return { argv: this.ns.argv(this.user.argv(['podman', ...args], this.user.env({ XDG_RUNTIME_DIR: this.runDir, ...this.env }))) };
  }

  protected runtimeFlag(rt: Runtime): string[] {
    return ['--runtime', rt.name];
  }

  protected runDefaults(): string[] {
    return ['--pull', 'never'];
  }

  remove(c: { id: string }): void {
    this.cmd(['rm', '-f', '-t', '0', c.id]);
  }

  top(c: { id: string }): { result: Result; pids: number[] } {
    const result = this.cmd(['top', c.id, 'hpid']);
    const pids = result.stdout.split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((n) => Number.isInteger(n) && n > 0);
    return { result, pids };
  }

  // Podman passes no --root: the runtime's default, under the user's XDG_RUNTIME_DIR.
  protected runtimeStateDirs(rt: Runtime): string[] {
    return [`${this.runDir}/${rt.name === 'tsruntime' ? 'tsruntime' : path.basename(rt.bin)}`];
  }

  /** Rootless Podman's pause process: it holds the user namespace for the next command. */
  private pausePid(): number | undefined {
    try {
      return Number(fs.readFileSync(this.ns.inside(`${this.runDir}/libpod/tmp/pause.pid`), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  }

  /** The user's processes live in Podman's user namespace, not in ours: any but the pause process is left behind. */
  override leftovers(rt: Runtime): string[] {
    const found = super.leftovers(rt);
    const pause = this.pausePid();
    for (const p of this.user.processes()) {
      if (p === pause) continue;
      let cmd = '';
      try {
        cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      } catch {
        continue;
      }
      found.push(`process ${p} (${cmd}) of ${this.user.name}`);
    }
    return found;
  }

  protected override beforeDestroy(): void {
    if (this.user && this.ns) this.cmd(['rm', '-a', '-f', '-t', '0'], { timeoutMs: 60_000 });
    this.user?.remove();
  }
}
