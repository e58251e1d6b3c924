/**
 * Rootless tests' harness: a user made for the test (useradd, with the subordinate ids useradd
 * gives it), or a bare uid no account has where users cannot be made (a read-only /etc, as in
 * the user-mode-linux guest); commands run as that user; and a cgroup delegated to it, the way
 * systemd delegates one to a user session. Teardown kills every process of the user's ids,
 * removes the user (userdel drops its /etc/subuid and /etc/subgid lines too), its directories
 * and the delegated cgroups, even when a test fails.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { BIN, Result, TapLike, cgroupRoots } from './runtime';
import { waitSync } from './wait';

export interface IdRange {
  start: number;
  count: number;
}

/** Why users cannot be made here, or false. */
export function cannotAddUsers(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (makes a test user)';
  for (const b of ['useradd', 'userdel', 'setpriv']) if (!onPath(b)) return `${b} is not installed`;
  try {
    fs.accessSync('/etc/passwd', fs.constants.W_OK);
  } catch (e) {
    return `cannot add a user here: /etc/passwd: ${(e as NodeJS.ErrnoException).code}`;
  }
  return false;
}

export function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir || '.', cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function subIds(file: string, name: string): IdRange | undefined {
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const [n, start, count] = line.split(':');
    if (n === name) return { start: Number(start), count: Number(count) };
  }
  return undefined;
}

/** Real uid of a process, or undefined once it is gone. */
function uidOf(pid: number): number | undefined {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

let counter = 0;

export class TestUser {
  /** A home (0755) and an XDG_RUNTIME_DIR (0700), both the user's. */
  readonly home: string;
  readonly xdg: string;

  private constructor(
    /** undefined for a bare uid. */
    readonly name: string | undefined,
    readonly uid: number,
    readonly gid: number,
    readonly subuid?: IdRange,
    readonly subgid?: IdRange,
  ) {
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-rootless-'));
    this.xdg = path.join(this.home, 'xdg');
    fs.mkdirSync(this.xdg, { mode: 0o700 });
    fs.chmodSync(this.home, 0o755);
    fs.chownSync(this.home, uid, gid);
    fs.chownSync(this.xdg, uid, gid);
  }

  /** A new user with subordinate ids (useradd gives each new user a range of 65536). */
  static create(t: TapLike): TestUser {
    const why = cannotAddUsers();
    if (why) throw new Error(why);
    const name = `tsrt${process.pid}x${++counter}`;
    const add = spawnSync('useradd', ['--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', '--user-group', name], { encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`useradd ${name}: ${add.stderr.trim()}`);
    let user: TestUser | undefined;
    t.teardown(() => {
      if (user) user.remove();
      else spawnSync('userdel', [name]);
    });
    const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
    user = new TestUser(name, id('-u'), id('-g'), subIds('/etc/subuid', name), subIds('/etc/subgid', name));
    return user;
  }

  /** A uid and gid that no account and no process has (for hosts where users cannot be made). */
  static bare(t: TapLike): TestUser {
    const taken = new Set(fs.readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => Number(l.split(':')[2])));
    let uid = 40000 + (process.pid % 20000);
    while (taken.has(uid) || TestUser.pidsOf([uid]).length) uid++;
    const user = new TestUser(undefined, uid, uid);
    t.teardown(() => user.remove());
    return user;
  }

  /** A made user when users can be made here, else a bare uid. */
  static any(t: TapLike): TestUser {
    return cannotAddUsers() ? TestUser.bare(t) : TestUser.create(t);
  }

  /** The environment the user's commands get: nothing of root's but PATH (node's directory). */
  env(over: Record<string, string | undefined> = {}): Record<string, string> {
    const base: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      HOME: this.home,
      USER: this.name ?? String(this.uid),
      LOGNAME: this.name ?? String(this.uid),
      XDG_RUNTIME_DIR: this.xdg,
      LANG: 'C.UTF-8',
      ...over,
    };
    return Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Record<string, string>;
  }

  /** argv that runs cmd as this user (with env, from cwd); before: argv run as root first (it must exec "$@"). */
  argv(cmd: string[], env: Record<string, string>): string[] {
    const groups = this.name ? ['--init-groups'] : ['--clear-groups'];
    return ['setpriv', '--reuid', String(this.uid), '--regid', String(this.gid), ...groups, '--', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...cmd];
  }

  /**
   * Run cmd as the user. stdio on files, as the runtime harness does: a detached container
   * inherits the runtime's stdio and would hold a pipe open.
   */
  run(cmd: string[], o: { cwd?: string; env?: Record<string, string | undefined>; before?: string[]; timeoutMs?: number } = {}): Result {
    const files = ['out', 'err'].map((s) => path.join(this.home, `.call-${++counter}.${s}`));
    const fds = files.map((f) => fs.openSync(f, 'w'));
    let res;
    try {
      const argv = [...(o.before ?? []), ...this.argv(cmd, this.env(o.env))];
      res = spawnSync(argv[0], argv.slice(1), { cwd: o.cwd ?? this.home, stdio: ['ignore', fds[0], fds[1]], timeout: o.timeoutMs ?? 30_000 });
    } finally {
      fds.forEach((fd) => fs.closeSync(fd));
    }
    const [stdout, stderr] = files.map((f) => fs.readFileSync(f, 'utf8'));
    files.forEach((f) => fs.rmSync(f, { force: true }));
    if (res.error) throw res.error;
    return { status: res.status ?? 128 + (res.signal ? os.constants.signals[res.signal] : 0), stdout, stderr };
  }

  /** This checkout's tsruntime, as the user. */
  tsr(args: string[], o: Parameters<TestUser['run']>[1] = {}): Result {
    return this.run([BIN, ...args], o);
  }

  /** A directory of the user's (under its home). */
  mkdir(name: string): string {
    const dir = path.join(this.home, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.chownSync(dir, this.uid, this.gid);
    return dir;
  }

  /** Every id the user's processes may run as: its own and its subordinate uids. */
  uids(): number[] {
    const out = [this.uid];
    if (this.subuid) for (let i = 0; i < this.subuid.count; i++) out.push(this.subuid.start + i);
    return out;
  }

  /** Live processes whose real uid is one of uids. */
  static pidsOf(uids: number[]): number[] {
    const set = new Set(uids);
    return fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .map(Number)
      .filter((pid) => {
        const uid = uidOf(pid);
        return uid !== undefined && set.has(uid);
      });
  }

  processes(): number[] {
    return TestUser.pidsOf(this.uids());
  }

  /** Kill the user's processes (all started by this test), remove the user and its directories. */
  remove(): void {
    for (let round = 0; round < 3; round++) {
      const pids = this.processes();
      if (!pids.length) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      waitSync(() => this.processes().length === 0, 5000);
    }
    if (this.name) spawnSync('userdel', [this.name]);
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

/**
 * A cgroup delegated to a user, as systemd delegates one to a user session: in every mounted
 * hierarchy, D and D/rt owned by the user (with their cgroup.procs, tasks, subtree_control), and
 * cpuset's cpus and mems filled in. A command started through `enter()` runs in D/rt, so a
 * rootless runtime's default cgroup, <id> under its own (v1) or its parent (v2), is the user's.
 */
export class DelegatedCgroup {
  readonly rel: string;
  private readonly made: string[] = [];

  constructor(t: TapLike, user: TestUser) {
    this.rel = `tsr-delegated-${process.pid}-${++counter}`;
    t.teardown(() => this.remove());
    for (const root of cgroupRoots()) {
      for (const dir of [path.join(root, this.rel), path.join(root, this.rel, 'rt')]) {
        fs.mkdirSync(dir);
        this.made.push(dir);
        for (const f of ['cpuset.cpus', 'cpuset.mems']) {
          if (fs.existsSync(path.join(root, f))) fs.writeFileSync(path.join(dir, f), fs.readFileSync(path.join(root, f), 'utf8').trim() || '\n');
        }
        fs.chownSync(dir, user.uid, user.gid);
        for (const f of ['cgroup.procs', 'tasks', 'cgroup.subtree_control', 'cgroup.threads']) {
          if (fs.existsSync(path.join(dir, f))) fs.chownSync(path.join(dir, f), user.uid, user.gid);
        }
      }
    }
  }

  /** argv prefix (run as root) that moves itself into D/rt everywhere, then execs the rest. */
  enter(): string[] {
    const files = cgroupRoots().map((root) => path.join(root, this.rel, 'rt', 'cgroup.procs'));
    return ['sh', '-c', `for f in ${files.map((f) => `'${f}'`).join(' ')}; do echo $$ > "$f" || exit 125; done; exec "$@"`, 'enter-delegated-cgroup'];
  }

  /** The container's cgroup directories (wherever the runtime made them below D), deepest first. */
  containerDirs(id: string): string[] {
    const out: string[] = [];
    for (const d of this.made) if (fs.existsSync(path.join(d, id))) out.push(path.join(d, id));
    return out;
  }

  remove(): void {
    const procs = (dir: string): number[] => {
      try {
        return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
      } catch {
        return [];
      }
    };
    const walk = (dir: string): string[] => {
      let subs: string[] = [];
      try {
        subs = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name));
      } catch {
        return [];
      }
      return [...subs.flatMap(walk), dir];
    };
    const all = [...new Set(this.made.filter((d) => !d.endsWith('/rt')).flatMap(walk))];
    for (const dir of all) for (const pid of procs(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    waitSync(() => all.every((d) => procs(d).length === 0), 5000);
    for (const dir of all) {
      try {
        fs.rmdirSync(dir);
      } catch {
        /* reported by the test's own checks */
      }
    }
  }
}
