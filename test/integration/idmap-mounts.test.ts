/**
 * Id-mapped mounts (runtime-spec 1.1 mount extensions: uidMappings/gidMappings, idmap, ridmap),
 * with real containers: the ids seen through the mount from the host and from a container in a
 * user namespace, recursive and not, files created through it, propagation back to the host,
 * the kernel's refusals, and nothing left behind (the user namespace made for a mapping, its
 * process, the mount's fd).
 */
import t, { Test } from 'tap';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { create, remove } from 'tsruntime';
import { BIN, NEEDS_ROOT, Sandbox, leftovers } from '../helpers/runtime';
import { withUserns } from '../helpers/probe';

type Spec = Record<string, any>;

/** The host id the mounts map container id 0 (the owner of files on disk) to. */
const H = 340000;
/** The container's user namespace, for the tests that have one: 0..65535 → USERNS.. */
const USERNS = 320000;
const OVERFLOW = Number(fs.readFileSync('/proc/sys/kernel/overflowuid', 'utf8'));
const ONE = [{ containerID: 0, hostID: H, size: 1 }];

/** A directory (in its own temp dir, removed at teardown) with `a` owned by 0 and `b` by H on disk. */
function sourceDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-test-idmap-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'a'), '');
  fs.writeFileSync(path.join(dir, 'b'), '');
  fs.chownSync(path.join(dir, 'b'), H, H);
  return dir;
}

/** `mount -t TYPE` on dir, unmounted at teardown (before the directory goes). */
function mountOn(t: Test, type: string, dir: string, ...more: string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', type, `tsr-test-${type}`, dir, ...more], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount -t ${type} ${dir}: ${r.stderr}`);
  t.teardown(() => void spawnSync('umount', ['-l', dir]));
}

const bindAt = (source: string, options: string[], maps?: typeof ONE) => (s: Spec) => {
  s.mounts.push({ destination: '/data', type: 'bind', source, options, ...(maps ? { uidMappings: maps, gidMappings: maps } : {}) });
};

/** "uid gid" of each path, from `stat -c` lines "PATH UID GID". */
function owners(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.trim().split('\n')) {
    const [p, uid, gid] = line.split(' ');
    out[p] = `${uid} ${gid}`;
  }
  return out;
}

const STAT = ['stat', '-c', '%n %u %g'];
const STAT_SH = "stat -c '%n %u %g'";

/** The fds of a process, by number, as their link targets. */
function fdsOf(pid: number | 'self'): string[] {
  return fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return '(gone)';
    }
  }).sort();
}

/** Our children (every thread's): the user namespace's process must have been reaped. */
function children(): number[] {
  return fs.readdirSync('/proc/self/task').flatMap((tid) => fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}

t.test('features: mountExtensions.idmap.enabled on this kernel', async (t) => {
  const r = spawnSync(BIN, ['features'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.equal(JSON.parse(r.stdout).linux.mountExtensions.idmap.enabled, true, `mount_setattr is there on ${os.release()}`);
  t.ok(JSON.parse(r.stdout).mountOptions.includes('ridmap'));
});

t.test('rootful: seen from the host, disk 0 is H and disk H is the overflow id', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const src = sourceDir(t);
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '300'], bindAt(src, ['rbind', 'idmap'], ONE));
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 0, r.stderr);
  const pid = sb.state(id).pid;
  const seen = (f: string) => fs.statSync(`/proc/${pid}/root/data/${f}`);
  t.match(seen('a'), { uid: H, gid: H }, 'a file owned by 0 on disk shows as H');
  t.match(seen('b'), { uid: OVERFLOW, gid: OVERFLOW }, 'a file owned by H on disk shows as the overflow id');
  t.match(fs.statSync(path.join(src, 'a')), { uid: 0, gid: 0 }, 'the disk is unchanged');

  // The mount's fd went into the init and was closed there: it has what a plain bind's init has.
  const plainId = sb.id();
  t.equal(sb.tsr(['create', '--bundle', sb.bundle(['sleep', '300'], bindAt(src, ['rbind'])), plainId]).status, 0);
  t.same(fdsOf(pid).length, fdsOf(sb.state(plainId).pid).length, `no extra fd in the init: ${fdsOf(pid).join(' ')}`);

  t.equal(sb.tsr(['delete', '--force', id]).status, 0);
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

t.test('in a user namespace: the mount\'s files are the container root\'s, and what it creates is 0 on disk', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const src = sourceDir(t);
  const run = (script: string, options: string[], maps?: typeof ONE) => {
    const u = withUserns(sb, USERNS, bindAt(src, options, maps));
    const bundle = sb.bundle(['sh', '-c', script], u.edit, true);
    u.after(bundle);
    fs.rmSync(path.join(src, 'new'), { force: true });
    const id = sb.id();
    const r = sb.tsr(['run', '--bundle', bundle, id]);
    t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
    return { r, seen: owners(r.stdout), disk: fs.statSync(path.join(src, 'new'), { throwIfNoEntry: false }) };
  };

  const own = run(`touch /data/new && ${STAT_SH} /data/a /data/b /data/new`, ['bind', 'idmap']);
  t.equal(own.r.status, 0, own.r.stderr);
  t.same(own.seen, { '/data/a': '0 0', '/data/b': `${OVERFLOW} ${OVERFLOW}`, '/data/new': '0 0' }, 'idmap without mappings: the container\'s own');
  t.match(own.disk, { uid: 0, gid: 0 }, 'a file the container root creates is owned by 0 on disk');

  // The mount's own mappings: disk 0 is host USERNS+1000, which is 1000 in the container.
  const other = run(`${STAT_SH} /data/a`, ['rbind', 'ridmap'], [{ containerID: 0, hostID: USERNS + 1000, size: 1 }]);
  t.equal(other.r.status, 0, other.r.stderr);
  t.equal(other.seen['/data/a'], '1000 1000', 'the mount\'s own mapping, not the container\'s');
});

t.test('idmap maps the top of an rbind, ridmap every mount of it', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const src = sourceDir(t);
  mountOn(t, 'tmpfs', path.join(src, 'sub'), '-o', 'mode=755'); // tmpfs can be id-mapped since Linux 6.3
  fs.writeFileSync(path.join(src, 'sub', 'x'), '');
  const seen = (options: string[]) => {
    const id = sb.id();
    const bundle = sb.bundle([...STAT, '/data/a', '/data/sub/x'], bindAt(src, options, ONE));
    const r = sb.tsr(['run', '--bundle', bundle, id]);
    t.equal(r.status, 0, r.stderr);
    return owners(r.stdout);
  };
  t.same(seen(['rbind', 'idmap']), { '/data/a': `${H} ${H}`, '/data/sub/x': '0 0' }, 'idmap: the submount is not mapped');
  t.same(seen(['rbind', 'ridmap']), { '/data/a': `${H} ${H}`, '/data/sub/x': `${H} ${H}` }, 'ridmap: it is');
});

t.test('what the container mounts under an id-mapped mount does not reach the host', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-test-idmap-shared-'));
  t.teardown(() => fs.rmSync(shared, { recursive: true, force: true }));
  mountOn(t, 'tmpfs', shared);
  t.equal(spawnSync('mount', ['--make-shared', shared]).status, 0, 'a shared source, as / is on most hosts');
  fs.mkdirSync(path.join(shared, 'x'));
  const id = sb.id();
  const bundle = sb.bundle(['mount', '-t', 'tmpfs', 'tsr-test-inner', '/data/x'], (s) => {
    for (const set of ['bounding', 'effective', 'permitted']) s.process.capabilities[set].push('CAP_SYS_ADMIN');
    bindAt(shared, ['rbind', 'idmap'], ONE)(s);
  });
  const r = sb.tsr(['run', '--bundle', bundle, id]);
  t.equal(r.status, 0, r.stderr);
  const onHost = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes('tsr-test-inner'));
  t.same(onHost, [], 'the host has no mount of the container\'s');
});

t.test('errors: a filesystem that cannot be id-mapped, a mapping the kernel refuses, a destination in /proc', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const ram = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-test-idmap-ramfs-'));
  t.teardown(() => fs.rmSync(ram, { recursive: true, force: true }));
  mountOn(t, 'ramfs', ram); // no FS_ALLOW_IDMAP on this kernel (nor procfs, sysfs, devpts)
  const id = sb.id();
  const bundle = sb.bundle(['true'], bindAt(ram, ['rbind', 'idmap'], ONE));
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 1);
  t.equal(r.stderr, `tsruntime: mounts: /data: failed to set MOUNT_ATTR_IDMAP on ${ram}: EINVAL (maybe the filesystem used doesn't support idmap mounts on this kernel?)\n`);
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');

  const src = sourceDir(t);
  const overlapping = [{ containerID: 0, hostID: H, size: 10 }, { containerID: 5, hostID: H + 100, size: 10 }];
  const badId = sb.id();
  const bad = sb.bundle(['true'], bindAt(src, ['bind', 'idmap'], overlapping));
  const b = sb.tsr(['create', '--bundle', bad, badId]);
  t.equal(b.status, 1);
  t.equal(b.stderr, `tsruntime: mounts: /data: failed to create userns for ${src} id-mapping: write uid_map: EINVAL (invalid argument)\n`);
  t.same(leftovers(sb, badId, bad), [], 'nothing left behind');

  // A destination that leads into /proc through a symlink of the image: refused as for any bind.
  const procId = sb.id();
  const viaProc = sb.bundle(['true'], bindAt(src, ['bind', 'idmap'], ONE), true);
  fs.rmSync(path.join(viaProc, 'rootfs', 'data'), { recursive: true, force: true }); // an earlier container's mount point
  fs.symlinkSync('/proc/sys', path.join(viaProc, 'rootfs', 'data'));
  const p = sb.tsr(['create', '--bundle', viaProc, procId]);
  t.equal(p.status, 1);
  t.equal(p.stderr, `tsruntime: container init: mount ${src} on /data, id-mapped (uids 0:${H}:1; gids 0:${H}:1): the destination resolves to a path inside /proc, where mounts are refused\n`);
  t.same(leftovers(sb, procId, viaProc), [], 'nothing left behind');
});

t.test('the runtime keeps nothing: no fd, no user namespace process', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const root = sb.root;
  const src = sourceDir(t);
  // A first container loads what a process keeps for good (the shim, tsr-init's sealed copy).
  const warm = sb.id();
  await create(warm, { root, bundle: sb.bundle(['sleep', '300']) });
  await remove(warm, { root, force: true });
  const fdsBefore = fdsOf('self');
  const childrenBefore = children();

  const id = sb.id();
  const bundle = sb.bundle(['sleep', '300'], (s) => {
    bindAt(src, ['rbind', 'idmap'], ONE)(s);
    s.mounts.push({ destination: '/other', type: 'bind', source: src, options: ['rbind', 'ridmap'], uidMappings: ONE, gidMappings: ONE });
  });
  const created = await create(id, { root, bundle });
  t.same(fdsOf('self'), fdsBefore, 'no fd of ours left open (mounts, user namespaces)');
  t.same(children().filter((p) => !childrenBefore.includes(p)), [created.pid], 'our only new child is the init');
  t.match(fs.statSync(`/proc/${created.pid}/root/other/a`), { uid: H }, 'both mounts made (one user namespace for the two)');
  await remove(id, { root, force: true });
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});
