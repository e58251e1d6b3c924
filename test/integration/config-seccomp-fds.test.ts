/**
 * Real containers: seccomp with Podman's default profile (test/fixtures/podman-seccomp.json, from
 * containers/common, converted the way Podman does for an amd64 container with its default
 * capabilities), and fd hygiene: only stdio, --preserve-fds N, reach the container.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawnSync } from 'child_process';
import { BIN, Sandbox, NEEDS_ROOT } from '../helpers/runtime';
import { Facts, probeBundle, runProbe } from '../helpers/probe';

const PODMAN_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT'];

/** containers/common's profile → OCI linux.seccomp, as Podman builds it (arch amd64, these caps). */
function podmanProfile(caps: string[]): Record<string, any> {
  const raw = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'podman-seccomp.json'), 'utf8'));
  const arch = raw.archMap.find((a: { architecture: string }) => a.architecture === 'SCMP_ARCH_X86_64');
  const syscalls = [];
  for (const sc of raw.syscalls) {
    const inc = sc.includes ?? {};
    const exc = sc.excludes ?? {};
    if (inc.arches && !inc.arches.includes('amd64')) continue;
    if (inc.caps && !inc.caps.every((c: string) => caps.includes(c))) continue;
    if (exc.arches && exc.arches.includes('amd64')) continue;
    if (exc.caps && exc.caps.some((c: string) => caps.includes(c))) continue;
    if (inc.minKernel) continue; // conservative: the profile's kernel-gated rules are left out
    const out: Record<string, any> = { names: sc.names, action: sc.action };
    if (sc.args?.length) out.args = sc.args;
    if (sc.errnoRet !== undefined) out.errnoRet = sc.errnoRet;
    syscalls.push(out);
  }
  return { defaultAction: raw.defaultAction, defaultErrnoRet: raw.defaultErrnoRet, architectures: [arch.architecture, ...arch.subArchitectures], syscalls };
}

for (const nnp of [false, true]) {
  t.test(`Podman's default seccomp profile (noNewPrivileges ${nnp})`, { skip: NEEDS_ROOT }, async (t) => {
    const sb = new Sandbox(t);
    const { facts, result } = runProbe(sb, (s) => {
      s.process.noNewPrivileges = nnp;
      s.process.capabilities = { bounding: PODMAN_CAPS, effective: PODMAN_CAPS, permitted: PODMAN_CAPS };
      s.linux.seccomp = podmanProfile(PODMAN_CAPS);
    });
    t.equal(result.status, 0, result.stderr);
    t.equal(facts?.seccomp, 2, 'the filter is loaded');
    t.equal(facts?.noNewPrivs, nnp ? 1 : 0);
    t.equal(facts?.hostname, 'tsruntime', 'the probe ran to the end');

    // A shell under the profile, forking and exec'ing (clone/clone3 and execve are allowed).
    const bundle = sb.bundle(['sh', '-c', 'echo hello; grep Seccomp: /proc/self/status'], (s) => {
      s.process.noNewPrivileges = nnp;
      s.process.capabilities = { bounding: PODMAN_CAPS, effective: PODMAN_CAPS, permitted: PODMAN_CAPS };
      s.linux.seccomp = podmanProfile(PODMAN_CAPS);
    });
    const r = sb.tsr(['run', '--bundle', bundle, sb.id()]);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /^hello\nSeccomp:\s+2\n/, 'a shell and its children run under the filter');
  });
}

t.test('a seccomp profile without close_range (older Docker/runtime-tools profiles) still starts', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const allow = ['read', 'write', 'close', 'openat', 'newfstatat', 'fstat', 'lseek', 'getdents64', 'readlink', 'exit_group', 'brk', 'mmap', 'munmap', 'mprotect', 'arch_prctl', 'set_tid_address', 'prlimit64', 'getpid', 'getppid', 'getsid', 'getpgid', 'getgroups', 'prctl', 'uname', 'ioprio_get', 'sched_getattr', 'sched_getscheduler', 'sched_getaffinity', 'get_mempolicy', 'clock_gettime', 'fcntl', 'rt_sigprocmask', 'execve', 'access', 'getcwd', 'personality', 'capset', 'capget', 'setgroups', 'setresuid', 'setresgid', 'chdir', 'umask', 'setsid', 'stat'];
  const { facts, result } = runProbe(sb, (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: allow, action: 'SCMP_ACT_ALLOW' }] }));
  t.equal(result.status, 0, result.stderr);
  t.same(Object.keys(facts?.fds ?? {}), ['0', '1', '2'], 'and still closes every other fd');
});

t.test('a profile that refuses openat2 and getcwd with EPERM, applied before the capability drop (runtime-tools\' default), still starts', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  // faccessat2 (439) is newer than openat2 (437): the ENOSYS patch does not apply, openat2 gets EPERM.
  const allow = ['read', 'write', 'close', 'openat', 'newfstatat', 'fstat', 'lseek', 'getdents64', 'readlink', 'exit_group', 'brk', 'mmap', 'munmap', 'mprotect', 'arch_prctl', 'set_tid_address', 'prlimit64', 'getpid', 'getppid', 'getsid', 'getpgid', 'getgroups', 'prctl', 'uname', 'ioprio_get', 'sched_getattr', 'sched_getscheduler', 'sched_getaffinity', 'get_mempolicy', 'clock_gettime', 'fcntl', 'rt_sigprocmask', 'execve', 'access', 'personality', 'capset', 'capget', 'setgroups', 'setresuid', 'setresgid', 'fchdir', 'chdir', 'umask', 'setsid', 'stat', 'faccessat2'];
  const { facts, result } = runProbe(sb, (s) => {
    s.process.noNewPrivileges = false;
    s.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls: [{ names: allow, action: 'SCMP_ACT_ALLOW' }] };
  });
  t.equal(result.status, 0, result.stderr);
  t.same(Object.keys(facts?.fds ?? {}), ['0', '1', '2'], 'and still closes every other fd');
});

t.test('a syscall newer than every syscall the profile names gets ENOSYS, not the default errno (runc\'s ENOSYS patch)', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const allow = ['read', 'write', 'close', 'openat', 'newfstatat', 'fstat', 'lseek', 'getdents64', 'readlink', 'exit_group', 'brk', 'mmap', 'munmap', 'mprotect', 'arch_prctl', 'set_tid_address', 'prlimit64', 'getpid', 'getppid', 'getsid', 'getpgid', 'getgroups', 'prctl', 'uname', 'ioprio_get', 'sched_getattr', 'sched_getscheduler', 'sched_getaffinity', 'get_mempolicy', 'clock_gettime', 'fcntl', 'rt_sigprocmask', 'execve', 'access', 'getcwd', 'personality', 'capset', 'capget', 'setgroups', 'setresuid', 'setresgid', 'chdir', 'umask', 'setsid', 'stat'];
  const profile = (names: string[]) => ({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] });
  const old = runProbe(sb, (s) => (s.linux.seccomp = profile(allow)));
  t.equal(old.result.status, 0, old.result.stderr);
  t.equal(old.facts?.clone3, 'ENOSYS', 'clone3 is newer than anything in an old profile: ENOSYS, so glibc falls back to clone');
  // A profile that names a newer syscall (openat2, 437) knows about clone3 (435): its default errno applies.
  const newer = runProbe(sb, (s) => (s.linux.seccomp = profile([...allow, 'openat2'])));
  t.equal(newer.result.status, 0, newer.result.stderr);
  t.equal(newer.facts?.clone3, 'EPERM', 'a syscall the profile could have named but did not: the default errno');
  const allowed = runProbe(sb, (s) => (s.linux.seccomp = profile([...allow, 'clone3'])));
  t.equal(allowed.facts?.clone3, 'EINVAL', 'allowed: the kernel answers');
});

/** Run the probe through the CLI with extra fds open at the given numbers. */
function runWithFds(sb: Sandbox, fdNumbers: number[], cliArgs: string[]): { status: number | null; facts?: Facts; stderr: string } {
  const bundle = probeBundle(sb, []);
  const out = path.join(sb.dir, `fds-out-${process.hrtime.bigint()}`);
  const err = out + '.err';
  const outFd = fs.openSync(out, 'w');
  const errFd = fs.openSync(err, 'w');
  const secret = fs.openSync('/etc/passwd', 'r');
  const stdio: Array<'ignore' | number> = ['ignore', outFd, errFd];
  for (const n of fdNumbers) stdio[n] = secret;
  for (let i = 0; i < stdio.length; i++) if (stdio[i] === undefined) stdio[i] = 'ignore';
  const res = spawnSync(BIN, ['--root', sb.root, 'run', ...cliArgs, '--bundle', bundle, sb.id('fds')], { stdio, timeout: 30_000 });
  for (const fd of [outFd, errFd, secret]) fs.closeSync(fd);
  let facts: Facts | undefined;
  try {
    facts = JSON.parse(fs.readFileSync(out, 'utf8'));
  } catch {
    facts = undefined;
  }
  return { status: res.status, facts, stderr: fs.readFileSync(err, 'utf8') };
}

t.test('only stdio reaches the container: fds the caller left open (below and above 15) do not', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const r = runWithFds(sb, [3, 4, 7, 20], []);
  t.equal(r.status, 0, r.stderr);
  t.same(Object.keys(r.facts?.fds ?? {}), ['0', '1', '2'], `fds in the container: ${JSON.stringify(r.facts?.fds)}`);
});

t.test('--preserve-fds N passes fds 3..3+N-1 and nothing above', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const r = runWithFds(sb, [3, 4, 5, 20], ['--preserve-fds', '2']);
  t.equal(r.status, 0, r.stderr);
  t.same(Object.keys(r.facts?.fds ?? {}).sort(), ['0', '1', '2', '3', '4'], `fds in the container: ${JSON.stringify(r.facts?.fds)}`);
  t.equal(r.facts?.fds['3'], '/etc/passwd', 'fd 3 is the caller\'s fd 3');
});

