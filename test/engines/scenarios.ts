/**
 * The scenarios every engine runs, once with tsruntime and once with runc, side by side: what a
 * user of Podman, containerd or Docker does with a container, checked from inside it. A scenario
 * an engine cannot express (its `unsupported` table) is skipped with the reason, for both
 * runtimes alike. Each engine is set up privately (test/helpers/engines.ts) and torn down after.
 */
import { Test } from 'tap';
import { Container, Engine, Runtime, poll } from '../helpers/engines';

const MiB = 1024 * 1024;

/** The container's memory and pids limits, as the container sees them (cgroup v1 or v2). */
const CGROUP_LIMITS = [
  'if [ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then',
  '  cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max',
  'else',
  "  p=$(sed -n 's/^0:://p' /proc/self/cgroup)",
  '  cat /sys/fs/cgroup$p/memory.max /sys/fs/cgroup$p/pids.max',
  'fi',
].join('\n');

/** A pid 1 that handles SIGTERM (a pid-namespace init ignores signals it has no handler for). */
const TRAPS_TERM = 'trap "echo got SIGTERM; exit 0" TERM; echo out-line; echo err-line >&2; while :; do sleep 0.1; done';

const NS_LINKS = (pid: string) => `readlink /proc/${pid}/ns/net; readlink /proc/${pid}/ns/pid; readlink /proc/${pid}/ns/ipc`;

const show = (r: { status: number; stdout: string; stderr: string }) => `exit ${r.status}; stdout ${JSON.stringify(r.stdout)}; stderr ${JSON.stringify(r.stderr)}`;

function scenarios(t: Test, e: Engine, rt: Runtime): void {
  const skip = (feature: string) => (e.unsupported[feature] ? { skip: e.unsupported[feature] } : {});
  const removed = (t: Test, c: Container) => {
    t.teardown(() => e.remove(c));
    return c;
  };

  t.test('run --rm: output and exit status 0', async (t) => {
    const r = e.run(rt, ['echo', 'hello from the container']);
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout, 'hello from the container\n');
  });

  t.test('exit code 3', async (t) => {
    const r = e.run(rt, ['sh', '-c', 'exit 3']);
    t.equal(r.status, 3, show(r));
  });

  t.test('exit code 137: the container init OOM-killed under a 16 MiB --memory', skip('cgroups'), async (t) => {
    const r = e.run(rt, ['sh', '-c', 'exec tail /dev/zero'], { memory: 16 * MiB });
    t.equal(r.status, 137, show(r));
  });

  t.test('a command that is not there, or not executable: the exit code the engine derives from the error', async (t) => {
    const [missing, notExec] = e.commandErrorCodes.run;
    const r = e.run(rt, ['no-such-command']);
    t.equal(r.status, missing, show(r));
    t.match(r.stdout + r.stderr, /no-such-command/, 'the error names the command');
    const x = e.run(rt, ['/etc/passwd']);
    t.equal(x.status, notExec, show(x));
  });

  t.test('stdin (-i)', async (t) => {
    const r = e.run(rt, ['sh', '-c', 'read line; echo "got $line"'], { stdin: 'a line on stdin\n' });
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout, 'got a line on stdin\n');
  });

  t.test('terminal (-t)', async (t) => {
    const r = e.run(rt, ['sh', '-c', 'tty; test -t 0 && test -t 1 && echo stdin-and-stdout-are-terminals'], { tty: true });
    t.equal(r.status, 0, show(r));
    t.match(r.stdout, /\/dev\/pts\/\d+\n/, 'tty names a pts');
    t.match(r.stdout, /stdin-and-stdout-are-terminals/);
  });

  t.test('a detached container: logs, top, exec, pause/unpause, stop, restart, kill', async (t) => {
    const c = removed(t, e.runDetached(rt, ['sh', '-c', TRAPS_TERM]));

    t.test('detached run + logs', async (t) => {
      const logs = poll(() => {
        const l = e.logs(c);
        return l.includes('out-line') && l.includes('err-line') && l;
      });
      t.ok(logs, `stdout and stderr are in the logs: ${JSON.stringify(e.logs(c))}`);
      t.equal(e.status(c), 'running', 'the engine reports it running');
    });

    t.test('top (Docker and ctr ask the runtime: ps --format json)', async (t) => {
      const pid = e.initPid(c);
      t.ok(pid > 0, `the engine reports the init's pid (${pid})`);
      const { result, pids } = e.top(c);
      t.equal(result.status, 0, show(result));
      t.ok(pids.includes(pid), `the init (${pid}) is among the listed processes (${pids.join(', ')})`);
    });

    t.test('exec', async (t) => {
      const r = e.exec(c, ['echo', 'exec-ok']);
      t.equal(r.status, 0, show(r));
      t.equal(r.stdout, 'exec-ok\n');
    });

    t.test('exec -i', async (t) => {
      const r = e.exec(c, ['sh', '-c', 'read line; echo "exec got $line"'], { stdin: 'input\n' });
      t.equal(r.status, 0, show(r));
      t.equal(r.stdout, 'exec got input\n');
    });

    t.test('exec -t', async (t) => {
      const r = e.exec(c, ['sh', '-c', 'tty; test -t 0 && test -t 1 && echo exec-terminal'], { tty: true });
      t.equal(r.status, 0, show(r));
      t.match(r.stdout, /\/dev\/pts\/\d+\n/);
      t.match(r.stdout, /exec-terminal/);
    });

    t.test('exec exit code', async (t) => {
      const r = e.exec(c, ['sh', '-c', 'exit 5']);
      t.equal(r.status, 5, show(r));
      const [missing, notExec] = e.commandErrorCodes.exec;
      const m = e.exec(c, ['no-such-command']);
      t.equal(m.status, missing, `a command that is not there: ${show(m)}`);
      const n = e.exec(c, ['/etc/passwd']);
      t.equal(n.status, notExec, `a command that is not executable: ${show(n)}`);
    });

    t.test('pause/unpause + exec', skip('cgroups'), async (t) => {
      const p = e.pause(c);
      t.equal(p.status, 0, show(p));
      t.equal(e.status(c), 'paused', 'the engine reports it paused');
      const u = e.resume(c);
      t.equal(u.status, 0, show(u));
      t.equal(e.status(c), 'running', 'the engine reports it running');
      const r = e.exec(c, ['echo', 'after-unpause']);
      t.equal(r.stdout, 'after-unpause\n', show(r));
    });

    t.test('stop of a process that traps SIGTERM', async (t) => {
      t.equal(e.stop(c), 0, 'its SIGTERM handler ran: exit 0, not 137');
      t.match(e.logs(c), /got SIGTERM/);
      t.equal(e.status(c), 'stopped', 'the engine reports it stopped');
    });

    t.test('restart', async (t) => {
      const r = e.restart(c);
      t.equal(r.status, 0, show(r));
      t.ok(poll(() => e.status(c) === 'running'), 'running again');
      const x = e.exec(c, ['echo', 'after-restart']);
      t.equal(x.stdout, 'after-restart\n', show(x));
    });

    t.test('kill', async (t) => {
      t.equal(e.kill(c), 137, 'SIGKILL: exit 137');
      t.equal(e.status(c), 'stopped', 'the engine reports it stopped');
    });
  });

  t.test('--memory and --pids-limit visible inside', skip('cgroups'), async (t) => {
    const r = e.run(rt, ['sh', '-c', CGROUP_LIMITS], { memory: 64 * MiB, pidsLimit: 50 });
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout, `${64 * MiB}\n50\n`);
  });

  t.test('--network bridge', skip('network'), async (t) => {
    const r = e.run(rt, ['ip', '-4', 'addr', 'show', 'eth0'], { network: 'bridge' });
    t.equal(r.status, 0, show(r));
    t.match(r.stdout, /inet \d+\.\d+\.\d+\.\d+\/\d+/, 'eth0 has an address on the bridge');
  });

  t.test('--read-only', async (t) => {
    const r = e.run(rt, ['sh', '-c', 'touch /probe || exit 42'], { readOnly: true });
    t.equal(r.status, 42, show(r));
    t.match(r.stdout + r.stderr, /Read-only file system/);
  });

  t.test('--user', async (t) => {
    const r = e.run(rt, ['sh', '-c', 'id -u; id -g'], { user: '1000:1000' });
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout, '1000\n1000\n');
  });

  t.test('--cap-drop ALL', async (t) => {
    const r = e.run(rt, ['grep', '-E', '^Cap(Prm|Eff|Bnd|Amb)', '/proc/self/status'], { capDropAll: true });
    t.equal(r.status, 0, show(r));
    t.equal(r.stdout.replace(/\s+/g, ' ').trim(), 'CapPrm: 0000000000000000 CapEff: 0000000000000000 CapBnd: 0000000000000000 CapAmb: 0000000000000000');
  });

  t.test('shared namespaces: --net/--pid/--ipc container:X', async (t) => {
    const a = removed(t, e.runDetached(rt, ['sleep', '300'], { shareable: true }));
    const links = e.exec(a, ['sh', '-c', NS_LINKS('1')]);
    t.equal(links.status, 0, show(links));
    const r = e.run(rt, ['sh', '-c', `${NS_LINKS('self')}; ps`], { shareWith: a });
    t.equal(r.status, 0, show(r));
    const lines = r.stdout.split('\n');
    t.equal(lines.slice(0, 3).join('\n') + '\n', links.stdout, 'the same network, pid and ipc namespaces');
    t.match(lines.slice(3).join('\n'), /sleep 300/, "the other container's processes are visible");
  });

  t.test('nothing left behind', async (t) => {
    // Podman's cleanup process and the shims finish asynchronously after a container exits.
    poll(() => e.leftovers(rt).length === 0, 10_000, 100);
    t.same(e.leftovers(rt), [], 'no container, runtime state, mount, cgroup or process');
  });
}

/**
 * One engine's suite: set up privately, then every scenario with each runtime (and `extra`, the
 * scenarios only this engine has).
 */
export function engineSuite(
  t: Test,
  name: string,
  missing: () => string | undefined,
  create: (t: Test) => Promise<Engine>,
  extra?: (t: Test, e: Engine, rt: Runtime) => void,
): void {
  const why = process.getuid?.() !== 0 ? 'needs root' : missing();
  t.test(name, why ? { skip: `${name}: ${why}` } : {}, async (t) => {
    const t0 = Date.now();
    const e = await create(t);
    t.comment(`${name}: set up in ${Date.now() - t0} ms`);
    for (const rt of e.runtimes) {
      const t1 = Date.now();
      await t.test(`${name} with ${rt.name}`, async (t) => {
        extra?.(t, e, rt);
        scenarios(t, e, rt);
      });
      t.comment(`${name} with ${rt.name}: ${Date.now() - t1} ms`);
    }
  });
}
