/**
 * A readonlyPaths entry is read-only all the way down: the mounts under it too (issue 8, class 7).
 *
 * Each entry is bound onto itself recursively and then remounted read-only; a remount changes one
 * mount, so the mounts under the entry (here a tmpfs and a bind of a directory the test owns)
 * stayed writable.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { NEEDS_ROOT, Sandbox } from '../helpers/runtime';
import { PROBE_IN_ROOTFS, mountOptions, runProbe } from '../helpers/probe';
import { hostMountsUnder, mountIn, snapshot } from '../helpers/escape-checks';

t.test('mounts under a readonlyPaths entry are read-only too', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const hostDir = path.join(sb.dir, 'host-data');
  fs.mkdirSync(hostDir);
  fs.writeFileSync(path.join(hostDir, 'file'), 'tsr host data, unchanged\n');
  const before = snapshot(hostDir);
  const dirs = ['/data', '/data/sub', '/data/sub/deeper', '/data/bind'];
  const { result, facts } = runProbe(
    sb,
    (s) => {
      s.mounts.push(
        { destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] },
        { destination: '/data/sub', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] },
        { destination: '/data/sub/deeper', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] },
        { destination: '/data/bind', type: 'bind', source: hostDir, options: ['rbind', 'rw'] },
      );
      s.linux.readonlyPaths = [...(s.linux.readonlyPaths ?? []), '/data'];
      // Write for real into the bind (the probe's own write test removes its file again).
      s.process.args = ['sh', '-c', `echo tsr-pwned > /data/bind/file; echo tsr-pwned > /data/bind/new; exec ${PROBE_IN_ROOTFS} ${dirs.map((d) => `--write ${d}`).join(' ')}`];
    },
    [],
    { ownRootfs: true },
  );
  t.equal(result.status, 0, `the container ran ${result.stderr}`.trim());
  for (const d of dirs) {
    t.equal(facts?.write[d], 'EROFS', `writing under ${d} fails with EROFS`);
    t.ok(mountOptions(mountIn(facts, d)).has('ro'), `${d} is mounted read-only`);
  }
  t.same(snapshot(hostDir), before, 'the host directory bound under /data is unchanged');
  t.same(hostMountsUnder(sb.dir), [], 'nothing mounted on the host under the test directory');
});
