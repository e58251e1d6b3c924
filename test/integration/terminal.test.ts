/** Terminals: the interactive shell of `tsruntime spec` + `run`, console sockets, exec -t. */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawn, spawnSync } from 'child_process';
import { BIN, Sandbox, leftovers, sharedBundleTemplate, NEEDS_ROOT } from '../helpers/runtime';
import { loadShim } from '../../src/native/shim';

/** A bundle made the way a person would: `tsruntime spec` (terminal: true, args: sh). */
function specBundle(sb: Sandbox): string {
  const dir = fs.mkdtempSync(path.join(sb.dir, 'spec-'));
  const r = spawnSync(BIN, ['spec'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`spec: ${r.stderr}`);
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  spec.root.path = sharedBundleTemplate().rootfs;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

/** Feed lines to a command running under script(1)'s pty, with pauses so the shell reads each. */
function underScript(command: string, lines: string[], delayMs = 700): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    lines.forEach((line, i) => setTimeout(() => child.stdin.write(line), delayMs * (i + 1)));
    setTimeout(() => child.stdin.end(), delayMs * (lines.length + 2));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

t.test('interactive shell: tsruntime spec && tsruntime run', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = specBundle(sb);
  const id = sb.id();
  const cmd = `cd ${bundle} && stty -g; stty rows 33 cols 101; ${BIN} --root ${sb.root} run ${id}; echo rc=$?; stty -g`;
  const { code, out } = await underScript(`sh -c '${cmd}'`, ['echo $((6*7))\n', 'stty size\n', 'exit 4\n']);
  t.equal(code, 0, 'script itself ran');
  t.match(out, /\r*\n42\r*\n/, 'the shell evaluated the typed command');
  t.match(out, /\r*\n33 101\r*\n/, 'the window size of the caller reached the container');
  t.match(out, /rc=4/, 'exit code of the shell is the exit code of run');
  const modes = out.split(/\r?\n/).filter((l) => /^[0-9a-f]+(:[0-9a-f]+){10,}$/.test(l.trim()));
  t.equal(modes.length, 2, 'stty -g printed before and after');
  t.equal(modes[0], modes[1], "the caller's terminal mode is restored");
  t.notOk(fs.existsSync(path.join(sb.root, id)), 'the container is deleted after run');
});

t.test('create --console-socket hands the pty master over, runc-style', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const shim = loadShim();
  const sock = path.join(sb.dir, 'console.sock');
  const listener = shim.consoleListen(sock);
  t.ok(listener >= 0, 'listening');
  t.teardown(() => fs.closeSync(listener));
  const id = sb.id();
  const bundle = sb.bundle(['sh'], (s) => {
    s.process.terminal = true;
  });
  const masterP = shim.consoleAccept(listener);
  const created = sb.tsr(['create', '--bundle', bundle, '--console-socket', sock, id]);
  t.equal(created.status, 0, created.stderr);
  const master = await masterP;
  t.ok(master >= 0, 'received an fd');
  t.teardown(() => fs.closeSync(master));
  t.equal(sb.tsr(['start', id]).status, 0);
  fs.writeSync(master, 'echo hi-$((40+2)); tty; ls -l /dev/console | cut -c1; exit 3\n');
  let out = '';
  const buf = Buffer.alloc(4096);
  for (;;) {
    let n = 0;
    try {
      n = fs.readSync(master, buf, 0, buf.length, null);
    } catch {
      break; // EIO: the shell exited and closed the slave
    }
    if (n === 0) break;
    out += buf.subarray(0, n).toString();
  }
  t.match(out, /hi-42/, 'the shell talks through the received master');
  t.match(out, /\/dev\/pts\/\d+/, 'stdio is a pty slave of the container devpts');
  t.match(out, /\nc\r?\n/, '/dev/console is the pty (a char device)');
  t.ok(sb.waitStatus(id, 'stopped'));
  t.equal(sb.tsr(['delete', id]).status, 0);
});

t.test('exec --tty --detach --console-socket', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  t.equal(sb.tsr(['run', '--detach', '--bundle', sb.bundle(['sleep', '300']), id]).status, 0);
  const shim = loadShim();
  const sock = path.join(sb.dir, 'exec.sock');
  const listener = shim.consoleListen(sock);
  t.teardown(() => fs.closeSync(listener));
  const masterP = shim.consoleAccept(listener);
  const r = sb.tsr(['exec', '--tty', '--detach', '--console-socket', sock, id, 'sh', '-c', 'tty; echo exec-ok']);
  t.equal(r.status, 0, r.stderr);
  const master = await masterP;
  t.teardown(() => fs.closeSync(master));
  let out = '';
  const buf = Buffer.alloc(4096);
  for (;;) {
    try {
      const n = fs.readSync(master, buf, 0, buf.length, null);
      if (n === 0) break;
      out += buf.subarray(0, n).toString();
    } catch {
      break;
    }
  }
  t.match(out, /\/dev\/pts\/\d+\r?\nexec-ok/);
});

t.test('a terminal with neither a console socket nor a foreground caller is an error', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['sh'], (s) => {
    s.process.terminal = true;
  });
  for (const args of [['create'], ['run', '--detach']]) {
    const id = sb.id();
    const r = sb.tsr([...args, '--bundle', bundle, id]);
    t.equal(r.status, 1, args.join(' '));
    t.match(r.stderr, /cannot allocate tty if tsruntime will detach without setting console socket/);
    t.same(leftovers(sb, id, bundle), []);
  }
  const running = sb.id();
  t.equal(sb.tsr(['run', '--detach', '--bundle', sb.bundle(['sleep', '300']), running]).status, 0);
  const ex = sb.tsr(['exec', '--tty', '--detach', running, 'true']);
  t.equal(ex.status, 1);
  t.match(ex.stderr, /cannot allocate tty/);
});
