/** exec into running containers: settings, exit codes, detach, signals, states, fd hygiene. */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawn, spawnSync } from 'child_process';
import { BIN, Sandbox, TapLike, NEEDS_ROOT } from '../helpers/runtime';

function runningContainer(t: TapLike, edit?: (s: Record<string, any>) => void) {
  const sb = new Sandbox(t);
  const id = sb.id();
  const r = sb.tsr(['run', '--detach', '--bundle', sb.bundle(['sleep', '300'], edit), id]);
  if (r.status !== 0) throw new Error(`run -d: ${r.stderr}`);
  return { sb, id };
}

/** Processes whose parent is pid (to catch exec helpers left behind). */
function childrenOf(pid: number): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'latin1');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
    } catch {
      return false;
    }
  }).map(Number);
}

t.test('exec: env, cwd, user, capabilities, pid namespace, exit code', { skip: NEEDS_ROOT }, async (t) => {
  const { sb, id } = runningContainer(t, (s) => {
    s.process.env.push('FROM_CONFIG=yes');
  });
  const r = sb.tsr(['exec', '--env', 'EXTRA=1', '--cwd', '/tmp', '--user', '1000:1001', '--additional-gids', '7', '--cap', 'CAP_SYS_ADMIN', id,
    'sh', '-c', 'echo env=$FROM_CONFIG,$EXTRA; pwd; id -u; id -g; id -G; grep CapEff /proc/self/status; echo pid=$$; exit 5']);
  t.equal(r.status, 5, `exit code passes through (${r.stderr})`);
  t.match(r.stdout, /env=yes,1\n/, "the container's env plus --env");
  t.match(r.stdout, /\n\/tmp\n/, '--cwd');
  t.match(r.stdout, /\n1000\n1001\n/, '--user uid:gid');
  t.match(r.stdout, /\n1001 7\n/, '--additional-gids');
  // CAP_SYS_ADMIN is bit 21; runc's default caps are AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10).
  const capEff = BigInt('0x' + /CapEff:\s+([0-9a-f]+)/.exec(r.stdout)![1]);
  // For a non-root user the kernel keeps only ambient caps across execve; --cap adds to all
  // five sets (ambient included), the config's default caps are not ambient-raisable.
  t.equal(capEff, 1n << 21n, 'a non-root user keeps only the --cap capability (ambient)');
  const root = sb.tsr(['exec', '--cap', 'CAP_SYS_ADMIN', id, 'sh', '-c', 'grep CapEff /proc/self/status; echo pid=$$']);
  const rootCaps = BigInt('0x' + /CapEff:\s+([0-9a-f]+)/.exec(root.stdout)![1]);
  t.equal(rootCaps, (1n << 21n) | (1n << 29n) | (1n << 5n) | (1n << 10n), 'config caps plus --cap');
  t.notMatch(root.stdout, /pid=1\n/, 'exec is not pid 1');
  t.match(root.stdout, /pid=\d+\n/);
  const killed = sb.tsr(['exec', id, 'sh', '-c', 'kill -9 $$']);
  t.equal(killed.status, 137, 'killed by a signal: 128+signal');
});

t.test('exec joins the container namespaces and cgroup', { skip: NEEDS_ROOT }, async (t) => {
  const { sb, id } = runningContainer(t);
  const initPid = sb.state(id).pid;
  const r = sb.tsr(['exec', id, 'sh', '-c', 'for n in pid net ipc uts mnt; do echo $n $(readlink /proc/self/ns/$n); done; hostname; cat /proc/self/cgroup']);
  t.equal(r.status, 0, r.stderr);
  for (const n of ['pid', 'net', 'ipc', 'uts', 'mnt']) {
    t.match(r.stdout, new RegExp(`^${n} ${fs.readlinkSync(`/proc/${initPid}/ns/${n}`).replace(/[[\]]/g, '\\$&')}$`, 'm'), `same ${n} namespace as the init`);
  }
  t.match(r.stdout, /^tsruntime$/m, 'hostname of the container');
  t.match(r.stdout, new RegExp(`memory:/tsruntime/${id}$`, 'm'), "in the container's cgroup");
});

t.test('exec --process file, --detach with --pid-file, no helper left behind', { skip: NEEDS_ROOT }, async (t) => {
  const { sb, id } = runningContainer(t);
  const procFile = path.join(sb.dir, 'process.json');
  fs.writeFileSync(procFile, JSON.stringify({ args: ['sh', '-c', 'echo from-process-json $GREETING; exit 9'], env: ['GREETING=hi', 'PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } }));
  const r = sb.tsr(['exec', '--process', procFile, id]);
  t.equal(r.status, 9, r.stderr);
  t.match(r.stdout, /from-process-json hi/);

  fs.writeFileSync(procFile, JSON.stringify({ args: [], cwd: '/' }));
  const bad = sb.tsr(['exec', '--process', procFile, id]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /--process .*: \/args: must NOT have fewer than 1 items/, 'the process file is validated');

  const pidFile = path.join(sb.dir, 'exec.pid');
  const d = sb.tsr(['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '100']);
  t.equal(d.status, 0, d.stderr);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.ok(pid > 0 && fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('sleep\x00100'), 'pid file names the exec process');
  t.ok(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/tsruntime/${id}`), 'in the container cgroup');

  // A foreground exec from a process we watch: nothing but the exec'd process is ever its child.
  const child = spawn(BIN, ['--root', sb.root, 'exec', id, 'sleep', '2'], { stdio: 'ignore' });
  // Counted once the exec'd program itself runs (a fixed wait counted too early on a busy host).
  const isSleep = (p: number): boolean => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').startsWith('sleep\x002');
    } catch {
      return false;
    }
  };
  let kids = childrenOf(child.pid!);
  for (let i = 0; i < 400 && child.exitCode === null && !kids.some(isSleep); i++) {
    await new Promise((r) => setTimeout(r, 25));
    kids = childrenOf(child.pid!);
  }
  t.equal(kids.length, 1, 'one child: the exec process (the helper is reaped)');
  await new Promise((r) => child.on('exit', r));
});

t.test('signals to a foreground exec reach the process', { skip: NEEDS_ROOT }, async (t) => {
  const { sb, id } = runningContainer(t);
  const child = spawn(BIN, ['--root', sb.root, 'exec', id, 'sh', '-c', 'trap "exit 6" USR1; touch /dev/shm/usr1-trap; while :; do sleep 0.05; done'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && sb.tsr(['exec', id, 'test', '-e', '/dev/shm/usr1-trap']).status !== 0; i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGUSR1');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  t.equal(code, 6, 'SIGUSR1 forwarded; the trap exit code comes back');
});

t.test('exec into paused and stopped containers', { skip: NEEDS_ROOT }, async (t) => {
  const { sb, id } = runningContainer(t);
  t.equal(sb.tsr(['pause', id]).status, 0);
  t.equal(sb.state(id).status, 'paused');
  const paused = sb.tsr(['exec', id, 'true']);
  t.equal(paused.status, 1);
  t.match(paused.stderr, /cannot exec in a paused container/);
  t.equal(sb.tsr(['resume', id]).status, 0);
  t.equal(sb.tsr(['exec', id, 'true']).status, 0, 'exec after resume');
  t.equal(sb.tsr(['kill', id, 'KILL']).status, 0);
  t.ok(sb.waitStatus(id, 'stopped'));
  const stopped = sb.tsr(['exec', id, 'true']);
  t.equal(stopped.status, 1);
  t.match(stopped.stderr, /cannot exec in a stopped container/);
  const missing = sb.tsr(['exec', 'nope-' + process.pid, 'true']);
  t.match(missing.stderr, /container nope-\d+ does not exist/);
  const notFound = runningContainer(t);
  const nf = notFound.sb.tsr(['exec', notFound.id, 'no-such-binary']);
  t.equal(nf.status, 1);
  t.match(nf.stderr, /exec: exec "no-such-binary": executable file not found in \$PATH/);
});

t.test('only stdio (and --preserve-fds) reach the container', { skip: NEEDS_ROOT }, async (t) => {
  const { sb, id } = runningContainer(t);
  const extra = [fs.openSync('/etc/hostname', 'r'), fs.openSync('/etc/passwd', 'r')];
  t.teardown(() => extra.forEach((fd) => fs.closeSync(fd)));
  // fds 3..20 in the caller: 3 and 4 are files, 20 is one above libuv's CLOEXEC range.
  const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe', extra[0], extra[1]];
  while (stdio.length < 20) stdio.push('ignore');
  stdio.push(extra[1]);
  // Every fd of the shell, with what it points at (the glob's own directory fd shows too).
  const list = 'for f in /proc/$$/fd/*; do echo ${f##*/} $(readlink $f); done';
  const res = spawnSync(BIN, ['--root', sb.root, 'exec', id, 'sh', '-c', list], { stdio, encoding: 'utf8' });
  t.equal(res.status, 0, String(res.stderr));
  const fds = String(res.stdout).trim().split('\n').filter((l) => Number(l.split(' ')[0]) > 2);
  t.notMatch(String(res.stdout), /hostname|passwd/, `no file the caller opened is inside: ${fds.join('; ')}`);
  t.ok(fds.length <= 1, `at most the shell's own directory fd above stdio: ${fds.join('; ')}`);
  const kept = spawnSync(BIN, ['--root', sb.root, 'exec', '--preserve-fds', '1', id, 'sh', '-c', 'cat /proc/$$/fdinfo/3 >/dev/null && readlink /proc/$$/fd/3'], { stdio, encoding: 'utf8' });
  t.equal(kept.status, 0, String(kept.stderr));
  t.match(String(kept.stdout), /hostname/, '--preserve-fds 1 keeps fd 3');
});

t.test("the runtime's binary cannot be reached through a created init's /proc/PID/exe", { skip: NEEDS_ROOT }, async (t) => {
  // CVE-2019-5736 class: before `start`, pid 1 is still a copy of the runtime (node). It is
  // non-dumpable, so a process in the container cannot open its exe (or mem, or fds).
  const sb = new Sandbox(t);
  const id = sb.id();
  t.equal(sb.tsr(['create', '--bundle', sb.bundle(['sleep', '300']), id]).status, 0);
  const r = sb.tsr(['exec', id, 'sh', '-c', 'cat /proc/1/exe >/dev/null && echo OPENED; readlink /proc/1/fd/0 || echo FD-DENIED']);
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stdout, /OPENED/, '/proc/1/exe cannot be read');
  t.match(r.stdout, /FD-DENIED/, "the init's fds cannot be followed");
});

t.test('exec --ignore-paused, --no-new-privs, --cgroup', { skip: NEEDS_ROOT }, async (t) => {
  const { sb, id } = runningContainer(t, (s) => {
    s.process.noNewPrivileges = false;
  });
  const nnp = sb.tsr(['exec', '--no-new-privs', id, 'grep', 'NoNewPrivs', '/proc/self/status']);
  t.match(nnp.stdout, /NoNewPrivs:\s+1/, '--no-new-privs');
  const without = sb.tsr(['exec', id, 'grep', 'NoNewPrivs', '/proc/self/status']);
  t.match(without.stdout, /NoNewPrivs:\s+0/, 'off by default (the config has no noNewPrivileges)');

  // A sub-cgroup of the container, made the way a client would (in every hierarchy).
  const { cgroupManager } = require('../../src/cgroups');
  const sub = cgroupManager({ cgroupsPath: `/tsruntime/${id}/sub`, id });
  sub.create();
  t.teardown(() => sub.destroy());
  const inSub = sb.tsr(['exec', '--cgroup', 'sub', id, 'cat', '/proc/self/cgroup']);
  t.equal(inSub.status, 0, inSub.stderr);
  t.match(inSub.stdout, new RegExp(`memory:/tsruntime/${id}/sub$`, 'm'), 'joined the sub-cgroup');
  const escape = sb.tsr(['exec', '--cgroup', '../x', id, 'true']);
  t.equal(escape.status, 1);
  t.match(escape.stderr, /must stay inside the container's cgroup/);

  t.equal(sb.tsr(['pause', id]).status, 0);
  const pidFile = path.join(sb.dir, 'paused-exec.pid');
  const d = sb.tsr(['exec', '--ignore-paused', '--detach', '--pid-file', pidFile, id, 'sh', '-c', 'echo ran > /dev/shm/ran; sleep 100']);
  t.equal(d.status, 0, `exec --ignore-paused --detach: ${d.stderr}`);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.ok(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`/tsruntime/${id}`), 'in the frozen cgroup');
  t.equal(sb.tsr(['resume', id]).status, 0);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(sb.tsr(['exec', id, 'cat', '/dev/shm/ran']).stdout, 'ran\n', 'it ran once resumed');
});

t.test("exec gets the container's seccomp filter", { skip: NEEDS_ROOT }, async (t) => {
  const { sb, id } = runningContainer(t, (s) => {
    s.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    };
  });
  const r = sb.tsr(['exec', id, 'sh', '-c', 'grep Seccomp: /proc/self/status; mkdir /dev/shm/blocked 2>&1; echo rc=$?']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /Seccomp:\s+2/, 'filter mode');
  t.match(r.stdout, /Operation not permitted/, 'the filtered syscall fails with the configured errno');
});
