/**
 * Escape classes tsruntime already closes (issue 8): each attack is real, each check is made on
 * the host or from inside the container, and each fails when its guard is broken:
 *
 *   mount destinations that are symlinks out of the rootfs   open_in_root (RESOLVE_IN_ROOT)
 *   maskedPaths / readonlyPaths applied                       the MASK_PATH / READONLY_PATH ops
 *   capabilities dropped, no_new_privs                        the CAP_BOUNDING / CAPSET / PRCTL ops
 *   device access                                             the devices cgroup
 *   host namespaces not entered                               the clone flags
 *   a rootfs whose path is a symlink                          OPEN_ROOT, the bind and pivot_root
 *   /proc/1/root does not lead to the host                    the pid namespace and pivot_root
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { leftovers, NEEDS_ROOT, Result, Sandbox } from '../helpers/runtime';
import { Facts, PROBE_IN_ROOTFS, capMask, mountOptions, probeBundle, runProbe } from '../helpers/probe';
import { hostMountsUnder, mountIn, snapshot } from '../helpers/escape-checks';

/** `run` a bundle made by probeBundle (after the test changed its rootfs) and parse the probe's output. */
function runBundle(sb: Sandbox, bundle: string): { id: string; result: Result; facts?: Facts } {
  const id = sb.id();
  const result = sb.tsr(['run', '--bundle', bundle, id]);
  let facts: Facts | undefined;
  try {
    facts = JSON.parse(result.stdout);
  } catch {
    facts = undefined;
  }
  return { id, result, facts };
}

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
const CAP_BITS: Record<string, number> = { CAP_KILL: 5, CAP_NET_BIND_SERVICE: 10, CAP_SYS_ADMIN: 21, CAP_AUDIT_WRITE: 29 };

function addCaps(spec: Record<string, any>, caps: string[]): void {
  for (const set of ['bounding', 'effective', 'permitted']) spec.process.capabilities[set] = [...spec.process.capabilities[set], ...caps];
}

t.test('a mount destination that is a symlink out of the rootfs lands inside the rootfs', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  // The image's /escape is an absolute symlink to a directory of the test's on the host; the
  // config mounts a tmpfs at /escape/newdir, and the container writes through /escape.
  const hostTarget = path.join(sb.dir, 'host-target');
  fs.mkdirSync(hostTarget);
  fs.writeFileSync(path.join(hostTarget, 'file'), 'tsr host file, unchanged\n');
  const before = snapshot(hostTarget);
  const bundle = probeBundle(sb, [], (s) => {
    s.mounts.push({ destination: '/escape/newdir', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
    s.root.readonly = false;
    s.process.args = ['sh', '-c', `echo tsr-pwned > /escape/newdir/pwned; echo tsr-pwned > /escape/file; exec ${PROBE_IN_ROOTFS}`];
  }, true);
  fs.symlinkSync(hostTarget, path.join(bundle, 'rootfs', 'escape'));
  const { id, result, facts } = runBundle(sb, bundle);
  t.equal(result.status, 0, `the container ran ${result.stderr}`.trim());
  t.equal(mountIn(facts, path.join(hostTarget, 'newdir'))?.fstype, 'tmpfs', "the tmpfs is at the symlink's target inside the rootfs");
  t.ok(fs.existsSync(path.join(bundle, 'rootfs', hostTarget, 'newdir')), 'its mount point was made inside the rootfs');
  t.same(snapshot(hostTarget), before, 'the host directory the symlink names is unchanged (no newdir, its file not written)');
  t.same(hostMountsUnder(sb.dir), [], 'nothing mounted on the host under the test directory');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

t.test('maskedPaths and readonlyPaths are applied', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const masked = ['/proc/keys', '/proc/timer_list', '/proc/kcore', '/sys/firmware', '/proc/acpi', '/proc/scsi'];
  const { result, facts } = runProbe(sb, undefined, [
    ...masked.flatMap((p) => ['--stat', p]),
    '--read', '/proc/keys',
    // Open for writing only: nothing is written (and kernel.domainname is the container's own).
    '--write', '/proc/sys/kernel/domainname',
  ]);
  t.equal(result.status, 0, `the container ran ${result.stderr}`.trim());
  const present = masked.filter((p) => facts?.stat[p]?.error !== 'ENOENT');
  t.ok(present.length >= 3, `masked paths to look at: ${present.join(', ')}`);
  for (const p of present) {
    const st = facts?.stat[p];
    if (st?.type === 'd') t.equal(mountIn(facts, p)?.fstype, 'tmpfs', `${p} is covered by an empty tmpfs`);
    else t.match(st, { type: 'c', major: 1, minor: 3 }, `${p} is /dev/null`);
  }
  t.equal(facts?.read['/proc/keys'], '', '/proc/keys reads empty');
  t.equal(facts?.write['/proc/sys/kernel/domainname'], 'EROFS', '/proc/sys is read-only');
  t.ok(mountOptions(mountIn(facts, '/proc/sys')).has('ro'), '/proc/sys is a read-only mount');
});

t.test('capabilities are dropped and no_new_privs is set', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const { result, facts } = runProbe(sb, (s) => {
    t.same(s.process.capabilities.bounding, DEFAULT_CAPS, 'the default capabilities');
    t.equal(s.process.noNewPrivileges, true, 'noNewPrivileges in the config');
    s.process.args = ['sh', '-c', `mount -t tmpfs tsr /tmp >&2; echo "mount-rc=$?" >&2; exec ${PROBE_IN_ROOTFS}`];
  });
  t.equal(result.status, 0, 'the container ran');
  const want = DEFAULT_CAPS.reduce((m, c) => m | (1n << BigInt(CAP_BITS[c])), 0n);
  t.equal(capMask(facts?.caps.bounding ?? ''), want, 'bounding set: the configured capabilities only');
  t.equal(capMask(facts?.caps.effective ?? ''), want, 'effective set: the configured capabilities only');
  t.equal(capMask(facts?.caps.effective ?? '') & (1n << BigInt(CAP_BITS.CAP_SYS_ADMIN)), 0n, 'no CAP_SYS_ADMIN');
  t.match(result.stderr, /mount-rc=[1-9]/, 'mount fails without CAP_SYS_ADMIN');
  t.notOk(facts?.mounts.some((m) => m.mountpoint === '/tmp'), 'nothing was mounted on /tmp');
  t.equal(facts?.noNewPrivs, 1, 'NoNewPrivs: 1 in /proc/self/status');
});

t.test('the devices cgroup denies a block device the config does not allow', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  // CAP_MKNOD, so that only the devices cgroup stands between the container and the device. The
  // node is a loop device (7:0), opened read-only and never read: harmless even if it opened.
  const bundle = probeBundle(sb, [], (s) => {
    addCaps(s, ['CAP_MKNOD']);
    s.process.args = ['sh', '-c', 'mknod -m 600 /dev/tsr-blk b 7 0; echo "mknod-rc=$?"; (: </dev/tsr-blk); echo "open-rc=$?"'];
  });
  const { id, result } = runBundle(sb, bundle);
  t.equal(result.status, 0, 'the container ran');
  t.match(result.stdout, /open-rc=[1-9]/, 'opening the block device fails');
  t.match(result.stderr, /tsr-blk.*(Operation not permitted|permission denied)/i, 'with EPERM, from the devices cgroup');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

t.test("the host's namespaces are not entered", { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const configured: string[] = [];
  const { result, facts } = runProbe(sb, (s) => {
    for (const n of s.linux.namespaces) configured.push(n.type === 'network' ? 'net' : n.type === 'mount' ? 'mnt' : n.type);
  });
  t.equal(result.status, 0, 'the container ran');
  t.same(configured.sort(), ['ipc', 'mnt', 'net', 'pid', 'uts'], 'the default namespaces');
  for (const ns of configured) {
    t.not(facts?.namespaces[ns], fs.readlinkSync(`/proc/self/ns/${ns}`), `${ns}: a namespace of its own`);
  }
  for (const ns of ['user', 'cgroup']) {
    t.equal(facts?.namespaces[ns], fs.readlinkSync(`/proc/self/ns/${ns}`), `${ns}: the host's, as configured (none asked for)`);
  }
});

t.test('a rootfs whose path is a symlink', { skip: NEEDS_ROOT }, async (t) => {
  for (const kind of ['relative', 'absolute']) {
    await t.test(kind, async (t) => {
      const sb = new Sandbox(t);
      const bundle = probeBundle(sb, ['--read', '/tsr-marker'], undefined, true);
      const real = path.join(bundle, 'real-rootfs');
      fs.renameSync(path.join(bundle, 'rootfs'), real);
      fs.writeFileSync(path.join(real, 'tsr-marker'), 'the real rootfs\n');
      const link = kind === 'relative' ? 'real-rootfs' : real;
      fs.symlinkSync(link, path.join(bundle, 'rootfs'));
      const { id, result, facts } = runBundle(sb, bundle);
      t.equal(result.status, 0, `the container ran ${result.stderr}`.trim());
      t.equal(facts?.read['/tsr-marker'], 'the real rootfs\n', "/ is the symlink's target");
      t.equal(mountIn(facts, '/proc')?.fstype, 'proc', 'mounts landed inside it');
      t.equal(fs.readlinkSync(path.join(bundle, 'rootfs')), link, 'the symlink is unchanged');
      t.same(hostMountsUnder(sb.dir), [], 'nothing mounted on the host under the test directory');
      t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
    });
  }
});

t.test("/proc/1/root is the container's root, even with CAP_SYS_PTRACE", { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const hostMarker = path.join(sb.dir, 'host-marker');
  fs.writeFileSync(hostMarker, 'tsr host marker\n');
  const bundle = probeBundle(sb, ['--lstat', '/proc/1/root', '--read', '/proc/1/root/tsr-marker', '--read', `/proc/1/root${hostMarker}`, '--read', `/proc/1/root/../../..${hostMarker}`], (s) => {
    addCaps(s, ['CAP_SYS_PTRACE']);
  }, true);
  fs.writeFileSync(path.join(bundle, 'rootfs', 'tsr-marker'), 'the container root\n');
  const { result, facts } = runBundle(sb, bundle);
  t.equal(result.status, 0, `the container ran ${result.stderr}`.trim());
  t.equal(facts?.pid, 1, 'the probe is pid 1 of its own pid namespace');
  t.match(facts?.lstat['/proc/1/root'], { type: 'l', target: '/' }, '/proc/1/root points at /');
  t.equal(facts?.read['/proc/1/root/tsr-marker'], 'the container root\n', "/proc/1/root is the container's root");
  t.match(facts?.read[`/proc/1/root${hostMarker}`], { error: 'ENOENT' }, 'a host file is not reachable through /proc/1/root');
  t.match(facts?.read[`/proc/1/root/../../..${hostMarker}`], { error: 'ENOENT' }, 'nor through /proc/1/root/..');
});
