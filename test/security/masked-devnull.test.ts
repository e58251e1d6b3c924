/**
 * Masked paths are covered with the real /dev/null, never with whatever the image calls
 * /dev/null (CVE-2025-31133 class).
 *
 * Masking happens after pivot_root, by binding "/dev/null" over each masked file. A bundle with no
 * /dev mount of its own uses the image's /dev; an image whose /dev/null is a symlink then gets the
 * symlink's target bound over every masked file: a procfs file the container may write through a
 * path the config meant to hide, or a file of the read-only rootfs, writable again. The targets
 * here are kernel.domainname of the container's own UTS namespace and a file of the test's own
 * copy of the rootfs.
 */
import t, { Test } from 'tap';
import fs from 'fs';
import path from 'path';
import { leftovers, NEEDS_ROOT, Sandbox } from '../helpers/runtime';
import { Facts, PROBE_IN_ROOTFS, probeBundle } from '../helpers/probe';
import { hostMountsUnder, mountIn, snapshot } from '../helpers/escape-checks';

const MASKED_FILES = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug'];
const hostDomainname = (): string => fs.readFileSync('/proc/sys/kernel/domainname', 'utf8');

/**
 * The busybox image with /dev/null a symlink to `target`, run with no /dev mount (so the image's
 * /dev is the container's). The process tries to write into every masked file, then runs the
 * probe. The shell's errors go to stderr: /dev/null is the symlink.
 */
function attack(t: Test, sb: Sandbox, target: string, prepare?: (rootfs: string) => void): { bundle: string; rootfs: string; id: string; status: number; stderr: string; facts?: Facts } {
  const writes = MASKED_FILES.map((f) => `echo tsr-pwned > ${f}`).join('; ');
  const probeArgs = MASKED_FILES.flatMap((f) => ['--stat', f, '--read', f]);
  const bundle = probeBundle(sb, [], (s) => {
    t.ok(s.linux.namespaces.some((n: { type: string }) => n.type === 'uts'), 'the container has its own UTS namespace');
    s.mounts = s.mounts.filter((m: { destination: string }) => !m.destination.startsWith('/dev'));
    s.domainname = 'tsr-domain-before-masking';
    s.root.readonly = true;
    s.process.args = ['sh', '-c', `${writes}; exec ${PROBE_IN_ROOTFS} ${probeArgs.join(' ')}`];
  }, true);
  const rootfs = path.join(bundle, 'rootfs');
  fs.symlinkSync(target, path.join(rootfs, 'dev', 'null'));
  prepare?.(rootfs);
  const id = sb.id();
  const r = sb.tsr(['run', '--bundle', bundle, id]);
  let facts: Facts | undefined;
  try {
    facts = JSON.parse(r.stdout);
  } catch {
    facts = undefined;
  }
  return { bundle, rootfs, id, status: r.status, stderr: r.stderr, facts };
}

function assertMasked(t: Test, facts: Facts | undefined): void {
  const present = MASKED_FILES.filter((f) => facts?.stat[f]?.error !== 'ENOENT'); // some are not in every kernel
  t.ok(present.length >= 2, `masked files to look at: ${present.join(', ')}`);
  for (const f of present) {
    const st = facts?.stat[f];
    t.match(st, { type: 'c', major: 1, minor: 3 }, `${f} is masked by the 1:3 character device`);
    t.equal(facts?.read[f], '', `${f} reads empty`);
    t.not(mountIn(facts, f)?.fstype, 'proc', `no procfs file is bound over ${f}`);
  }
}

t.test('an image /dev/null symlink to a procfs file', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const domainBefore = hostDomainname();
  const r = attack(t, sb, '/proc/sys/kernel/domainname');
  t.equal(r.status, 0, `the container ran: ${r.stderr}`);
  assertMasked(t, r.facts);
  t.equal(hostDomainname(), domainBefore, "the host's domainname is unchanged");
  t.same(leftovers(sb, r.id, r.bundle), [], 'nothing left behind');
  t.same(hostMountsUnder(sb.dir), [], 'nothing mounted on the host under the test directory');
});

t.test('an image /dev/null symlink to a file of the read-only rootfs', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  let before: Record<string, string> = {};
  const r = attack(t, sb, '/etc/target', (rootfs) => {
    fs.writeFileSync(path.join(rootfs, 'etc', 'target'), 'tsr target, unchanged\n');
    before = snapshot(path.join(rootfs, 'etc'));
  });
  t.equal(r.status, 0, `the container ran: ${r.stderr}`);
  assertMasked(t, r.facts);
  t.same(snapshot(path.join(r.rootfs, 'etc')), before, "writes into masked files did not reach the image's /etc/target");
  t.same(leftovers(sb, r.id, r.bundle), [], 'nothing left behind');
  t.same(hostMountsUnder(sb.dir), [], 'nothing mounted on the host under the test directory');
});
