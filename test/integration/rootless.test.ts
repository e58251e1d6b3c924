/**
 * Rootless containers, as a plain user (made by the test, removed after): `spec --rootless` and
 * `run`, with the user's own ids and with subordinate ids through newuidmap/newgidmap; the state
 * under $XDG_RUNTIME_DIR; a container's life without a cgroup; what only root may have, refused
 * with words that say so; and a cgroup delegated to the user, used with its limits. Side by side
 * with runc where runc runs the same bundle. `npm run test:cgroup2` runs this file on pure cgroup
 * v2 too, where users cannot be made: there a bare uid stands in, and what needs subordinate ids
 * is skipped.
 */
import t, { Test } from 'tap';
import fs from 'fs';
import path from 'path';
import { sharedBundleTemplate } from '../helpers/runtime';
import { cannotAddUsers, DelegatedCgroup, onPath, TestUser } from '../helpers/rootless';
import { waitSync } from '../helpers/wait';

const NOT_ROOT = process.getuid?.() === 0 ? false : 'needs root (makes a test user)';
const NO_SUBIDS = NOT_ROOT || cannotAddUsers() || (!onPath('newuidmap') || !onPath('newgidmap') ? 'newuidmap/newgidmap are not installed (package uidmap)' : false);
const RUNC = onPath('runc');
const MiB = 1024 * 1024;

/** A bundle of the user's: its own copy of the busybox rootfs, and `tsruntime spec --rootless`. */
function rootlessBundle(t: Test, user: TestUser, name: string, edit?: (spec: Record<string, any>) => void): string {
  const dir = user.mkdir(name);
  fs.cpSync(sharedBundleTemplate().rootfs, path.join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
  chownTree(path.join(dir, 'rootfs'), user.uid, user.gid);
  const r = user.tsr(['spec', '--rootless'], { cwd: dir });
  t.equal(r.status, 0, `spec --rootless: ${r.stderr}`);
  const file = path.join(dir, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  spec.process.terminal = false;
  edit?.(spec);
  fs.writeFileSync(file, JSON.stringify(spec, null, 2));
  return dir;
}

function chownTree(p: string, uid: number, gid: number): void {
  fs.lchownSync(p, uid, gid);
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), uid, gid);
}

const args = (...a: string[]) => (spec: Record<string, any>) => (spec.process.args = a);
const stateDir = (u: TestUser) => path.join(u.xdg, 'tsruntime');
const stateEntries = (u: TestUser) => (fs.existsSync(stateDir(u)) ? fs.readdirSync(stateDir(u)) : []);

t.test('spec --rootless && run, as a plain user: its own ids, state under $XDG_RUNTIME_DIR/tsruntime, nothing left', { skip: NOT_ROOT }, async (t) => {
  const user = TestUser.any(t);
  const bundle = rootlessBundle(t, user, 'own-ids', args('sh', '-c', 'id -u; cat /proc/self/uid_map /proc/self/setgroups; exit 3'));
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  t.same(spec.linux.uidMappings, [{ containerID: 0, hostID: user.uid, size: 1 }], "spec --rootless maps the caller's uid");
  t.notOk(spec.linux.namespaces.some((n: { type: string }) => n.type === 'network'), 'and needs no network namespace');

  const r = user.tsr(['run', 'own-ids'], { cwd: bundle });
  t.equal(r.status, 3, `the container's exit code: ${r.stderr}`);
  t.match(r.stdout, new RegExp(`^0\\n\\s*0\\s+${user.uid}\\s+1\\ndeny\\n$`), 'root in the container is the user; setgroups denied (no newgidmap)');
  const st = fs.statSync(stateDir(user));
  t.equal(st.mode & 0o7777, 0o1700, 'the state root is private and sticky, as runc makes its own');
  t.equal(st.uid, user.uid);
  t.same(stateEntries(user), [], 'nothing left in it');

  if (RUNC) {
    const runc = user.run([RUNC, 'run', 'own-ids-runc'], { cwd: bundle });
    t.same({ status: runc.status, stdout: runc.stdout }, { status: r.status, stdout: r.stdout }, `runc does the same: ${runc.stderr}`);
  }
});

t.test('subordinate ids: newuidmap and newgidmap write the maps; uid 1000 in the container is subuid+999 on the host', { skip: NO_SUBIDS }, async (t) => {
  const user = TestUser.create(t);
  t.ok(user.subuid && user.subgid, `useradd gave ${user.name} subordinate ids`);
  const { start: su } = user.subuid!;
  const { start: sg } = user.subgid!;
  const bundle = rootlessBundle(t, user, 'subids', (spec) => {
    spec.root.readonly = false;
    spec.linux.uidMappings.push({ containerID: 1, hostID: su, size: 65536 });
    spec.linux.gidMappings.push({ containerID: 1, hostID: sg, size: 65536 });
    spec.process.user = { uid: 1000, gid: 1000, additionalGids: [10] };
    spec.process.args = ['sh', '-c', 'id -u; id -G; cat /proc/self/uid_map; touch /tmp/made-by-1000'];
  });
  const r = user.tsr(['run', 'subids'], { cwd: bundle });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^1000\\n1000 10\\n\\s*0\\s+${user.uid}\\s+1\\n\\s*1\\s+${su}\\s+65536\\n$`), 'both ranges mapped; additional groups allowed');
  const made = fs.statSync(path.join(bundle, 'rootfs', 'tmp', 'made-by-1000'));
  t.same([made.uid, made.gid], [su + 999, sg + 999], 'the file belongs to the subordinate ids on the host');
  t.same(stateEntries(user), []);
});

t.test('newuidmap refusing a range: the error names the helper and the ranges; nothing is left', { skip: NO_SUBIDS }, async (t) => {
  const user = TestUser.create(t);
  const notMine = user.subuid!.start + user.subuid!.count + 1_000_000;
  const bundle = rootlessBundle(t, user, 'refused', (spec) => {
    spec.linux.uidMappings.push({ containerID: 1, hostID: notMine, size: 100 });
  });
  const r = user.tsr(['run', 'refused'], { cwd: bundle });
  t.equal(r.status, 1);
  t.match(r.stderr, new RegExp(`^tsruntime: linux\\.uidMappings: newuidmap refused to map 0 ${user.uid} 1, 1 ${notMine} 100: newuidmap: .*; the host ids must be the caller's own or its subordinate ids in /etc/subuid\\n$`));
  t.same(stateEntries(user), [], 'no state left');
  t.same(user.processes(), [], 'no process left');
});

t.test("a container's life without a cgroup: create, start, exec, ps, kill --all, delete; pause and update say why they cannot", { skip: NOT_ROOT }, async (t) => {
  const user = TestUser.any(t);
  const bundle = rootlessBundle(t, user, 'life', args('sleep', '300'));
  const tsr = (a: string[]) => user.tsr(a, { cwd: bundle });
  t.teardown(() => tsr(['delete', '--force', 'life']));
  let r = tsr(['create', 'life']);
  t.equal(r.status, 0, r.stderr);
  t.equal(tsr(['start', 'life']).status, 0);
  const state = JSON.parse(tsr(['state', 'life']).stdout);
  t.equal(state.status, 'running');
  t.equal(fs.readFileSync(`/proc/${state.pid}/cgroup`, 'utf8'), fs.readFileSync('/proc/self/cgroup', 'utf8'), 'no cgroup of its own: where the runtime was');

  r = tsr(['exec', 'life', 'sh', '-c', 'id -u; echo exec-ok']);
  t.same([r.status, r.stdout], [0, '0\nexec-ok\n'], r.stderr);
  t.equal(tsr(['exec', '--detach', 'life', 'sleep', '200']).status, 0);
  r = tsr(['ps', '--format', 'json', 'life']);
  const pids: number[] = JSON.parse(r.stdout || '[]');
  t.equal(pids.length, 2, `ps finds the init and the exec'd process through the pid namespace: ${r.stdout}${r.stderr}`);
  t.ok(pids.includes(state.pid));

  r = tsr(['pause', 'life']);
  t.equal(r.status, 1);
  t.match(r.stderr, /^tsruntime: pause: container life has no cgroup: it was created rootless without one \(no write access to .+\), and pause needs one\n$/);
  r = tsr(['update', '--memory', '64m', 'life']);
  t.match(r.stderr, /^tsruntime: update: container life has no cgroup: .*and update needs one\n$/);

  t.equal(tsr(['kill', '--all', 'life', 'KILL']).status, 0);
  t.ok(waitSync(() => JSON.parse(tsr(['state', 'life']).stdout).status === 'stopped', 5000), 'every process got the signal');
  t.same(pids.filter((p) => fs.existsSync(`/proc/${p}/status`) && !/State:\s+Z/.test(fs.readFileSync(`/proc/${p}/status`, 'utf8'))), [], 'both are gone');
  t.equal(tsr(['delete', 'life']).status, 0);
  t.same(stateEntries(user), []);
});

t.test('what only root may have is refused, saying it is a rootless limit', { skip: NOT_ROOT }, async (t) => {
  const user = TestUser.any(t);
  const cases: Array<[string, (spec: Record<string, any>) => void, RegExp, string[]?]> = [
    ['resources', (s) => (s.linux.resources = { memory: { limit: 64 * MiB } }),
      /^tsruntime: linux\.resources\.memory\.limit: cannot set memory limit: container could not join or create cgroup \(rootless: no write access to .+\); run from a cgroup delegated to this user/],
    ['cgroups-path', (s) => (s.linux.cgroupsPath = '/mine'), /^tsruntime: linux\.cgroupsPath: cannot create cgroup \/mine in a rootless container: no write access to /],
    ['rootless-false', () => {}, /^tsruntime: create cgroup \/tsruntime\/rootless-false: EACCES: tsruntime runs without root here/, ['--rootless', 'false']],
    ['oom', (s) => (s.process.oomScoreAdj = -500), /^tsruntime: process\.oomScoreAdj: -500 is below the runtime's own \(-?\d+\): a rootless container \(uid \d+\) can only raise it/],
    ['fifo', (s) => (s.process.scheduler = { policy: 'SCHED_FIFO', priority: 1 }), /^tsruntime: container init: set scheduler SCHED_FIFO: EPERM \(operation not permitted\): a rootless container cannot do this/],
    ['no-userns', (s) => {
      s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'user');
      delete s.linux.uidMappings;
      delete s.linux.gidMappings;
    }, /^tsruntime: linux\.namespaces: rootless container requires user namespaces/],
    ['mount-uid', (s) => s.mounts.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['uid=5'] }), /^tsruntime: mounts: \/mnt: cannot specify uid=5 mount option for rootless container/],
  ];
  for (const [id, edit, expected, global] of cases) {
    const bundle = rootlessBundle(t, user, id, edit);
    const r = user.tsr([...(global ?? []), 'run', id], { cwd: bundle });
    t.equal(r.status, 1, `${id}: exit 1`);
    t.match(r.stderr, expected, id);
  }
  const bundle = rootlessBundle(t, user, 'no-xdg');
  const r = user.tsr(['run', 'no-xdg'], { cwd: bundle, env: { XDG_RUNTIME_DIR: undefined } });
  t.match(r.stderr, /^tsruntime: create the state (root|of container no-xdg) in \/run\/tsruntime: EACCES \(permission denied\): tsruntime runs as uid \d+, which may not write there: set XDG_RUNTIME_DIR/, 'no XDG_RUNTIME_DIR: says what to set');
  t.notMatch(r.stderr, /internal error/);
  t.same(stateEntries(user), [], 'none of them left state');
  t.same(user.processes(), [], 'nor a process');
});

t.test('a cgroup delegated to the user is used: its limits apply, and delete from elsewhere removes it', { skip: NOT_ROOT }, async (t) => {
  const user = TestUser.any(t);
  const delegated = new DelegatedCgroup(t, user);
  const limits = [
    'if [ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max;',
    "else p=$(sed -n 's/^0:://p' /proc/self/cgroup); cat /sys/fs/cgroup$p/memory.max /sys/fs/cgroup$p/pids.max; fi",
  ].join(' ');
  const bundle = rootlessBundle(t, user, 'delegated', (s) => {
    s.root.readonly = false;
    s.linux.resources = { memory: { limit: 64 * MiB }, pids: { limit: 42 } };
    s.linux.namespaces.push({ type: 'cgroup' });
    s.process.args = ['sh', '-c', `(${limits}) > /tmp/limits`];
  });
  // Only create runs in the delegated cgroup (its default cgroup is found from there); start and
  // delete run from elsewhere and must find it all the same.
  const r = user.tsr(['create', 'delegated'], { cwd: bundle, before: delegated.enter() });
  t.teardown(() => user.tsr(['delete', '--force', 'delegated']));
  t.equal(r.status, 0, r.stderr);
  const made = delegated.containerDirs('delegated');
  t.ok(made.length > 0, `the container's cgroup is below the delegated one: ${made.join(', ')}`);
  for (const d of made) t.equal(fs.statSync(d).uid, user.uid, `${d} is the user's`);
  t.equal(user.tsr(['start', 'delegated']).status, 0);
  t.ok(waitSync(() => JSON.parse(user.tsr(['state', 'delegated']).stdout).status === 'stopped', 10_000), 'the container ran');
  // The user could make its cgroup nowhere else: limits seen inside mean it used the delegated one.
  t.equal(fs.readFileSync(path.join(bundle, 'rootfs', 'tmp', 'limits'), 'utf8'), `${64 * MiB}\n42\n`, 'memory and pids limits, as the container saw them');
  const del = user.tsr(['delete', 'delegated']);
  t.equal(del.status, 0, del.stderr);
  t.same(delegated.containerDirs('delegated'), [], 'delete removed its cgroup');
  t.same(stateEntries(user), []);
});
