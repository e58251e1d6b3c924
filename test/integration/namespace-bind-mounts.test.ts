/**
 * Joining a namespace kept as a bind mount, the way `ip netns add`, Podman (its bridge networks'
 * /run/netns/netns-<uuid>), CNI and containerd's CRI keep them. Opened, such a file reads as its
 * own path in /proc/self/fd, not as "net:[inode]", so the runtime must recognise it by its
 * filesystem (nsfs); a wrong type is still refused (by setns), and a plain file is not a namespace.
 */
import t, { Test } from 'tap';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Sandbox, leftovers } from '../helpers/runtime';

type Spec = Record<string, any>;

const root = process.getuid?.() === 0;

/** A network namespace bind-mounted on a file of its own temp dir; unmounted and removed at teardown. */
function persistentNetns(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-test-netns-'));
  const file = path.join(dir, 'netns');
  t.teardown(() => {
    spawnSync('umount', [file]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  fs.writeFileSync(file, '');
  const r = spawnSync('unshare', [`--net=${file}`, 'true'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`unshare --net=${file}: ${r.stderr}`);
  return file;
}

const withNamespacePath = (type: string, nsPath: string) => (s: Spec) => {
  s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === type ? { type, path: nsPath } : n));
};

t.test('a network namespace kept as a bind mount (ip netns add, Podman, CNI)', { skip: !root && 'needs root' }, async (t) => {
  const sb = new Sandbox(t);
  const netns = persistentNetns(t);
  const ino = fs.statSync(netns).ino;

  const id = sb.id();
  const bundle = sb.bundle(['readlink', '/proc/self/ns/net'], withNamespacePath('network', netns));
  const r = sb.tsr(['run', '--bundle', bundle, id]);
  t.equal(r.stderr, '', 'no error');
  t.equal(r.status, 0, 'run exits 0');
  t.equal(r.stdout.trim(), `net:[${ino}]`, 'the container is in that network namespace');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');

  // The same file named as another type: the kernel's setns(fd, CLONE_NEWIPC) refuses it.
  const wrongId = sb.id();
  const wrong = sb.bundle(['true'], withNamespacePath('ipc', netns));
  const w = sb.tsr(['create', '--bundle', wrong, wrongId]);
  t.equal(w.status, 1, 'a network namespace given as the ipc one is refused');
  t.equal(w.stderr, `tsruntime: container init: join ipc namespace ${netns}: EINVAL (invalid argument)\n`);
  t.same(leftovers(sb, wrongId, wrong), [], 'the refused create left nothing behind');

  // A regular file is still not a namespace.
  const plain = path.join(sb.dir, 'plain');
  fs.writeFileSync(plain, '');
  const plainId = sb.id();
  const p = sb.tsr(['create', '--bundle', sb.bundle(['true'], withNamespacePath('network', plain)), plainId]);
  t.equal(p.status, 1);
  t.equal(p.stderr, `tsruntime: linux.namespaces: network namespace path ${plain} is not a namespace file\n`);
});
