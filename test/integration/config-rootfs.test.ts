/**
 * Real containers: how the root is entered (pivot_root, --no-pivot, chroot without a mount
 * namespace), a read-only /dev populated before it is made read-only, the rootfs parent mount
 * when the host's mounts are shared, and what a container without a mount namespace leaves.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { execFileSync } from 'child_process';
import { Sandbox, leftovers, NEEDS_ROOT } from '../helpers/runtime';
import { mountAt, mountOptions, runProbe } from '../helpers/probe';

t.test('--no-pivot: MS_MOVE and chroot', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const { facts, result } = runProbe(sb, undefined, ['--stat', '/dev/null'], { cliArgs: ['--no-pivot'] });
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.cwd, '/');
  t.match(facts?.stat['/dev/null'], { type: 'c', major: 1, minor: 3 });
  t.notOk(facts?.mounts.some((m) => m.mountpoint === '/' && m.root === '/'), 'the host root is not visible as /');
});

t.test('no mount namespace: chroot, mounts in the runtime\'s namespace left as runc leaves them', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const mine = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/')!;
  const { facts, result } = runProbe(sb, (s) => {
    s.linux.namespaces = [{ type: 'pid' }];
    delete s.hostname;
    s.root.readonly = false;
    delete s.linux.maskedPaths;
    delete s.linux.readonlyPaths;
    s.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }];
  }, [], { ownRootfs: true });
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.namespaces.mnt, fs.readlinkSync('/proc/self/ns/mnt'), 'the runtime\'s mount namespace');
  const after = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === '/')!;
  t.equal(after.split(' ').slice(0, 7).join(' '), mine.split(' ').slice(0, 7).join(' '), 'the host / kept its flags and propagation');
  // The proc mount stays under the bundle (runc behaves the same); clean it up here.
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp && mp.startsWith(sb.dir)) execFileSync('umount', ['-l', mp]);
  }
  t.match(
    (() => {
      const b = sb.bundle(['true'], (s) => {
        s.linux.namespaces = [{ type: 'pid' }];
        delete s.hostname;
      });
      return sb.tsr(['create', '--bundle', b, sb.id()]).stderr;
    })(),
    /private mount namespace|"mount" entry/,
    'masked/readonly paths or a read-only root without a mount namespace are refused (they would change the host)',
  );
});

t.test('a read-only /dev tmpfs is populated first, then made read-only', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const { facts, result } = runProbe(sb, (s) => {
    const dev = s.mounts.find((m: { destination: string }) => m.destination === '/dev');
    dev.options = [...dev.options, 'ro'];
  }, ['--stat', '/dev/null', '--write', '/dev']);
  t.equal(result.status, 0, result.stderr);
  t.match(facts?.stat['/dev/null'], { type: 'c', major: 1, minor: 3 }, 'devices were created');
  t.ok(mountOptions(mountAt(facts!, '/dev')).has('ro'), '/dev is read-only');
  t.equal(facts?.write['/dev'], 'EROFS');
});

t.test('/dev/core links to /proc/kcore where the host has it, as runc makes it', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const { facts, result } = runProbe(sb, undefined, ['--lstat', '/dev/core']);
  t.equal(result.status, 0, result.stderr);
  if (fs.existsSync('/proc/kcore')) t.match(facts?.lstat['/dev/core'], { type: 'l', target: '/proc/kcore' }, 'the symlink');
  else t.match(facts?.lstat['/dev/core'], { error: 'ENOENT' }, 'no /proc/kcore on this host: no /dev/core');
});

t.test('a rootfs under a shared host mount: pivot_root works and nothing propagates back', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const shared = fs.mkdtempSync(path.join(sb.dir, 'shared-'));
  execFileSync('mount', ['--bind', shared, shared]);
  execFileSync('mount', ['--make-shared', shared]);
  t.teardown(() => execFileSync('umount', ['-l', shared]));
  const bundle = path.join(shared, 'bundle');
  fs.mkdirSync(bundle);
  const { rootfs } = require('../helpers/runtime').sharedBundleTemplate();
  fs.cpSync(rootfs, path.join(bundle, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  const spec = JSON.parse(fs.readFileSync(path.join(sb.bundle(['/tsr-probe']), 'config.json'), 'utf8'));
  spec.root.path = 'rootfs';
  spec.process.args = ['/tsr-probe'];
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  const id = sb.id();
  const r = sb.tsr(['run', '--bundle', bundle, id]);
  t.equal(r.status, 0, r.stderr);
  t.same(leftovers(sb, id, bundle), [], 'no mount of the container appeared on the host');
});
