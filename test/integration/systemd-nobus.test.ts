// --systemd-cgroup where systemd cannot be reached (this development host: PID 1 is not systemd,
// no system bus): create fails with one clear line, before anything is cloned, and leaves nothing
// behind; a cgroupsPath that is not "slice:prefix:name" gets runc's words. Against a real systemd
// the driver is tested in test/systemd/ (npm run test:systemd).
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawnSync } from 'child_process';
import { BIN, NEEDS_ROOT, Sandbox, leftovers } from '../helpers/runtime';

const NO_BUS = '/run/tsruntime-test-no-system-bus';

function create(sb: Sandbox, bundle: string, id: string) {
  return spawnSync(BIN, ['--root', sb.root, '--systemd-cgroup', 'create', '--bundle', bundle, id], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${NO_BUS}` },
    encoding: 'utf8',
  });
}

t.test('no system bus: a clear error, nothing left behind', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id('sdnobus');
  const bundle = sb.bundle(['true'], (s) => (s.linux.cgroupsPath = `system.slice:tsrtest:${id}`));
  const r = create(sb, bundle, id);
  t.equal(r.status, 1);
  t.equal(r.stderr, `tsruntime: systemd cgroup driver: cannot connect to the system bus at ${NO_BUS}: ENOENT (is systemd running?)\n`);
  t.same(leftovers(sb, id, bundle), []);
  t.notOk(fs.existsSync(path.join('/sys/fs/cgroup/unified/system.slice', `tsrtest-${id}.scope`)), 'no scope directory');
  t.equal(sb.tsr(['delete', id]).stderr, `tsruntime: container ${id} does not exist\n`, 'no state');
});

t.test('cgroupsPath in the wrong shape: runc\'s error, before any D-Bus call', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  for (const [cgroupsPath, message] of [
    ['/kubepods/pod1/abc', 'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got "/kubepods/pod1/abc" instead'],
    ['kubepods--x.slice:cri-containerd:abc', 'invalid slice name: kubepods--x.slice'],
  ]) {
    const id = sb.id('sdnobus');
    const bundle = sb.bundle(['true'], (s) => (s.linux.cgroupsPath = cgroupsPath));
    const r = create(sb, bundle, id);
    t.equal(r.status, 1, cgroupsPath);
    t.equal(r.stderr, `tsruntime: ${message}\n`);
    t.same(leftovers(sb, id, bundle), []);
  }
});
