/**
 * The linux.resources rules of the plan (src/plan/rules/resources.ts) on v1, hybrid and v2 hosts
 * described by CgroupFacts: each error names the field, and create reaches them through the
 * planner, before anything exists. No root, no real cgroups.
 */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { LinuxResources, Spec } from '../../src/generated/config';
import { checkResourceRules, CgroupFacts, hybridUnifiedControllers, requestedFields } from '../../src/plan/rules/resources';
import { InvalidConfigError } from '../../src/errors';
import { hybridCgroups, planError, v1Cgroups, v2Cgroups, host } from '../helpers/plan';
import { cgroupFacts } from '../../src/launch/host-probe';

const MB = 1024 * 1024;

/** The rule's message for r on that host, or "(no error)". */
function problem(r: LinuxResources, facts: CgroupFacts, update = false): string {
  try {
    checkResourceRules(r, facts, { update });
  } catch (e) {
    if (!(e instanceof InvalidConfigError)) throw e;
    return e.message;
  }
  return '(no error)';
}

t.test('requested fields: zeros mean unset, except where 0 is a value', async (t) => {
  t.same(
    requestedFields({ memory: { limit: 0, swappiness: 0, disableOOMKiller: false }, cpu: { shares: 0, cpus: '' }, pids: { limit: 0 }, network: { classID: 0 } }),
    ['memory.swappiness', 'pids.limit'],
  );
  t.same(requestedFields({ blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1 }] }, unified: { 'memory.high': '1' } }), [
    'blockIO.weight', 'blockIO.throttleReadBpsDevice', 'unified',
  ]);
});

t.test('a config that asks for what every host has passes everywhere', async (t) => {
  const r: LinuxResources = {
    memory: { limit: 64 * MB, swap: 128 * MB, reservation: 32 * MB },
    cpu: { shares: 512, quota: 20000, period: 100000 },
    pids: { limit: 50 },
    blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] },
    devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }],
  };
  for (const [name, facts] of [['v1', v1Cgroups()], ['hybrid', hybridCgroups()], ['v2', v2Cgroups()]] as const) {
    t.equal(problem(r, facts), '(no error)', name);
  }
  t.equal(problem({}, hybridCgroups()), '(no error)', 'no resources at all');
});

t.test('v1 and hybrid: controllers without a hierarchy, ranges, kernel files', async (t) => {
  const h = hybridCgroups();
  const cases: Array<[string, LinuxResources, RegExp]> = [
    ['net_cls', { network: { classID: 1 } }, /^linux\.resources\.network\.classID: cannot set net_cls limit: no net_cls cgroup hierarchy is mounted on this host$/],
    ['net_prio', { network: { priorities: [{ name: 'eth0', priority: 1 }] } }, /^linux\.resources\.network\.priorities: cannot set net_prio limit: /],
    ['rdma', { rdma: { mlx4_0: { hcaHandles: 1 } } }, /^linux\.resources\.rdma: cannot set rdma limit: no rdma cgroup hierarchy/],
    ['swappiness', { memory: { swappiness: 101 } }, /^linux\.resources\.memory\.swappiness: invalid memory swappiness value: 101 \(valid range is 0-100\)$/],
    ['swap below memory', { memory: { limit: 64 * MB, swap: 32 * MB } }, /^linux\.resources\.memory\.swap: memory\+swap limit should be >= memory limit$/],
    ['unified memory key', { unified: { 'memory.high': '1' } }, /^linux\.resources\.unified\["memory\.high"\]: invalid configuration: cannot use unified on cgroup v1 \(the memory controller is not bound to the cgroup2 mount \/sys\/fs\/cgroup\/unified, which has: hugetlb\)$/],
    ['unified key with a slash', { unified: { 'hugetlb/x': '1' } }, /^linux\.resources\.unified\["hugetlb\/x"\]: unified resource must be a file name \(no slashes\)$/],
    ['unified key without a dot', { unified: { nodot: '1' } }, /CONTROLLER\.PARAMETER/],
    ['huge page size', { hugepageLimits: [{ pageSize: '3MB', limit: 0 }] }, /^linux\.resources\.hugepageLimits\[0\]\.pageSize: "3MB" is not a huge page size of this host \(2MB, 1GB\)$/],
    ['blkio weight without CFQ or BFQ', { blockIO: { weight: 500 } }, /^linux\.resources\.blockIO\.weight: this host's blkio controller has no weight files/],
    ['leaf weight', { blockIO: { weightDevice: [{ major: 8, minor: 0, leafWeight: 100 }] } }, /^linux\.resources\.blockIO\.weightDevice\[0\]\.leafWeight: this host's blkio controller has no leaf weight files/],
  ];
  for (const [what, r, re] of cases) t.match(problem(r, h), re, what);
  t.equal(problem({ unified: { 'hugetlb.2MB.max': '0', 'cgroup.max.depth': '3' }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }, h), '(no error)', 'hugetlb on the cgroup2 mount, and core files');
  t.same(hybridUnifiedControllers({ 'hugetlb.2MB.max': '0', 'cgroup.max.depth': '3' }, h), ['hugetlb'], 'controllers to enable for the keys');

  const bare = hybridCgroups({ rootFiles: () => [] });
  t.match(problem({ memory: { limit: 64 * MB, swap: 128 * MB } }, bare), /^linux\.resources\.memory\.swap: swap accounting is not enabled on this host \(no memory\.memsw\.limit_in_bytes; boot with swapaccount=1\)$/);
  t.match(problem({ memory: { kernel: 1 } }, bare), /^linux\.resources\.memory\.kernel: kernel memory accounting not supported by this kernel/);
  t.match(problem({ memory: { kernelTCP: 1 } }, bare), /^linux\.resources\.memory\.kernelTCP: kernel TCP memory accounting not supported/);
  t.match(problem({ cpu: { burst: 1000 } }, bare), /^linux\.resources\.cpu\.burst: this kernel has no cpu\.cfs_burst_us \(CPU burst needs Linux 5\.14\)$/);
  t.equal(problem({ cpu: { burst: 0 } }, bare), '(no error)', 'a burst of 0 needs no burst file');
  t.match(problem({ cpu: { realtimeRuntime: 1000 } }, bare), /^linux\.resources\.cpu\.realtimeRuntime: realtime CPU limits need a kernel built with CONFIG_RT_GROUP_SCHED/);
  const bfq = hybridCgroups({ rootFiles: (c) => (c === 'blkio' ? ['blkio.bfq.io_service_bytes'] : []) });
  t.equal(problem({ blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }] } }, bfq), '(no error)', 'BFQ keeps its weight files off the root: its other files show it');
});

t.test('v1 without a cgroup2 mount: unified is refused, hugetlb is a v1 hierarchy', async (t) => {
  t.match(problem({ unified: { 'cgroup.max.depth': '1' } }, v1Cgroups()), /^linux\.resources\.unified: invalid configuration: cannot use unified on cgroup v1 \(this host has no cgroup2 mount\)$/);
  t.equal(problem({ hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }, v1Cgroups()), '(no error)');
  t.match(problem({ hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }, hybridCgroups({ unifiedControllers: [] })), /^linux\.resources\.hugepageLimits: cannot set hugetlb limit: no hugetlb cgroup hierarchy is mounted/);
});

t.test('v2: fields that only exist in v1, ranges, controllers the host does not offer', async (t) => {
  const v2 = v2Cgroups();
  const cases: Array<[LinuxResources, RegExp]> = [
    [{ memory: { kernel: 1 } }, /^linux\.resources\.memory\.kernel: kernel memory limits do not exist on cgroup v2/],
    [{ memory: { kernelTCP: 1 } }, /^linux\.resources\.memory\.kernelTCP: /],
    [{ memory: { swappiness: 0 } }, /^linux\.resources\.memory\.swappiness: cgroup v2 has no per-cgroup swappiness$/],
    [{ memory: { disableOOMKiller: true } }, /^linux\.resources\.memory\.disableOOMKiller: /],
    [{ memory: { useHierarchy: false } }, /^linux\.resources\.memory\.useHierarchy: /],
    [{ memory: { swap: 100 } }, /^linux\.resources\.memory\.swap: unable to set swap limit without memory limit$/],
    [{ memory: { limit: 400, swap: 300 } }, /^linux\.resources\.memory\.swap: memory\+swap limit should be >= memory limit$/],
    [{ memory: { limit: -2, swap: 300 } }, /^linux\.resources\.memory\.limit: invalid memory value: -2$/],
    [{ memory: { limit: 100, swap: -2 } }, /^linux\.resources\.memory\.swap: invalid memory\+swap value: -2$/],
    [{ cpu: { realtimePeriod: 1000000 } }, /^linux\.resources\.cpu\.realtimePeriod: realtime CPU limits are not supported on cgroup v2$/],
    [{ blockIO: { leafWeight: 100 } }, /^linux\.resources\.blockIO\.leafWeight: /],
    [{ blockIO: { weightDevice: [{ major: 8, minor: 0, leafWeight: 100 }] } }, /^linux\.resources\.blockIO\.weightDevice\[0\]\.leafWeight: /],
    [{ blockIO: { weight: 5 } }, /^linux\.resources\.blockIO\.weight: blkio weight 5 is out of range \(10-1000\)$/],
    [{ blockIO: { weightDevice: [{ major: 8, minor: 0, weight: 2000 }] } }, /^linux\.resources\.blockIO\.weightDevice\[0\]\.weight: blkio weight 2000 is out of range/],
    [{ network: { classID: 1 } }, /^linux\.resources\.network\.classID: net_cls does not exist on cgroup v2/],
    [{ network: { priorities: [{ name: 'eth0', priority: 1 }] } }, /^linux\.resources\.network\.priorities: /],
    [{ cpu: { cpus: '0' } }, /^linux\.resources\.cpu\.cpus: the cpuset controller is not available on this host \(the cgroup2 root \/sys\/fs\/cgroup has: cpu io memory pids\)$/],
    [{ hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }, /^linux\.resources\.hugepageLimits: the hugetlb controller is not available on this host/],
    [{ unified: { 'nosuch.file': '1' } }, /^linux\.resources\.unified\["nosuch\.file"\]: the nosuch controller is not available on this host/],
    [{ unified: { 'a/b': '1' } }, /must be a file name/],
    [{ unified: { nodot: '1' } }, /^linux\.resources\.unified\["nodot"\]: unified resource must be in the form CONTROLLER\.PARAMETER$/],
  ];
  for (const [r, re] of cases) t.match(problem(r, v2), re, JSON.stringify(r));
  t.equal(problem({ memory: { disableOOMKiller: false, useHierarchy: true, kernel: 0 }, cpu: { realtimeRuntime: 0 } }, v2Cgroups({ unifiedControllers: [] })), '(no error)', 'values that ask for nothing need nothing');
  t.equal(problem({ unified: { 'memory.high': '1', 'cgroup.max.depth': '2', 'cpu.pressure': 'some 150000 1000000' } }, v2), '(no error)', 'controller keys, core keys, files outside controllers');
  t.equal(problem({ memory: { limit: -1 }, blockIO: { weight: 10 } }, v2), '(no error)');
});

t.test('device rules: syntax, the devices hierarchy, and what the devices cgroup cannot represent', async (t) => {
  const h = hybridCgroups();
  t.match(problem({ devices: [{ allow: true, access: '' }] }, h), /^linux\.resources\.devices\[0\]\.access: device access cannot be empty$/);
  t.match(problem({ devices: [{ allow: true, access: 'rwx' }] }, h), /^linux\.resources\.devices\[0\]\.access: invalid access "rwx" \(only r, w, m\)$/);
  t.match(problem({ devices: [{ allow: true, type: 'x' as 'a', access: 'r' }] }, h), /^linux\.resources\.devices\[0\]\.type: invalid cgroup device type "x"$/);
  t.match(problem({ devices: [{ allow: true, type: 'c', major: 1.5, access: 'r' }] }, h), /^linux\.resources\.devices\[0\]\.major: invalid device number 1\.5$/);
  const hole: LinuxResources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 3, access: 'r' }] };
  for (const facts of [h, v2Cgroups()]) {
    t.match(problem(hole, facts), /^linux\.resources\.devices: device rule "c 1:3 r" \(deny\) cannot be applied: it would punch a hole in the wildcard rule "c \*:\* rwm"/, facts.mode);
  }
  t.match(problem({}, hybridCgroups({ v1Controllers: ['memory', 'cpu'] })), /^linux\.resources\.devices: cannot set devices limit: no devices cgroup hierarchy is mounted on this host$/, 'every container gets device rules');
  t.equal(problem({ devices: [{ allow: true, access: '' }] }, h, true), '(no error)', 'update leaves devices alone, and so do its rules');
});

t.test('create reaches the rules through the planner, with the facts of the host', async (t) => {
  t.match(planError((s) => (s.linux!.resources = { memory: { swappiness: 101 } })), /^linux\.resources\.memory\.swappiness: invalid memory swappiness value: 101/);
  t.match(
    planError((s) => (s.linux!.resources = { memory: { swappiness: 10 } }), { host: host({ cgroup: v2Cgroups() }) }),
    /^linux\.resources\.memory\.swappiness: cgroup v2 has no per-cgroup swappiness$/,
  );
  t.equal(planError((s) => (s.linux!.resources = { pids: { limit: 10 } })), '(no error)');
  // runc leaves out its default rule for a device the config lists: with it, this allow would
  // punch a hole into the config's deny-list; without it, it is fine.
  const denyList = (s: Spec) => {
    s.linux!.resources = { devices: [{ allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 1, access: 'rwm' }] };
  };
  t.match(planError(denyList), /^linux\.resources\.devices: device rule "c 1:3 rwm" \(allow\) cannot be applied/);
  t.equal(
    planError((s) => {
      denyList(s);
      s.linux!.devices = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom'].map((path) => ({ path, type: 'c', major: 1, minor: 3 }));
    }),
    '(no error)',
  );
});

t.test('the host probe: facts from the cgroup layout, a root read only when a rule asks', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-fake-cgroupfs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const [sub, files] of [['memory', ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes']], ['cpu,cpuacct', ['cpu.shares']], ['unified', ['cgroup.controllers']]] as const) {
    fs.mkdirSync(path.join(dir, sub));
    for (const f of files) fs.writeFileSync(path.join(dir, sub, f), '');
  }
  fs.writeFileSync(path.join(dir, 'unified', 'cgroup.controllers'), 'hugetlb\n');
  const facts = cgroupFacts({
    mode: 'hybrid',
    v1: [
      { mountPoint: path.join(dir, 'memory'), root: '/', controllers: ['memory'], noprefix: false },
      { mountPoint: path.join(dir, 'cpu,cpuacct'), root: '/', controllers: ['cpu', 'cpuacct'], noprefix: false },
      { mountPoint: path.join(dir, 'systemd'), root: '/', controllers: ['name=systemd'], noprefix: false },
    ],
    unified: { mountPoint: path.join(dir, 'unified'), root: '/' },
  });
  t.same(facts.v1Controllers, ['memory', 'cpu', 'cpuacct'], 'named hierarchies are not controllers');
  t.equal(facts.unifiedMount, path.join(dir, 'unified'));
  fs.writeFileSync(path.join(dir, 'memory', 'memory.kmem.limit_in_bytes'), '');
  t.ok(facts.rootFiles('memory').includes('memory.kmem.limit_in_bytes'), 'read when first asked');
  fs.rmSync(path.join(dir, 'memory', 'memory.kmem.limit_in_bytes'));
  t.ok(facts.rootFiles('memory').includes('memory.kmem.limit_in_bytes'), 'and once');
  t.same(facts.rootFiles('cpuacct'), ['cpu.shares'], 'co-mounted controllers share a root');
  t.same(facts.rootFiles('blkio'), [], 'no hierarchy, no files');
  t.same(facts.unifiedControllers, ['hugetlb']);
  t.equal(problem({}, facts), 'linux.resources.devices: cannot set devices limit: no devices cgroup hierarchy is mounted on this host');
  t.equal(problem({ memory: { limit: 64 * MB, swap: 128 * MB } }, facts, true), '(no error)', 'memsw is there');
  t.match(problem({ cpu: { burst: 1 } }, facts, true), /cpu\.cfs_burst_us/, 'the burst file is not');
});
