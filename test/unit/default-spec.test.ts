import { t } from 'tap';
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { defaultSpec } from '../../src/spec/default-spec';
import { OCI_VERSION } from '../../src/spec/version';
import { RUNC, runcSpec } from '../helpers/runc';

// Repo root, from either test/unit (ts-node style) or dist/test/unit (compiled).
function repoRoot(): string {
  let dir = __dirname;
  while (dir !== path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'scripts'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('repo root not found');
}

t.test('defaults', async (t) => {
  const s = defaultSpec() as any;
  t.equal(s.ociVersion, OCI_VERSION);
  t.equal(s.ociVersion, '1.2.0');
  t.equal(s.process.terminal, true);
  t.same(s.process.args, ['sh']);
  t.same(s.root, { path: 'rootfs', readonly: true });
  t.equal(s.hostname, 'runc');
  t.same(
    s.linux.namespaces.map((n: any) => n.type),
    ['pid', 'network', 'ipc', 'uts', 'mount'],
  );
});

t.test('args option, and results are independent copies', async (t) => {
  const args = ['/bin/echo', 'hi'];
  const a = defaultSpec({ args }) as any;
  t.same(a.process.args, ['/bin/echo', 'hi']);
  args.push('mutated');
  t.same(a.process.args, ['/bin/echo', 'hi'], 'args array is copied');
  a.process.capabilities.bounding.push('CAP_SYS_ADMIN');
  a.mounts.pop();
  const b = defaultSpec() as any;
  t.equal(b.process.capabilities.bounding.length, 3);
  t.equal(b.mounts.length, 7);
  t.not(a.process.capabilities.bounding, a.process.capabilities.effective, 'capability sets are distinct arrays');
});

t.test('rootless', async (t) => {
  const s = defaultSpec({ rootless: true }) as any;
  const uid = process.geteuid!();
  const gid = process.getegid!();
  t.same(s.linux.namespaces.map((n: any) => n.type), ['pid', 'ipc', 'uts', 'mount', 'user']);
  t.same(s.linux.uidMappings, [{ containerID: 0, hostID: uid, size: 1 }]);
  t.same(s.linux.gidMappings, [{ containerID: 0, hostID: gid, size: 1 }]);
  t.notOk('resources' in s.linux, 'no cgroup resources');
  const sys = s.mounts.find((m: any) => m.destination === '/sys');
  t.same(sys, { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  const pts = s.mounts.find((m: any) => m.destination === '/dev/pts');
  t.notOk(pts.options.some((o: string) => o.startsWith('gid=')), 'gid= dropped from devpts');
  // rootless must not alter the non-rootless result
  t.ok((defaultSpec() as any).mounts[2].options.includes('gid=5'));
});

for (const rootless of [false, true]) {
  const skip = RUNC ? false : 'runc not installed';
  t.test(`matches \`runc spec${rootless ? ' --rootless' : ''}\``, { skip }, async (t) => {
    const runc = runcSpec(rootless)!;
    const ours = defaultSpec({ rootless }) as any;
    t.same(ours.mounts, runc.mounts, 'mounts');
    t.same(ours.linux.namespaces, runc.linux.namespaces, 'namespaces');
    t.same(ours.linux.maskedPaths, runc.linux.maskedPaths, 'maskedPaths');
    t.same(ours.linux.readonlyPaths, runc.linux.readonlyPaths, 'readonlyPaths');
    t.same(ours.process.capabilities, runc.process.capabilities, 'capabilities');
    t.same(ours.process.rlimits, runc.process.rlimits, 'rlimits');
    t.same(ours.linux.resources, runc.linux.resources, 'resources');
    t.same(ours.linux.uidMappings, runc.linux.uidMappings, 'uidMappings');
    t.same(ours.linux.gidMappings, runc.linux.gidMappings, 'gidMappings');
    // Everything else, including key order, except the ociVersion we choose ourselves.
    const strip = (o: any) => JSON.stringify({ ...o, ociVersion: undefined }, null, '\t');
    t.equal(strip(ours), strip(runc), 'whole document, same key order');
  });
}

const noBusybox = fs.existsSync('/bin/busybox') ? false : '/bin/busybox missing (apt-get install busybox-static)';
t.test('scripts/make-bundle.sh writes the default spec with its documented changes', { skip: noBusybox }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsruntime-bundle-'));
  try {
    const bundle = path.join(dir, 'b');
    const script = path.join(repoRoot(), 'scripts', 'make-bundle.sh');
    execFileSync('bash', [script, bundle, 'echo', 'a b'], { stdio: 'pipe' });
    // idempotent: a second run over the same directory succeeds
    execFileSync('bash', [script, bundle, 'echo', 'a b'], { stdio: 'pipe' });
    const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    const expected = defaultSpec({ args: ['echo', 'a b'] }) as any;
    expected.process.terminal = false;
    expected.hostname = 'tsruntime';
    t.same({ ...cfg, ociVersion: undefined }, { ...expected, ociVersion: undefined });
    t.equal(cfg.ociVersion, '1.0.2-dev');
    t.ok(fs.lstatSync(path.join(bundle, 'rootfs/bin/sh')).isSymbolicLink());
    t.equal(fs.readFileSync(path.join(bundle, 'rootfs/etc/hostname'), 'utf8').trim(), 'tsruntime');
    for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc', 'root']) {
      t.ok(fs.statSync(path.join(bundle, 'rootfs', d)).isDirectory(), `rootfs/${d}`);
    }
    const dflt = path.join(dir, 'd');
    execFileSync('bash', [script, dflt], { stdio: 'pipe' });
    t.same(JSON.parse(fs.readFileSync(path.join(dflt, 'config.json'), 'utf8')).process.args, ['sh']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
