// Unit tests for the systemd cgroup driver's pure parts: cgroupsPath "slice:prefix:name" (runc's
// rules and words), slice expansion, the unit back from a recorded path, linux.resources as unit
// properties, and the manager a record rebuilds. No root, no systemd.
import t from 'tap';
import { RuntimeError } from '../../src/errors';
import { ancestorSlices, expandSlice, parseSystemdCgroupsPath, systemdUnitFromCgroupPath } from '../../src/cgroups/systemd-unit';
import { cpuListToBytes, cpuQuotaProperties, deviceProperties, parseSystemdVersion, resourceProperties, scopeProperties, UINT64_MAX, UnitProperty } from '../../src/cgroups/systemd-properties';
import { cgroupManager, containerCgroupManager } from '../../src/cgroups';
import { splitSignature } from '../../src/native/sd-bus';

const MOUNTINFO_V2 = '30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
const MOUNTINFO_V1 = [
  '25 24 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,xattr,name=systemd',
  '26 24 0:23 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,memory',
  '27 24 0:24 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpuset',
  '',
].join('\n');

const props = (list: UnitProperty[]) => Object.fromEntries(list.map((p) => [p.name, p.value]));

t.test('expandSlice: every dash opens a sub-slice (runc ExpandSlice)', async (t) => {
  t.equal(expandSlice('system.slice'), '/system.slice');
  t.equal(expandSlice('-.slice'), '/');
  t.equal(expandSlice('a-b-c.slice'), '/a.slice/a-b.slice/a-b-c.slice');
  t.equal(expandSlice('kubepods-burstable-pod1234_5678.slice'), '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234_5678.slice');
  for (const bad of ['', '.slice', 'system', 'a--b.slice', '-a.slice', 'a-.slice', 'a/b.slice', 'x.scope']) {
    t.throws(() => expandSlice(bad), new RuntimeError(`invalid slice name: ${bad}`), JSON.stringify(bad));
  }
});

t.test('cgroupsPath slice:prefix:name', async (t) => {
  t.same(parseSystemdCgroupsPath('system.slice:docker:abc', 'id'), { slice: 'system.slice', unit: 'docker-abc.scope', cgroupPath: '/system.slice/docker-abc.scope' });
  t.same(parseSystemdCgroupsPath('', 'ctr1'), { slice: 'system.slice', unit: 'tsruntime-ctr1.scope', cgroupPath: '/system.slice/tsruntime-ctr1.scope' }, 'empty: the default slice and prefix');
  t.same(parseSystemdCgroupsPath(undefined, 'ctr1').unit, 'tsruntime-ctr1.scope', 'absent: the same');
  t.same(parseSystemdCgroupsPath(':libpod:abc', 'id').cgroupPath, '/system.slice/libpod-abc.scope', 'empty slice → system.slice');
  t.same(parseSystemdCgroupsPath('-.slice:p:n', 'id').cgroupPath, '/p-n.scope', 'the root slice');
  t.same(parseSystemdCgroupsPath('machine.slice::n', 'id').unit, '-n.scope', 'empty prefix: runc writes "-name.scope"');
  // Kubernetes pods under containerd's SystemdCgroup: the pod's slice and its parents.
  t.same(parseSystemdCgroupsPath('kubepods-besteffort-pod0f1e2d3c_4b5a.slice:cri-containerd:0123abcd', 'id'), {
    slice: 'kubepods-besteffort-pod0f1e2d3c_4b5a.slice',
    unit: 'cri-containerd-0123abcd.scope',
    cgroupPath: '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f1e2d3c_4b5a.slice/cri-containerd-0123abcd.scope',
  });

  for (const bad of ['system.slice', '/system.slice/x', 'a:b', 'a:b:c:d']) {
    t.throws(() => parseSystemdCgroupsPath(bad, 'id'), new RuntimeError(`expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got ${JSON.stringify(bad)} instead`), bad);
  }
  t.throws(() => parseSystemdCgroupsPath('system:p:n', 'id'), new RuntimeError('invalid slice name: system'));
  t.throws(() => parseSystemdCgroupsPath('a/b.slice:p:n', 'id'), new RuntimeError('invalid slice name: a/b.slice'));
  t.throws(() => parseSystemdCgroupsPath('system.slice:p:', 'id'), /the name part .* cannot be empty/);
  t.throws(() => parseSystemdCgroupsPath('system.slice:p:x.slice', 'id'), /x\.slice is a slice; a container needs a scope/);
  t.throws(() => parseSystemdCgroupsPath('system.slice:p:a b', 'id'), /"p-a b.scope" is not a valid systemd unit name/);
  t.throws(() => parseSystemdCgroupsPath('system.slice:p:a@b', 'id'), /not a valid systemd unit name/, 'no templates');
  t.throws(() => parseSystemdCgroupsPath(`system.slice:p:${'x'.repeat(250)}`, 'id'), /at most 255 characters/);
});

t.test('the unit back from a recorded cgroup path', async (t) => {
  for (const p of ['system.slice:docker:abc', '-.slice:p:n', 'kubepods-burstable-pod1.slice:cri-containerd:x']) {
    const u = parseSystemdCgroupsPath(p, 'id');
    t.same(systemdUnitFromCgroupPath(u.cgroupPath), u, p);
  }
  for (const bad of ['/tsruntime/abc', 'system.slice/x.scope', '/system.slice/x.service', '/a.slice/b-c.slice/x.scope', '/system.slice/x y.scope']) {
    t.throws(() => systemdUnitFromCgroupPath(bad), /is not a systemd scope under its slice/, bad);
  }
  t.same(ancestorSlices('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/c-x.scope'), [
    'kubepods-besteffort-pod1.slice',
    'kubepods-besteffort.slice',
    'kubepods.slice',
  ]);
});

t.test('managers: a new container starts its unit, a recorded one has it', async (t) => {
  const fresh = cgroupManager({ id: 'c1', systemd: true, cgroupsPath: 'system.slice:tsr:c1' }, { mountinfo: MOUNTINFO_V2 });
  t.equal(fresh.cgroupsPath, '/system.slice/tsr-c1.scope');
  t.same(fresh.paths, { '': '/sys/fs/cgroup/system.slice/tsr-c1.scope' });
  t.equal(fresh.selfJoin, false, 'the init cannot be born in a scope that does not exist yet');
  t.equal(fresh.driver, 'v2');
  const rec = containerCgroupManager({ id: 'c1', cgroupsPath: fresh.cgroupsPath, systemdCgroup: true }, { mountinfo: MOUNTINFO_V2 });
  t.same(rec.paths, fresh.paths, 'rebuilt from the state: same cgroup');
  t.equal(rec.selfJoin, true, 'exec joins the existing scope itself');
  const v1 = cgroupManager({ id: 'c1', systemd: true, cgroupsPath: 'a-b.slice:p:c1' }, { mountinfo: MOUNTINFO_V1 });
  t.same(v1.paths, {
    'name=systemd': '/sys/fs/cgroup/systemd/a.slice/a-b.slice/p-c1.scope',
    memory: '/sys/fs/cgroup/memory/a.slice/a-b.slice/p-c1.scope',
    cpuset: '/sys/fs/cgroup/cpuset/a.slice/a-b.slice/p-c1.scope',
  }, 'v1: the scope at the same path in every hierarchy');
  t.throws(() => containerCgroupManager({ id: 'c1', cgroupsPath: '/tsruntime/c1', systemdCgroup: true }, { mountinfo: MOUNTINFO_V2 }), /not a systemd scope/);
  t.equal(containerCgroupManager({ id: 'c1', cgroupsPath: '/tsruntime/c1' }, { mountinfo: MOUNTINFO_V2 }).selfJoin, true, 'cgroupfs as before');
});

t.test('cpu lists as AllowedCPUs byte arrays', async (t) => {
  t.same([...cpuListToBytes('0', 'cpu.cpus')], [0x01]);
  t.same([...cpuListToBytes('0-3', 'cpu.cpus')], [0x0f]);
  t.same([...cpuListToBytes('1,3,8', 'cpu.cpus')], [0x0a, 0x01], 'CPU 8 is bit 0 of the second byte');
  t.same([...cpuListToBytes(' 0-1 , 9-10 ', 'cpu.cpus')], [0x03, 0x06]);
  t.throws(() => cpuListToBytes('3-1', 'cpu.cpus'), new RuntimeError('linux.resources.cpu.cpus: invalid range "3-1" in "3-1"'));
  t.throws(() => cpuListToBytes('a', 'cpu.mems'), /linux.resources.cpu.mems: invalid CPU or node list "a"/);
  t.throws(() => cpuListToBytes('', 'cpu.cpus'), /empty/);
});

t.test('CPU quota: per-second budget in 10 ms steps, as systemd keeps it', async (t) => {
  t.same(cpuQuotaProperties(50000, 100000, 252), {
    properties: [
      { name: 'CPUQuotaPeriodUSec', sig: 't', value: 100000n },
      { name: 'CPUQuotaPerSecUSec', sig: 't', value: 500000n },
    ],
    quota: 50000,
  });
  const r = cpuQuotaProperties(12345, 100000, 252);
  t.equal(props(r.properties).CPUQuotaPerSecUSec, 130000n, '123450 µs/s rounds up to 130000');
  t.equal(r.quota, 13000, 'and the quota written to cpu.max follows');
  t.equal(props(cpuQuotaProperties(20000, 0, 252).properties).CPUQuotaPerSecUSec, 200000n, 'default period 100 ms');
  t.same(cpuQuotaProperties(-1, 50000, 252).properties.map((p) => p.value), [50000n, UINT64_MAX], 'no quota: infinity');
  t.same(cpuQuotaProperties(20000, 50000, 241).properties.map((p) => p.name), ['CPUQuotaPerSecUSec'], 'systemd < 242 has no period property');
  t.same(cpuQuotaProperties(0, 0, 252).properties, []);
});

t.test('devices: an allow-list as DevicePolicy=strict and DeviceAllow', async (t) => {
  const p = deviceProperties({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }] }, 252);
  t.equal(p[1].value, 'strict');
  t.same(p[0].value, [], 'reset first');
  t.same(p[2].value, [
    ['block-*', 'm'],
    ['char-*', 'm'],
    ['/dev/char/1:3', 'rwm'],
    ['/dev/char/1:5', 'rwm'],
    ['/dev/char/1:7', 'rwm'],
    ['/dev/char/1:8', 'rwm'],
    ['/dev/char/1:9', 'rwm'],
    ['/dev/char/5:0', 'rwm'],
    ['/dev/char/5:2', 'rwm'],
    ['/dev/char/10:200', 'rwm'],
    ['/dev/char/10:229', 'rw'],
    ['char-136', 'rwm'],
  ], "the config's rule and runc's defaults, /dev/pts/* as a major group");
  t.notOk((deviceProperties({}, 239)[2].value as string[][]).some(([path]) => path === 'char-136'), 'systemd < 240: no "char-N" spelling');
  t.same(props(deviceProperties({ devices: [{ allow: true, access: 'rwm' }] }, 252)), { DeviceAllow: [], DevicePolicy: 'auto' }, 'allow all');
  const deny = deviceProperties({ devices: [{ allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }] }, 252);
  t.same(props(deny), { DeviceAllow: [], DevicePolicy: 'strict' }, 'a deny-list: deny all in the unit, the cgroupfs filter does the rest');
});

t.test('resources as unit properties (v2)', async (t) => {
  const o = { cgroup: 'v2' as const, systemdVersion: 252 };
  const r = resourceProperties(
    {
      memory: { limit: 104857600, reservation: 52428800, swap: 209715200 },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0', mems: '0' },
      pids: { limit: 42 },
      blockIO: { weight: 500 },
    },
    { ...o, update: true },
  );
  t.same(props(r.properties), {
    MemoryMax: 104857600n,
    MemoryLow: 52428800n,
    MemorySwapMax: 104857600n,
    CPUWeight: 100n,
    IOWeight: 4950n,
    CPUQuotaPeriodUSec: 100000n,
    CPUQuotaPerSecUSec: 500000n,
    TasksMax: 42n,
    AllowedCPUs: Buffer.from([1]),
    AllowedMemoryNodes: Buffer.from([1]),
  });
  t.same(props(resourceProperties({ memory: { limit: -1 }, pids: { limit: -1 } }, { ...o, update: true }).properties), { MemoryMax: UINT64_MAX, TasksMax: UINT64_MAX }, '-1: infinity');
  t.same(props(resourceProperties({ pids: { limit: 0 } }, { ...o, update: true }).properties), { TasksMax: 1n }, 'systemd refuses TasksMax=0');
  t.same(props(resourceProperties({ memory: { limit: 100, swap: 100 } }, { ...o, update: true }).properties), { MemoryMax: 100n, MemorySwapMax: 0n }, 'memory+swap = memory: no swap');
  t.same(props(resourceProperties({ cpu: { cpus: '0-1' } }, { ...o, systemdVersion: 243, update: true }).properties), {}, 'systemd < 244: no AllowedCPUs (the file still gets it)');
  t.same(props(resourceProperties({ cpu: { idle: 1, shares: 2048 } }, { ...o, update: true }).properties), { CPUWeight: 0n }, 'cpu.idle wins over shares');
  const rounded = resourceProperties({ cpu: { quota: 12345 } }, { ...o, update: true });
  t.equal(rounded.resources.cpu?.quota, 13000, 'the files get the rounded quota');
  t.ok(resourceProperties({}, o).properties.some((p) => p.name === 'DevicePolicy'), 'create: devices always set');
  t.notOk(resourceProperties({}, { ...o, update: true }).properties.length, 'update: devices left alone');
  t.same(
    props(resourceProperties({ unified: { 'memory.high': '1000', 'memory.min': 'max', 'pids.max': '0', 'cpu.max': 'max 50000', 'cpuset.cpus': '1', 'io.max': 'x', 'memory.oom.group': '1' } }, { ...o, update: true }).properties),
    { MemoryHigh: 1000n, MemoryMin: UINT64_MAX, TasksMax: 1n, CPUQuotaPeriodUSec: 50000n, CPUQuotaPerSecUSec: UINT64_MAX, AllowedCPUs: Buffer.from([2]) },
    'unified keys systemd knows; the others go to the files only',
  );
  t.throws(() => resourceProperties({ unified: { 'memory.max': '1G' } }, o), /unified\["memory.max"\]: invalid value "1G"/);
});

t.test('resources as unit properties (v1 names)', async (t) => {
  const r = resourceProperties({ memory: { limit: 1000 }, cpu: { shares: 512, quota: 20000 }, blockIO: { weight: 300 }, pids: { limit: 5 } }, { cgroup: 'v1', systemdVersion: 252, update: true });
  t.same(props(r.properties), { MemoryLimit: 1000n, CPUShares: 512n, BlockIOWeight: 300n, CPUQuotaPerSecUSec: 200000n, TasksMax: 5n });
});

t.test('scope properties', async (t) => {
  const p = scopeProperties({ unit: 'x-y.scope', slice: 'system.slice', pid: 1234, description: 'd', cgroup: 'v2', systemdVersion: 253, oomGroup: '1' });
  t.same(props(p), {
    Description: 'd',
    Slice: 'system.slice',
    Delegate: true,
    PIDs: [1234],
    MemoryAccounting: true,
    CPUAccounting: true,
    IOAccounting: true,
    TasksAccounting: true,
    DefaultDependencies: false,
    OOMPolicy: 'kill',
  });
  t.equal(p.find((x) => x.name === 'PIDs')?.sig, 'au');
  t.notOk(props(scopeProperties({ unit: 'x', slice: 's', pid: 1, description: 'd', cgroup: 'v1', systemdVersion: 252, oomGroup: '1' })).OOMPolicy, 'systemd < 253: no OOMPolicy on scopes');
  t.ok(props(scopeProperties({ unit: 'x', slice: 's', pid: 1, description: 'd', cgroup: 'v1', systemdVersion: 252 })).BlockIOAccounting);
});

t.test('systemd version and D-Bus signatures', async (t) => {
  t.equal(parseSystemdVersion('252.36-1~deb12u1'), 252);
  t.equal(parseSystemdVersion('"v245.4-1.fc32"'), 245);
  t.equal(parseSystemdVersion('x'), -1);
  t.same(splitSignature('ssa(sv)a(sa(sv))'), ['s', 's', 'a(sv)', 'a(sa(sv))']);
  t.same(splitSignature('uoss'), ['u', 'o', 's', 's']);
  t.same(splitSignature('a{sv}ay'), ['a{sv}', 'ay']);
  t.throws(() => splitSignature('(ss'), /unbalanced/);
  t.throws(() => splitSignature('z'), /unsupported type/);
});
