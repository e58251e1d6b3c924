/** create → start → state → kill → delete, and run, with real containers. */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import os from 'os';
import { spawn, ChildProcess } from 'child_process';
import { BIN, Sandbox, cgroupRoots, leftovers, NEEDS_ROOT } from '../helpers/runtime';
import { isRunning, until } from '../helpers/wait';

t.test('create, start, state, kill, delete', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '300']);
  const pidFile = path.join(sb.dir, 'init.pid');

  const created = sb.tsr(['create', '--bundle', bundle, '--pid-file', pidFile, id]);
  t.equal(created.status, 0, `create: ${created.stderr}`);
  const st = sb.state(id);
  t.equal(st.status, 'created');
  t.equal(st.id, id);
  t.equal(st.bundle, fs.realpathSync(bundle));
  t.ok(st.pid > 0, 'state has the init pid');
  t.equal(fs.readFileSync(pidFile, 'utf8'), String(st.pid), 'pid file holds the init pid');
  t.ok(fs.existsSync(`/proc/${st.pid}`), 'init exists');
  t.match(st.created, /^\d{4}-\d\d-\d\dT/);

  const list = sb.tsr(['list', '--format', 'json']);
  t.same(JSON.parse(list.stdout).map((c: { id: string }) => c.id), [id], 'list shows it');

  t.equal(sb.tsr(['start', id]).status, 0, 'start');
  t.equal(sb.state(id).status, 'running');
  t.equal(sb.tsr(['kill', id, '0']).status, 0, 'kill 0: the init lives (runc answers so too)');
  t.equal(sb.state(id).status, 'running', 'and signal 0 sent nothing');
  const again = sb.tsr(['start', id]);
  t.equal(again.status, 1, 'second start fails');
  t.match(again.stderr, /cannot start an already running container/);

  const del = sb.tsr(['delete', id]);
  t.equal(del.status, 1, 'delete of a running container without --force fails');
  t.match(del.stderr, /cannot delete container .* that is not stopped: running/);

  t.equal(sb.tsr(['kill', id, 'KILL']).status, 0, 'kill KILL');
  t.ok(sb.waitStatus(id, 'stopped'), 'stopped after kill');
  t.equal(sb.state(id).pid, 0, 'a stopped container reports pid 0');
  const killStopped = sb.tsr(['kill', id]);
  t.equal(killStopped.status, 1, 'kill of a stopped container fails');
  t.match(killStopped.stderr, /container not running/);
  const zeroStopped = sb.tsr(['kill', id, '0']);
  t.equal(zeroStopped.status, 1, 'kill 0 of a stopped one fails: it does not live');
  t.match(zeroStopped.stderr, /container not running/);
  const startStopped = sb.tsr(['start', id]);
  t.match(startStopped.stderr, /cannot start a container that has stopped/);

  t.equal(sb.tsr(['delete', id]).status, 0, 'delete');
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
  const gone = sb.tsr(['state', id]);
  t.equal(gone.status, 1);
  t.match(gone.stderr, new RegExp(`container ${id} does not exist`));
  t.equal(sb.tsr(['delete', '--force', id]).status, 0, 'delete --force of a missing container succeeds (containerd does this)');
  t.equal(sb.tsr(['delete', id]).status, 1, 'plain delete of a missing container fails');
});

t.test('kill signal forms and the default SIGTERM', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  // A trap makes the pid-1 shell honour SIGTERM/SIGUSR1 (a pid-namespace init ignores
  // signals it has no handler for).
  const bundle = sb.bundle(['sh', '-c', 'trap "exit 7" TERM; trap "exit 8" USR1; touch /dev/shm/traps-set; while :; do sleep 0.05; done']);
  for (const [sig, name] of [[undefined, 'default'], ['SIGUSR1', 'SIGUSR1'], ['usr1', 'usr1'], ['15', '15'], ['TERM', 'TERM']] as const) {
    const id = sb.id();
    t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
    t.equal(sb.tsr(['start', id]).status, 0);
    t.ok(await until(() => sb.tsr(['exec', id, 'test', '-e', '/dev/shm/traps-set']).status === 0), 'traps set');
    const r = sb.tsr(sig ? ['kill', id, sig] : ['kill', id]);
    t.equal(r.status, 0, `kill ${name}: ${r.stderr}`);
    t.ok(sb.waitStatus(id, 'stopped'), `stopped after ${name}`);
    t.equal(sb.tsr(['delete', id]).status, 0);
  }
  const id = sb.id();
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  const bad = sb.tsr(['kill', id, 'SIGNOPE']);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /unknown signal "SIGNOPE"/);
});

t.test('delete --force of a running container and of a created one', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['sleep', '300']);
  const running = sb.id();
  t.equal(sb.tsr(['run', '--detach', '--bundle', bundle, running]).status, 0);
  t.equal(sb.state(running).status, 'running');
  const pid = sb.state(running).pid;
  t.equal(sb.tsr(['delete', '--force', running]).status, 0);
  t.same(leftovers(sb, running, bundle), []);
  t.notOk(isRunning(pid), 'init is gone');

  const created = sb.id();
  t.equal(sb.tsr(['create', '--bundle', bundle, created]).status, 0);
  t.equal(sb.tsr(['delete', created]).status, 0, 'a created container is deleted without --force, as runc does');
  t.same(leftovers(sb, created, bundle), []);
});

// A container with its own pid namespace is empty once its init is dead (the kernel took the
// rest of the namespace with it), so delete removes its cgroup without reading it first; a process
// put there from outside (cgexec, an admin) makes that removal fail, and delete must still kill it.
t.test('delete kills a host process put into a stopped container\'s cgroup, and removes the cgroup', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['sleep', '300']);
  const id = sb.id();
  t.equal(sb.tsr(['run', '--detach', '--bundle', bundle, id]).status, 0);
  const outsider = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => outsider.kill('SIGKILL'));
  const dirs = cgroupRoots().map((base) => path.join(base, 'tsruntime', id)).filter((d) => fs.existsSync(d));
  t.ok(dirs.length > 0, `the container's cgroup: ${dirs.join(', ')}`);
  for (const dir of dirs) fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(outsider.pid));
  t.equal(sb.tsr(['kill', id, 'KILL']).status, 0);
  t.ok(sb.waitStatus(id, 'stopped'), 'stopped: its init is dead');
  t.ok(isRunning(outsider.pid!), 'the outsider outlived the init (not in its pid namespace)');
  const exited = new Promise((resolve) => outsider.once('exit', (_code, sig) => resolve(sig)));
  const del = sb.tsr(['delete', id]);
  t.equal(del.status, 0, `delete: ${del.stderr}`);
  t.equal(await exited, 'SIGKILL', 'the outsider was killed with the cgroup');
  t.same(leftovers(sb, id, bundle), [], 'the cgroup and the state are gone');
});

t.test('delete of a container recorded before cgroup directories were: its driver finds the cgroup', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['sleep', '300']);
  const id = sb.id();
  t.equal(sb.tsr(['run', '--detach', '--bundle', bundle, id]).status, 0);
  const record = path.join(sb.root, id, 'state.json');
  const rec = JSON.parse(fs.readFileSync(record, 'utf8'));
  t.ok(rec.cgroupDirs?.length > 0, 'create records them now');
  delete rec.cgroupDirs;
  fs.writeFileSync(record, JSON.stringify(rec));
  const del = sb.tsr(['delete', '--force', id]);
  t.equal(del.status, 0, `delete --force: ${del.stderr}`);
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});

// runc pauses a created container too; its status is then "paused" (the freezer is looked at
// before the exec fifo), so it resumes, and delete --force thaws it before the kill.
t.test('a created container paused: state, start refused, resume, start; delete --force of one', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['sleep', '300']);
  const id = sb.id();
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  t.equal(sb.tsr(['pause', id]).status, 0, 'pause of a created container');
  t.equal(sb.state(id).status, 'paused');
  const start = sb.tsr(['start', id]);
  t.equal(start.status, 1);
  t.match(start.stderr, /cannot start a container in the paused state/);
  t.equal(sb.tsr(['resume', id]).status, 0, 'resume');
  t.equal(sb.state(id).status, 'created', 'created again');
  t.equal(sb.tsr(['start', id]).status, 0, 'start after resume');
  t.equal(sb.state(id).status, 'running');

  const paused = sb.id();
  t.equal(sb.tsr(['create', '--bundle', bundle, paused]).status, 0);
  const pid = sb.state(paused).pid;
  t.equal(sb.tsr(['pause', paused]).status, 0);
  const refused = sb.tsr(['delete', paused]);
  t.equal(refused.status, 1, 'delete without --force refuses a paused container');
  t.match(refused.stderr, /that is not stopped: paused/);
  const forced = sb.tsr(['delete', '--force', paused]);
  t.equal(forced.status, 0, `delete --force of a paused created container${forced.stderr ? `: ${forced.stderr.trim()}` : ''}`);
  t.same(leftovers(sb, paused, bundle), []);
  t.notOk(isRunning(pid), 'its init is gone');
});

t.test('duplicate id and bad ids', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['sleep', '300']);
  const id = sb.id();
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  const dup = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(dup.status, 1);
  t.match(dup.stderr, new RegExp(`container with id exists: ${id}`));
  t.equal(sb.state(id).status, 'created', 'the first container is untouched');
  const bad = sb.tsr(['create', '--bundle', bundle, 'a/b']);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /invalid id format: a\/b/);
  const none = sb.tsr(['create', '--bundle', bundle]);
  t.equal(none.status, 1);
  t.match(none.stderr, /requires a container id/);
});

t.test('run: exit codes, pid 1, hostname, stdout', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const cases: Array<[string[], number]> = [
    [['true'], 0],
    [['sh', '-c', 'exit 3'], 3],
  ];
  for (const [args, code] of cases) {
    const id = sb.id();
    const r = sb.tsr(['run', '--bundle', sb.bundle(args), id]);
    t.equal(r.status, code, `${args.join(' ')} exits ${code} (${r.stderr})`);
    t.notOk(fs.existsSync(path.join(sb.root, id)), 'run deletes the container afterwards');
  }
  const id = sb.id();
  const r = sb.tsr(['run', '--bundle', sb.bundle(['sh', '-c', 'echo pid=$$; hostname; cat /proc/1/cmdline | tr "\\0" " "']), id]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^pid=1\n/, 'the process is pid 1');
  t.match(r.stdout, /\ntsruntime\n/, 'hostname from config');
  t.match(r.stdout, /sh -c echo pid/, 'pid 1 is the configured process');
});

t.test('run: killed by SIGKILL exits 137; signals to run reach the container', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  // pid 1 of a pid namespace cannot SIGKILL itself: the kill comes from outside, via `kill`.
  const killed = sb.id();
  const run = spawnRun(sb, sb.bundle(['sleep', '300']), killed);
  t.ok(await until(() => sb.tsr(['state', killed]).stdout.includes('"running"')), 'running');
  t.equal(sb.tsr(['kill', killed, 'KILL']).status, 0);
  t.equal(await run, 137, 'run exits 128+9');

  const trapped = sb.id();
  const child = spawnRunChild(sb, sb.bundle(['sh', '-c', 'trap "exit 7" TERM; touch /dev/shm/trap-set; while :; do sleep 0.05; done']), trapped);
  t.ok(await until(() => sb.tsr(['state', trapped]).stdout.includes('"running"')), 'running');
  t.ok(await until(() => sb.tsr(['exec', trapped, 'test', '-e', '/dev/shm/trap-set']).status === 0), 'trap set');
  child.proc.kill('SIGTERM');
  t.equal(await child.exit, 7, 'SIGTERM to run was forwarded to the container, which exited 7');
});

t.test('each namespace is new; the rootfs is the bundle one', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const marker = `marker-${process.pid}-${Date.now()}`;
  const bundle = sb.bundle(['sh', '-c', 'for n in pid net ipc uts mnt; do echo $n $(readlink /proc/self/ns/$n); done; ls /; ls /work 2>&1; echo end'], undefined, true);
  fs.writeFileSync(path.join(bundle, 'rootfs', marker), 'x');
  const r = sb.tsr(['run', '--bundle', bundle, sb.id()]);
  t.equal(r.status, 0, r.stderr);
  for (const n of ['pid', 'net', 'ipc', 'uts', 'mnt']) {
    const inside = new RegExp(`^${n} (.*)$`, 'm').exec(r.stdout)?.[1];
    t.ok(inside, `${n} namespace link read inside`);
    t.not(inside, fs.readlinkSync(`/proc/self/ns/${n}`), `${n} namespace differs from the host's`);
  }
  t.match(r.stdout, new RegExp(`^${marker}$`, 'm'), 'the marker file of the bundle rootfs is at /');
  t.match(r.stdout, /ls: \/work: No such file or directory/, "the host's / is not reachable");
});

t.test('state after the process exits by itself', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['true']);
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  t.equal(sb.tsr(['start', id]).status, 0);
  t.ok(sb.waitStatus(id, 'stopped'), 'stopped once the process exited');
  t.equal(sb.tsr(['delete', id]).status, 0);
  t.same(leftovers(sb, id, bundle), []);
});

function spawnRunChild(sb: Sandbox, bundle: string, id: string): { proc: ChildProcess; exit: Promise<number> } {
  const proc = spawn(BIN, ['--root', sb.root, 'run', '--bundle', bundle, id], { stdio: 'ignore' });
  const exit = new Promise<number>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? 128 + (sig ? os.constants.signals[sig] : 0))));
  return { proc, exit };
}

function spawnRun(sb: Sandbox, bundle: string, id: string): Promise<number> {
  return spawnRunChild(sb, bundle, id).exit;
}

