/**
 * Rootless mode's rules (src/plan/rootless.ts, src/plan/caller-rules.ts) and how the planner applies them, with fake host
 * facts; and the host-probe parsers they read from. No root, no host access.
 */
import t from 'tap';
import type { Spec } from '../../src/generated/config';
import { planCgroupUse, planIdMapWrite, RootlessFacts } from '../../src/plan/rootless';
import { fieldsNeedingCgroup } from '../../src/plan/rules/resources';
import { Caller, defaultStateRoot, parseRootlessFlag, rootlessCgroups } from '../../src/plan/caller-rules';
import { isInitialUidMap } from '../../src/launch/caller';
import { containerCgroupDirs, parseProcLimits } from '../../src/launch/host-probe';
import { buildExecPlan } from '../../src/plan/build-exec-plan';
import { baseSpec, host, named, plan, planError, PURE_V2 } from '../helpers/plan';
import { PR } from '../../src/plan/linux-constants';
import { recordedCgroupsPath } from '../../src/lifecycle/container-cgroup';
import type { CgroupManager } from '../../src/cgroups';

const USER: Caller = { euid: 1001, egid: 1001, inUserns: false };
const ROOT: Caller = { euid: 0, egid: 0, inUserns: false };
const ROOT_IN_USERNS: Caller = { euid: 0, egid: 0, inUserns: true };

/** A plain user with newuidmap and 1024 open files. */
function facts(over: Partial<RootlessFacts> = {}): RootlessFacts {
  return { ...USER, newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap', hardLimits: { 7: 1024n }, oomScoreAdj: 0, setgroupsAllowed: true, ...over };
}

/** What `tsruntime spec --rootless` writes for uid/gid 1001, on the planner's base spec. */
function rootlessSpec(s: Spec): void {
  s.linux!.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }];
  s.linux!.uidMappings = [{ containerID: 0, hostID: 1001, size: 1 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 1001, size: 1 }];
}

const ranges = (s: Spec) => {
  rootlessSpec(s);
  s.linux!.uidMappings!.push({ containerID: 1, hostID: 100000, size: 65536 });
  s.linux!.gidMappings!.push({ containerID: 1, hostID: 100000, size: 65536 });
};

t.test('--rootless: true, false, auto (and Go\'s spellings); auto is rootless for non-root or root of a user namespace', async (t) => {
  t.equal(parseRootlessFlag(undefined), 'auto');
  t.equal(parseRootlessFlag('auto'), 'auto');
  t.equal(parseRootlessFlag('TRUE'), 'true');
  t.equal(parseRootlessFlag('1'), 'true');
  t.equal(parseRootlessFlag('f'), 'false');
  t.throws(() => parseRootlessFlag('maybe'), /invalid --rootless value "maybe": expected true, false or auto/);
  t.equal(rootlessCgroups('auto', USER), true);
  t.equal(rootlessCgroups('auto', ROOT), false);
  t.equal(rootlessCgroups('auto', ROOT_IN_USERNS), true, 'rootless Podman runs its runtime as root of its user namespace');
  t.equal(rootlessCgroups('false', USER), false);
  t.equal(rootlessCgroups('true', ROOT), true);
});

t.test('default state root: runc\'s rule for XDG_RUNTIME_DIR', async (t) => {
  const xdg = { XDG_RUNTIME_DIR: '/run/user/1001' };
  t.same(defaultStateRoot(xdg, USER), { root: '/run/user/1001/tsruntime', xdg: true });
  t.same(defaultStateRoot({}, USER), { root: '/run/tsruntime', xdg: false }, 'no XDG_RUNTIME_DIR: /run/tsruntime (then a clear error if not writable)');
  t.same(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/0' }, ROOT), { root: '/run/tsruntime', xdg: false }, 'real root ignores it');
  t.same(defaultStateRoot({ ...xdg, USER: '' }, ROOT_IN_USERNS), { root: '/run/user/1001/tsruntime', xdg: true }, 'root of a user namespace, not named root');
  t.same(defaultStateRoot({ ...xdg, USER: 'root' }, ROOT_IN_USERNS), { root: '/run/tsruntime', xdg: false });
});

t.test('cgroups: used where writable, skipped the way runc skips them, errors when the config needs one', async (t) => {
  const denied = { writable: false, denied: '/sys/fs/cgroup/memory' };
  t.same(planCgroupUse({ rootless: false, access: denied }), { use: true }, 'not rootless: always (a refusal is an error later)');
  t.same(planCgroupUse({ rootless: true, access: { writable: true } }), { use: true }, 'a delegated cgroup is used');
  t.same(planCgroupUse({ rootless: true, access: denied, resources: { devices: [{ allow: false, access: 'rwm' }] } }), {
    use: false,
    reason: 'no write access to /sys/fs/cgroup/memory',
  }, 'device rules alone do not need one');
  t.throws(
    () => planCgroupUse({ rootless: true, access: denied, resources: { memory: { limit: 1 << 26 } } }),
    /^linux\.resources\.memory\.limit: cannot set memory limit: container could not join or create cgroup \(rootless: no write access to \/sys\/fs\/cgroup\/memory\)/,
  );
  t.throws(() => planCgroupUse({ rootless: true, access: denied, configPath: '/mine' }), /^linux\.cgroupsPath: cannot create cgroup \/mine in a rootless container: no write access/);
  // What a container without a cgroup cannot honour is what the drivers would write (one rule).
  t.same(fieldsNeedingCgroup({ memory: { limit: 0, kernel: 0, useHierarchy: true }, cpu: { cpus: '' }, devices: [] }), [], 'zeroes and fields that ask nothing any more');
  t.same(fieldsNeedingCgroup({ pids: { limit: 0 } }), ['pids.limit'], 'pids.limit 0 is written (pids.max 1), so it is asked');
  t.same(fieldsNeedingCgroup({ memory: { swappiness: 0 } }), ['memory.swappiness'], 'a swappiness of 0 is written too');
  t.same(fieldsNeedingCgroup({ cpu: { cpus: '0-1' }, pids: { limit: 10 }, hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }), ['cpu.cpus', 'pids.limit', 'hugepageLimits']);
  t.throws(() => planCgroupUse({ rootless: true, access: denied, resources: { pids: { limit: 0 } } }), /^linux\.resources\.pids\.limit: cannot set pids limit/);
  t.throws(() => planCgroupUse({ rootless: true, access: denied, resources: { cpu: { cpus: '0' } } }), /cannot set cpuset limit/);
});

t.test('id maps: root writes them; a user its own id directly (setgroups denied for gids), the rest through the helpers', async (t) => {
  const own = [{ containerID: 0, hostID: 1001, size: 1 }];
  const more = [...own, { containerID: 1, hostID: 100000, size: 65536 }];
  t.same(planIdMapWrite(more, more, ROOT), { uid: 'direct', gid: 'direct', denySetgroups: false });
  t.same(planIdMapWrite(more, more, ROOT_IN_USERNS), { uid: 'direct', gid: 'direct', denySetgroups: false }, 'root of a user namespace maps its ids itself');
  t.same(planIdMapWrite(own, own, USER), { uid: 'direct', gid: 'direct', denySetgroups: true });
  t.same(planIdMapWrite(more, own, USER), { uid: 'helper', gid: 'direct', denySetgroups: true });
  t.same(planIdMapWrite(own, more, USER), { uid: 'direct', gid: 'helper', denySetgroups: false });
  t.same(planIdMapWrite([{ containerID: 0, hostID: 2000, size: 1 }], own, USER).uid, 'helper', 'another single id is not one\'s own');
});

t.test('the planner as a plain user: spec --rootless plans; what cannot work is an error naming the rootless limit', async (t) => {
  const rl = { host: host({ rootless: facts() }) };
  const p = plan(rootlessSpec, rl);
  t.same(p.idMapWrite, { uid: 'direct', gid: 'direct', denySetgroups: true });
  t.same(named(p, 'SETGROUPS'), [], 'setgroups is denied there: no SETGROUPS op');
  t.same(plan(ranges, rl).idMapWrite, { uid: 'helper', gid: 'helper', denySetgroups: false });
  t.equal(named(plan(ranges, rl), 'SETGROUPS').length, 1, 'with newgidmap, setgroups stays allowed');

  t.match(planError(() => {}, rl), /^linux\.namespaces: rootless container requires user namespaces \(tsruntime runs as uid 1001, not root\)/);
  t.match(planError(ranges, { host: host({ rootless: facts({ newuidmap: undefined }) }) }), /^linux\.uidMappings: mapping 0 1001 1, 1 100000 65536 needs newuidmap .* is not installed: install it \(Debian and Ubuntu: package uidmap\)$/);
  t.match(planError(ranges, { host: host({ rootless: facts({ newgidmap: undefined }) }) }), /^linux\.gidMappings: .* needs newgidmap/);
  t.match(planError((s) => {
    rootlessSpec(s);
    s.process!.user!.additionalGids = [10];
  }, rl), /^process\.user\.additionalGids: cannot set any additional groups in a rootless container/);
  t.match(planError((s) => {
    rootlessSpec(s);
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 4096, hard: 4096 }];
  }, rl), /^process\.rlimits: RLIMIT_NOFILE hard limit 4096 is above the caller's own \(1024\): a rootless container \(uid 1001\) cannot raise it/);
  t.equal(planError((s) => {
    rootlessSpec(s);
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1024 }];
  }, rl), '(no error)', 'lowering is fine');
  t.match(planError((s) => {
    rootlessSpec(s);
    s.process!.oomScoreAdj = -100;
  }, rl), /^process\.oomScoreAdj: -100 is below the runtime's own \(0\): a rootless container .* can only raise it/);
  t.match(planError((s) => {
    rootlessSpec(s);
    s.linux!.netDevices = { eth9: {} };
  }, rl), /^linux\.netDevices: moving host network devices needs root/);
  t.match(planError((s) => {
    rootlessSpec(s);
    s.mounts = [{ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['uid=5'] }];
  }, rl), /^mounts: \/mnt: cannot specify uid=5 mount option for rootless container: uid 5 is not mapped in its user namespace \(0 1001 1\)$/);
  t.equal(planError((s) => {
    rootlessSpec(s);
    s.mounts = [{ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['uid=0', 'gid=0'] }];
  }, rl), '(no error)');
});

t.test('the planner as root of a user namespace (rootless Podman): no user namespace needed, devices bound, setgroups as the host says', async (t) => {
  const inNs = { host: host({ rootless: facts({ ...ROOT_IN_USERNS }) }) };
  const p = plan((s) => {
    s.mounts = [{ destination: '/dev', type: 'tmpfs', source: 'tmpfs' }];
  }, inNs);
  t.same(named(p, 'DEVICE_IN_ROOT'), [], 'no mknod in a user namespace');
  t.ok(p.ops.some((o) => o.op === 'MOUNT_IN_ROOT' && o.strs?.[0] === '/dev/null'), '/dev/null is bound from the host');
  t.equal(named(p, 'SETGROUPS').length, 1);
  t.same(named(plan(() => {}, { host: host({ rootless: facts({ ...ROOT_IN_USERNS, setgroupsAllowed: false }) }) }), 'SETGROUPS'), [], "the runtime's namespace denies setgroups");
});

t.test('user namespace made after joins: a rootless runtime makes the init dumpable just while it writes the maps', async (t) => {
  const p = plan((s) => {
    rootlessSpec(s);
    s.linux!.namespaces!.find((n) => n.type === 'ipc')!.path = '/proc/1/ns/ipc';
  }, { namespaceFds: { ipc: 5 }, host: host({ rootless: facts() }) });
  const sync = p.ops.findIndex((o) => o.op === 'SYNC' && o.tag === 'userns');
  t.same(p.ops[sync - 1].a, [PR.SET_DUMPABLE, 1, 0, 0]);
  t.same(p.ops[sync + 1].a, [PR.SET_DUMPABLE, 0, 0, 0]);
});

t.test('cgroup mounts show the directories host-probe found (the own cgroup when there is none of the container\'s)', async (t) => {
  const p = plan((s) => {
    s.mounts = [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup' }];
  }, { host: host({ cgroupHierarchies: [{ ...PURE_V2[0], dir: '/sys/fs/cgroup/user.slice/x' }] }) });
  t.ok(p.ops.some((o) => o.op === 'MOUNT_IN_ROOT' && o.strs?.[0] === '/sys/fs/cgroup/user.slice/x'));

  const mountinfo = [
    '30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory',
    '31 25 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw',
    '32 25 0:28 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,xattr,name=systemd',
  ].join('\n');
  const hs = [
    { mountpoint: '/sys/fs/cgroup/memory', name: 'memory', version: 1 as const },
    { mountpoint: '/sys/fs/cgroup/unified', name: 'unified', version: 2 as const },
    { mountpoint: '/sys/fs/cgroup/systemd', name: 'systemd', version: 1 as const },
  ];
  const own = '4:memory:/user.slice\n1:name=systemd:/user.slice/s.scope\n0::/user.slice/s.scope\n';
  t.same(containerCgroupDirs(hs, undefined, mountinfo, own).map((h) => h.dir), ['/sys/fs/cgroup/memory/user.slice', '/sys/fs/cgroup/unified/user.slice/s.scope', '/sys/fs/cgroup/systemd/user.slice/s.scope']);
});

t.test('exec: no SETGROUPS where the container\'s user namespace denies it', async (t) => {
  const spec = baseSpec();
  const ex = (setgroups: boolean, gids?: number[]) => buildExecPlan({ process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: gids } }, spec, namespaceFds: {}, lastCap: 40, setgroups });
  t.equal(ex(true).ops.filter((o) => o.op === 'SETGROUPS').length, 1);
  t.equal(ex(false).ops.filter((o) => o.op === 'SETGROUPS').length, 0);
  t.throws(() => ex(false, [5]), /additionalGids: cannot set any additional groups in a rootless container/);
});

t.test('host-probe parsers: /proc/self/limits, the initial uid_map', async (t) => {
  const limits = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max file size             unlimited            unlimited            bytes     ',
    'Max data size             unlimited            unlimited            bytes     ',
    'Max stack size            8388608              unlimited            bytes     ',
    'Max core file size        0                    unlimited            bytes     ',
    'Max resident set          unlimited            unlimited            bytes     ',
    'Max processes             127462               127462               processes ',
    'Max open files            1024                 524288               files     ',
  ].join('\n');
  const l = parseProcLimits(limits);
  t.equal(l[7], 524288n, 'RLIMIT_NOFILE');
  t.equal(l[6], 127462n, 'RLIMIT_NPROC');
  t.equal(l[0], (1n << 64n) - 1n, 'unlimited');
  t.equal(isInitialUidMap('         0          0 4294967295\n'), true);
  t.equal(isInitialUidMap('         0       1001          1\n         1     100000      65536\n'), false);
});

t.test('a rootless default cgroup is recorded as an absolute path when it is one, so delete finds it from anywhere', async (t) => {
  const m = (paths: Record<string, string>) => ({ cgroupsPath: 'c1', paths }) as unknown as CgroupManager;
  const mps = ['/sys/fs/cgroup/memory', '/sys/fs/cgroup/unified'];
  t.equal(recordedCgroupsPath(m({ memory: '/sys/fs/cgroup/memory/u/rt/c1', '': '/sys/fs/cgroup/unified/u/rt/c1' }), mps), '/u/rt/c1');
  t.equal(recordedCgroupsPath(m({ memory: '/sys/fs/cgroup/memory/a/c1', '': '/sys/fs/cgroup/unified/b/c1' }), mps), 'c1', 'different places: left relative');
});
