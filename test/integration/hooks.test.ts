/** OCI hooks: each kind runs at its point of the lifecycle, with the container state on stdin. */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { Sandbox, NEEDS_ROOT } from '../helpers/runtime';

t.test('host hooks run in order, with the state on stdin', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const log = path.join(sb.dir, 'hooks.log');
  // Each host hook appends "<name> <state JSON>" to the log.
  const hostHook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `printf '%s %s\\n' ${name} "$(cat)" >> ${log}`] });
  const id = sb.id();
  const bundle = sb.bundle(['true'], (s) => {
    s.hooks = {
      prestart: [hostHook('prestart')],
      createRuntime: [hostHook('createRuntime')],
      createContainer: [hostHook('createContainer')],
      poststart: [hostHook('poststart')],
      poststop: [hostHook('poststop')],
    };
  });
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  const created = fs.readFileSync(log, 'utf8').trim().split('\n');
  t.same(created.map((l) => l.split(' ')[0]), ['prestart', 'createRuntime', 'createContainer'], 'create runs the create-time hooks in order');
  const state = JSON.parse(created[1].slice(created[1].indexOf(' ') + 1));
  t.equal(state.id, id, 'state on stdin names the container');
  t.equal(state.pid, sb.state(id).pid, 'with the init pid');
  t.equal(state.bundle, fs.realpathSync(bundle));
  for (const line of created) {
    // runtime.md: the environment exists (step 2) before these hooks (steps 3-5), so "created".
    t.equal(JSON.parse(line.slice(line.indexOf(' ') + 1)).status, 'created', `${line.split(' ')[0]} sees status created`);
  }

  const r = sb.tsr(['start', id]);
  t.equal(r.status, 0, r.stderr);
  t.ok(sb.waitStatus(id, 'stopped'), 'the process ran and exited');
  t.match(fs.readFileSync(log, 'utf8'), /\npoststart \{/, 'poststart ran after start');
  t.equal(sb.tsr(['delete', id]).status, 0);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
  t.equal(lines[lines.length - 1].split(' ')[0], 'poststop', 'poststop ran at delete');
});

t.test('startContainer: the state reaches a hook inside the container, before the process', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['sh', '-c', 'cat /dev/shm/start-state; echo; cat /dev/shm/hook-env'], (s) => {
    s.hooks = {
      startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat > /dev/shm/start-state; echo "$HOOK_VAR" > /dev/shm/hook-env'], env: ['HOOK_VAR=from-hook'] }],
    };
  });
  const r = sb.tsr(['run', '--bundle', bundle, id]);
  t.equal(r.status, 0, r.stderr);
  const [json, env] = r.stdout.trim().split('\n');
  const state = JSON.parse(json);
  t.equal(state.id, id);
  t.equal(state.status, 'created');
  t.equal(state.pid, 1, "the init's own pid, in its pid namespace");
  t.equal(env, 'from-hook', "the hook's env");
});

t.test('a failing startContainer hook keeps the process from running', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['sh', '-c', 'echo SHOULD-NOT-RUN'], (s) => {
    s.hooks = { startContainer: [{ path: '/bin/false' }] };
  });
  const r = sb.tsr(['run', '--bundle', bundle, id]);
  t.not(r.status, 0, 'run fails');
  t.notMatch(r.stdout, /SHOULD-NOT-RUN/);
  t.match(r.stderr, /startContainer hook \/bin\/false failed/);
});

t.test('a failing poststart hook is a warning; the container runs on', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['sleep', '300'], (s) => {
    s.hooks = { poststart: [{ path: '/bin/false' }] };
  });
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  const r = sb.tsr(['start', id]);
  t.equal(r.status, 0, 'start succeeds');
  t.match(r.stderr, /poststart hook #0 \(\/bin\/false\): exit status 1/, 'the failure is reported');
  t.equal(sb.state(id).status, 'running');
});

t.test('a deprecated prestart hook is run, with a warning from create', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['true'], (s) => {
    s.hooks = { prestart: [{ path: '/bin/true' }] };
  });
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.equal(r.status, 0, `create: ${r.stderr}`);
  t.match(r.stderr, /level=warning msg="hooks\.prestart: deprecated; use createRuntime"/, 'the warning reaches stderr');
  t.equal(sb.tsr(['delete', '--force', id]).status, 0);
});

t.test('after a failing poststart or poststop hook the remaining ones still run (runtime.md)', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const log = path.join(sb.dir, 'after.log');
  const mark = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `echo ${name} >> ${log}`] });
  const bundle = sb.bundle(['sleep', '300'], (s) => {
    s.hooks = {
      poststart: [{ path: '/bin/false' }, mark('poststart-2'), { path: '/bin/false' }, mark('poststart-4')],
      poststop: [{ path: '/bin/false' }, mark('poststop-2')],
    };
  });
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0);
  const started = sb.tsr(['start', id]);
  t.equal(started.status, 0, 'start succeeds');
  t.match(started.stderr, /poststart hook #0 .*exit status 1/);
  t.match(started.stderr, /poststart hook #2 .*exit status 1/, 'each failure is warned about');
  const deleted = sb.tsr(['delete', '--force', id]);
  t.equal(deleted.status, 0, 'delete succeeds');
  t.match(deleted.stderr, /poststop hook #0 .*exit status 1/);
  t.same(fs.readFileSync(log, 'utf8').trim().split('\n'), ['poststart-2', 'poststart-4', 'poststop-2'], 'the hooks after each failure ran');
});
