/**
 * Real containers in a user namespace (rootfs owned by the mapped root, as Podman prepares it):
 * the init becomes root of the namespace before mounting, /sys is bound from the host when the
 * container has no network namespace of its own, oomScoreAdj is set before the init turns
 * non-dumpable, devices are bound from the host, a read-only root keeps its locked flags.
 */
import t from 'tap';
import { Sandbox, NEEDS_ROOT } from '../helpers/runtime';
import { mountAt, mountOptions, runProbe } from '../helpers/probe';

const HOST_ID = 300000;

t.test('the default spec in a user namespace', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const { facts, result } = runProbe(sb, (s) => (s.process.user = { uid: 1000, gid: 1000, additionalGids: [5] }), ['--read', '/proc/self/uid_map', '--write', '/tmp'], { userns: HOST_ID });
  t.equal(result.status, 0, result.stderr);
  t.match(facts?.read['/proc/self/uid_map'], new RegExp(`^\\s*0\\s+${HOST_ID}\\s+65536`));
  t.same(facts?.uid, [1000, 1000, 1000, 1000]);
  t.same(facts?.groups, [5]);
  t.equal(mountAt(facts!, '/sys')?.fstype, 'sysfs', 'its own network namespace: a real sysfs');
  t.equal(mountAt(facts!, '/dev/pts')?.fstype, 'devpts');
  t.ok(mountOptions(mountAt(facts!, '/')).has('ro'), 'root.readonly in a user namespace');
});

t.test('no network namespace of its own: /sys is a bind of the host\'s, read-only', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const { facts, result } = runProbe(sb, (s) => (s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'network')), ['--write', '/sys/kernel'], { userns: HOST_ID });
  t.equal(result.status, 0, result.stderr);
  const sys = mountAt(facts!, '/sys');
  t.equal(sys?.fstype, 'sysfs');
  t.equal(sys?.root, '/', 'the host /sys');
  t.ok(mountOptions(sys).has('ro') && mountOptions(sys).has('nosuid'), `with the mount's flags: ${sys?.options}`);
  t.not(facts?.write['/sys/kernel'], 'ok');
});

t.test('oomScoreAdj and devices in a user namespace', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  // mknod is not allowed in a user namespace: the host's node at the same path is bound instead.
  const { facts, result } = runProbe(sb, (s) => {
    s.process.oomScoreAdj = 500;
    s.linux.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }];
  }, ['--stat', '/dev/kmsg', '--stat', '/dev/null'], { userns: HOST_ID });
  t.equal(result.status, 0, result.stderr);
  t.equal(facts?.oomScoreAdj, 500, 'set before the init became non-dumpable');
  t.match(facts?.stat['/dev/kmsg'], { type: 'c', major: 1, minor: 11 }, '/dev/kmsg bound from the host');
  t.match(facts?.stat['/dev/null'], { type: 'c', major: 1, minor: 3 }, 'default devices too');
});
