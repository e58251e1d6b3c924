// Unit tests for src/cgroups: no root, no real cgroups. mountinfo and /proc/self/cgroup are fed as text.
import t from 'tap';
import { RuntimeError } from '../../src/errors';
import {
  cgroupManager,
  detectLayout,
  normalizeCgroupsPath,
  parseMountInfo,
  parseProcCgroup,
} from '../../src/cgroups';
import { V1Manager } from '../../src/cgroups/v1';
import { V2Manager } from '../../src/cgroups/v2';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { resolveDir } from '../../src/cgroups/common';
import { mkdirTracked, removeCgroupDirs, waitFor } from '../../src/cgroups/cgroup-fs';

// A systemd host in unified mode (Fedora, Debian 11+, Ubuntu 21.10+).
const MOUNTINFO_V2 = `22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw
25 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
26 24 0:24 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:5 - bpf bpf rw,mode=700
`;

// A legacy v1 host (CentOS 7 style): co-mounted cpu,cpuacct and net_cls,net_prio, name=systemd.
const MOUNTINFO_V1 = `18 1 253:0 / / rw,relatime shared:1 - xfs /dev/mapper/root rw
19 18 0:18 / /sys rw,nosuid,nodev,noexec,relatime shared:6 - sysfs sysfs rw
25 19 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:7 - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
29 25 0:25 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,net_cls,net_prio
30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpuset
32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,pids
33 25 0:29 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,freezer
34 25 0:30 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,devices
35 25 0:31 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,blkio
36 25 0:32 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,hugetlb
37 25 0:33 / /sys/fs/cgroup/perf_event rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,perf_event
`;

// This machine: hybrid, v1 controllers plus cgroup2 at /sys/fs/cgroup/unified.
const MOUNTINFO_HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

const SELF_CGROUP_HYBRID = `9:name=systemd:/user.slice/user-0.slice/session-1.scope
8:pids:/user.slice/user-0.slice/session-1.scope
7:blkio:/user.slice
6:freezer:/
5:devices:/user.slice
4:memory:/user.slice/user-0.slice/session-1.scope
3:cpuset:/
2:cpuacct:/user.slice
1:cpu:/user.slice
0::/user.slice/user-0.slice/session-1.scope
`;

t.test('normalizeCgroupsPath', async (t) => {
  t.equal(normalizeCgroupsPath(undefined, 'abc'), '/tsruntime/abc', 'no path: default parent');
  t.equal(normalizeCgroupsPath('', 'abc'), '/tsruntime/abc', 'empty path: default parent');
  t.equal(normalizeCgroupsPath('/a/b', 'x'), '/a/b');
  t.equal(normalizeCgroupsPath('//a///b/', 'x'), '/a/b', 'repeated and trailing slashes');
  t.equal(normalizeCgroupsPath('/a/./b/../c', 'x'), '/a/c', 'dot and dot-dot inside the hierarchy');
  t.equal(normalizeCgroupsPath('/machine.slice/libpod-1.scope', 'x'), '/machine.slice/libpod-1.scope');
  t.equal(normalizeCgroupsPath('a/b', 'x'), 'a/b', 'relative stays relative');
  t.equal(normalizeCgroupsPath('./a//b/', 'x'), 'a/b');
  t.equal(normalizeCgroupsPath('a/../b', 'x'), 'b');
  for (const bad of ['/..', '/../x', '/a/../../x', '..', '../x', 'a/../../b']) {
    t.throws(() => normalizeCgroupsPath(bad, 'x'), RuntimeError, `escaping ${bad} rejected`);
  }
  for (const bad of ['/', '//', '/a/..', '.', 'a/..']) {
    t.throws(() => normalizeCgroupsPath(bad, 'x'), RuntimeError, `root-naming ${bad} rejected`);
  }
  t.throws(() => normalizeCgroupsPath('/a\0b', 'x'), RuntimeError, 'NUL rejected');
  t.throws(() => normalizeCgroupsPath('/a\nb', 'x'), RuntimeError, 'newline rejected');
  for (const id of ['', '.', '..', 'a/b', 'a\nb']) {
    t.throws(() => normalizeCgroupsPath(undefined, id), RuntimeError, `id ${JSON.stringify(id)} rejected for the default path`);
  }
});

t.test('resolveDir', async (t) => {
  t.equal(resolveDir('/sys/fs/cgroup/memory', '/', '/tsruntime/a'), '/sys/fs/cgroup/memory/tsruntime/a');
  t.equal(resolveDir('/sys/fs/cgroup/memory', '/docker/c1', '/tsruntime/a'), '/sys/fs/cgroup/memory/tsruntime/a', 'absolute ignores the mount root (runc)');
  t.equal(resolveDir('/sys/fs/cgroup/memory', '/', 'x/y', '/user.slice'), '/sys/fs/cgroup/memory/user.slice/x/y');
  t.equal(resolveDir('/sys/fs/cgroup/memory', '/', 'x', '/'), '/sys/fs/cgroup/memory/x');
  t.equal(resolveDir('/sys/fs/cgroup/memory', '/docker/c1', 'x', '/docker/c1/sub'), '/sys/fs/cgroup/memory/sub/x', 'own path made relative to the mount root');
  t.equal(resolveDir('/sys/fs/cgroup/memory', '/docker/c1', 'x', '/docker/c1'), '/sys/fs/cgroup/memory/x');
  t.throws(() => resolveDir('/sys/fs/cgroup/memory', '/', 'x'), RuntimeError, 'relative needs the own cgroup');
});

t.test('parseMountInfo', async (t) => {
  const [e] = parseMountInfo('36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n');
  t.same(e, {
    mountId: 36,
    parentId: 35,
    majorMinor: '98:0',
    root: '/mnt1',
    mountPoint: '/mnt2',
    mountOptions: ['rw', 'noatime'],
    fsType: 'ext3',
    source: '/dev/root',
    superOptions: ['rw', 'errors=continue'],
  });
  const [noOptional] = parseMountInfo('41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n');
  t.equal(noOptional.fsType, 'cgroup2', 'no optional fields');
  const [several] = parseMountInfo('41 31 0:38 / /x rw shared:1 master:2 propagate_from:3 - cgroup cgroup rw,pids\n');
  t.same(several.superOptions, ['rw', 'pids'], 'several optional fields');
  const [escaped] = parseMountInfo('50 31 0:40 /a\\040b /mnt/my\\040cg\\134x rw - cgroup cg\\011x rw,memory\n');
  t.equal(escaped.mountPoint, '/mnt/my cg\\x', 'octal escapes decoded');
  t.equal(escaped.root, '/a b');
  t.equal(escaped.source, 'cg\tx');
  t.same(parseMountInfo('garbage line\n\n1 2 3\n'), [], 'malformed lines skipped');
  t.equal(parseMountInfo(MOUNTINFO_V1).length, 14);
});

t.test('parseProcCgroup', async (t) => {
  const m = parseProcCgroup(SELF_CGROUP_HYBRID);
  t.equal(m.get('memory'), '/user.slice/user-0.slice/session-1.scope');
  t.equal(m.get('name=systemd'), '/user.slice/user-0.slice/session-1.scope');
  t.equal(m.get(''), '/user.slice/user-0.slice/session-1.scope', 'v2 line under ""');
  t.equal(m.get('cpuset'), '/');
  const co = parseProcCgroup('4:cpu,cpuacct:/a\n3:net_cls,net_prio:/b\n');
  t.equal(co.get('cpu'), '/a');
  t.equal(co.get('cpuacct'), '/a');
  t.equal(co.get('net_prio'), '/b');
  t.equal(co.has(''), false);
  t.equal(parseProcCgroup('0::/x:y\n').get(''), '/x:y', 'colon in path kept');
});

t.test('detectLayout', async (t) => {
  const v2 = detectLayout(MOUNTINFO_V2);
  t.equal(v2.mode, 'v2');
  t.same(v2.unified, { mountPoint: '/sys/fs/cgroup', root: '/' });
  t.same(v2.v1, []);

  const v1 = detectLayout(MOUNTINFO_V1);
  t.equal(v1.mode, 'v1');
  t.equal(v1.unified, undefined);
  t.same(
    v1.v1.map((h) => [h.mountPoint, h.controllers]),
    [
      ['/sys/fs/cgroup/systemd', ['name=systemd']],
      ['/sys/fs/cgroup/cpu,cpuacct', ['cpu', 'cpuacct']],
      ['/sys/fs/cgroup/net_cls,net_prio', ['net_cls', 'net_prio']],
      ['/sys/fs/cgroup/memory', ['memory']],
      ['/sys/fs/cgroup/cpuset', ['cpuset']],
      ['/sys/fs/cgroup/pids', ['pids']],
      ['/sys/fs/cgroup/freezer', ['freezer']],
      ['/sys/fs/cgroup/devices', ['devices']],
      ['/sys/fs/cgroup/blkio', ['blkio']],
      ['/sys/fs/cgroup/hugetlb', ['hugetlb']],
      ['/sys/fs/cgroup/perf_event', ['perf_event']],
    ],
    'controllers from super options; xattr and release_agent= are not controllers',
  );

  const hybrid = detectLayout(MOUNTINFO_HYBRID);
  t.equal(hybrid.mode, 'hybrid');
  t.same(hybrid.unified, { mountPoint: '/sys/fs/cgroup/unified', root: '/' });
  t.equal(hybrid.v1.length, 9);

  // cgroup2 mounted over /sys/fs/cgroup after the v1 hierarchies: those are hidden.
  const shadowed = detectLayout(MOUNTINFO_V1 + '99 19 0:90 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw\n');
  t.equal(shadowed.mode, 'v2', 'hidden v1 mounts ignored');
  t.same(shadowed.unified, { mountPoint: '/sys/fs/cgroup', root: '/' });

  // A v1 controller mounted twice: the /sys/fs/cgroup one wins, wherever it is listed.
  const twice = detectLayout('70 1 0:50 / /mnt/mem rw - cgroup cgroup rw,memory\n' + MOUNTINFO_V1);
  t.equal(twice.v1.find((h) => h.controllers.includes('memory'))!.mountPoint, '/sys/fs/cgroup/memory');
  t.equal(twice.v1.filter((h) => h.controllers.includes('memory')).length, 1);

  // Named hierarchies other than name=systemd are not ours.
  const named = detectLayout(MOUNTINFO_V1 + '80 25 0:60 / /sys/fs/cgroup/elogind rw - cgroup cgroup rw,name=elogind\n');
  t.notOk(named.v1.some((h) => h.controllers.includes('name=elogind')));

  // noprefix (old cpuset mounts)
  const np = detectLayout('81 1 0:61 / /dev/cpuset rw - cgroup cgroup rw,cpuset,noprefix\n');
  t.same(np.v1, [{ mountPoint: '/dev/cpuset', root: '/', controllers: ['cpuset'], noprefix: true }]);
  t.equal(np.mode, 'v1');

  // Systemd unified host that also mounts a v1 name=systemd hierarchy for old containers.
  const v2named = detectLayout(MOUNTINFO_V2 + '90 25 0:70 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n');
  t.equal(v2named.mode, 'v2', 'a named-only v1 hierarchy does not make it v1');

  // Inside a container with a cgroup namespace: root "/" and a read-only mount.
  const inContainer = detectLayout('700 690 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate\n');
  t.equal(inContainer.mode, 'v2');

  t.throws(() => detectLayout('22 1 253:1 / / rw - ext4 /dev/vda1 rw\n'), RuntimeError, 'no cgroup mounts');
  t.throws(() => detectLayout(''), RuntimeError);
});

t.test('cgroupManager picks the driver from the layout', async (t) => {
  const v2 = cgroupManager({ id: 'abc' }, { mountinfo: MOUNTINFO_V2 });
  t.ok(v2 instanceof V2Manager);
  t.equal(v2.driver, 'v2');
  t.equal(v2.mode, 'v2');
  t.equal(v2.cgroupsPath, '/tsruntime/abc');
  t.same(v2.paths, { '': '/sys/fs/cgroup/tsruntime/abc' });

  const v1 = cgroupManager({ id: 'abc', cgroupsPath: '/docker//abc/' }, { mountinfo: MOUNTINFO_V1 });
  t.ok(v1 instanceof V1Manager);
  t.equal(v1.driver, 'v1');
  t.equal(v1.mode, 'v1');
  t.equal(v1.cgroupsPath, '/docker/abc');
  t.equal(v1.paths.cpu, '/sys/fs/cgroup/cpu,cpuacct/docker/abc', 'co-mounted controllers share a directory');
  t.equal(v1.paths.cpuacct, '/sys/fs/cgroup/cpu,cpuacct/docker/abc');
  t.equal(v1.paths.memory, '/sys/fs/cgroup/memory/docker/abc');
  t.equal(v1.paths['name=systemd'], '/sys/fs/cgroup/systemd/docker/abc');
  t.equal(v1.paths[''], undefined, 'no unified directory on pure v1');
  t.equal(Object.keys(v1.paths).length, 13, '12 controllers + name=systemd');

  const hybrid = cgroupManager({ id: 'abc' }, { mountinfo: MOUNTINFO_HYBRID });
  t.ok(hybrid instanceof V1Manager, 'hybrid uses the v1 driver');
  t.equal(hybrid.mode, 'hybrid');
  t.equal(hybrid.paths[''], '/sys/fs/cgroup/unified/tsruntime/abc', 'and the unified directory');
  t.equal(hybrid.paths.pids, '/sys/fs/cgroup/pids/tsruntime/abc');
  t.equal(hybrid.paths.freezer, '/sys/fs/cgroup/freezer/tsruntime/abc');
});

t.test('relative cgroupsPath follows runc: under our own cgroup', async (t) => {
  const hybrid = cgroupManager({ id: 'abc', cgroupsPath: 'ctr/abc' }, { mountinfo: MOUNTINFO_HYBRID, procSelfCgroup: SELF_CGROUP_HYBRID });
  t.equal(hybrid.cgroupsPath, 'ctr/abc');
  t.equal(hybrid.paths.memory, '/sys/fs/cgroup/memory/user.slice/user-0.slice/session-1.scope/ctr/abc', 'v1: own cgroup per controller');
  t.equal(hybrid.paths.cpu, '/sys/fs/cgroup/cpu/user.slice/ctr/abc');
  t.equal(hybrid.paths.freezer, '/sys/fs/cgroup/freezer/ctr/abc');
  t.equal(hybrid.paths['name=systemd'], '/sys/fs/cgroup/systemd/user.slice/user-0.slice/session-1.scope/ctr/abc');
  t.equal(hybrid.paths[''], '/sys/fs/cgroup/unified/user.slice/user-0.slice/session-1.scope/ctr/abc', 'hybrid unified: own cgroup');

  const v2 = cgroupManager(
    { id: 'abc', cgroupsPath: 'ctr' },
    { mountinfo: MOUNTINFO_V2, procSelfCgroup: '0::/user.slice/user-0.slice/session-1.scope\n' },
  );
  t.same(v2.paths, { '': '/sys/fs/cgroup/user.slice/user-0.slice/ctr' }, 'v2: parent of own cgroup (runc fs2)');
  const v2root = cgroupManager({ id: 'abc', cgroupsPath: 'ctr' }, { mountinfo: MOUNTINFO_V2, procSelfCgroup: '0::/\n' });
  t.same(v2root.paths, { '': '/sys/fs/cgroup/ctr' }, 'v2 in the root cgroup');

  const abs = cgroupManager({ id: 'abc', cgroupsPath: '/ctr' }, { mountinfo: MOUNTINFO_V2, procSelfCgroup: 'not read' });
  t.same(abs.paths, { '': '/sys/fs/cgroup/ctr' }, 'absolute ignores own cgroup');
});

t.test('rejections', async (t) => {
  t.throws(
    () => cgroupManager({ id: 'abc', systemd: true, cgroupsPath: '/a/b' }, { mountinfo: MOUNTINFO_V2 }),
    new RuntimeError('expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/a/b" instead'),
  );
  t.throws(() => cgroupManager({ id: 'abc', cgroupsPath: '/../etc' }, { mountinfo: MOUNTINFO_V2 }), RuntimeError);
  t.throws(() => cgroupManager({ id: 'abc', cgroupsPath: '/' }, { mountinfo: MOUNTINFO_HYBRID }), RuntimeError);
  t.throws(() => cgroupManager({ id: 'abc' }, { mountinfo: '' }), RuntimeError, 'no cgroups mounted');
});

t.test('constructing a manager touches no cgroup files', async (t) => {
  // Paths that cannot exist: construction must still succeed, and exists()/pids()/isFrozen() are quiet.
  const m = cgroupManager(
    { id: 'abc' },
    { mountinfo: '1 0 0:1 / /nonexistent/cg rw - cgroup2 cgroup2 rw\n' },
  );
  t.equal(m.exists(), false);
  t.same(m.pids(), []);
  t.equal(m.isFrozen(), false);
  t.doesNotThrow(() => m.killAll('SIGKILL'), 'killAll on a missing cgroup is a no-op');
  t.doesNotThrow(() => m.destroy(), 'destroy on a missing cgroup is a no-op');
  t.throws(() => m.join(1), RuntimeError);
  const m1 = cgroupManager({ id: 'abc' }, { mountinfo: '1 0 0:1 / /nonexistent/freezer rw - cgroup cgroup rw,freezer\n' });
  t.equal(m1.isFrozen(), false);
  t.throws(() => m1.freeze(), RuntimeError);
});

t.test('fs helpers on a plain directory tree', async (t) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'cgroups-unit-'));
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));

  t.same(mkdirTracked(path.join(base, 'a/b/c')), [path.join(base, 'a'), path.join(base, 'a/b'), path.join(base, 'a/b/c')], 'created dirs, outermost first');
  t.same(mkdirTracked(path.join(base, 'a/b/c')), [], 'nothing created the second time');
  t.same(mkdirTracked(path.join(base, 'a/x')), [path.join(base, 'a/x')]);

  // removeCgroupDirs removes sub-directories first (cgroup children), and ENOENT is success.
  fs.mkdirSync(path.join(base, 'a/b/c/d'));
  removeCgroupDirs([path.join(base, 'a/b'), path.join(base, 'missing')]);
  t.notOk(fs.existsSync(path.join(base, 'a/b')), 'nested tree removed');
  t.ok(fs.existsSync(path.join(base, 'a/x')), 'siblings untouched');
  t.ok(fs.existsSync(path.join(base, 'a')), 'parent untouched');

  // A directory that stays non-empty (here: a regular file) is retried, then reported.
  fs.writeFileSync(path.join(base, 'a/x/file'), '');
  const busy = path.join(base, 'a/x');
  t.throws(() => removeCgroupDirs([busy], 50), new RuntimeError(`remove cgroup ${busy}: EBUSY (processes still inside)`), 'still busy when the budget is spent');
  t.ok(fs.existsSync(path.join(busy, 'file')), 'the busy directory is left as it was');
});

t.test('waitFor', async (t) => {
  let n = 0;
  t.equal(waitFor(() => ++n === 30, 1000), true);
  t.equal(n, 30);
  let calls = 0;
  t.equal(waitFor(() => (calls++, false), 30), false, 'false when the check never holds');
  t.ok(calls > 1, `the check was retried (${calls} calls)`);
});
