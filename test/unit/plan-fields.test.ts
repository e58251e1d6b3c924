/**
 * The config fields the init planner gained with issue 3: namespaces (joins, user namespace
 * order, time offsets, pid by path), sysctl validation, seccomp decisions, scheduler,
 * ioPriority, personality, memoryPolicy, LSM labels, rlimits checks, devices, mount flags,
 * rootfs propagation. Pure: fake HostFacts, no root.
 */
import t from 'tap';
import type { Spec } from '../../src/generated/config';
import type { InitPlan } from '../../src/plan/build-init-plan';
import type { Op } from '../../src/plan/ops';
import { CLONE, MS, S_IFCHR, S_IFIFO, makedev } from '../../src/plan/linux-constants';
import { normalizeSysctlKey, sysctlOps } from '../../src/plan/sysctl-plan';
import { SeccompFilter, insertSeccomp, seccompFilter, seccompOp } from '../../src/plan/seccomp-plan';
import { execCpuAffinity, idMask, parseIdList, planProcessFields } from '../../src/plan/process-fields';
import { namespaceFileProblem, CLONE_PARENT } from '../../src/plan/namespaces-plan';
import { parseMountOptions, MOUNT_ATTR } from '../../src/plan/mount-options';
import { bare, baseSpec, host, indexOf, named, plan, planError } from '../helpers/plan';

const userns = (s: Spec) => {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};

t.test('namespaces: a new user namespace is entered as its root before anything else', async (t) => {
  const p = plan(userns);
  t.equal(p.idMapsAt, 'clone', 'maps written right after clone');
  t.ok(p.cloneFlags & CLONE.NEWUSER);
  const first = p.ops.findIndex((o) => o.op === 'SETRESGID');
  t.same(bare(p.ops.slice(first, first + 2)), [{ op: 'SETRESGID', a: [0] }, { op: 'SETRESUID', a: [0] }]);
  t.ok(first < indexOf(p, 'MOUNT'), 'before the first mount');
  t.match(planError((s) => s.linux!.namespaces!.push({ type: 'user' })), /no namespace path to join nor mappings/);
  t.match(planError((s) => (s.linux!.uidMappings = [{ containerID: 0, hostID: 1, size: 1 }])), /user namespace is not enabled/);
});

t.test('namespaces: new user namespace + joined ones: join, unshare user, sync for the maps, unshare the rest, fork for pid', async (t) => {
  const p = plan((s) => {
    userns(s);
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: '/run/netns/n1' } : n));
  }, { namespaceFds: { network: 11 } });
  t.equal(p.cloneFlags, 0, 'nothing cloned');
  t.equal(p.idMapsAt, 'sync');
  const seq = p.ops.filter((o) => ['SETNS', 'UNSHARE', 'SYNC', 'SETRESUID', 'FORK'].includes(o.op)).map((o) => o.op === 'UNSHARE' ? `UNSHARE ${o.a![0]}` : o.op === 'SYNC' ? `SYNC ${o.tag}` : o.op);
  t.same(seq.slice(0, 6), ['SETNS', `UNSHARE ${CLONE.NEWUSER}`, 'SYNC userns', 'SETRESUID', `UNSHARE ${CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS}`, 'FORK']);
  t.same(named(p, 'FORK')[0].a, [CLONE_PARENT | CLONE.NEWPID]);
  t.equal(named(p, 'LOOPBACK_UP').length, 0, 'a joined network namespace is left as it is');
});

t.test('namespaces: time namespace offsets, pid by path, duplicates', async (t) => {
  const p = plan((s) => {
    s.linux!.namespaces!.push({ type: 'time' });
    s.linux!.timeOffsets = { monotonic: { secs: 10, nanosecs: 5 }, boottime: { secs: -3 } };
  });
  const i = p.ops.findIndex((o) => o.op === 'UNSHARE' && o.a![0] === CLONE.NEWTIME);
  t.ok(i > 0, 'unshare time');
  t.same(bare([p.ops[i + 1]]), [{ op: 'WRITE_PROC', strs: ['self/timens_offsets', 'monotonic 10 5\nboottime -3 0\n'] }], 'offsets written before anyone enters it');
  t.same(bare([p.ops[i + 2]]), [{ op: 'FORK', a: [CLONE_PARENT | CLONE.NEWPID] }], 'then the fork that enters it');
  t.equal(p.cloneFlags & CLONE.NEWPID, 0);
  t.match(planError((s) => (s.linux!.timeOffsets = { monotonic: { secs: 1 } })), /time namespace is not enabled/);
  t.match(planError((s) => {
    s.linux!.namespaces!.push({ type: 'time', path: '/proc/1/ns/time' });
    s.linux!.timeOffsets = { monotonic: { secs: 1 } };
  }, { namespaceFds: { time: 3 } }), /both namespace path and time offsets/);
  t.match(planError((s) => s.linux!.namespaces!.push({ type: 'ipc' })), /duplicated namespace "ipc"/);
  t.match(planError((s) => (s.domainname = 'x.org', s.linux!.namespaces = [{ type: 'mount' }])), /domainname: unable to set domainname without a private UTS namespace/);

  const pid = plan((s) => (s.linux!.namespaces![0] = { type: 'pid', path: '/proc/1/ns/pid' }), { namespaceFds: { pid: 9 } });
  const setns = pid.ops.findIndex((o) => o.op === 'SETNS');
  t.ok(setns >= 0 && indexOf(pid, 'FORK') > setns, 'setns pid, then fork');
  t.same(named(pid, 'FORK')[0].a, [CLONE_PARENT]);
  t.ok(named(pid, 'LOOPBACK_UP').length === 1, 'a new network namespace gets lo up');
});

t.test('namespaces: a path is judged by what the kernel says the opened file is, not by its name or link', async (t) => {
  // A bind mount (ip netns add, Podman, CNI, CRI pods) is a namespace like /proc/PID/ns/net.
  t.equal(namespaceFileProblem('network', '/run/netns/x', { kind: 'namespace', type: 'network' }), undefined);
  t.equal(namespaceFileProblem('network', '/proc/1/ns/ipc', { kind: 'namespace', type: 'ipc' }), '/proc/1/ns/ipc is an ipc namespace, not a network namespace');
  t.equal(namespaceFileProblem('network', '/tmp/u', { kind: 'namespace', type: 'uts' }), '/tmp/u is a uts namespace, not a network namespace');
  // A kernel without NS_GET_NSTYPE cannot say: setns(fd, type) decides in the init.
  t.equal(namespaceFileProblem('mount', '/run/x', { kind: 'namespace' }), undefined);
  t.equal(namespaceFileProblem('mount', '/etc/passwd', { kind: 'other', what: 'regular file' }), '/etc/passwd is not a namespace file (it is a regular file)');
  t.equal(namespaceFileProblem('ipc', '/tmp', { kind: 'other', what: 'directory' }), '/tmp is not a namespace file (it is a directory)');
  t.equal(namespaceFileProblem('uts', '/nope', { kind: 'unopenable', code: 'ENOENT', text: 'no such file or directory' }), '/nope does not exist');
  t.equal(namespaceFileProblem('uts', '/x/y', { kind: 'unopenable', code: 'EACCES', text: 'permission denied' }), 'cannot open /x/y: EACCES (permission denied)');
});

t.test('namespaces: a joined network namespace that is the runtime\'s own keeps net sysctls out', async (t) => {
  const joinNet = (s: Spec) => {
    s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: '/run/netns/x' } : n));
    s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
  };
  const asked: Array<[string, number]> = [];
  const h = { ...host(), isRuntimeNamespace: (type: string, fd: number) => (asked.push([type, fd]), true) };
  t.match(planError(joinNet, { namespaceFds: { network: 11 }, host: h }), /net\.ipv4\.ip_forward/);
  t.same(asked, [['network', 11]], 'asked about the opened fd, not the path');
  const other = { ...host(), isRuntimeNamespace: () => false };
  const sysctls = named(plan(joinNet, { namespaceFds: { network: 11 }, host: other }), 'WRITE_PROC').filter((o) => o.strs![0]!.startsWith('sys/'));
  t.same(sysctls.map((o) => o.strs), [['sys/net/ipv4/ip_forward', '1']], 'another network namespace takes them');
});

t.test('sysctl: validated against the container namespaces, as runc does', async (t) => {
  const all = { types: new Set(['ipc', 'network', 'uts', 'mount']), netIsHost: false };
  t.same(sysctlOps({ 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '9', 'fs.mqueue.msg_max': '20', 'kernel.domainname': 'd' }, all).map((o) => o.strs), [
    ['sys/net/ipv4/ip_forward', '1'],
    ['sys/kernel/shmmax', '9'],
    ['sys/fs/mqueue/msg_max', '20'],
    ['sys/kernel/domainname', 'd'],
  ]);
  t.same(sysctlOps({ 'net/ipv4/conf/eth0.100/rp_filter': '1' }, all)[0].strs, ['sys/net/ipv4/conf/eth0.100/rp_filter', '1'], 'slash form keeps dots in names');
  t.equal(normalizeSysctlKey('net/ipv4/conf/eth0.100/rp_filter'), 'net.ipv4.conf.eth0/100.rp_filter');
  const err = (sysctl: Record<string, string>, ns = all) => {
    try {
      sysctlOps(sysctl, ns);
      return '(no error)';
    } catch (e) {
      return (e as Error).message;
    }
  };
  t.match(err({ 'kernel.shmmax': '1' }, { types: new Set(['mount']), netIsHost: false }), /host's ipc namespace/);
  t.match(err({ 'net.core.somaxconn': '1' }, { types: new Set(['mount']), netIsHost: false }), /host's network namespace/);
  t.match(err({ 'net.core.somaxconn': '1' }, { types: new Set(['network']), netIsHost: true }), /host's network namespace/, 'a netns path that is the runtime\'s own');
  t.match(err({ 'kernel.hostname': 'h' }), /conflicts with the OCI "hostname" field/);
  t.match(err({ 'vm.swappiness': '1' }), /not in a separate kernel namespace/);
  t.match(err({ 'user.max_user_namespaces': '1' }), /without a user namespace/);
  t.match(err({ 'net.//.kernel.core_pattern': '|x' }), /invalid sysctl name/, 'no ".." smuggled in through the slash form');
  const p = plan((s) => {
    s.linux!.sysctl = { 'net.core.somaxconn': '100' };
    s.linux!.readonlyPaths = ['/proc/sys'];
  });
  t.same(p.ops.find((o) => o.op === 'WRITE_PROC' && o.strs![0]!.startsWith('sys/'))?.strs, ['sys/net/core/somaxconn', '100'], 'written through the verified /proc, whatever /proc/sys is in the container');
});

t.test('seccomp: actions, errno, args, arches, flags; placement by noNewPrivileges', async (t) => {
  const r = seccompFilter({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 0 }, { index: 1, value: 0, op: 'SCMP_CMP_NE' }] },
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['kill'], action: 'SCMP_ACT_KILL_PROCESS' },
    ],
  })!;
  t.equal(r.flags, 2);
  t.equal(r.defaultAction, 0x00050000 | 38);
  t.same(r.architectures, ['x86_64', 'x86'], "libseccomp's names");
  const ALLOW = 0x7fff0000;
  const at = (i: number) => `linux.seccomp.syscalls[${i}]`;
  const arg = (index: number, op: number, value: bigint, valueTwo = 0n) => ({ index, op, value, valueTwo });
  t.same(r.rules, [
    { where: at(0), name: 'read', action: ALLOW, args: [] },
    { where: at(0), name: 'write', action: ALLOW, args: [] },
    { where: at(1), name: 'personality', action: ALLOW, args: [arg(0, 4, 0n)] },
    { where: at(1), name: 'personality', action: ALLOW, args: [arg(0, 4, 8n)] },
    { where: at(2), name: 'clone', action: ALLOW, args: [arg(0, 7, 0x7e020000n), arg(1, 1, 0n)] },
    { where: at(4), name: 'kill', action: 0x80000000, args: [] },
  ], 'same-index conditions are ORed (one rule each); a rule doing the default action is dropped');
  t.same(r.enosysNames, ['read', 'write', 'personality', 'clone', 'mkdir', 'kill'], 'the ENOSYS stub counts every name, the dropped rule\'s too');
  const stub = (defaultAction: string) => seccompFilter({ defaultAction, syscalls: [{ names: ['read'], action: 'SCMP_ACT_KILL_PROCESS' }] })!.enosysNames;
  for (const a of ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE']) t.equal(stub(a), undefined, `no ENOSYS stub with ${a}: calls go through`);
  for (const a of ['SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP']) t.same(stub(a), ['read'], `an ENOSYS stub with ${a}`);
  t.same(seccompFilter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['ioctl'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: -1, op: 'SCMP_CMP_EQ' }] }] })!.rules[0].args, [arg(1, 4, 0xffffffffffffffffn)], 'a negative value is its 64-bit two\'s complement');
  const bad = (cfg: object) => {
    try {
      seccompFilter(cfg as never);
      return '(no error)';
    } catch (e) {
      return (e as Error).message;
    }
  };
  t.match(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_LOG', errnoRet: 1 }] }), /errnoRet is not supported with action SCMP_ACT_LOG/);
  t.match(bad({ defaultAction: 'SCMP_ACT_KILL', defaultErrnoRet: 1 }), /errnoRet is not supported/);
  t.match(bad({ defaultAction: 'SCMP_ACT_NOPE' }), /unknown seccomp action/);
  t.match(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_KILL' }] }), /at least one entry/);
  t.match(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_NOTIFY' }] }), /SCMP_ACT_NOTIFY/);
  t.match(bad({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_VAX'] }), /unknown architecture/);
  t.match(bad({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_NEW_LISTENER'] }), /unknown or unsupported flag/);
  t.match(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read\u0000x'], action: 'SCMP_ACT_ERRNO' }] }), /invalid syscall name/);

  const compiled: SeccompFilter[] = [];
  const compile = (filter: SeccompFilter) => (compiled.push(filter), Buffer.alloc(16));
  const seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
  const nnp = plan((s) => ((s.linux as any).seccomp = seccomp, s.process!.noNewPrivileges = true), { compileSeccomp: compile });
  t.same(bare(named(nnp, 'SECCOMP')), [{ op: 'SECCOMP', a: [2, 0], bytes: Buffer.alloc(16) }]);
  t.equal(indexOf(nnp, 'SECCOMP'), indexOf(nnp, 'READY') - 1, 'with no_new_privs: just before the init reports ready');
  t.ok(indexOf(nnp, 'SECCOMP') > indexOf(nnp, 'FIND_EXEC'));
  const priv = plan((s) => ((s.linux as any).seccomp = seccomp), { compileSeccomp: compile });
  t.ok(indexOf(priv, 'SECCOMP') < indexOf(priv, 'CAP_BOUNDING'), 'without: before capabilities are dropped');
  t.equal(compiled.length, 2);
  const ops: Op[] = [{ op: 'FIND_EXEC', what: 'x' }, { op: 'READY', what: 'r' }];
  insertSeccomp(ops, seccompOp(Buffer.alloc(8), 0), true);
  t.same(ops.map((o) => o.op), ['FIND_EXEC', 'SECCOMP', 'READY']);
});

t.test('scheduler, ioPriority, personality, memoryPolicy, LSM: ops while privileged, runc\'s checks', async (t) => {
  const p = plan((s) => {
    s.process!.scheduler = { policy: 'SCHED_FIFO', priority: 10, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
    s.process!.ioPriority = { class: 'IOPRIO_CLASS_RT', priority: 3 };
    s.linux!.personality = { domain: 'LINUX32', flags: ['SOMETHING'] };
    s.linux!.memoryPolicy = { mode: 'MPOL_INTERLEAVE', nodes: '0-2,5', flags: ['MPOL_F_STATIC_NODES'] };
  });
  const sched = named(p, 'SCHED_SETATTR')[0].bytes!;
  t.equal(sched.readUInt32LE(0), 56, 'sched_attr size');
  t.equal(sched.readUInt32LE(4), 1, 'SCHED_FIFO');
  t.equal(sched.readBigUInt64LE(8), 1n, 'reset on fork');
  t.equal(sched.readUInt32LE(20), 10, 'priority');
  t.same(named(p, 'IOPRIO_SET')[0].a, [1, 0, (1 << 13) | 3]);
  t.same(named(p, 'PERSONALITY')[0].a, [8]);
  t.same(p.warnings, ['linux.personality.flags: ignoring unsupported personality flags SOMETHING']);
  const mp = named(p, 'SET_MEMPOLICY')[0];
  t.same(mp.a, [3 | (1 << 15), 64]);
  t.equal(mp.bytes!.readBigUInt64LE(0), 0b100111n, 'nodes 0-2,5');
  for (const op of ['SCHED_SETATTR', 'IOPRIO_SET', 'PERSONALITY', 'SET_MEMPOLICY'] as const) {
    t.ok(indexOf(p, op) < indexOf(p, 'CAP_BOUNDING') && indexOf(p, op) > indexOf(p, 'PIVOT_ROOT'), `${op} after pivot_root, before capabilities are dropped`);
  }
  t.match(planError((s) => (s.process!.scheduler = { policy: 'SCHED_OTHER', nice: 40 })), /invalid nice 40/);
  t.match(planError((s) => (s.process!.scheduler = { policy: 'SCHED_BATCH', runtime: 5 })), /only be specified for SCHED_DEADLINE/);
  t.equal(planError((s) => (s.process!.scheduler = { policy: 'SCHED_OTHER', priority: 10 })), 'process.scheduler.priority: can only be specified for SCHED_FIFO or SCHED_RR policy');
  t.match(planError((s) => (s.process!.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 8 })), /invalid priority 8/);
  t.match(planError((s) => (s.linux!.memoryPolicy = { mode: 'MPOL_DEFAULT', nodes: '1' })), /takes no nodes/);
  t.match(planError((s) => (s.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '3-1' })), /invalid range/);
  t.match(planError((s) => (s.process!.apparmorProfile = 'p')), /AppArmor is not enabled/);
  t.match(planError((s) => (s.process!.selinuxLabel = 'l')), /selinux is disabled/);
  const lsm = plan((s) => (s.process!.apparmorProfile = 'p', s.process!.selinuxLabel = 'system_u:x'), { host: host({ lsm: { apparmor: true, selinux: true } }) });
  t.same(named(lsm, 'WRITE_PROC').filter((o) => o.strs![0]!.startsWith('self/attr')).map((o) => o.strs), [
    ['self/attr/apparmor/exec', 'exec p'],
    ['self/attr/exec', 'system_u:x'],
  ]);
  t.match(planError((s) => (s.linux!.intelRdt = { closID: 'x' })), /no resctrl filesystem is mounted/);
  t.match(planError((s) => (s.linux!.intelRdt = { closID: 'x' }), { host: host({ resctrlMount: '/sys/fs/resctrl' }) }), /not supported yet/, 'with resctrl: said, not ignored');
  t.match(planError((s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 }])), /duplicated entry for RLIMIT_NOFILE/);
  t.match(planError((s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 1 }])), /soft limit 10 is above its hard limit 1/);
});

t.test('capabilities the kernel lacks are warnings, not errors', async (t) => {
  const p = plan((s) => (s.process!.capabilities = { bounding: ['CAP_KILL', 'CAP_CHECKPOINT_RESTORE'] }), { host: host({ lastCap: 39 }) });
  t.same(p.warnings, ['process.capabilities.bounding: CAP_CHECKPOINT_RESTORE is not supported by this kernel (cap_last_cap 39); ignored']);
});

t.test('execCPUAffinity (exec only): initial mask for the parent, final op for the process', async (t) => {
  t.same(parseIdList('0-3,7, 9', 'x'), [0, 1, 2, 3, 7, 9]);
  t.equal(idMask([0, 9]).readUInt16LE(0), 0b1000000001);
  const a = execCpuAffinity({ args: ['x'], cwd: '/', execCPUAffinity: { initial: '1', final: '0-1' } } as never);
  t.equal(a.initial!.readUInt8(0), 0b10);
  t.same(a.finalOps.map((o) => o.op), ['SCHED_AFFINITY']);
  t.equal(a.finalOps[0].bytes!.readUInt8(0), 0b11);
  t.same(execCpuAffinity({ args: ['x'], cwd: '/' } as never), { finalOps: [] });
  t.equal(named(plan((s) => (s.process!.execCPUAffinity = { final: '0' })), 'SCHED_AFFINITY').length, 0, 'not applied to the init');
});

t.test('devices: checked node creation; u is a char device; type and numbers are required', async (t) => {
  const p = plan((s) => (s.linux!.devices = [{ path: '/dev/u', type: 'u', major: 1, minor: 3 }, { path: '/dev/p', type: 'p' }]));
  t.same(bare(named(p, 'DEVICE_IN_ROOT')), [
    { op: 'DEVICE_IN_ROOT', a: [S_IFCHR | 0o666, makedev(1, 3), 0, 0], strs: ['/dev/u'] },
    { op: 'DEVICE_IN_ROOT', a: [S_IFIFO | 0o666, 0n, 0, 0], strs: ['/dev/p'] },
  ]);
  t.match(named(p, 'DEVICE_IN_ROOT')[0].what, 'create device /dev/u (u 1:3)');
  t.match(planError((s) => (s.linux!.devices = [{ path: '/dev/x', type: 'c' } as never])), /major and minor are required/);
});

t.test('mounts: bind remount keeps what runc keeps; read-only tmpfs made read-only after; sysfs in a user namespace', async (t) => {
  const o = parseMountOptions(['rw', 'nosuid', 'suid', 'defaults', 'iversion', 'rnoatime', 'ratime', 'rro']);
  t.equal(o.flags, MS.I_VERSION);
  t.equal(o.cleared, MS.RDONLY | MS.NOSUID);
  t.equal(o.data, '', 'defaults is not filesystem data');
  t.equal(o.recAttrSet, MOUNT_ATTR.RDONLY);
  t.equal(o.recAttrClr, MOUNT_ATTR.NOATIME | MOUNT_ATTR.ATIME_MASK, 'atime values also clear the atime field');

  const h = host({}, { '/src': 'dir', '/sys': 'dir' });
  const p = plan((s) => (s.mounts = [
    { destination: '/b', type: 'bind', source: '/src', options: ['bind', 'rw'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'mode=755'] },
  ]), { host: h });
  t.same(bare(named(p, 'BIND_REMOUNT').filter((x) => x.strs![0] === '/b')), [{ op: 'BIND_REMOUNT', a: [0, MS.RDONLY], strs: ['/b'] }], 'an explicit rw is a remount that must clear ro');
  const dev = p.ops.find((x) => x.op === 'MOUNT_IN_ROOT' && x.strs![1] === '/dev')!;
  t.equal(Number(dev.a![0]) & MS.RDONLY, 0, 'the /dev tmpfs is mounted writable...');
  const roDev = p.ops.findIndex((x) => x.op === 'BIND_REMOUNT' && x.strs![0] === '/dev');
  t.ok(roDev > indexOf(p, 'PIVOT_ROOT') && roDev > p.ops.findIndex((x) => x.op === 'SYMLINK_IN_ROOT' && x.strs![1] === '/dev/ptmx') , '...and made read-only once populated');

  const sysMount = { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'ro'] };
  const own = plan((s) => (userns(s), s.mounts = [sysMount]), { host: h });
  t.same(own.ops.filter((x) => x.op === 'MOUNT_IN_ROOT' && x.strs![1] === '/sys').map((x) => x.strs), [['sysfs', '/sys', 'sysfs', null]], 'own network namespace: sysfs');
  const hostNet = plan((s) => {
    userns(s);
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
    s.mounts = [sysMount];
  }, { host: h });
  t.same(bare(hostNet.ops.filter((x) => x.strs?.includes('/sys') && x.op !== 'MKDIR_IN_ROOT')), [
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC, 0, 1], strs: ['/sys', '/sys', null, null] },
    { op: 'BIND_REMOUNT', a: [MS.NOSUID | MS.RDONLY, 0], strs: ['/sys'] },
  ], 'no network namespace of its own in a user namespace: rbind of /sys');
});

t.test('rootfs propagation: the rootfs parent is made private (slave for slave), shared/unbindable applied after pivot', async (t) => {
  const parent = (q: InitPlan) => named(q, 'PARENT_MOUNT_PROPAGATION')[0].a;
  t.same(parent(plan()), [MS.PRIVATE]);
  t.same(parent(plan((s) => (s.linux!.rootfsPropagation = 'rslave'))), [MS.SLAVE]);
  const shared = plan((s) => (s.linux!.rootfsPropagation = 'rshared'));
  const after = shared.ops.filter((o) => o.op === 'MOUNT' && o.strs![1] === '/');
  t.same(after.map((o) => o.a), [[MS.SHARED | MS.REC], [MS.SHARED | MS.REC]], 'before the bind and again on the new /');
  t.ok(shared.ops.indexOf(after[1]) > indexOf(shared, 'PIVOT_ROOT'));
  const priv = plan((s) => (s.linux!.rootfsPropagation = 'private'));
  t.equal(priv.ops.filter((o) => o.op === 'MOUNT' && o.strs![1] === '/').length, 1, 'private: nothing after the pivot');
  t.match(planError((s) => (s.linux!.rootfsPropagation = 'rprivate'), { noPivot: true }), /not safe without pivot_root/);
});

t.test('netDevices: validated, handed to the parent', async (t) => {
  t.same(plan((s) => (s.linux!.netDevices = { eth0: { name: 'ctr%d' }, eth1: {} })).netDevices, [{ name: 'eth0', newName: 'ctr%d' }, { name: 'eth1', newName: '' }]);
  t.same(plan().netDevices, []);
  t.match(planError((s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
    s.linux!.netDevices = { eth0: {} };
  }), /without a network namespace/);
  t.match(planError((s) => (s.linux!.netDevices = { 'a/b': {} })), /invalid network device name "a\/b"/);
  t.match(planError((s) => (s.linux!.netDevices = { eth0: { name: 'x'.repeat(16) } })), /invalid network device name/);
});

t.test('planProcessFields, as exec uses it: affinity, fields before the capability drop, seccomp, oom first', async (t) => {
  const spec = baseSpec();
  spec.process!.execCPUAffinity = { initial: '0', final: '1' };
  spec.process!.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
  spec.process!.noNewPrivileges = true;
  (spec.linux as any).seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
  const f = planProcessFields({ spec, proc: spec.process!, lastCap: 40, forExec: true, compileSeccomp: () => Buffer.alloc(8) });
  t.equal(f.initialAffinity!.readUInt8(0), 1, 'initial: CPU 0, for the parent to set');
  const ops: Op[] = [
    { op: 'PRCTL', what: 'dumpable' },
    { op: 'SETRLIMIT', what: 'r' },
    { op: 'CAP_BOUNDING', what: 'b' },
    { op: 'WRITE_PROC', strs: ['self/oom_score_adj', '5'], what: 'oom' },
    { op: 'FIND_EXEC', what: 'f' },
    { op: 'READY', what: 'ready' },
    { op: 'EXEC', what: 'exec' },
  ];
  f.apply(ops);
  t.same(ops.map((o) => o.op), ['WRITE_PROC', 'PRCTL', 'SETRLIMIT', 'IOPRIO_SET', 'SCHED_AFFINITY', 'CAP_BOUNDING', 'FIND_EXEC', 'SECCOMP', 'READY', 'EXEC']);
  const init = planProcessFields({ spec, proc: spec.process!, lastCap: 40 });
  t.equal(init.initialAffinity, undefined, 'the init gets no execCPUAffinity');
});

t.test('namespace rules: the field named is the one at fault', async (t) => {
  const mapping = [{ containerID: 0, hostID: 100000, size: 65536 }];
  t.equal(planError((s) => (s.linux!.gidMappings = mapping)), 'linux.gidMappings: user namespace mappings specified, but the user namespace is not enabled in the config');
  t.equal(planError((s) => (s.linux!.uidMappings = mapping, s.linux!.gidMappings = mapping)), 'linux.uidMappings: user namespace mappings specified, but the user namespace is not enabled in the config');
  t.equal(planError((s) => (s.linux!.namespaces!.push({ type: 'user' }), s.linux!.uidMappings = mapping)), 'linux.gidMappings: a new user namespace needs both uidMappings and gidMappings');
  t.equal(planError((s) => (s.linux!.namespaces!.push({ type: 'user' }), s.linux!.gidMappings = mapping)), 'linux.uidMappings: a new user namespace needs both uidMappings and gidMappings');
  t.equal(
    planError((s) => (s.linux!.namespaces!.push({ type: 'user', path: '/proc/1/ns/user' }), s.linux!.uidMappings = mapping, s.linux!.gidMappings = mapping), { namespaceFds: { user: 3 } }),
    'linux.uidMappings: mappings cannot be applied to a user namespace joined by path',
  );
  const noMount = (s: Spec) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount'));
  t.equal(planError((s) => (noMount(s), s.linux!.maskedPaths = ['/proc/kcore'])), 'linux.maskedPaths: unable to restrict paths without a private mount namespace');
  t.equal(planError((s) => (noMount(s), s.linux!.readonlyPaths = ['/proc/sys'])), 'linux.readonlyPaths: unable to restrict paths without a private mount namespace');
  t.equal(planError((s) => (s.linux!.timeOffsets = { monotonic: { secs: 1 } })), 'linux.timeOffsets: time namespace offsets specified, but the time namespace is not enabled in the config');
  t.equal(planError((s) => s.linux!.namespaces!.push({ type: 'ipc' })), 'linux.namespaces: duplicated namespace "ipc"');
});

t.test('seccomp notify: runc\'s rules, before the runtime says it cannot hand the listener over', async (t) => {
  const bad = (cfg: object) => {
    try {
      seccompFilter(cfg as never);
      return '(no error)';
    } catch (e) {
      return `${(e as Error).constructor.name}: ${(e as Error).message}`;
    }
  };
  t.equal(bad({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/agent.sock' }), 'InvalidConfigError: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action');
  t.equal(
    bad({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO' }, { names: ['mkdir', 'write'], action: 'SCMP_ACT_NOTIFY' }] }),
    'InvalidConfigError: linux.seccomp.syscalls[1].names: SCMP_ACT_NOTIFY cannot be used for the write syscall',
  );
  t.equal(bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }), 'InvalidConfigError: linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listenerPath');
  t.equal(
    bad({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }),
    'UnsupportedError: linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY (a seccomp agent on listenerPath) is not supported',
    'a valid notify config: unsupported, not invalid',
  );
});

t.test('memory policy nodes: runc\'s checks', async (t) => {
  t.equal(planError((s) => (s.linux!.memoryPolicy = { mode: 'MPOL_BIND' })), 'linux.memoryPolicy: mode MPOL_BIND needs at least one node');
  t.equal(planError((s) => (s.linux!.memoryPolicy = { mode: 'MPOL_LOCAL', nodes: '0' })), 'linux.memoryPolicy: mode MPOL_LOCAL takes no nodes, got "0"');
  t.equal(planError((s) => (s.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0,x' })), 'linux.memoryPolicy.nodes: invalid list "0,x"');
});

t.test('deprecated things are plan warnings (create logs them)', async (t) => {
  t.same(plan().warnings, []);
  const p = plan((s) => {
    s.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: 'data', type: 'tmpfs', source: 'tmpfs' }];
    s.hooks = { prestart: [{ path: '/bin/true' }] };
  }, { hookSyncs: true });
  t.same(p.warnings, [
    'mounts[1].destination: relative path "data" is deprecated; it is taken as relative to /',
    'hooks.prestart: deprecated; use createRuntime',
  ]);
});

t.test('id-mapped mounts: bind mounts only, with both maps or a user namespace to take them from', async (t) => {
  const map = [{ containerID: 0, hostID: 100000, size: 65536 }];
  const mount = (extra: object) => (s: Spec) => (s.mounts = [{ destination: '/data', source: '/srv/data', ...extra }]);
  t.equal(planError(mount({ options: ['bind'], uidMappings: map })), 'mounts: /data: id-mapped mounts must have both uid and gid mappings specified');
  t.equal(planError(mount({ type: 'tmpfs', options: ['idmap'], uidMappings: map, gidMappings: map })), 'mounts: /data: id-mapped mounts are only supported for bind-mounts');
  t.equal(planError(mount({ options: ['rbind', 'idmap'] })), 'mounts: /data: the idmap option needs uidMappings and gidMappings, or a user namespace to take them from');
  const h = host({ pathKind: () => 'dir' });
  t.equal(planError((s) => (userns(s), mount({ options: ['rbind', 'idmap'] })(s)), { host: h }), '(no error)', 'the container\'s user namespace');
  t.equal(planError(mount({ options: ['bind'], uidMappings: map, gidMappings: map }), { host: h }), '(no error)', 'own maps');
});
