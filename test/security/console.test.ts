/**
 * /dev/console of a container with a terminal is the pty, whatever the image put at /dev/console
 * (CVE-2025-52565 class).
 *
 * With process.terminal the init binds its pty slave on /dev/console, after pivot_root. A bundle
 * with no /dev mount of its own uses the image's /dev: when the image's /dev/console is a symlink,
 * the bind lands on the symlink's target instead: a file of the image (here /etc/target, in the
 * test's own copy of the rootfs), or a procfs file such as /proc/1/attr/exec, the file the init
 * writes the exec label to next.
 */
import t, { Test } from 'tap';
import fs from 'fs';
import path from 'path';
import { execFileSync } from 'child_process';
import { leftovers, NEEDS_ROOT, Sandbox } from '../helpers/runtime';
import { Facts, probeBundle } from '../helpers/probe';
import { hostMountsUnder, oneLine, runWithTerminal, snapshot } from '../helpers/escape-checks';

/**
 * The busybox image with its own /dev (no /dev tmpfs in the config: devpts on /dev/pts only), a
 * real /dev/null for the masks, /dev/ptmx -> pts/ptmx, and /dev/console -> `target`.
 */
function consoleAttack(sb: Sandbox, target: string, probeArgs: string[]): { bundle: string; rootfs: string } {
  const bundle = probeBundle(sb, probeArgs, (s) => {
    s.process.terminal = true;
    s.mounts = s.mounts.filter((m: { destination: string }) => m.destination === '/dev/pts' || !m.destination.startsWith('/dev'));
  }, true);
  const rootfs = path.join(bundle, 'rootfs');
  const dev = path.join(rootfs, 'dev');
  execFileSync('mknod', ['-m', '666', path.join(dev, 'null'), 'c', '1', '3']);
  fs.mkdirSync(path.join(dev, 'pts'));
  fs.symlinkSync('pts/ptmx', path.join(dev, 'ptmx'));
  fs.symlinkSync(target, path.join(dev, 'console'));
  fs.writeFileSync(path.join(rootfs, 'etc', 'target'), 'tsr target, unchanged\n');
  return { bundle, rootfs };
}

function parseFacts(out: string): Facts | undefined {
  try {
    return JSON.parse(out.slice(out.indexOf('{')));
  } catch {
    return undefined;
  }
}

/** Either the container refused to start cleanly, or /dev/console inside is the pty. */
async function check(t: Test, target: string, extra: (facts: Facts) => void): Promise<void> {
  const sb = new Sandbox(t);
  const { bundle, rootfs } = consoleAttack(sb, target, ['--lstat', '/dev/console', '--stat', '/dev/console', '--stat', '/etc/target']);
  const etcBefore = snapshot(path.join(rootfs, 'etc'));
  const id = sb.id();
  const run = await runWithTerminal(sb, bundle, id, (fn) => t.teardown(fn));
  if (run.created.status !== 0) {
    t.ok(oneLine(run.created.stderr), `create failed cleanly: ${JSON.stringify(run.created.stderr)}`);
    t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
  } else {
    t.equal(run.started?.status, 0, `start succeeds ${run.started?.stderr ?? ''}`.trim());
    t.notOk(run.hung, 'the container ended on its own');
    const facts = parseFacts(run.out);
    t.ok(facts, `the probe's output came through the pty: ${JSON.stringify(run.out.slice(0, 60))}`);
    t.match(facts?.lstat['/dev/console'], { type: 'c', major: 136 }, '/dev/console itself is the pty (a char device, major 136)');
    t.match(facts?.stat['/dev/console'], { type: 'c', major: 136 }, '/dev/console opens the pty');
    const devpts = (facts?.mounts ?? []).filter((m) => m.fstype === 'devpts').map((m) => m.mountpoint);
    t.same(devpts.filter((p) => p !== '/dev/pts' && p !== '/dev/console'), [], 'the pty is mounted nowhere but /dev/pts and /dev/console');
    t.notOk(facts?.mounts.some((m) => m.mountpoint === '/etc/target'), '/etc/target is not a mount point');
    t.match(facts?.stat['/etc/target'], { type: 'f' }, '/etc/target is the regular file, not a terminal (reading it would block)');
    if (facts) extra(facts);
    t.equal(sb.tsr(['delete', '--force', id]).status, 0, 'delete');
  }
  t.same(snapshot(path.join(rootfs, 'etc')), etcBefore, "the image's /etc is unchanged on the host");
  t.ok(fs.lstatSync(path.join(rootfs, 'etc', 'target')).isFile(), '/etc/target is still a regular file');
  t.same(hostMountsUnder(sb.dir), [], 'nothing mounted on the host under the test directory');
}

t.test('an image /dev/console symlink to a file of the image', { skip: NEEDS_ROOT }, async (t) => {
  await check(t, '/etc/target', () => {});
});

t.test('an image /dev/console symlink to a procfs file (/proc/1/attr/exec)', { skip: NEEDS_ROOT }, async (t) => {
  await check(t, '/proc/1/attr/exec', (facts) => {
    const onPids = facts.mounts.filter((m) => /^\/proc\/(\d+|self|thread-self)\//.test(m.mountpoint));
    t.same(onPids.map((m) => `${m.fstype} on ${m.mountpoint}`), [], "nothing is mounted over a process's procfs files");
  });
});
