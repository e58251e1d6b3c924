/**
 * Joining namespaces kept as bind mounts, the way `ip netns add`, Podman (its bridge networks'
 * /run/netns/netns-<uuid>), CNI and the Kubernetes CRI runtimes keep them. Opened, such a file
 * reads as its own path in /proc/self/fd, not as "net:[inode]": the runtime must know it by its
 * filesystem (nsfs) and its type by asking the kernel, and refuse anything else in one clear line
 * before anything is made.
 */
import t from 'tap';
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Sandbox, leftovers, NEEDS_ROOT, TapLike } from '../helpers/runtime';
import { fileInode, ipNetns, namespaceHolder, nsInode, pinNamespace } from '../helpers/namespaces';
import { isRunning, until } from '../helpers/wait';

type Spec = Record<string, any>;

const withNamespacePaths = (paths: Record<string, string>) => (s: Spec) => {
  s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (paths[n.type] ? { type: n.type, path: paths[n.type] } : n));
  // A joined uts namespace keeps its own name: setting ours would rename it for everyone in it.
  if (paths.uts) delete s.hostname;
};

/** A temp dir for namespace files, removed at teardown (after the pins in it, which come later). */
function nsDir(t: TapLike): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-test-ns-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let netnsCount = 0;
const netnsName = () => `tsr-test-${process.pid}-${++netnsCount}`;

t.test('a network namespace made by `ip netns add`: create, sysctl and exec join it', { skip: NEEDS_ROOT }, async (t) => {
  const netns = ipNetns(t, netnsName());
  const sb = new Sandbox(t);
  const ino = fileInode(netns);

  const id = sb.id();
  const bundle = sb.bundle(['sh', '-c', 'readlink /proc/self/ns/net; cat /proc/sys/net/ipv4/ip_forward'], (s) => {
    withNamespacePaths({ network: netns })(s);
    s.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
  });
  const r = sb.tsr(['run', '--bundle', bundle, id]);
  t.equal(r.stderr, '', 'no error');
  t.equal(r.status, 0, 'run exits 0');
  const [link, forward] = r.stdout.trim().split('\n');
  t.equal(nsInode(link), ino, 'the container is in that network namespace');
  t.equal(forward, '1', "the config's net sysctl is set there");
  const seen = spawnSync('ip', ['netns', 'exec', path.basename(netns), 'cat', '/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' });
  t.equal(seen.stdout.trim(), '1', 'and the host sees it in that namespace, not in its own');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');

  const det = sb.id();
  const detBundle = sb.bundle(['sleep', '300'], withNamespacePaths({ network: netns }));
  t.equal(sb.tsr(['run', '--detach', '--bundle', detBundle, det]).status, 0, 'a long-running container joins it too');
  const e = sb.tsr(['exec', det, 'readlink', '/proc/self/ns/net']);
  t.equal(e.status, 0, e.stderr);
  t.equal(nsInode(e.stdout), ino, 'exec joins the same network namespace');
  t.equal(sb.tsr(['delete', '--force', det]).status, 0);
  t.same(leftovers(sb, det, detBundle), [], 'nothing left behind');
  t.ok(fs.existsSync(netns) && fileInode(netns) === ino, 'the namespace file is untouched');
});

t.test('ipc and uts namespaces bind-mounted on files the test owns', { skip: NEEDS_ROOT }, async (t) => {
  const dir = nsDir(t);
  const holder = await namespaceHolder(t, ['--ipc', '--uts'], 'ipc');
  const ipc = pinNamespace(t, `/proc/${holder}/ns/ipc`, path.join(dir, 'ipc'));
  const uts = pinNamespace(t, `/proc/${holder}/ns/uts`, path.join(dir, 'uts'));
  // Something to recognise each namespace by, from inside.
  t.equal(spawnSync('nsenter', [`--uts=${uts}`, 'hostname', 'pinned-uts']).status, 0, 'name the pinned uts namespace');
  const shm = spawnSync('nsenter', [`--ipc=${ipc}`, 'ipcmk', '-M', '4096'], { encoding: 'utf8' });
  const shmid = /(\d+)\s*$/.exec(shm.stdout)?.[1];
  t.ok(shmid, `a SysV shared memory segment in the pinned ipc namespace (${shm.stdout.trim()})`);
  // Only the bind mounts hold the namespaces from now on.
  process.kill(holder, 'SIGKILL');
  t.ok(await until(() => !isRunning(holder)), 'the process that made them is gone');

  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['sh', '-c', 'readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname; cat /proc/sysvipc/shm'], withNamespacePaths({ ipc, uts }));
  const r = sb.tsr(['run', '--bundle', bundle, id]);
  t.equal(r.stderr, '', 'no error');
  t.equal(r.status, 0, 'run exits 0');
  const [ipcLink, utsLink, hostname, ...shmTable] = r.stdout.trim().split('\n');
  t.equal(nsInode(ipcLink), fileInode(ipc), 'in the pinned ipc namespace');
  t.equal(nsInode(utsLink), fileInode(uts), 'in the pinned uts namespace');
  t.equal(hostname, 'pinned-uts', 'sees its hostname');
  t.ok(shmTable.slice(1).some((line) => line.trim().split(/\s+/)[1] === shmid), 'sees its shared memory segment');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

t.test('a namespace path that cannot be joined: one clear line, nothing made', { skip: NEEDS_ROOT }, async (t) => {
  const dir = nsDir(t);
  const netns = ipNetns(t, netnsName());
  const holder = await namespaceHolder(t, ['--uts'], 'uts');
  const uts = pinNamespace(t, `/proc/${holder}/ns/uts`, path.join(dir, 'uts'));
  const ownNet = pinNamespace(t, '/proc/self/ns/net', path.join(dir, 'host-net'));
  const plain = path.join(dir, 'plain');
  fs.writeFileSync(plain, '');
  const fifo = path.join(dir, 'fifo');
  t.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const sb = new Sandbox(t);

  // The template's namespaces are pid, network, ipc, uts, mount: network is [1], ipc [2].
  const cases: Array<[string, Record<string, string>, string, ((s: Spec) => void)?]> = [
    ['a regular file', { network: plain }, `linux.namespaces[1].path: ${plain} is not a namespace file (it is a regular file)`],
    ['a directory', { network: dir }, `linux.namespaces[1].path: ${dir} is not a namespace file (it is a directory)`],
    ['a fifo (not opened: nothing blocks)', { ipc: fifo }, `linux.namespaces[2].path: ${fifo} is not a namespace file (it is a fifo)`],
    ['a missing path', { network: path.join(dir, 'none') }, `linux.namespaces[1].path: ${path.join(dir, 'none')} does not exist`],
    ['a uts namespace given as the network one', { network: uts }, `linux.namespaces[1].path: ${uts} is a uts namespace, not a network namespace`],
    ['a network namespace given as the ipc one', { ipc: netns }, `linux.namespaces[2].path: ${netns} is a network namespace, not an ipc namespace`],
    [
      "the runtime's own network namespace, pinned, with a net sysctl",
      { network: ownNet },
      'linux.sysctl: sysctl "net.ipv4.ip_forward" is not allowed in the host\'s network namespace',
      (s) => (s.linux.sysctl = { 'net.ipv4.ip_forward': '1' }),
    ],
  ];
  for (const [name, paths, error, edit] of cases) {
    const id = sb.id();
    const bundle = sb.bundle(['true'], (s) => {
      withNamespacePaths(paths)(s);
      edit?.(s);
    });
    const r = sb.tsr(['create', '--bundle', bundle, id]);
    t.equal(r.status, 1, `${name}: refused`);
    t.equal(r.stderr, `tsruntime: ${error}\n`, `${name}: says why`);
    t.same(leftovers(sb, id, bundle), [], `${name}: nothing left behind`);
  }
});
