/**
 * buildInitPlan (config.json → clone flags + ops) with fake HostFacts: no root, no host access.
 * Assertions look at the ops relevant to one feature (by op name or by path), so that adding
 * ops for other config fields does not break them.
 */
import t from 'tap';
import type { InitPlan } from '../../src/plan/build-init-plan';
import type { Op } from '../../src/plan/ops';
import { CLONE, MS, PR, RLIMITS, S_IFBLK, S_IFCHR, makedev } from '../../src/plan/linux-constants';
import { BUNDLE, FIFO_FD, PURE_V2, ROOTFS, bare, host, indexOf, named, plan, planError, touching } from '../helpers/plan';

const bit = (n: number) => 1n << BigInt(n);

t.test('clone flags: one per new namespace', async (t) => {
  const all = plan((s) => {
    s.linux!.namespaces = ['pid', 'network', 'ipc', 'uts', 'mount', 'user'].map((type) => ({ type })) as any;
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  });
  t.equal(all.cloneFlags, CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS | CLONE.NEWUSER);
  t.equal(all.userns, true, 'a new user namespace: the parent writes the id maps');

  const base = plan();
  t.equal(base.cloneFlags, CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
  t.equal(base.userns, false);

  const mountOnly = plan((s) => {
    s.linux!.namespaces = [{ type: 'mount' }];
    delete s.hostname;
  });
  t.equal(mountOnly.cloneFlags, CLONE.NEWNS, 'only the listed namespaces');

  const cgroupns = plan((s) => s.linux!.namespaces!.push({ type: 'cgroup' }));
  t.equal(cgroupns.cloneFlags & CLONE.NEWCGROUP, 0, 'a cgroup namespace is not cloned...');
  t.same(bare(named(cgroupns, 'UNSHARE')), [{ op: 'UNSHARE', a: [CLONE.NEWCGROUP] }], '...but unshared once the init is in its cgroup');
  t.equal(named(base, 'UNSHARE').length, 0, 'no unshare without a cgroup namespace');

  const time = plan((s) => s.linux!.namespaces!.push({ type: 'time' }));
  t.same(bare(named(time, 'FORK')), [{ op: 'FORK', a: [0x8000 | CLONE.NEWPID] }], 'a new time namespace: unshare, then fork into it (with the new pid namespace)');
  t.equal(time.cloneFlags & CLONE.NEWPID, 0, '...so the pid namespace is made by the fork, not the clone');
  const noMountns = plan((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount')));
  t.ok(indexOf(noMountns, 'CHROOT') > 0 && indexOf(noMountns, 'PIVOT_ROOT') < 0, 'no mount namespace: chroot, as runc');
  t.equal(named(noMountns, 'MOUNT').length, 0, '...and the runtime\'s mounts keep their propagation');
});

t.test('namespace paths: setns ops, user first, and no clone flag', async (t) => {
  const p = plan(
    (s) => {
      s.linux!.namespaces = [
        { type: 'pid' },
        { type: 'network', path: '/run/netns/n1' },
        { type: 'mount' },
        { type: 'user', path: '/proc/1/ns/user' },
        { type: 'uts', path: '/proc/1/ns/uts' },
      ];
    },
    { namespaceFds: { network: 11, user: 12, uts: 13 } },
  );
  t.equal(p.cloneFlags, 0, 'joining a user namespace: nothing is cloned, new namespaces are unshared after the joins');
  t.same(bare(named(p, 'UNSHARE')), [{ op: 'UNSHARE', a: [CLONE.NEWNS] }], 'the new mount namespace, owned by the joined user namespace');
  t.same(bare(named(p, 'FORK')), [{ op: 'FORK', a: [0x8000 | CLONE.NEWPID] }], 'a new pid namespace then needs a fork');
  t.equal(p.userns, false, 'joining a user namespace writes no id maps');
  const joins = p.ops.filter((o) => o.op === 'SETNS' || o.op === 'CLOSE');
  t.same(bare(joins), [
    { op: 'SETNS', a: [12, CLONE.NEWUSER] },
    { op: 'CLOSE', a: [12] },
    { op: 'SETNS', a: [13, CLONE.NEWUTS] },
    { op: 'CLOSE', a: [13] },
    { op: 'SETNS', a: [11, CLONE.NEWNET] },
    { op: 'CLOSE', a: [11] },
  ]);
  t.match(joins[0].what, /join user namespace \/proc\/1\/ns\/user/);
  t.ok(p.ops.indexOf(joins[joins.length - 1]) < indexOf(p, 'MOUNT'), 'namespaces are joined before any mount');

  const pidJoin = plan((s) => (s.linux!.namespaces![0] = { type: 'pid', path: '/proc/1/ns/pid' }), { namespaceFds: { pid: 9 } });
  t.same(bare(named(pidJoin, 'FORK')), [{ op: 'FORK', a: [0x8000] }], 'joining a pid namespace: setns, then fork into it');
});

t.test('root: slave /, bind the rootfs, pivot_root (or move), readonly root', async (t) => {
  const p = plan();
  const first = indexOf(p, 'MOUNT');
  t.same(bare(p.ops.slice(first, first + 4)), [
    { op: 'MOUNT', a: [MS.SLAVE | MS.REC], strs: [null, '/', null, null] },
    { op: 'PARENT_MOUNT_PROPAGATION', a: [MS.PRIVATE], strs: [ROOTFS] },
    { op: 'MOUNT', a: [MS.BIND | MS.REC], strs: [ROOTFS, ROOTFS, null, null] },
    { op: 'OPEN_ROOT', strs: [ROOTFS] },
  ]);
  t.ok(indexOf(p, 'PIVOT_ROOT') > 0);
  t.equal(indexOf(p, 'MOVE_ROOT'), -1);
  const roRoot = (q: InitPlan) => q.ops.findIndex((o) => o.op === 'BIND_REMOUNT' && o.strs![0] === '/');
  t.equal(roRoot(p), -1, 'root is writable unless root.readonly');

  const moved = plan(undefined, { noPivot: true });
  t.equal(indexOf(moved, 'PIVOT_ROOT'), -1);
  t.ok(indexOf(moved, 'MOVE_ROOT') > 0, '--no-pivot moves the root instead');

  const ro = plan((s) => (s.root!.readonly = true));
  t.ok(roRoot(ro) > indexOf(ro, 'PIVOT_ROOT'), 'read-only root after pivot_root');
  t.same(ro.ops[roRoot(ro)].a, [MS.RDONLY, 0]);

  for (const [prop, flags] of [
    ['private', MS.PRIVATE],
    ['rprivate', MS.PRIVATE | MS.REC],
    ['shared', MS.SHARED],
    ['rslave', MS.SLAVE | MS.REC],
    ['unbindable', MS.UNBINDABLE],
  ] as const) {
    t.same(named(plan((s) => (s.linux!.rootfsPropagation = prop)), 'MOUNT')[0].a, [flags], `rootfsPropagation ${prop}`);
  }
});

t.test('bind mount, read-only: bind then remount with the flags', async (t) => {
  const h = host({}, { '/host/data': 'dir', '/host/file': 'file', [`${BUNDLE}/rel`]: 'dir' });
  const p = plan(
    (s) => {
      s.mounts = [
        { destination: '/data', type: 'bind', source: '/host/data', options: ['rbind', 'ro', 'nosuid'] },
        { destination: '/etc/file', source: '/host/file', options: ['bind'] },
        { destination: '/rel', source: 'rel', options: ['bind'] },
      ];
    },
    { host: h },
  );
  t.same(bare(touching(p, '/data')), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/data'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC, 0, 1], strs: ['/host/data', '/data', null, null] },
    { op: 'BIND_REMOUNT', a: [MS.RDONLY | MS.NOSUID, 0], strs: ['/data'] },
  ]);
  t.match(touching(p, '/data')[1].what, 'mount /host/data on /data');
  t.same(bare(touching(p, '/etc/file')), [
    { op: 'MKFILE_IN_ROOT', a: [0o644], strs: ['/etc/file'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND, 0, 1], strs: ['/host/file', '/etc/file', null, null] },
  ], 'a file source gets a file mount point and, without flags, no remount');
  t.same(touching(p, '/rel')[1].strs, [`${BUNDLE}/rel`, '/rel', null, null], 'relative sources are relative to the bundle');
  t.ok(indexOf(p, 'MOUNT_IN_ROOT') > indexOf(p, 'OPEN_ROOT') && indexOf(p, 'MOUNT_IN_ROOT') < indexOf(p, 'PIVOT_ROOT'), 'mounts happen between opening the rootfs and pivot_root');

  t.equal(
    planError((s) => (s.mounts = [{ destination: '/data', type: 'bind', source: '/nope', options: ['bind'] }])),
    'mounts: /data: bind source /nope does not exist',
  );
  // The sd_notify socket's directory is made once the id is claimed, after the plan.
  const notify = '/run/tsruntime/c1/notify';
  const pending = plan((s) => (s.mounts = [{ destination: '/run/notify', type: 'bind', source: notify, options: ['bind', 'ro'] }]), { pendingDirs: [notify] });
  t.same(bare(touching(pending, '/run/notify')).slice(0, 2), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/run/notify'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND, 0, 1], strs: [notify, '/run/notify', null, null] },
  ], 'a directory the runtime makes after planning is a directory source');
});

t.test('tmpfs with data, and other filesystems', async (t) => {
  const p = plan((s) => {
    s.mounts = [
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: 'relative/dir', type: 'tmpfs', source: 'tmpfs' },
    ];
  });
  t.same(bare(touching(p, '/dev').slice(0, 2)), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/dev'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.NOSUID | MS.STRICTATIME, 0, 1], strs: ['tmpfs', '/dev', 'tmpfs', 'mode=755,size=65536k'] },
  ]);
  const procOps = p.ops.filter((o) => (o.op === 'MKDIR_IN_ROOT' && o.strs![0] === '/proc') || (o.op === 'MOUNT_IN_ROOT' && o.strs![1] === '/proc'));
  t.same(bare(procOps), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/proc'] },
    { op: 'MOUNT_IN_ROOT', a: [0, 0, 1], strs: ['proc', '/proc', 'proc', null] },
  ], 'no options: no flags, no data');
  t.equal(touching(p, '/relative/dir').length, 2, 'a relative destination is taken from /');
});

t.test('propagation and recursive attribute options', async (t) => {
  const h = host({}, { '/host/data': 'dir' });
  const p = plan((s) => (s.mounts = [{ destination: '/data', source: '/host/data', options: ['rbind', 'rshared', 'rro'] }]), { host: h });
  t.same(bare(touching(p, '/data')), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/data'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC, 0, 1], strs: ['/host/data', '/data', null, null] },
    { op: 'MOUNT_IN_ROOT', a: [MS.SHARED | MS.REC], strs: [null, '/data', null, null] },
    { op: 'MOUNT_SETATTR', a: [0x1, 0, 0, 0x8000], strs: ['/data'] },
  ]);
  const t2 = plan((s) => (s.mounts = [{ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['private', 'unbindable'] }]));
  t.same(
    touching(t2, '/x').filter((o) => o.strs?.[0] === null).map((o) => o.a),
    [[MS.PRIVATE], [MS.UNBINDABLE]],
    'each propagation option is its own mount call, after the mount',
  );
});

t.test('cgroup mount: hybrid host (tmpfs + one bind per hierarchy)', async (t) => {
  const p = plan((s) => {
    s.mounts = [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] }];
  });
  const base = MS.NOSUID | MS.NODEV | MS.NOEXEC;
  t.same(bare(touching(p, '/sys/fs/cgroup')), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/sys/fs/cgroup'] },
    { op: 'MOUNT_IN_ROOT', a: [base], strs: ['tmpfs', '/sys/fs/cgroup', 'tmpfs', 'mode=755'] },
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/sys/fs/cgroup/memory'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC], strs: ['/sys/fs/cgroup/memory/tsruntime/c1', '/sys/fs/cgroup/memory', null, null] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REMOUNT | base | MS.RDONLY], strs: [null, '/sys/fs/cgroup/memory', null, null] },
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/sys/fs/cgroup/cpu,cpuacct'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC], strs: ['/sys/fs/cgroup/cpu,cpuacct/tsruntime/c1', '/sys/fs/cgroup/cpu,cpuacct', null, null] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REMOUNT | base | MS.RDONLY], strs: [null, '/sys/fs/cgroup/cpu,cpuacct', null, null] },
    { op: 'SYMLINK_IN_ROOT', strs: ['cpu,cpuacct', '/sys/fs/cgroup/cpu'] },
    { op: 'SYMLINK_IN_ROOT', strs: ['cpu,cpuacct', '/sys/fs/cgroup/cpuacct'] },
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/sys/fs/cgroup/unified'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC], strs: ['/sys/fs/cgroup/unified/tsruntime/c1', '/sys/fs/cgroup/unified', null, null] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REMOUNT | base | MS.RDONLY], strs: [null, '/sys/fs/cgroup/unified', null, null] },
    { op: 'MOUNT_IN_ROOT', a: [MS.REMOUNT | base | MS.RDONLY], strs: [null, '/sys/fs/cgroup', null, null] },
  ]);

  const rw = plan((s) => (s.mounts = [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid'] }]));
  const remounts = touching(rw, '/sys/fs/cgroup').filter((o) => o.op === 'MOUNT_IN_ROOT' && (Number(o.a![0]) & MS.REMOUNT) !== 0);
  t.equal(remounts.length, 0, 'read-write: no remounts');
});

t.test('cgroup mount: pure cgroup v2 host', async (t) => {
  const h = host({ cgroupHierarchies: PURE_V2 });
  const opts = ['nosuid', 'noexec', 'nodev', 'ro'];
  const flags = MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY;
  const noNs = plan((s) => (s.mounts = [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: opts }]), { host: h });
  t.same(bare(touching(noNs, '/sys/fs/cgroup')), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/sys/fs/cgroup'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REC], strs: ['/sys/fs/cgroup/tsruntime/c1', '/sys/fs/cgroup', null, null] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND | MS.REMOUNT | flags], strs: [null, '/sys/fs/cgroup', null, null] },
  ], 'without a cgroup namespace: a bind of the container cgroup');

  const withNs = plan(
    (s) => {
      s.linux!.namespaces!.push({ type: 'cgroup' });
      s.mounts = [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: opts }];
    },
    { host: h },
  );
  t.same(bare(touching(withNs, '/sys/fs/cgroup')), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/sys/fs/cgroup'] },
    { op: 'MOUNT_IN_ROOT', a: [flags], strs: ['cgroup', '/sys/fs/cgroup', 'cgroup2', null] },
  ], 'with a cgroup namespace: a fresh cgroup2 mount');
  t.ok(indexOf(withNs, 'UNSHARE') < indexOf(withNs, 'MOUNT_IN_ROOT'), 'the cgroup namespace exists before the mount');
});

t.test('devices: mknod, or a bind of the host node in a user namespace', async (t) => {
  const dev = { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['mode=755'] };
  const fuse = { path: '/dev/fuse', type: 'c' as const, major: 10, minor: 229, fileMode: 0o600, uid: 0, gid: 0 };
  const loop = { path: '/dev/loop9', type: 'b' as const, major: 7, minor: 9 };
  const p = plan((s) => {
    s.mounts = [dev];
    s.linux!.devices = [fuse, loop];
  });
  const mknods = named(p, 'DEVICE_IN_ROOT');
  t.same(
    mknods.map((o) => o.strs![0]),
    ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/fuse', '/dev/loop9'],
    'the default devices (a /dev mount), then linux.devices',
  );
  t.same(mknods[0].a, [S_IFCHR | 0o666, makedev(1, 3), 0, 0], '/dev/null: char 1:3, 0666');
  t.same(mknods[6].a, [S_IFCHR | 0o600, makedev(10, 229), 0, 0], '/dev/fuse with its mode');
  t.same(mknods[7].a, [S_IFBLK | 0o666, makedev(7, 9), 0, 0], 'a block device');
  t.same(
    named(p, 'SYMLINK_IN_ROOT').map((o) => `${o.strs![1]} -> ${o.strs![0]}`),
    ['/dev/fd -> /proc/self/fd', '/dev/stdin -> /proc/self/fd/0', '/dev/stdout -> /proc/self/fd/1', '/dev/stderr -> /proc/self/fd/2', '/dev/ptmx -> pts/ptmx'],
  );
  t.ok(indexOf(p, 'DEVICE_IN_ROOT') < indexOf(p, 'PIVOT_ROOT'));
  const kcore = plan((s) => (s.mounts = [dev]), { host: host({ procKcore: true }) });
  t.same(
    named(kcore, 'SYMLINK_IN_ROOT').map((o) => `${o.strs![1]} -> ${o.strs![0]}`).slice(3, 5),
    ['/dev/stderr -> /proc/self/fd/2', '/dev/core -> /proc/kcore'],
    "a host with /proc/kcore: /dev/core links to it, after the stdio links (runc's order)",
  );

  const noDev = plan((s) => (s.linux!.devices = [fuse]));
  t.same(named(noDev, 'DEVICE_IN_ROOT').map((o) => o.strs![0]), ['/dev/fuse'], 'no /dev mount: only linux.devices, no default ones');
  t.equal(named(noDev, 'SYMLINK_IN_ROOT').length, 0);

  const userns = plan((s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.mounts = [dev];
    s.linux!.devices = [fuse];
  });
  t.equal(named(userns, 'DEVICE_IN_ROOT').length, 0, 'no mknod in a user namespace');
  t.same(bare(touching(userns, '/dev/fuse')), [
    { op: 'MKFILE_IN_ROOT', a: [0o644], strs: ['/dev/fuse'] },
    { op: 'MOUNT_IN_ROOT', a: [MS.BIND], strs: ['/dev/fuse', '/dev/fuse', null, null] },
  ]);
});

t.test('devpts in a user namespace drops gid=', async (t) => {
  const devpts = { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] };
  const plain = plan((s) => (s.mounts = [devpts]));
  t.equal(touching(plain, '/dev/pts')[1].strs![3], 'newinstance,ptmxmode=0666,mode=0620,gid=5');
  const userns = plan((s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.mounts = [devpts];
  });
  t.equal(touching(userns, '/dev/pts')[1].strs![3], 'newinstance,ptmxmode=0666,mode=0620');
});

t.test('masked and read-only paths: in the rootfs, after the mounts, before pivot_root', async (t) => {
  const p = plan((s) => {
    s.linux!.maskedPaths = ['/proc/kcore', '/sys/firmware'];
    s.linux!.readonlyPaths = ['/proc/sys'];
  });
  t.same(bare(p.ops.filter((o) => o.op === 'MASK_PATH' || o.op === 'READONLY_PATH')), [
    { op: 'READONLY_PATH', strs: ['/proc/sys'] },
    { op: 'MASK_PATH', strs: ['/proc/kcore'] },
    { op: 'MASK_PATH', strs: ['/sys/firmware'] },
  ]);
  t.ok(indexOf(p, 'READONLY_PATH') < indexOf(p, 'PIVOT_ROOT'), 'while the verified /dev/null can still be bound');
  t.ok(indexOf(p, 'MASK_PATH') > p.ops.map((o) => o.op).lastIndexOf('MOUNT_IN_ROOT'), 'after every mount');
});

t.test('mounts on or inside /proc: only procfs on /proc, and binds over a few files', async (t) => {
  const h = host({}, { '/host/dir': 'dir', '/host/cpuinfo': 'file' });
  const err = (m: Record<string, unknown>) => planError((s) => (s.mounts = [m as never]), { host: h });
  t.match(err({ destination: '/proc', type: 'bind', source: '/host/dir', options: ['rbind'] }), /mounts: \/proc: cannot be mounted because it is not of type proc/);
  t.match(err({ destination: '/proc', type: 'tmpfs', source: 'tmpfs' }), /not of type proc/);
  t.match(err({ destination: '/proc/sys/net', type: 'bind', source: '/host/dir', options: ['bind'] }), /mounts: \/proc\/sys\/net: cannot be mounted because it is inside \/proc/);
  t.match(err({ destination: '/proc/../proc/sys', type: 'tmpfs', source: 'tmpfs' }), /inside \/proc/, 'the destination is normalised first');
  const ok = plan((s) => (s.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/proc/cpuinfo', type: 'bind', source: '/host/cpuinfo', options: ['bind'] }]), { host: h });
  t.same(ok.ops.filter((o) => o.op === 'MOUNT_IN_ROOT').map((o) => [o.strs![1], o.a![2]]), [['/proc', 1], ['/proc/cpuinfo', 0]], 'the allowed bind may land on procfs; everything else is refused there by the init');
});

t.test('hostname, domainname and sysctl', async (t) => {
  const p = plan((s) => {
    s.hostname = 'box';
    s.domainname = 'example.org';
    s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
  });
  t.same(bare(named(p, 'SETHOSTNAME')), [{ op: 'SETHOSTNAME', strs: ['box'] }]);
  t.same(bare(named(p, 'SETDOMAINNAME')), [{ op: 'SETDOMAINNAME', strs: ['example.org'] }]);
  t.same(
    p.ops.filter((o) => o.op === 'WRITE_PROC' && o.strs![0]?.startsWith('sys/')).map((o) => o.strs),
    [['sys/net/ipv4/ip_forward', '1']],
  );
  t.equal(
    planError((s) => {
      s.hostname = 'box';
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts');
    }),
    'hostname: unable to set hostname without a private UTS namespace',
  );
});

t.test('capabilities: masks per set, bounded by cap_last_cap; unknown names are errors', async (t) => {
  const CAP_KILL = 5;
  const CAP_NET_BIND_SERVICE = 10;
  const CAP_SYS_ADMIN = 21;
  const CAP_AUDIT_WRITE = 29;
  const CAP_CHECKPOINT_RESTORE = 40;
  const p = plan((s) => {
    s.process!.capabilities = {
      bounding: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_AUDIT_WRITE', 'CAP_SYS_ADMIN'],
      effective: ['CAP_KILL'],
      permitted: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      inheritable: ['CAP_NET_BIND_SERVICE'],
    };
  });
  t.same(named(p, 'CAP_BOUNDING')[0].a, [bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE) | bit(CAP_AUDIT_WRITE) | bit(CAP_SYS_ADMIN), 40]);
  t.same(named(p, 'CAPSET')[0].a, [bit(CAP_KILL), bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE), bit(CAP_NET_BIND_SERVICE)], 'effective, permitted, inheritable');

  const old = plan((s) => (s.process!.capabilities = { bounding: ['CAP_KILL', 'CAP_CHECKPOINT_RESTORE'] }), { host: host({ lastCap: 38 }) });
  t.same(named(old, 'CAP_BOUNDING')[0].a, [bit(CAP_KILL), 38], 'a capability the kernel does not know is skipped');
  const recent = plan((s) => (s.process!.capabilities = { bounding: ['CAP_CHECKPOINT_RESTORE'] }));
  t.same(named(recent, 'CAP_BOUNDING')[0].a, [bit(CAP_CHECKPOINT_RESTORE), 40]);

  const none = plan();
  t.same(named(none, 'CAP_BOUNDING')[0].a, [0n, 40], 'no capabilities object: every set empty');
  t.same(named(none, 'CAPSET')[0].a, [0n, 0n, 0n]);

  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient']) {
    t.equal(
      planError((s) => (s.process!.capabilities = { [set]: ['CAP_KILL', 'CAP_NOPE'] })),
      `process.capabilities.${set}: unknown capability "CAP_NOPE"`,
    );
  }

  // Order: bounding set first, user switch with keep-caps, then the sets.
  const order = ['CAP_BOUNDING', 'SETGROUPS', 'SETRESGID', 'SETRESUID', 'CAPSET'].map((n) => indexOf(p, n as Op['op']));
  t.same([...order].sort((a, b) => a - b), order, 'bounding, groups, gid, uid, capset in that order');
  t.ok(order.every((i) => i >= 0));
});

t.test('ambient capabilities only when inheritable and permitted', async (t) => {
  const CAP_NET_BIND_SERVICE = 10;
  const both = plan((s) => {
    s.process!.capabilities = {
      ambient: ['CAP_NET_BIND_SERVICE', 'CAP_KILL', 'CAP_CHOWN'],
      permitted: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'],
      inheritable: ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN'],
    };
  });
  t.same(bare(named(both, 'AMBIENT')), [{ op: 'AMBIENT', a: [bit(CAP_NET_BIND_SERVICE)] }], 'only the one that is both');
  t.ok(indexOf(both, 'AMBIENT') > indexOf(both, 'CAPSET'), 'raised after capset');

  const runcDefault = plan((s) => {
    const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps, ambient: caps };
  });
  t.equal(named(runcDefault, 'AMBIENT').length, 0, "runc spec's default (ambient without inheritable): no ambient op");
});

t.test('user and groups', async (t) => {
  const p = plan((s) => (s.process!.user = { uid: 1000, gid: 100, additionalGids: [5, 27], umask: 0o077 }));
  t.same(named(p, 'SETRESUID')[0].a, [1000]);
  t.same(named(p, 'SETRESGID')[0].a, [100]);
  const groups = named(p, 'SETGROUPS')[0];
  t.same(groups.a, [2]);
  t.same([...groups.bytes!], [5, 0, 0, 0, 27, 0, 0, 0], 'gids as little-endian uint32');
  t.same(named(p, 'UMASK')[0].a, [0o077]);
  t.same(named(plan(), 'UMASK')[0].a, [0o022], 'default umask 022');
});

t.test('rlimits', async (t) => {
  const p = plan((s) => {
    s.process!.rlimits = [
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
      { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
    ];
  });
  t.same(bare(named(p, 'SETRLIMIT')), [
    { op: 'SETRLIMIT', a: [RLIMITS.RLIMIT_NOFILE, 1024n, 4096n] },
    { op: 'SETRLIMIT', a: [RLIMITS.RLIMIT_CORE, 0n, 0n] },
  ]);
  t.equal(RLIMITS.RLIMIT_NOFILE, 7);
  t.ok(indexOf(p, 'SETRLIMIT') < indexOf(p, 'SETRESUID'), 'rlimits are set while still root');
  t.equal(
    planError((s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOPE', soft: 1, hard: 1 }])),
    'process.rlimits: unknown rlimit type "RLIMIT_NOPE"',
  );
});

t.test('exec: candidates from the container PATH, fifo, argv and env', async (t) => {
  const p = plan((s) => {
    s.process!.args = ['echo', 'hi'];
    s.process!.env = ['PATH=/opt/bin:/bin', 'A=1', 'PATH=/usr/bin:/bin'];
  });
  t.same(bare(named(p, 'FIND_EXEC')), [{ op: 'FIND_EXEC', a: [2], strs: ['/usr/bin/echo', '/bin/echo'], program: 'echo' }], 'the last PATH in env wins');
  t.same(bare(p.ops.slice(-3)), [
    { op: 'READY', a: [0, 127, 126, 1] },
    { op: 'WAIT_FIFO', a: [FIFO_FD] },
    { op: 'EXEC', a: [2, 3, 0], strs: ['echo', 'hi', 'PATH=/opt/bin:/bin', 'A=1', 'PATH=/usr/bin:/bin'] },
  ], 'ends with ready (and the exit codes of a later failure: not found, not executable, other), wait for start, exec');
  t.equal(indexOf(p, 'FIND_EXEC'), p.ops.length - 4, 'the executable is found before reporting ready');

  const abs = plan((s) => (s.process!.args = ['/bin/sh', '-c', 'true']));
  t.same(named(abs, 'FIND_EXEC')[0].strs, ['/bin/sh'], 'a path with a slash is not looked up');
  const rel = plan((s) => (s.process!.args = ['./run.sh']));
  t.same(named(rel, 'FIND_EXEC')[0].strs, ['./run.sh']);

  const noPath = plan((s) => (s.process!.env = ['A=1']));
  t.same(
    named(noPath, 'FIND_EXEC')[0].strs,
    ['/usr/local/sbin/sh', '/usr/local/bin/sh', '/usr/sbin/sh', '/usr/bin/sh', '/sbin/sh', '/bin/sh'],
    'no PATH: the default one',
  );
  t.same(named(plan(undefined, { preserveFds: 2 }), 'EXEC')[0].a, [1, 1, 2], '--preserve-fds');
});

t.test('cwd, no_new_privs, hooks and the order of the process setup', async (t) => {
  const p = plan((s) => {
    s.process!.cwd = '/work/dir';
    s.process!.noNewPrivileges = true;
  });
  t.same(bare(touching(p, '/work/dir')), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/work/dir'] },
    { op: 'OPEN_CWD', strs: ['/work/dir'] },
    { op: 'CHDIR', strs: ['/work/dir'] },
  ]);
  t.ok(indexOf(p, 'OPEN_CWD') < indexOf(p, 'CAP_BOUNDING') && indexOf(p, 'CHDIR') > indexOf(p, 'SETRESUID'), 'resolved before the capability drop (and a seccomp filter), entered as the user');
  const prctls = (q: InitPlan) => named(q, 'PRCTL').filter((o) => o.a![0] === PR.SET_KEEPCAPS || o.a![0] === PR.SET_NO_NEW_PRIVS);
  t.same(prctls(p).map((o) => o.a), [[PR.SET_KEEPCAPS, 1, 0, 0], [PR.SET_KEEPCAPS, 0, 0, 0], [PR.SET_NO_NEW_PRIVS, 1, 0, 0]]);
  t.ok(indexOf(p, 'CAPSET') < p.ops.indexOf(prctls(p)[2]), 'no_new_privs after the capabilities are set');
  t.ok(indexOf(p, 'SETSID') > indexOf(p, 'PIVOT_ROOT') && indexOf(p, 'SETSID') < indexOf(p, 'SETRESUID'));
  t.equal(named(plan(), 'PRCTL').filter((o) => o.a![0] === PR.SET_NO_NEW_PRIVS).length, 0, 'no no_new_privs unless asked');

  t.equal(named(plan(), 'SYNC').length, 0, 'no hooks: no sync points');
  const hooked = plan((s) => (s.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }]), { hookSyncs: true });
  const syncs = named(hooked, 'SYNC');
  t.same(syncs.map((o) => o.tag), ['createRuntime', 'createContainer']);
  const at = (o: Op) => hooked.ops.indexOf(o);
  t.ok(at(syncs[0]) < indexOf(hooked, 'MOUNT_IN_ROOT'), 'createRuntime hooks run before the mounts');
  t.ok(at(syncs[1]) > indexOf(hooked, 'MOUNT_IN_ROOT') && at(syncs[1]) < indexOf(hooked, 'PIVOT_ROOT'), 'createContainer hooks run after the mounts, before pivot_root');
});

t.test('every op has a description for error messages', async (t) => {
  const p = plan(
    (s) => {
      s.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }, { destination: '/dev', type: 'tmpfs', source: 'tmpfs' }];
      s.linux!.maskedPaths = ['/proc/kcore'];
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }];
    },
    { hookSyncs: true },
  );
  t.same(p.ops.filter((o) => !o.what), [], 'no op without `what`');
  t.equal(touching(p, '/proc')[1].what, 'mount proc on /proc');
});
