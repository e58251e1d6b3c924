/** NOTIFY_SOCKET relay, LISTEN_FDS passthrough and --preserve-fds on run. */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawnSync } from 'child_process';
import { BIN, PROJECT, Sandbox, NEEDS_ROOT } from '../helpers/runtime';
import { loadShim } from '../../src/native/shim';

t.test('NOTIFY_SOCKET: READY=1 from the container reaches the host socket with MAINPID', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const shim = loadShim();
  const hostSock = path.join(sb.dir, 'host-notify.sock');
  const listener = shim.dgramBind(hostSock);
  t.ok(listener >= 0, 'host socket bound');
  t.teardown(() => fs.closeSync(listener));
  const bundle = sb.bundle(['sh', '-c', 'echo $NOTIFY_SOCKET; sleep 0.2; sd-notify READY=1; sleep 300'], undefined, true);
  fs.copyFileSync(path.join(PROJECT, 'native', 'build', 'sd-notify'), path.join(bundle, 'rootfs', 'bin', 'sd-notify'));
  fs.chmodSync(path.join(bundle, 'rootfs', 'bin', 'sd-notify'), 0o755);
  const id = sb.id();
  const out = path.join(sb.dir, 'notify.out');
  const outFd = fs.openSync(out, 'w');
  const r = spawnSync(BIN, ['--root', sb.root, 'run', '--detach', '--bundle', bundle, id], {
    stdio: ['ignore', outFd, outFd],
    env: { ...process.env, NOTIFY_SOCKET: hostSock },
    timeout: 20_000,
  });
  fs.closeSync(outFd);
  t.equal(r.status, 0, fs.readFileSync(out, 'utf8'));
  const msg = shim.dgramRecv(listener, 2000);
  t.equal(msg, `READY=1\nMAINPID=${sb.state(id).pid}\n`, 'relayed with the init pid as MAINPID');
  t.match(fs.readFileSync(out, 'utf8'), /^\/run\/notify\/notify.sock$/m, 'the container sees its own NOTIFY_SOCKET');
});

t.test('LISTEN_FDS: the fds and the variables reach the container', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const a = fs.openSync('/etc/hostname', 'r');
  const b = fs.openSync('/etc/passwd', 'r');
  t.teardown(() => [a, b].forEach((fd) => fs.closeSync(fd)));
  const res = spawnSync(BIN, ['--root', sb.root, 'run', '--bundle', sb.bundle(['sh', '-c', 'echo $LISTEN_FDS $LISTEN_PID; readlink /proc/self/fd/3; readlink /proc/self/fd/4']), sb.id()], {
    stdio: ['ignore', 'pipe', 'pipe', a, b],
    env: { ...process.env, LISTEN_FDS: '2', LISTEN_PID: String(process.pid) },
    encoding: 'utf8',
  });
  t.equal(res.status, 0, String(res.stderr));
  t.match(String(res.stdout), /^2 1\n\/etc\/hostname\n\/etc\/passwd\n$/);
});

t.test('run --preserve-fds N keeps fds 3..3+N-1 and nothing above', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const a = fs.openSync('/etc/hostname', 'r');
  const b = fs.openSync('/etc/passwd', 'r');
  t.teardown(() => [a, b].forEach((fd) => fs.closeSync(fd)));
  const res = spawnSync(BIN, ['--root', sb.root, 'run', '--preserve-fds', '1', '--bundle', sb.bundle(['sh', '-c', 'readlink /proc/self/fd/3; readlink /proc/self/fd/4 || echo no-fd-4']), sb.id()], {
    stdio: ['ignore', 'pipe', 'pipe', a, b],
    encoding: 'utf8',
  });
  t.equal(res.status, 0, String(res.stderr));
  t.match(String(res.stdout), /^\/etc\/hostname\n/);
  t.match(String(res.stdout), /no-fd-4/);
});

t.test('--preserve-fds N with fewer fds passed is refused: the runtime\'s own fds would take the numbers', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['true']);
  // stdio only: fd 3 is free, or Node's event loop.
  const res = spawnSync(BIN, ['--root', sb.root, 'create', '--preserve-fds', '40', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  t.not(res.status, 0, 'create fails');
  t.match(String(res.stderr), /^tsruntime: --preserve-fds: fd \d+ (is not open|was not passed by the caller)/m, 'saying which fd and what to do');
  t.equal(String(res.stderr).trim().split('\n').length, 1, 'one line');
  t.notOk(fs.existsSync(path.join(sb.root, id)), 'nothing left behind');
});

t.test('the state keeps config.json as written: HOME and LISTEN_FDS go to the process, not into the saved config', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const a = fs.openSync('/etc/hostname', 'r');
  t.teardown(() => fs.closeSync(a));
  const bundle = sb.bundle(['sh', '-c', 'echo "$HOME $LISTEN_FDS"; sleep 30']);
  const written = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  // No pipes: the container inherits the runtime's stdio and would hold them open.
  const res = spawnSync(BIN, ['--root', sb.root, 'create', '--bundle', bundle, id], {
    stdio: ['ignore', 'ignore', 'ignore', a],
    env: { ...process.env, LISTEN_FDS: '1', LISTEN_PID: String(process.pid) },
  });
  t.equal(res.status, 0, 'create');
  const saved = JSON.parse(fs.readFileSync(path.join(sb.root, id, 'state.json'), 'utf8')).config;
  t.same(saved.process.env, written.process.env, 'process.env as config.json has it');
  t.equal(sb.tsr(['delete', '--force', id]).status, 0);
});
