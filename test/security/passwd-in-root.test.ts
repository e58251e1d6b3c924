/**
 * HOME comes from the container's /etc/passwd, which the runtime reads from the host side (the
 * bundle rootfs at create, /proc/<pid>/root at exec). The file belongs to the image, or to the
 * running container: every path component must be resolved inside the container's root, the way
 * the container itself sees it (openat2 RESOLVE_IN_ROOT).
 *
 *  - a legitimate absolute symlink (/etc/passwd -> /etc/passwd.real) is followed inside the root;
 *  - a symlink to a host path (a file this test owns, with a marker home) is resolved inside the
 *    root (reaching an in-root decoy, or nothing), never on the host;
 *  - a container that swaps its /etc for a symlink to a host directory (this test's) while `exec`
 *    reads /etc/passwd never gets the host file read.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { PROJECT, Sandbox } from '../helpers/runtime';

const SWAP = path.join(PROJECT, 'native', 'build', 'passwd-swap');
const skip = process.getuid?.() !== 0 ? 'needs root: containers' : false;

const HOST_HOME = '/tsr-host-home-marker';

/** A file on the host, owned by the test, that an escape would read. */
function hostPasswd(sb: Sandbox): string {
  const file = path.join(sb.dir, 'host-passwd');
  fs.writeFileSync(file, `root:x:0:0:host:${HOST_HOME}:/bin/sh\n`);
  return file;
}

function homeOfRun(sb: Sandbox, bundle: string): string {
  const r = sb.tsr(['run', '--bundle', bundle, sb.id()]);
  if (r.status !== 0) throw new Error(`run: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * HOME of an exec'd process. The container's own env already has the HOME create computed, and
 * exec keeps it: --process with an env without HOME makes exec read /etc/passwd itself.
 */
function homeOfExec(sb: Sandbox, id: string): string {
  const file = path.join(sb.dir, 'exec-process.json');
  if (!fs.existsSync(file)) {
    const proc = { args: ['sh', '-c', 'echo "$HOME"'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } };
    fs.writeFileSync(file, JSON.stringify(proc));
  }
  const r = sb.tsr(['exec', '--process', file, id]);
  if (r.status !== 0) throw new Error(`exec: ${r.stderr}`);
  return r.stdout.trim();
}

/** A rootfs of its own whose /etc/passwd is arranged by `arrange(rootfs)`. */
function bundleWith(sb: Sandbox, args: string[], arrange: (rootfs: string) => void): string {
  const bundle = sb.bundle(args, undefined, true);
  const rootfs = path.join(bundle, 'rootfs');
  fs.rmSync(path.join(rootfs, 'etc', 'passwd'), { force: true });
  arrange(rootfs);
  return bundle;
}

function startDetached(sb: Sandbox, bundle: string): string {
  const id = sb.id();
  const r = sb.tsr(['run', '--detach', '--bundle', bundle, id]);
  if (r.status !== 0) throw new Error(`run --detach: ${r.stderr}`);
  return id;
}

t.test('an absolute symlink inside the rootfs is followed inside it', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const arrange = (rootfs: string) => {
    fs.writeFileSync(path.join(rootfs, 'etc', 'passwd.real'), 'root:x:0:0:root:/home/inroot-real:/bin/sh\n');
    fs.symlinkSync('/etc/passwd.real', path.join(rootfs, 'etc', 'passwd'));
  };
  t.equal(homeOfRun(sb, bundleWith(sb, ['sh', '-c', 'echo "$HOME"'], arrange)), '/home/inroot-real', 'create: HOME from /etc/passwd.real');
  const id = startDetached(sb, bundleWith(sb, ['sleep', '300'], arrange));
  t.equal(homeOfExec(sb, id), '/home/inroot-real', 'exec: HOME from /etc/passwd.real');
});

t.test('a symlink to a host path is resolved inside the root, never on the host', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const host = hostPasswd(sb);
  const decoy = 'root:x:0:0:decoy:/home/decoy-in-root:/bin/sh\n';
  const forms: Array<[string, string]> = [
    ['absolute', host],
    ['relative, climbing above /', `../../../../../../../..${host}`],
  ];
  for (const [form, target] of forms) {
    for (const withDecoy of [true, false]) {
      const arrange = (rootfs: string) => {
        fs.symlinkSync(target, path.join(rootfs, 'etc', 'passwd'));
        // The same path inside the rootfs: what the container itself reads through the link.
        if (withDecoy) {
          fs.mkdirSync(path.join(rootfs, path.dirname(host)), { recursive: true });
          fs.writeFileSync(path.join(rootfs, host), decoy);
        }
      };
      const expected = withDecoy ? '/home/decoy-in-root' : '/';
      const what = `${form} link${withDecoy ? ', in-root decoy' : ', nothing in root'}`;
      const created = homeOfRun(sb, bundleWith(sb, ['sh', '-c', 'echo "$HOME"'], arrange));
      t.not(created, HOST_HOME, `create (${what}): the host file was not read`);
      t.equal(created, expected, `create (${what}): resolved inside the root`);
      const id = startDetached(sb, bundleWith(sb, ['sleep', '300'], arrange));
      const execd = homeOfExec(sb, id);
      t.not(execd, HOST_HOME, `exec (${what}): the host file was not read`);
      t.equal(execd, expected, `exec (${what}): resolved inside the root`);
    }
  }
});

t.test('a container swapping /etc for a symlink during exec never gets a host file read', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const hostEtc = path.join(sb.dir, 'hostetc');
  fs.mkdirSync(hostEtc);
  fs.writeFileSync(path.join(hostEtc, 'passwd'), `root:x:0:0:host:${HOST_HOME}:/bin/sh\n`);
  const bundle = sb.bundle(['/passwd-swap', hostEtc], (spec) => (spec.root.readonly = false), true);
  fs.copyFileSync(SWAP, path.join(bundle, 'rootfs', 'passwd-swap'));
  fs.chmodSync(path.join(bundle, 'rootfs', 'passwd-swap'), 0o755);
  const id = startDetached(sb, bundle);
  const swapping = path.join(bundle, 'rootfs', '.swapping');
  for (let i = 0; i < 500 && !fs.existsSync(swapping); i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(fs.existsSync(swapping), 'the container is swapping /etc');
  // One read per exec, and the window is narrow: against a check-then-read runtime a few percent
  // of the execs read the host file. Stop at the first one.
  const seen = new Map<string, number>();
  for (let i = 0; i < 80 && !seen.has(HOST_HOME); i++) {
    const home = homeOfExec(sb, id);
    seen.set(home, (seen.get(home) ?? 0) + 1);
  }
  t.comment(`HOME seen: ${JSON.stringify(Object.fromEntries(seen))}`);
  t.notOk(seen.has(HOST_HOME), 'no exec got HOME from the host file');
  t.same([...seen.keys()].filter((h) => h !== '/' && h !== '/home/inroot'), [], 'HOME was always the in-root one or the default');
  t.ok(seen.has('/home/inroot') || seen.has(HOST_HOME), 'some execs read /etc/passwd while /etc was a directory (the race was on)');
  t.equal(sb.state(id).status, 'running', 'the container kept running');
});
