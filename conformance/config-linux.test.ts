/** config-linux.md: namespaces, id mappings, time offsets, devices, paths, sysctl, propagation, personality, memory policy, seccomp, LSM, RDT. */
import fs from 'fs';
import { execFileSync, spawn } from 'child_process';
import { Test } from 'tap';
import { clause, clauseIf, hostNs } from './clause';
import { mountAt, probeBundle, runProbe, withUserns } from '../test/helpers/probe';
import { Sandbox, leftovers } from '../test/helpers/runtime';

const NS_FILE: Record<string, string> = { pid: 'pid', network: 'net', ipc: 'ipc', uts: 'uts', mount: 'mnt', cgroup: 'cgroup', user: 'user', time: 'time' };

function createFails(t: Test, sb: Sandbox, edit: (s: Record<string, any>) => void, pattern: RegExp): void {
  const bundle = sb.bundle(['true'], edit);
  const id = sb.id();
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 1, 'create fails');
  t.match(r.stderr, pattern, r.stderr.trim());
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
}

/** A running container whose namespaces others can join; returns its init pid. */
function holder(t: Test, sb: Sandbox, edit?: (s: Record<string, any>) => void): number {
  const id = sb.id('holder');
  const bundle = sb.bundle(['sleep', '60'], edit);
  const r = sb.tsr(['run', '--detach', '--bundle', bundle, id]);
  t.equal(r.status, 0, `holder container: ${r.stderr}`);
  return sb.state(id).pid;
}

clause('config-linux.md', 'Default Filesystems', 'The following filesystems SHOULD be made available: /proc proc, /sys sysfs, /dev/pts devpts, /dev/shm tmpfs', (t, sb) => {
  const { facts, result } = runProbe(sb);
  t.equal(result.status, 0, result.stderr);
  for (const [p, type] of [['/proc', 'proc'], ['/sys', 'sysfs'], ['/dev/pts', 'devpts'], ['/dev/shm', 'tmpfs']]) {
    t.equal(mountAt(facts!, p)?.fstype, type, `${p} is ${type}`);
  }
});

clause('config-linux.md', 'Namespaces', 'If path is not specified, the runtime MUST create a new container namespace of type type', (t, sb) => {
  const types = ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'];
  const { facts, result } = runProbe(sb, (s) => (s.linux.namespaces = types.map((type) => ({ type }))));
  t.equal(result.status, 0, result.stderr);
  for (const type of types) t.not(facts?.namespaces[NS_FILE[type]], hostNs(NS_FILE[type]), `a new ${type} namespace`);
  t.equal(facts?.pid, 1, 'pid 1 of its pid namespace');
});

clause('config-linux.md', 'Namespaces', 'If a namespace type is not specified in the namespaces array, the container MUST inherit the runtime namespace of that type', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => {
    s.linux.namespaces = [{ type: 'mount' }];
    delete s.hostname;
    // Without a network namespace of its own, /sys is the host's (a bind, see mounts).
  });
  t.equal(result.status, 0, result.stderr);
  for (const type of ['pid', 'network', 'ipc', 'uts', 'cgroup', 'user', 'time']) {
    t.equal(facts?.namespaces[NS_FILE[type]], hostNs(NS_FILE[type]), `the runtime's ${type} namespace`);
  }
});

clause('config-linux.md', 'Namespaces', 'The runtime MUST place the container process in the namespace associated with that path', (t, sb) => {
  const pid = holder(t, sb);
  const types = ['pid', 'network', 'ipc', 'uts'];
  const { facts, result } = runProbe(sb, (s) => {
    s.linux.namespaces = [{ type: 'mount' }, ...types.map((type) => ({ type, path: `/proc/${pid}/ns/${NS_FILE[type]}` }))];
  });
  t.equal(result.status, 0, result.stderr);
  for (const type of types) {
    t.equal(facts?.namespaces[NS_FILE[type]], fs.readlinkSync(`/proc/${pid}/ns/${NS_FILE[type]}`), `joined the ${type} namespace`);
  }
  t.not(facts?.pid, 1, 'not pid 1 in the joined pid namespace');

  // A mount namespace by path: one where the rootfs path exists (a host process's private one).
  const unshared = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', '60'], { stdio: 'ignore' });
  t.teardown(() => unshared.kill('SIGKILL'));
  const mntns = `/proc/${unshared.pid}/ns/mnt`;
  for (let i = 0; i < 200 && fs.readlinkSync(mntns) === hostNs('mnt'); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  const m = runProbe(sb, (s) => (s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === 'mount' ? { type: 'mount', path: mntns } : n))));
  t.equal(m.result.status, 0, m.result.stderr);
  t.equal(m.facts?.namespaces.mnt, fs.readlinkSync(mntns), 'joined the mount namespace');
});

clause('config-linux.md', 'Namespaces', 'joining user, cgroup and time namespaces by path (another container\'s)', (t, sb) => {
  const u = withUserns(sb, 400000, (s) => {
    s.linux.namespaces.push({ type: 'cgroup' });
    if (fs.existsSync('/proc/self/timens_offsets')) s.linux.namespaces.push({ type: 'time' });
  });
  const bundle = sb.bundle(['sleep', '60'], u.edit, true);
  u.after(bundle);
  const id = sb.id('holder');
  const r = sb.tsr(['run', '--detach', '--bundle', bundle, id]);
  t.equal(r.status, 0, `holder in a user namespace: ${r.stderr}`);
  const pid = sb.state(id).pid;
  const types = ['user', 'cgroup', 'network', 'ipc', 'uts', ...(fs.existsSync('/proc/self/timens_offsets') ? ['time'] : [])];
  const joiner = withUserns(sb, 400000);
  const joinBundle = probeBundle(sb, [], (s) => {
    s.linux.namespaces = [{ type: 'mount' }, { type: 'pid' }, ...types.map((type) => ({ type, path: `/proc/${pid}/ns/${NS_FILE[type]}` }))];
  }, true);
  joiner.after(joinBundle); // the rootfs owned by the joined namespace's root
  const result = sb.tsr(['run', '--bundle', joinBundle, sb.id()]);
  t.equal(result.status, 0, result.stderr);
  const facts = JSON.parse(result.stdout || '{}');
  for (const type of types) t.equal(facts?.namespaces[NS_FILE[type]], fs.readlinkSync(`/proc/${pid}/ns/${NS_FILE[type]}`), `joined the ${type} namespace`);
  t.equal(facts?.uid[0], 0, 'root of the joined user namespace');
});

clause('config-linux.md', 'Namespaces', 'The runtime MUST generate an error if path is not associated with a namespace of type type', (t, sb) => {
  createFails(t, sb, (s) => {
    s.linux.namespaces = [{ type: 'mount' }, { type: 'network', path: '/proc/self/ns/ipc' }];
    delete s.hostname;
  }, /linux\.namespaces\[1\]\.path: \/proc\/self\/ns\/ipc is an ipc namespace, not a network namespace/);
});

clause('config-linux.md', 'Namespaces', 'If a namespaces field contains duplicated namespaces with same type, the runtime MUST generate an error', (t, sb) => {
  createFails(t, sb, (s) => s.linux.namespaces.push({ type: 'network' }), /duplicate/i);
});

clause('config-linux.md', 'User namespace mappings', 'uidMappings and gidMappings describe the user namespace mappings from the host to the container', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.process.user = { uid: 10, gid: 20 }), ['--read', '/proc/self/uid_map', '--read', '/proc/self/gid_map'], { userns: 200000 });
  t.equal(result.status, 0, result.stderr);
  t.match(facts?.read['/proc/self/uid_map'], /^\s*0\s+200000\s+65536\s*$/);
  t.match(facts?.read['/proc/self/gid_map'], /^\s*0\s+200000\s+65536\s*$/);
  t.same(facts?.uid.slice(0, 2), [10, 10], 'uid inside the user namespace');
  t.not(facts?.namespaces.user, hostNs('user'));
});

clause('config-linux.md', 'User namespace mappings', 'a new user namespace next to namespaces joined by path (those are entered first)', (t, sb) => {
  const pid = holder(t, sb);
  const { facts, result } = runProbe(sb, (s) => {
    s.linux.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'mount' }, { type: 'network', path: `/proc/${pid}/ns/net` }];
    delete s.hostname;
  }, [], { userns: 200000 });
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.namespaces.net, fs.readlinkSync(`/proc/${pid}/ns/net`), 'in the joined network namespace');
  t.not(facts?.namespaces.user, hostNs('user'), 'in a new user namespace');
  t.equal(facts?.pid, 1, 'pid 1 of a new pid namespace');
});

clauseIf(fs.existsSync('/proc/self/timens_offsets') || 'no time namespaces in this kernel', 'config-linux.md', 'Offset for Time Namespace', 'timeOffsets sets the offset of the clocks in the container\'s time namespace', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => {
    s.linux.namespaces.push({ type: 'time' });
    s.linux.timeOffsets = { monotonic: { secs: 86400 * 10, nanosecs: 0 }, boottime: { secs: 86400 * 20 } };
  }, ['--read', '/proc/self/timens_offsets']);
  t.equal(result.status, 0, result.stderr);
  t.not(facts?.namespaces.time, hostNs('time'), 'a new time namespace');
  const hostMono = Math.floor(Number(process.hrtime.bigint() / 1000000000n));
  t.ok(facts!.clocks.monotonic - hostMono >= 86400 * 10 - 5, `monotonic is ahead by 10 days (${facts!.clocks.monotonic} vs ${hostMono})`);
  t.match(facts?.read['/proc/self/timens_offsets'], /monotonic\s+864000\s+0/);
  t.match(facts?.read['/proc/self/timens_offsets'], /boottime\s+1728000\s+0/);
});

clause('config-linux.md', 'Devices', 'devices lists devices that MUST be available in the container, with type, major/minor, fileMode, uid and gid', (t, sb) => {
  const devices = [
    { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600, uid: 10, gid: 20 },
    { path: '/dev/loop-test', type: 'b', major: 7, minor: 200, fileMode: 0o640, uid: 0, gid: 6 },
    { path: '/dev/fifo-test', type: 'p', fileMode: 0o644 },
    { path: '/elsewhere/null-too', type: 'u', major: 1, minor: 3, fileMode: 0o666 },
  ];
  const { facts, result } = runProbe(sb, (s) => (s.linux.devices = devices), devices.flatMap((d) => ['--stat', d.path]));
  t.equal(result.status, 0, result.stderr);
  for (const d of devices) {
    const st = facts!.stat[d.path];
    const type = d.type === 'u' ? 'c' : d.type;
    t.match(st, { type, mode: d.fileMode, uid: d.uid ?? 0, gid: d.gid ?? 0 }, `${d.path}: ${JSON.stringify(st)}`);
    if (d.type !== 'p') t.match(st, { major: d.major, minor: d.minor }, `${d.path} is ${d.major}:${d.minor}`);
  }
});

clause('config-linux.md', 'Devices', 'If a file already exists at path that does not match the requested device, the runtime MUST generate an error', (t, sb) => {
  // /etc/hostname is a regular file in the rootfs.
  createFails(t, sb, (s) => (s.linux.devices = [{ path: '/etc/hostname', type: 'c', major: 1, minor: 3 }]), /create device \/etc\/hostname .*EEXIST/);
});

clause('config-linux.md', 'Default Devices', 'the runtime MUST also supply /dev/null, zero, full, random, urandom, tty and /dev/ptmx (to pts/ptmx)', (t, sb) => {
  const want: Array<[string, number, number]> = [['/dev/null', 1, 3], ['/dev/zero', 1, 5], ['/dev/full', 1, 7], ['/dev/random', 1, 8], ['/dev/urandom', 1, 9], ['/dev/tty', 5, 0]];
  const { facts, result } = runProbe(sb, undefined, [...want.flatMap(([p]) => ['--stat', p]), '--lstat', '/dev/ptmx', '--stat', '/dev/ptmx']);
  t.equal(result.status, 0, result.stderr);
  for (const [p, major, minor] of want) t.match(facts!.stat[p], { type: 'c', major, minor }, p);
  t.match(facts!.lstat['/dev/ptmx'], { type: 'l', target: 'pts/ptmx' }, '/dev/ptmx is a symlink to pts/ptmx');
  t.match(facts!.stat['/dev/ptmx'], { type: 'c', major: 5, minor: 2 }, 'which is the container devpts ptmx');
});

clause('config-linux.md', 'Masked Paths', 'maskedPaths will mask over the provided paths inside the container so that they cannot be read', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.linux.maskedPaths = ['/proc/timer_list', '/sys/firmware', '/etc/hostname', '/no/such/path']), ['--read', '/etc/hostname', '--stat', '/proc/timer_list', '--read', '/proc/timer_list']);
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.read['/etc/hostname'], '', 'a masked file reads empty');
  t.match(facts?.stat['/proc/timer_list'], { type: 'c', major: 1, minor: 3 }, '/proc/timer_list is /dev/null');
  t.equal(facts?.read['/proc/timer_list'], '', 'and reads empty');
  t.equal(mountAt(facts!, '/sys/firmware')?.fstype, 'tmpfs', 'a masked directory is an empty tmpfs');
});

clause('config-linux.md', 'Readonly Paths', 'readonlyPaths will set the provided paths as readonly inside the container', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => {
    s.root.readonly = false;
    s.linux.readonlyPaths = ['/proc/sys', '/tmp', '/no/such/path'];
  }, ['--write', '/tmp', '--write', '/proc/sys/kernel/hostname'], { ownRootfs: true });
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.write['/tmp'], 'EROFS', '/tmp is read-only');
  t.equal(facts?.write['/proc/sys/kernel/hostname'], 'EROFS', '/proc/sys is read-only');
});

clause('config-linux.md', 'Sysctl', 'sysctl allows kernel parameters to be modified at runtime for the container', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1234', 'net/ipv4/tcp_syncookies': '0', 'kernel.domainname': 'sysctl.example' }),
    ['--sysctl', 'net.ipv4.ip_forward', '--sysctl', 'kernel.shmmni', '--sysctl', 'net.ipv4.tcp_syncookies']);
  t.equal(result.status, 0, result.stderr);
  t.same(facts?.sysctl, { 'net.ipv4.ip_forward': '1', 'kernel.shmmni': '1234', 'net.ipv4.tcp_syncookies': '0' });
  t.equal(facts?.domainname, 'sysctl.example');
});

clause('config-linux.md', 'Sysctl', 'a sysctl outside the container\'s own namespaces is an error (not applied to the host)', (t, sb) => {
  createFails(t, sb, (s) => (s.linux.sysctl = { 'vm.swappiness': '10' }), /not in a (separate kernel )?namespace/);
  createFails(t, sb, (s) => {
    s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
    s.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  }, /network/);
});

clause('config-linux.md', 'Rootfs Mount Propagation', 'rootfsPropagation sets the rootfs\'s mount propagation (shared, slave, private, unbindable)', (t, sb) => {
  const cases: Array<[string, (o: string[]) => boolean]> = [
    ['shared', (o) => o.some((x) => x.startsWith('shared:'))],
    ['rshared', (o) => o.some((x) => x.startsWith('shared:'))],
    ['private', (o) => o.length === 0],
    ['rprivate', (o) => o.length === 0],
    ['slave', (o) => !o.some((x) => x.startsWith('shared:'))],
    ['unbindable', (o) => o.includes('unbindable')],
  ];
  for (const [prop, check] of cases) {
    const { facts, result } = runProbe(sb, (s) => (s.linux.rootfsPropagation = prop));
    t.equal(result.status, 0, `${prop}: ${result.stderr}`);
    const root = mountAt(facts!, '/');
    t.ok(root && check(root.optional), `${prop}: / has [${root?.optional}]`);
  }
});

clause('config-linux.md', 'Personality', 'personality sets the Linux execution personality (LINUX, LINUX32)', (t, sb) => {
  const p32 = runProbe(sb, (s) => (s.linux.personality = { domain: 'LINUX32' }));
  t.equal(p32.result.status, 0, p32.result.stderr);
  t.equal(p32.facts?.personality, 8, 'PER_LINUX32');
  const p = runProbe(sb, (s) => (s.linux.personality = { domain: 'LINUX' }));
  t.equal(p.facts?.personality, 0, 'PER_LINUX');
});

clause('config-linux.md', 'Memory policy', 'memoryPolicy sets the NUMA memory policy for the container', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0', flags: ['MPOL_F_STATIC_NODES'] }));
  t.equal(result.status, 0, result.stderr);
  t.same(facts?.mempolicy, { mode: 2 | (1 << 15), nodes: [0] }, 'MPOL_BIND|MPOL_F_STATIC_NODES on node 0');
  createFails(t, sb, (s) => (s.linux.memoryPolicy = { mode: 'MPOL_INTERLEAVE' }), /needs at least one node/);
});

clause('config-linux.md', 'Seccomp', 'seccomp configures actions to take for matched syscalls, with argument matching', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => (s.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'],
    syscalls: [
      { names: ['getcwd'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      // personality(0xffffffff) is how the probe reads it: make exactly that call fail.
      { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_EQ' }] },
    ],
  }));
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.seccomp, 2, 'filter mode');
  t.equal(facts?.cwd, null, 'getcwd fails');
  t.equal(facts?.personality, -1, 'personality(0xffffffff) fails');
});

clause('config-linux.md', 'Seccomp', 'When the action doesn\'t support an errno, the runtime MUST print an error and fail', (t, sb) => {
  createFails(t, sb, (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getcwd'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] }), /errnoRet is not supported with action SCMP_ACT_KILL/);
});

clause('config-linux.md', 'Seccomp', 'defaultErrnoRet: the errno return code to use for the default action', (t, sb) => {
  const { facts, result } = runProbe(sb, (s) => {
    s.process.noNewPrivileges = true;
    s.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      // What the probe and the end of the runtime's setup need; getcwd and personality are left out.
      syscalls: [{ names: ['read', 'write', 'close', 'openat', 'open', 'newfstatat', 'fstat', 'stat', 'lseek', 'getdents64', 'readlink', 'readlinkat', 'exit_group', 'exit', 'brk', 'mmap', 'munmap', 'mprotect', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'getrlimit', 'getpid', 'getppid', 'getsid', 'getpgid', 'getgroups', 'prctl', 'uname', 'ioprio_get', 'sched_getattr', 'sched_getscheduler', 'sched_getaffinity', 'get_mempolicy', 'clock_gettime', 'fcntl', 'close_range', 'rt_sigprocmask', 'execve', 'faccessat', 'faccessat2', 'access', 'getuid', 'geteuid', 'getgid', 'getegid', 'readlinkat', 'fstatfs'], action: 'SCMP_ACT_ALLOW' }],
    };
  });
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.cwd, null, 'getcwd got the default errno');
  t.equal(facts?.personality, -1, 'personality too');
});

clauseIf(!fs.existsSync('/sys/kernel/security/apparmor') || 'AppArmor is enabled on this host', 'config.md', 'process.apparmorProfile', 'without AppArmor on the host, an apparmorProfile is an error (as runc)', (t, sb) => {
  createFails(t, sb, (s) => (s.process.apparmorProfile = 'some-profile'), /AppArmor is not enabled/);
});

clauseIf(!fs.existsSync('/sys/fs/selinux/enforce') || 'SELinux is enabled on this host', 'config.md', 'process.selinuxLabel', 'without SELinux on the host, a selinuxLabel is an error and a mountLabel is ignored (as runc)', (t, sb) => {
  createFails(t, sb, (s) => (s.process.selinuxLabel = 'system_u:system_r:container_t:s0'), /selinux is disabled or not supported/);
  const { result } = runProbe(sb, (s) => (s.linux.mountLabel = 'system_u:object_r:container_file_t:s0'));
  t.equal(result.status, 0, `mountLabel is ignored: ${result.stderr}`);
});

clauseIf(!fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(' - resctrl ') || 'resctrl is mounted on this host', 'config-linux.md', 'IntelRdt', 'If no mounted resctrl pseudo-filesystem is available in the runtime mount namespace, the runtime MUST generate an error', (t, sb) => {
  createFails(t, sb, (s) => (s.linux.intelRdt = { closID: 'guaranteed_group', l3CacheSchema: 'L3:0=7f0' }), /no resctrl filesystem is mounted/);
});

const canVeth = (() => {
  try {
    execFileSync('ip', ['link', 'add', 'tsrprobe0', 'type', 'veth', 'peer', 'name', 'tsrprobe1'], { stdio: 'ignore' });
    execFileSync('ip', ['link', 'del', 'tsrprobe0'], { stdio: 'ignore' });
    return true;
  } catch {
    return 'cannot create veth interfaces here';
  }
})();

clauseIf(canVeth, 'config-linux.md', 'Network Devices', 'netDevices MUST be made available in the container, keeping permanent global addresses, set "up"', (t, sb) => {
  const host = `tsrnd${process.pid % 10000}`;
  execFileSync('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', `${host}p`]);
  t.teardown(() => {
    try {
      execFileSync('ip', ['link', 'del', `${host}p`], { stdio: 'ignore' });
    } catch {
      /* gone with the container's namespace */
    }
  });
  execFileSync('ip', ['addr', 'add', '10.203.0.7/24', 'dev', host]);
  const { facts, result } = runProbe(sb, (s) => (s.linux.netDevices = { [host]: { name: 'ctr0' } }), ['--read', '/proc/net/fib_trie', '--read', '/sys/class/net/ctr0/flags']);
  t.equal(result.status, 0, result.stderr);
  t.ok(facts?.netdevs.includes('ctr0'), `renamed inside: ${facts?.netdevs}`);
  t.match(facts?.read['/proc/net/fib_trie'], /10\.203\.0\.7/, 'its address came along');
  t.ok(Number(facts?.read['/sys/class/net/ctr0/flags']) & 1, 'it is up');
  t.throws(() => execFileSync('ip', ['link', 'show', host], { stdio: 'ignore' }), 'it left the host namespace');
});

clause('config-linux.md', 'Network Devices', 'moving a device that does not exist (or without a network namespace) is an error', (t, sb) => {
  createFails(t, sb, (s) => (s.linux.netDevices = { 'tsr-no-such0': {} }), /tsr-no-such0.*ENODEV/);
  createFails(t, sb, (s) => {
    s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
    s.linux.netDevices = { eth0: {} };
  }, /network/);
});
