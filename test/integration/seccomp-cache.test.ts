/**
 * Real containers and the seccomp program cache (src/launch/seccomp-cache.ts): a profile is
 * compiled by the first create, read back by the next ones and by exec, with the same effect in
 * the container; another profile is compiled for itself.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawn } from 'child_process';
import { BIN, NEEDS_ROOT, Sandbox } from '../helpers/runtime';
import { Facts, probeBundle } from '../helpers/probe';
import { CACHE_DIR } from '../../src/launch/seccomp-cache';

const ALLOW = ['read', 'write', 'close', 'openat', 'newfstatat', 'fstat', 'lseek', 'getdents64', 'readlink', 'exit_group', 'brk', 'mmap', 'munmap', 'mprotect', 'arch_prctl', 'set_tid_address', 'prlimit64', 'getpid', 'getppid', 'getsid', 'getpgid', 'getgroups', 'prctl', 'uname', 'ioprio_get', 'sched_getattr', 'sched_getscheduler', 'sched_getaffinity', 'get_mempolicy', 'clock_gettime', 'fcntl', 'rt_sigprocmask', 'execve', 'access', 'getcwd', 'personality', 'capset', 'capget', 'setgroups', 'setresuid', 'setresgid', 'chdir', 'umask', 'setsid', 'stat'];
const profile = (names: string[]) => ({ defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] });

/** `run` of the probe under a profile, with --debug's log: what the probe saw, and what the runtime said about the program. */
function runLogged(sb: Sandbox, seccomp: object): { status: number; facts?: Facts; log: string } {
  const bundle = probeBundle(sb, [], (s) => (s.linux.seccomp = seccomp));
  const log = path.join(sb.dir, `debug-${sb.id('log')}.log`);
  const r = sb.tsr(['--debug', '--log', log, 'run', '--bundle', bundle, sb.id('probe')]);
  let facts: Facts | undefined;
  try {
    facts = JSON.parse(r.stdout) as Facts;
  } catch {
    facts = undefined;
  }
  return { status: r.status, facts, log: fs.readFileSync(log, 'utf8') + r.stderr };
}

const COMPILED = /timing: seccomp: compile the profile \(libseccomp\)/;
const FROM_CACHE = /seccomp: the program for this profile was compiled before/;

t.test('a profile is compiled by the first create and read back by the next, to the same effect', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const entries = () => (fs.existsSync(path.join(sb.root, CACHE_DIR)) ? fs.readdirSync(path.join(sb.root, CACHE_DIR)) : []);

  const first = runLogged(sb, profile(ALLOW));
  t.equal(first.status, 0, first.log);
  t.match(first.log, COMPILED, 'the first create compiles the profile');
  t.notMatch(first.log, FROM_CACHE);
  t.equal(first.facts?.seccomp, 2, 'the filter is loaded');
  t.equal(first.facts?.clone3, 'ENOSYS', 'clone3, newer than anything the profile names: ENOSYS (the stub)');
  t.equal(entries().length, 1, 'and keeps it under --root');

  const second = runLogged(sb, profile(ALLOW));
  t.equal(second.status, 0, second.log);
  t.match(second.log, FROM_CACHE, 'the second reads it back');
  t.notMatch(second.log, COMPILED, 'without compiling');
  t.equal(second.facts?.seccomp, 2, 'the filter is loaded');
  t.equal(second.facts?.clone3, 'ENOSYS', 'with the same effect');
  t.equal(entries().length, 1, 'one entry still');

  // One more name, and a newer one: clone3 is no longer past the profile's last syscall.
  const other = runLogged(sb, profile([...ALLOW, 'openat2']));
  t.equal(other.status, 0, other.log);
  t.match(other.log, COMPILED, 'another profile is compiled');
  t.equal(other.facts?.clone3, 'EPERM', 'and has its own effect: the default errno');
  t.equal(entries().length, 2, 'in an entry of its own');

  t.equal(fs.statSync(path.join(sb.root, CACHE_DIR)).mode & 0o777, 0o700, 'the cache is its owner\'s only');
  t.same(sb.tsr(['list', '--quiet']).stdout, '', 'and no container to `list`');
});

t.test('exec under the container\'s profile reads the program create kept', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '300'], (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] }));
  const createLog = path.join(sb.dir, 'create.log');
  const r = sb.tsr(['--debug', '--log', createLog, 'run', '--detach', '--bundle', bundle, id]);
  t.equal(r.status, 0, r.stderr);
  t.match(fs.readFileSync(createLog, 'utf8'), COMPILED, 'create compiles the profile');

  const execLog = path.join(sb.dir, 'exec.log');
  const e = sb.tsr(['--debug', '--log', execLog, 'exec', id, 'sh', '-c', 'grep Seccomp: /proc/self/status; mkdir /tmp/x 2>&1; true']);
  t.equal(e.status, 0, e.stderr);
  t.match(fs.readFileSync(execLog, 'utf8'), FROM_CACHE, 'exec reads it back');
  t.match(e.stdout, /^Seccomp:\s+2\n/, 'the exec\'d process runs under the filter');
  t.match(e.stdout, /Permission denied/, 'which refuses mkdir with the profile\'s errno (EACCES)');
  t.equal(sb.tsr(['delete', '--force', id]).status, 0);
});

t.test('creates started at once with one profile all succeed, and leave one entry', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['true'], (s) => (s.linux.seccomp = profile(ALLOW)));
  const ids = Array.from({ length: 12 }, () => sb.id());
  // Each misses the cache (none is there yet), compiles, and writes its entry aside, then renames it in.
  const codes = await Promise.all(ids.map((id) => new Promise<number | null>((resolve) => {
    spawn(BIN, ['--root', sb.root, 'create', '--bundle', bundle, id], { stdio: 'ignore' }).on('exit', resolve);
  })));
  t.same(codes, ids.map(() => 0), 'every create succeeded');
  t.same(fs.readdirSync(path.join(sb.root, CACHE_DIR)).length, 1, 'one entry, no writer\'s file left');
  for (const id of ids) t.equal(sb.tsr(['delete', '--force', id]).status, 0, `delete ${id}`);
  const again = runLogged(sb, profile(ALLOW));
  t.match(again.log, FROM_CACHE, 'and the entry is read back');
});
