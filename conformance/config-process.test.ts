/** config.md: process (cwd, env, args, user, rlimits, capabilities, noNewPrivileges, oomScoreAdj, scheduler, ioPriority) and hostname. */
import fs from 'fs';
import { clause } from './clause';
import { capBits, runProbe } from '../test/helpers/probe';
import { leftovers } from '../test/helpers/runtime';
import { CAPABILITIES } from '../src/plan/linux-constants';

const capNumber = (name: string) => (CAPABILITIES as readonly string[]).indexOf(name);

clause('config.md', 'process.cwd', 'the working directory that will be set for the executable (created when missing)', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.process.cwd = '/tmp/work/dir'));
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.cwd, '/tmp/work/dir');
});

clause('config.md', 'process.env', 'env with the same semantics as IEEE Std 1003.1-2008 environ', (t, sb) => {
  // HOME is given: without it a runtime adds one from /etc/passwd, as runc does.
  const env = ['PATH=/bin:/usr/bin', 'HOME=/home/x', 'A=1', 'WITH_SPACE=a b', 'EMPTY='];
  const { facts, result } = runProbe(sb, (s) => (s.process.env = env));
  t.equal(result.status, 0, result.stderr);
  t.same(facts?.env, env, 'exactly the configured environment, in order');
});

clause('config.md', 'process.args', 'args with the semantics of execvp: the first entry is looked up in PATH', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => {
    s.process.args = ['tsr-probe', 'second arg', ''];
    s.process.env = ['PATH=/nowhere:/'];
  });
  t.equal(result.status, 0, result.stderr);
  t.same(facts?.args, ['tsr-probe', 'second arg', ''], 'argv as configured, found through PATH');
});

clause('config.md', 'process.user', 'uid, gid and additionalGids in the container namespace', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.process.user = { uid: 1234, gid: 5678, additionalGids: [5, 100, 5678] }));
  t.equal(result.status, 0, result.stderr);
  t.same(facts?.uid, [1234, 1234, 1234, 1234], 'real, effective, saved and fs uid');
  t.same(facts?.gid, [5678, 5678, 5678, 5678], 'real, effective, saved and fs gid');
  t.same([...(facts?.groups ?? [])].sort((a, b) => a - b), [5, 100, 5678], 'supplementary groups');
});

clause('config.md', 'process.user.umask', 'umask of the user', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.process.user = { uid: 0, gid: 0, umask: 0o077 }));
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.umask, '0077');
});

clause('config.md', 'process.rlimits', 'rlim.rlim_cur and rlim.rlim_max MUST match the configured values', (t, sb) => {
  const rlimits = [
    { type: 'RLIMIT_NOFILE', soft: 512, hard: 900 },
    { type: 'RLIMIT_CORE', soft: 0, hard: 4096 },
    { type: 'RLIMIT_NPROC', soft: 100, hard: 200 },
    { type: 'RLIMIT_STACK', soft: 4 * 1024 * 1024, hard: 8 * 1024 * 1024 },
  ];
  const { facts, result } = runProbe(sb, (s) => (s.process.rlimits = rlimits));
  t.equal(result.status, 0, result.stderr);
  for (const rl of rlimits) t.same(facts?.rlimits[rl.type], { soft: rl.soft, hard: rl.hard }, rl.type);
});

clause('config.md', 'process.rlimits', 'The runtime MUST generate an error for any values which cannot be mapped to a relevant kernel interface', (t, sb) => {
  const bundle = sb.bundle(['true'], (s) => (s.process.rlimits = [{ type: 'RLIMIT_NO_SUCH', soft: 1, hard: 1 }]));
  const id = sb.id();
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 1);
  t.match(r.stderr, /RLIMIT_NO_SUCH|rlimits\/0\/type/);
  t.same(leftovers(sb, id, bundle), []);
});

clause('config.md', 'process.rlimits', 'If rlimits contains duplicated entries with same type, the runtime MUST generate an error', (t, sb) => {
  const bundle = sb.bundle(['true'], (s) => (s.process.rlimits = [
    { type: 'RLIMIT_NOFILE', soft: 10, hard: 10 },
    { type: 'RLIMIT_NOFILE', soft: 20, hard: 20 },
  ]));
  const id = sb.id();
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 1);
  t.match(r.stderr, /duplicate/i);
  t.same(leftovers(sb, id, bundle), []);
});

clause('config.md', 'process.rlimits', 'a limit the runtime cannot raise is an error naming the limit', (t, sb) => {
  // Above the runtime's own hard limit: needs CAP_SYS_RESOURCE (missing from this VM's bounding set).
  const bundle = sb.bundle(['true'], (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 << 30, hard: 1 << 30 }]));
  const id = sb.id();
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 1, 'create fails');
  t.match(r.stderr, /RLIMIT_NOFILE/, `names the limit: ${r.stderr.trim()}`);
  t.same(leftovers(sb, id, bundle), []);
});

clause('config.md', 'process.capabilities', 'the effective, bounding, inheritable, permitted and ambient sets are the ones kept for the process', (t, sb) => {
  const caps = {
    bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW', 'CAP_SYS_CHROOT'],
    permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW'],
    effective: ['CAP_CHOWN', 'CAP_KILL'],
    inheritable: ['CAP_KILL', 'CAP_NET_RAW'],
    ambient: ['CAP_KILL'],
  };
  const { facts, result } = runProbe(sb, (s) => (s.process.capabilities = caps));
  t.equal(result.status, 0, result.stderr);
  const bits = (names: string[]) => names.map(capNumber).sort((a, b) => a - b);
  for (const set of ['bounding', 'inheritable', 'ambient'] as const) t.same(capBits(facts!.caps[set]), bits(caps[set]), `${set} set`);
  // execve as root makes permitted = bounding | inheritable and effective = permitted (capabilities(7)).
  for (const set of ['permitted', 'effective'] as const) {
    t.ok(bits(caps[set]).every((c) => capBits(facts!.caps[set]).includes(c)), `${set} set holds the configured ones`);
    t.ok(capBits(facts!.caps[set]).every((c) => bits(caps.bounding).includes(c)), `${set} set stays within the bounding set`);
  }
});

clause('config.md', 'process.capabilities', 'a non-root process keeps exactly its configured sets (ambient reaching it through execve)', (t, sb) => {
  const caps = {
    bounding: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'],
    permitted: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'],
    effective: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'],
    inheritable: ['CAP_NET_BIND_SERVICE'],
    ambient: ['CAP_NET_BIND_SERVICE'],
  };
  const { facts, result } = runProbe(sb, (s) => {
    s.process.capabilities = caps;
    s.process.user = { uid: 1000, gid: 1000 };
  });
  t.equal(result.status, 0, result.stderr);
  const n = capNumber('CAP_NET_BIND_SERVICE');
  t.same(capBits(facts!.caps.ambient), [n], 'ambient');
  t.same(capBits(facts!.caps.permitted), [n], 'permitted: only what ambient carries across execve for a non-root user');
  t.same(capBits(facts!.caps.bounding), [capNumber('CAP_KILL'), n].sort((a, b) => a - b), 'bounding');
});

clause('config.md', 'process.capabilities', 'an unknown capability name is an error', (t, sb) => {
  const bundle = sb.bundle(['true'], (s) => (s.process.capabilities = { bounding: ['CAP_NO_SUCH_CAPABILITY'] }));
  const id = sb.id();
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 1);
  t.match(r.stderr, /CAP_NO_SUCH_CAPABILITY/);
  t.same(leftovers(sb, id, bundle), []);
});

clause('config.md', 'process.noNewPrivileges', 'setting noNewPrivileges to true prevents the process from gaining additional privileges', (t, sb) => {
  const on = runProbe(sb, (s) => (s.process.noNewPrivileges = true));
  t.equal(on.result.status, 0, on.result.stderr);
  t.equal(on.facts?.noNewPrivs, 1, 'no_new_privs set');
  const off = runProbe(sb, (s) => (s.process.noNewPrivileges = false));
  t.equal(off.result.status, 0, off.result.stderr);
  t.equal(off.facts?.noNewPrivs, 0, 'no_new_privs not set');
});

clause('config.md', 'process.oomScoreAdj', 'If oomScoreAdj is set, the runtime MUST set oom_score_adj to the given value', (t, sb) => {
  // Only raising: lowering oom_score_adj needs CAP_SYS_RESOURCE, which some hosts (this VM) lack.
  for (const v of [0, 200, 999]) {
    const { facts, result } = runProbe(sb, (s) => (s.process.oomScoreAdj = v));
    t.equal(result.status, 0, result.stderr);
    t.equal(facts?.oomScoreAdj, v, `oomScoreAdj ${v}`);
  }
});

clause('config.md', 'process.oomScoreAdj', 'If oomScoreAdj is not set, the runtime MUST NOT change the value of oom_score_adj', (t, sb) => {
  const mine = fs.readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
  fs.writeFileSync('/proc/self/oom_score_adj', '123');
  t.teardown(() => fs.writeFileSync('/proc/self/oom_score_adj', mine));
  const { facts, result } = runProbe(sb, (s) => delete s.process.oomScoreAdj);
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.oomScoreAdj, 123, 'the value the runtime was started with');
});

clause('config.md', 'process.scheduler', 'the scheduler policy, nice and priority are applied to the process', (t, sb) => {
  const batch = runProbe(sb, (s) => (s.process.scheduler = { policy: 'SCHED_BATCH', nice: 7 }));
  t.equal(batch.result.status, 0, batch.result.stderr);
  t.match(batch.facts?.scheduler, { policy: 3, nice: 7 }, 'SCHED_BATCH, nice 7');
  // Real-time policies need real-time runtime in the container's cpu cgroup (CONFIG_RT_GROUP_SCHED),
  // and a cgroup gets no more than its parent has. The container gets a parent of the test's own,
  // given real-time runtime before the container's cgroup is made (the default parent may come
  // and go with other containers), and removed from every hierarchy afterwards.
  const rtParent = `/tsr-rt-test-${process.pid}`;
  const rtCpuDir = `/sys/fs/cgroup/cpu${rtParent}`;
  const realtime = fs.existsSync('/sys/fs/cgroup/cpu/cpu.rt_runtime_us');
  if (realtime) {
    fs.mkdirSync(rtCpuDir, { recursive: true });
    fs.writeFileSync(`${rtCpuDir}/cpu.rt_runtime_us`, '20000');
    t.teardown(() => {
      for (const h of fs.readdirSync('/sys/fs/cgroup')) {
        try {
          fs.rmdirSync(`/sys/fs/cgroup/${h}${rtParent}`);
        } catch {
          /* not made in this hierarchy */
        }
      }
    });
  }
  const fifo = runProbe(sb, (s) => {
    s.process.scheduler = { policy: 'SCHED_FIFO', priority: 10, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
    if (realtime) {
      s.linux.cgroupsPath = `${rtParent}/rt`;
      s.linux.resources.cpu = { realtimeRuntime: 10000, realtimePeriod: 1000000 };
    }
  });
  t.equal(fifo.result.status, 0, fifo.result.stderr);
  t.match(fifo.facts?.scheduler, { policy: 1, priority: 10, resetOnFork: 1 }, 'SCHED_FIFO priority 10, reset on fork');
});

clause('config.md', 'process.scheduler', 'an invalid combination is an error (priority with SCHED_OTHER)', (t, sb) => {
  const bundle = sb.bundle(['true'], (s) => (s.process.scheduler = { policy: 'SCHED_OTHER', priority: 5 }));
  const id = sb.id();
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 1);
  t.match(r.stderr, /scheduler[./]priority/);
  t.same(leftovers(sb, id, bundle), []);
});

clause('config.md', 'process.ioPriority', 'the I/O scheduling class and priority are applied to the process', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 7 }));
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.ioprio, (3 << 13) | 7, 'IOPRIO_CLASS_IDLE, level 7');
  const be = runProbe(sb, (s) => (s.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 2 }));
  t.equal(be.facts?.ioprio, (2 << 13) | 2, 'IOPRIO_CLASS_BE, level 2');
});

clause('config.md', 'hostname', 'hostname specifies the container\'s hostname as seen by processes running inside the container', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.hostname = 'conformance-host'));
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.hostname, 'conformance-host');
});

clause('config.md', 'domainname', 'domainname specifies the container\'s domainname as seen by processes running inside the container', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.domainname = 'conformance.example'));
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.domainname, 'conformance.example');
});

clause('config.md', 'hostname', 'setting a hostname without a UTS namespace is an error', (t, sb) => {
  const bundle = sb.bundle(['true'], (s) => {
    s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'uts');
    s.hostname = 'nope';
  });
  const id = sb.id();
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 1);
  t.match(r.stderr, /uts/i);
  t.same(leftovers(sb, id, bundle), []);
});

