/**
 * Id-mapped mounts in the plan (runtime-spec 1.1 mount extensions): which mounts are id-mapped,
 * where each takes its mapping from, the ops the init runs for them and the mounts the runtime
 * makes before the spawn; and the errors. Pure: fake HostFacts, no root.
 */
import t from 'tap';
import type { Spec } from '../../src/generated/config';
import { MS } from '../../src/plan/linux-constants';
import { encodePlan, fdsUsedBy } from '../../src/plan/ops';
import { MOUNT_OPTION_NAMES, parseMountOptions } from '../../src/plan/mount-options';
import { planView } from '../../src/launch/plan-view';
import { bare, host, plan, planError, touching, BUNDLE } from '../helpers/plan';

const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];
const ONE = [{ containerID: 0, hostID: 1000, size: 1 }];
const dirs = { host: host({}, { '/srv/data': 'dir', [`${BUNDLE}/vol`]: 'dir', '/srv/file': 'file' }) };

const mount = (extra: Record<string, unknown>) => (s: Spec) => {
  s.mounts = [{ destination: '/data', source: '/srv/data', ...extra }];
};
const userns = (s: Spec) => {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = MAP;
  s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
};

t.test('a bind with its own mappings: made by the runtime, moved into place by the init', async (t) => {
  const p = plan(mount({ options: ['rbind', 'idmap', 'ro', 'nosuid'], uidMappings: ONE, gidMappings: MAP }), dirs);
  t.same(p.idmapMounts, [
    { slot: 'idmap-mount-0', source: '/srv/data', destination: '/data', rbind: true, recursive: false, mapping: { maps: { uid: ONE, gid: MAP } } },
  ]);
  t.same(bare(touching(p, '/data')), [
    { op: 'MKDIR_IN_ROOT', a: [0o755], strs: ['/data'] },
    { op: 'MOVE_MOUNT_IN_ROOT', a: [{ slot: 'idmap-mount-0' }, 0, 1], strs: ['/data'] },
    { op: 'BIND_REMOUNT', a: [MS.RDONLY | MS.NOSUID, 0], strs: ['/data'] },
  ], 'no plain bind of it; its flags by the same remount as any bind');
  const move = p.ops.find((o) => o.op === 'MOVE_MOUNT_IN_ROOT')!;
  t.equal(move.what, 'mount /srv/data on /data, id-mapped (uids 0:1000:1; gids 0:100000:65536)');
});

t.test('idmap, ridmap, mappings without either option, bind and rbind', async (t) => {
  const one = (extra: Record<string, unknown>) => plan(mount({ uidMappings: ONE, gidMappings: ONE, ...extra }), dirs).idmapMounts[0];
  t.match(one({ options: ['bind', 'idmap'] }), { rbind: false, recursive: false });
  t.match(one({ options: ['rbind', 'ridmap'] }), { rbind: true, recursive: true }, 'ridmap: every mount of the tree');
  t.match(one({ options: ['rbind'] }), { rbind: true, recursive: false }, 'mappings without the option: mapped, not recursively');
  t.match(one({ type: 'bind', options: ['idmap'] }), { rbind: false }, 'type "bind" is a bind here as everywhere in the planner');
  t.match(one({ options: ['rbind', 'idmap', 'ridmap'] }), { recursive: true }, 'the last of the two wins');
  t.equal(plan(mount({ options: ['rbind'] }), dirs).idmapMounts.length, 0, 'a plain bind is not id-mapped');
  t.equal(plan(mount({ options: ['rbind'] }), dirs).ops.filter((o) => o.op === 'MOVE_MOUNT_IN_ROOT').length, 0);
});

t.test('relative sources, files, and one slot per mount', async (t) => {
  const p = plan((s) => {
    s.mounts = [
      { destination: '/a', source: 'vol', options: ['bind', 'idmap'], uidMappings: ONE, gidMappings: ONE },
      { destination: '/b', source: '/srv/data', options: ['rbind'] },
      { destination: '/etc/f', source: '/srv/file', options: ['bind', 'ridmap'], uidMappings: ONE, gidMappings: ONE },
    ];
  }, dirs);
  t.same(p.idmapMounts.map((m) => [m.slot, m.source, m.destination]), [['idmap-mount-0', `${BUNDLE}/vol`, '/a'], ['idmap-mount-1', '/srv/file', '/etc/f']]);
  t.same(bare(touching(p, '/etc/f')), [
    { op: 'MKFILE_IN_ROOT', a: [0o644], strs: ['/etc/f'] },
    { op: 'MOVE_MOUNT_IN_ROOT', a: [{ slot: 'idmap-mount-1' }, 0, 1], strs: ['/etc/f'] },
  ]);
});

t.test('idmap without mappings takes the container\'s user namespace: its maps, or the joined one', async (t) => {
  const made = plan((s) => (userns(s), mount({ options: ['rbind', 'idmap'] })(s)), dirs);
  t.same(made.idmapMounts[0].mapping, { maps: { uid: MAP, gid: [{ containerID: 0, hostID: 200000, size: 65536 }] } }, 'a new one: its maps (it does not exist when the mount is made)');
  const joined = plan((s) => {
    s.linux!.namespaces!.push({ type: 'user', path: '/proc/4242/ns/user' });
    mount({ options: ['bind', 'idmap'] })(s);
  }, { ...dirs, namespaceFds: { user: 9 } });
  t.same(joined.idmapMounts[0].mapping, { usernsFd: 9 }, 'a joined one: used as it is');
  t.match(joined.ops.find((o) => o.op === 'MOVE_MOUNT_IN_ROOT')!.what, /as the joined user namespace maps ids/);
  const own = plan((s) => (userns(s), mount({ options: ['bind', 'idmap'], uidMappings: ONE, gidMappings: ONE })(s)), dirs);
  t.same(own.idmapMounts[0].mapping, { maps: { uid: ONE, gid: ONE } }, 'the mount\'s own mappings win over the container\'s');
});

t.test('the mount fds cross into the init; the dry run shows their slots', async (t) => {
  const p = plan(mount({ options: ['bind', 'idmap'], uidMappings: ONE, gidMappings: ONE }), dirs);
  const slots = { 'exec-fifo': 7, 'idmap-mount-0': 12 };
  t.ok(fdsUsedBy(p.ops, slots).includes(12), 'kept open for tsr-init');
  t.doesNotThrow(() => encodePlan(p.ops, slots));
  t.throws(() => encodePlan(p.ops, { 'exec-fifo': 7 }), /idmap-mount-0/, 'an unbound slot is a bug, not a silent fd 0');
  const step = planView(p).steps.find((s) => s.op === 'MOVE_MOUNT_IN_ROOT');
  t.same(step?.args, ['<idmap-mount-0>', 0, 1]);
});

t.test('errors: runc\'s words, before anything is made', async (t) => {
  t.equal(planError(mount({ options: ['bind'], uidMappings: ONE }), dirs), 'mounts: /data: id-mapped mounts must have both uid and gid mappings specified');
  t.equal(planError(mount({ options: ['bind', 'idmap'], gidMappings: ONE }), dirs), 'mounts: /data: id-mapped mounts must have both uid and gid mappings specified');
  t.equal(planError(mount({ type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }), dirs), 'mounts: /data: id-mapped mounts are only supported for bind-mounts');
  t.equal(planError(mount({ type: 'cgroup', source: 'cgroup', options: ['ridmap'] }), dirs), 'mounts: /data: id-mapped mounts are only supported for bind-mounts');
  t.equal(planError(mount({ options: ['rbind', 'idmap'] }), dirs), 'mounts: /data: the idmap option needs uidMappings and gidMappings, or a user namespace to take them from');
  t.equal(planError(mount({ options: ['rbind', 'ridmap'] }), dirs), 'mounts: /data: the idmap option needs uidMappings and gidMappings, or a user namespace to take them from');
  const old = { host: host({ idmapMounts: false }, { '/srv/data': 'dir' }) };
  t.equal(planError(mount({ options: ['bind', 'idmap'], uidMappings: ONE, gidMappings: ONE }), old), 'mounts: /data: id-mapped mounts need mount_setattr(2) (Linux 5.12 or newer), which this kernel does not have');
  t.equal(planError(mount({ options: ['bind'] }), old), '(no error)', 'plain binds on such a kernel');
  t.equal(planError(mount({ options: ['rbind', 'idmap=uids=0-1000-10;gids=0-1000-10'] }), dirs),
    'mounts: /data: option "idmap=uids=0-1000-10;gids=0-1000-10" (mappings in the option) is not supported: give the mount uidMappings and gidMappings and the option "idmap"',
    'crun\'s inline mappings are refused, not dropped as filesystem data');
});

t.test('rootless: refused for an unprivileged runtime (runc), left to the kernel for root in a user namespace', async (t) => {
  const rootless = (euid: number, inUserns: boolean) => host({
    rootless: { euid, egid: euid, inUserns, newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap', hardLimits: {}, oomScoreAdj: 0, setgroupsAllowed: true },
  }, { '/srv/data': 'dir' });
  const spec = (s: Spec) => {
    s.linux!.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }];
    s.linux!.uidMappings = [{ containerID: 0, hostID: 1001, size: 1 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 1001, size: 1 }];
    mount({ options: ['rbind', 'idmap'] })(s);
  };
  t.equal(planError(spec, { host: rootless(1001, false) }), 'mounts: /data: id-mapped mounts are not supported for rootless containers');
  t.equal(planError(spec, { host: rootless(0, true) }), '(no error)', 'root of a user namespace (rootless Podman) may own the filesystem: the kernel says');
  t.equal(planError((s) => (spec(s), s.mounts![0].options = ['rbind']), { host: rootless(1001, false) }), '(no error)', 'plain binds are not concerned');
});

t.test('idmap and ridmap are options, never filesystem data', async (t) => {
  t.ok(MOUNT_OPTION_NAMES.includes('idmap') && MOUNT_OPTION_NAMES.includes('ridmap'), 'features lists them');
  t.equal(parseMountOptions(['idmap', 'ridmap', 'mode=755']).data, 'mode=755');
});
