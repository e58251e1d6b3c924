/**
 * The same busybox bundle from `runc spec` (terminal false) under tsruntime and under runc:
 * what the process sees must be the same. runc is a test dependency (.ci/run installs it).
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawnSync } from 'child_process';
import { BIN, Sandbox, sharedBundleTemplate } from '../helpers/runtime';
import { RUNC, runcSpec } from '../helpers/runc';
import { waitSync } from '../helpers/wait';

// What the process can observe about itself; nothing here may differ between runtimes.
const PROBE = [
  'echo pid=$$',
  'hostname',
  'id',
  'grep -E "^(Cap|NoNewPrivs|Seccomp:)" /proc/self/status',
  'ls /',
  'ls -l /dev | grep -v -E "^total|pts|shm|mqueue" | while read mode n u g rest; do echo "$mode $u $g ${rest##* }"; done',
  'cat /proc/self/mountinfo | cut -d" " -f5,6 | grep -v -E "^/sys/fs/cgroup" | sort',
  'for f in /proc/kcore /proc/keys /sys/firmware; do ls -ld $f >/dev/null 2>&1 && echo "$f visible"; done',
  'touch /proc/sys/x 2>/dev/null || echo "proc/sys read-only"',
  'touch /newfile 2>/dev/null || echo "root read-only"',
  'ulimit -n',
  'umask',
  'pwd',
  'env | sort',
  'exit 3',
].join('; ');

function runcSpecBundle(sb: Sandbox): string {
  const dir = fs.mkdtempSync(path.join(sb.dir, 'runc-spec-'));
  const spec = runcSpec()!;
  spec.process.terminal = false;
  spec.process.args = ['sh', '-c', PROBE];
  spec.root.path = sharedBundleTemplate().rootfs;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}

function runWith(bin: string, root: string, bundle: string, id: string) {
  const r = spawnSync(bin, ['--root', root, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('a runc spec bundle behaves the same under tsruntime and runc', { skip: RUNC ? false : 'runc is not installed' }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = runcSpecBundle(sb);
  const runcRoot = path.join(sb.dir, 'runc-root');
  const id = sb.id();
  t.teardown(() => {
    spawnSync(RUNC!, ['--root', runcRoot, 'delete', '--force', id]);
  });
  const ours = runWith(BIN, sb.root, bundle, id);
  const theirs = runWith(RUNC!, runcRoot, bundle, id);
  t.equal(theirs.status, 3, `runc ran it (${theirs.stderr})`);
  t.equal(ours.status, 3, `tsruntime ran it (${ours.stderr})`);
  const a = ours.stdout.split('\n');
  const b = theirs.stdout.split('\n');
  t.same(a, b, 'identical view from inside');
});

t.test('create/start/state/delete: same state fields and transitions as runc', { skip: RUNC ? false : 'runc is not installed' }, async (t) => {
  const sb = new Sandbox(t);
  const dir = runcSpecBundle(sb);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  spec.process.args = ['sleep', '300'];
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  const runcRoot = path.join(sb.dir, 'runc-root');
  const id = sb.id();
  t.teardown(() => {
    spawnSync(RUNC!, ['--root', runcRoot, 'delete', '--force', id]);
  });
  const steps: Array<[string, string[]]> = [
    ['create', ['create', '--bundle', dir, id]],
    ['state', ['state', id]],
    ['start', ['start', id]],
    ['state', ['state', id]],
    ['start again', ['start', id]],
    ['delete running', ['delete', id]],
    ['kill', ['kill', id, 'KILL']],
  ];
  for (const [name, args] of steps) {
    // The container inherits create's stdio: a pipe there would stay open for its whole life.
    const stdio = name === 'create' ? 'ignore' : 'pipe';
    const ours = spawnSync(BIN, ['--root', sb.root, ...args], { encoding: 'utf8', stdio: ['ignore', stdio, stdio] });
    const theirs = spawnSync(RUNC!, ['--root', runcRoot, ...args], { encoding: 'utf8', stdio: ['ignore', stdio, stdio] });
    t.equal(ours.status, theirs.status, `${name}: same exit code (${theirs.status})`);
    if (name === 'state') {
      const o = JSON.parse(ours.stdout);
      const r = JSON.parse(theirs.stdout);
      t.same(Object.keys(o).sort(), Object.keys(r).sort(), 'same state fields');
      t.equal(o.status, r.status, `same status: ${r.status}`);
      t.equal(o.bundle, r.bundle);
      t.equal(o.rootfs, r.rootfs);
    }
  }
  for (const [bin, root] of [[BIN, sb.root], [RUNC!, runcRoot]]) {
    waitSync(() => spawnSync(bin, ['--root', root, 'state', id], { encoding: 'utf8' }).stdout.includes('"stopped"'));
    t.equal(spawnSync(bin, ['--root', root, 'delete', id]).status, 0, `${path.basename(bin)}: delete after stop`);
  }
});
