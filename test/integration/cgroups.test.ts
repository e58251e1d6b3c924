// Integration tests for src/cgroups with real cgroups: needs root. Runs on whatever layout the host has:
// this project's VM is hybrid (v1 + /sys/fs/cgroup/unified); npm run test:cgroup2 runs it on pure v2 (scripts/vm.sh).
// Every test cleans up in t.teardown (kill its processes, destroy its cgroup, rmdir the test parent).
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawn, ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import { CgroupManager, cgroupManager, parseProcCgroup, readLayout } from '../../src/cgroups';
import { RuntimeError } from '../../src/errors';
import { becomeSubreaper, reapIfExited } from '../../src/native/reaper';
import { NEEDS_ROOT } from '../helpers/runtime';
import { isRunning, until } from '../helpers/wait';

const TEST_PARENT = '/tsruntime-test';

const skip = NEEDS_ROOT;
main();

/** A child subreaper, so grandchildren killed with their parent can be reaped (this VM's PID 1 never
 * reaps orphans). Returns a function that reaps one pid without blocking. */
function subreaper(): (pid: number) => boolean {
  try {
    return becomeSubreaper() ? reapIfExited : () => false;
  } catch {
    return () => false;
  }
}

function main(): void {
  const layout = readLayout();
  const reap = subreaper();
  t.comment(`cgroup layout: ${layout.mode}`);

  const hierarchyRoots = [...layout.v1.map((h) => h.mountPoint), ...(layout.unified ? [layout.unified.mountPoint] : [])];

  function exitOf(cp: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (cp.exitCode !== null || cp.signalCode !== null) return Promise.resolve({ code: cp.exitCode, signal: cp.signalCode });
    return new Promise((resolve) => cp.once('exit', (code, signal) => resolve({ code, signal })));
  }
  function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  /** A fresh manager under /tsruntime-test (or a given path) with teardown registered before anything is created. */
  function setup(t: tap.Test, cgroupsPath?: string) {
    const id = 'cg' + randomBytes(6).toString('hex');
    const m = cgroupManager({ id, cgroupsPath: cgroupsPath ?? `${TEST_PARENT}/${id}` });
    const children: ChildProcess[] = [];
    const orphans = new Set<number>();
    t.teardown(async () => {
      for (const cp of children) {
        if (cp.exitCode === null && cp.signalCode === null) {
          try {
            process.kill(cp.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
          await withTimeout(exitOf(cp), 3000, `pid ${cp.pid}`).catch(() => undefined);
        }
      }
      try {
        m.killAll('SIGKILL'); // anything that a failed assertion left behind
      } catch {
        /* best effort */
      }
      for (const pid of orphans) await until(() => reap(pid) || !fs.existsSync(`/proc/${pid}`), 2000);
      try {
        m.destroy();
      } catch (e) {
        t.comment(`teardown destroy: ${(e as Error).message}`);
      }
      for (const root of hierarchyRoots) {
        try {
          fs.rmdirSync(path.join(root, TEST_PARENT));
        } catch {
          /* not ours to remove yet (ENOENT, or another test's cgroup is still there) */
        }
      }
    });
    const run = (cmd: string, args: string[], stdin: 'pipe' | 'ignore' = 'ignore') => {
      const cp = spawn(cmd, args, { stdio: [stdin, 'ignore', 'inherit'] });
      children.push(cp);
      return cp;
    };
    return { m, id, run, orphans };
  }

  /** What /proc/<pid>/cgroup must say for a process in m, per hierarchy key ("" = cgroup2). */
  function expectedLines(cgroupPathInHierarchy: (key: string) => string): Map<string, string> {
    const out = new Map<string, string>();
    if (layout.mode === 'v2') out.set('', cgroupPathInHierarchy(''));
    else {
      for (const key of ['memory', 'pids', 'freezer']) {
        if (layout.v1.some((h) => h.controllers.includes(key))) out.set(key, cgroupPathInHierarchy(key));
      }
      if (layout.v1.some((h) => h.controllers.includes('name=systemd'))) out.set('name=systemd', cgroupPathInHierarchy('name=systemd'));
      if (layout.mode === 'hybrid') out.set('', cgroupPathInHierarchy(''));
    }
    return out;
  }

  function checkMembership(t: tap.Test, pid: number, expected: Map<string, string>): void {
    const actual = parseProcCgroup(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    for (const [key, want] of expected) {
      t.equal(actual.get(key), want, `/proc/${pid}/cgroup ${key === '' ? '0::' : key}`);
    }
  }

  function frozenOnDisk(m: CgroupManager): boolean {
    if (m.driver === 'v2') return /^frozen 1$/m.test(fs.readFileSync(path.join(m.paths[''], 'cgroup.events'), 'utf8'));
    return fs.readFileSync(path.join(m.paths.freezer, 'freezer.state'), 'utf8').trim() === 'FROZEN';
  }

  t.test('create, join, pids, freeze, thaw, killAll, destroy', { skip }, async (t) => {
    const { m, id, run } = setup(t);
    t.equal(m.cgroupsPath, `${TEST_PARENT}/${id}`);
    t.equal(m.driver, layout.mode === 'v2' ? 'v2' : 'v1');
    t.equal(m.exists(), false, 'not there before create');
    m.create();
    t.equal(m.exists(), true, 'exists after create');
    for (const [key, dir] of Object.entries(m.paths)) t.ok(fs.statSync(dir).isDirectory(), `directory for ${key || 'cgroup2'}`);
    t.doesNotThrow(() => m.create(), 'create is idempotent');

    if (m.driver === 'v2') {
      const controllers = fs.readFileSync(path.join(m.paths[''], 'cgroup.controllers'), 'utf8').split(/\s+/);
      const atRoot = fs.readFileSync(path.join(layout.unified!.mountPoint, 'cgroup.subtree_control'), 'utf8').split(/\s+/).filter(Boolean);
      for (const c of atRoot) t.ok(controllers.includes(c), `controller ${c} enabled down to the container cgroup`);
    }

    const cp = run('sleep', ['100']);
    const pid = cp.pid!;
    m.join(pid);
    checkMembership(t, pid, expectedLines(() => m.cgroupsPath));
    t.same(m.pids(), [pid], 'pids()');
    t.same(m.pids(true), [pid], 'pids(recursive)');

    t.equal(m.isFrozen(), false, 'not frozen');
    m.freeze();
    t.equal(m.isFrozen(), true, 'isFrozen after freeze');
    t.ok(frozenOnDisk(m), 'freezer file says frozen');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^State:\s*(.*)$/m)?.[1];
    t.comment(`frozen process state: ${status}`);
    m.freeze();
    t.equal(m.isFrozen(), true, 'freeze twice is fine');
    m.thaw();
    t.equal(m.isFrozen(), false, 'thawed');
    t.notOk(frozenOnDisk(m), 'freezer file says thawed');

    m.killAll('SIGKILL');
    const exit = await withTimeout(exitOf(cp), 5000, 'sleep to die');
    t.equal(exit.signal, 'SIGKILL', 'killed by SIGKILL');
    t.ok(await until(() => m.pids().length === 0), 'cgroup empty');

    m.destroy();
    t.equal(m.exists(), false, 'gone after destroy');
    for (const dir of Object.values(m.paths)) t.notOk(fs.existsSync(dir), `${dir} removed`);
    t.doesNotThrow(() => m.destroy(), 'destroy again: ENOENT ignored');
    for (const root of hierarchyRoots) t.ok(fs.existsSync(path.join(root, TEST_PARENT)), `parent left in ${root}`);
  });

  t.test('killAll with SIGTERM reaches children forked after join (freeze, signal, thaw)', { skip }, async (t) => {
    const { m, run, orphans } = setup(t);
    m.create();
    // sh waits for a line, then forks two sleeps: they are born inside the cgroup.
    const cp = run('sh', ['-c', 'read x; sleep 100 & sleep 100 & wait'], 'pipe');
    m.join(cp.pid!);
    cp.stdin!.write('go\n');
    t.ok(await until(() => m.pids().length === 3), 'sh and its two children are in the cgroup');
    const pids = m.pids();
    for (const p of pids) if (p !== cp.pid) orphans.add(p);
    t.ok(pids.includes(cp.pid!));
    for (const p of pids) if (p !== cp.pid) checkMembership(t, p, expectedLines(() => m.cgroupsPath));

    m.killAll('SIGTERM');
    t.equal(m.isFrozen(), false, 'thawed again after signalling');
    const exit = await withTimeout(exitOf(cp), 5000, 'sh to die');
    t.equal(exit.signal, 'SIGTERM');
    t.ok(await until(() => pids.every((p) => !isRunning(p))), 'every process died');
    t.ok(await until(() => m.pids(true).length === 0), 'cgroup empty');
    m.destroy(); // right after the kill: retries while the cgroup is still busy
    t.equal(m.exists(), false);
  });

  t.test('killAll SIGKILL on a frozen (paused) cgroup', { skip }, async (t) => {
    const { m, run } = setup(t);
    m.create();
    const cp = run('sleep', ['100']);
    m.join(cp.pid!);
    m.freeze();
    m.killAll('SIGKILL');
    const exit = await withTimeout(exitOf(cp), 5000, 'frozen sleep to die');
    t.equal(exit.signal, 'SIGKILL', 'a paused process is killed too');
    m.destroy();
    t.equal(m.exists(), false);
  });

  t.test('destroy removes sub-cgroups, and a manager rebuilt from cgroupsPath sees the same cgroup', { skip }, async (t) => {
    const { m, id, run } = setup(t);
    m.create();
    const again = cgroupManager({ id, cgroupsPath: m.cgroupsPath });
    t.same(again.paths, m.paths, 'same directories from the recorded cgroupsPath');
    t.equal(again.exists(), true);
    const cp = run('sleep', ['100']);
    m.join(cp.pid!);
    t.same(again.pids(), [cp.pid]);

    // A nested cgroup, as a container with its own cgroup namespace might make.
    const nestedDir = path.join(m.paths[m.driver === 'v2' ? '' : 'pids'], 'nested');
    fs.mkdirSync(nestedDir);
    fs.writeFileSync(path.join(nestedDir, 'cgroup.procs'), String(cp.pid));
    t.same(again.pids(), [], 'non-recursive pids() skips sub-cgroups');
    t.same(again.pids(true), [cp.pid], 'recursive pids() sees them');

    again.killAll('SIGKILL');
    await withTimeout(exitOf(cp), 5000, 'sleep to die');
    again.destroy();
    t.notOk(fs.existsSync(nestedDir), 'nested cgroup removed');
    t.equal(m.exists(), false);
  });

  t.test('destroy gives up on a busy cgroup', { skip }, async (t) => {
    const { m, run } = setup(t);
    m.create();
    const cp = run('sleep', ['100']);
    m.join(cp.pid!);
    t.throws(() => m.destroy(), { name: 'RuntimeError', message: /EBUSY \(processes still inside\)/ }, 'EBUSY while a process is inside');
    t.equal(m.exists(), true, 'still there');
  });

  t.test('join errors', { skip }, async (t) => {
    const { m } = setup(t);
    t.throws(() => m.join(process.pid), RuntimeError, 'join before create: no such cgroup');
    m.create();
    t.throws(() => m.join(2 ** 22 + 12345), RuntimeError, 'no such process');
  });

  t.test('relative cgroupsPath resolves under our own cgroup (runc semantics)', { skip }, async (t) => {
    const rel = 'tsruntime-test-rel-' + randomBytes(4).toString('hex');
    const { m, run } = setup(t, rel);
    t.equal(m.cgroupsPath, rel);
    const own = parseProcCgroup(fs.readFileSync('/proc/self/cgroup', 'utf8'));
    m.create();
    const cp = run('sleep', ['100']);
    m.join(cp.pid!);
    checkMembership(
      t,
      cp.pid!,
      expectedLines((key) => {
        const base = own.get(key)!;
        return path.posix.join(layout.mode === 'v2' ? path.posix.dirname(base) : base, rel);
      }),
    );
    m.killAll('SIGKILL');
    await withTimeout(exitOf(cp), 5000, 'sleep to die');
    m.destroy();
    t.equal(m.exists(), false);
  });
}

