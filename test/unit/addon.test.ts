/**
 * tsr-addon.node's pidfds (native/addon.c, src/native/addon.ts) on real processes, and signalProcess
 * (src/state/proc.ts), which kill and delete --force signal a container's init through.
 */
import t from 'tap';
import { spawn, ChildProcess } from 'child_process';
import fs from 'fs';
import os from 'os';
import { loadAddon } from '../../src/native/addon';
import { readProcStat, signalProcess } from '../../src/state/proc';

const ESRCH = os.constants.errno.ESRCH;

function sleeper(t: { teardown(fn: () => void): void }): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  return child as ChildProcess & { pid: number };
}

const exited = (child: ChildProcess) => new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, sig) => resolve(sig)));

t.test('a pidfd signals its process, waits for its exit, and says ESRCH once it is gone', async (t) => {
  const addon = loadAddon();
  const child = sleeper(t);
  const done = exited(child);
  const fd = addon.pidfdOpen(child.pid);
  t.ok(fd >= 0, `pidfd_open gave an fd (${fd})`);
  t.teardown(() => fs.closeSync(fd));
  t.match(fs.readlinkSync(`/proc/self/fd/${fd}`), /pidfd/, 'it is a pidfd');
  t.equal(addon.pidfdWait(fd, 0), 0, 'not exited yet: the wait times out');
  t.equal(addon.pidfdSendSignal(fd, 0), 0, 'signal 0: allowed, nothing sent');
  t.equal(addon.pidfdSendSignal(fd, os.constants.signals.SIGTERM), 0, 'SIGTERM sent');
  t.equal(addon.pidfdWait(fd, 10_000), 1, 'the wait returns once it has exited');
  t.equal(await done, 'SIGTERM', 'the process died of that signal');
  t.equal(addon.pidfdSendSignal(fd, 0), -ESRCH, 'reaped: the pidfd says ESRCH, it never reaches a new process of that pid');
});

t.test('pidfd_open of a pid no process has: -ESRCH', async (t) => {
  const child = spawn('true', { stdio: 'ignore' });
  await exited(child);
  t.equal(loadAddon().pidfdOpen(child.pid!), -ESRCH);
});

t.test('signalProcess signals only the process that started at the recorded time', async (t) => {
  const child = sleeper(t);
  const startTime = readProcStat(child.pid)!.startTime;
  t.equal(signalProcess(child.pid, String(BigInt(startTime) + 1n), os.constants.signals.SIGKILL), false, 'another start time: nothing sent');
  t.notOk(['Z', 'X', undefined].includes(readProcStat(child.pid)?.state), 'still alive');
  const done = exited(child);
  t.equal(signalProcess(child.pid, startTime, os.constants.signals.SIGKILL, { waitExitMs: 10_000 }), true, 'its own start time: sent');
  t.equal(await done, 'SIGKILL');
  t.equal(signalProcess(child.pid, startTime, os.constants.signals.SIGKILL), false, 'gone: nothing sent');
});

t.test("the code cache's reads: a file's bytes, its latin1 text, and the size and mtime fs.statSync gives", async (t) => {
  const addon = loadAddon();
  const dir = fs.mkdtempSync(`${os.tmpdir()}/tsr-addon-`);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = `${dir}/f`;
  const bytes = Buffer.from([0x7b, 0x0a, 0xe9, 0x00, 0xff, 0x41]);
  fs.writeFileSync(file, bytes);
  const read = addon.readFile(file);
  t.ok(Buffer.isBuffer(read) && read.equals(bytes), 'readFile: the bytes');
  t.equal(addon.readFileLatin1(file), bytes.toString('latin1'), 'readFileLatin1: one character per byte');
  fs.writeFileSync(`${dir}/empty`, '');
  t.equal(addon.readFileLatin1(`${dir}/empty`), '', 'an empty file: an empty string');
  t.equal((addon.readFile(`${dir}/empty`) as Buffer).length, 0, 'and an empty buffer');

  // mtimes with every kind of fraction, as files get them: the very double statSync computes.
  const times = [new Date('2026-01-02T03:04:05.123Z'), 1796561441.3433037, 1e9 + 0.999999999, 0.5];
  for (const [i, when] of times.entries()) {
    const f = `${dir}/t${i}`;
    fs.writeFileSync(f, 'x'.repeat(i));
    fs.utimesSync(f, when, when);
    const st = fs.statSync(f);
    t.same(addon.statSizeMtime(f), [st.size, st.mtimeMs], `statSizeMtime of a file with mtime ${st.mtimeMs}`);
  }
  for (const f of fs.readdirSync(__dirname).slice(0, 20).map((n) => `${__dirname}/${n}`)) {
    const st = fs.statSync(f);
    t.same(addon.statSizeMtime(f), [st.size, st.mtimeMs], `statSizeMtime of ${f}`);
  }

  t.equal(addon.readFile(`${dir}/missing`), -os.constants.errno.ENOENT, 'a missing file: -ENOENT');
  t.equal(addon.statSizeMtime(`${dir}/missing`), -os.constants.errno.ENOENT, 'stat of a missing file: -ENOENT');
  t.equal(addon.readFileLatin1(dir), -os.constants.errno.EINVAL, 'a directory is not read: -EINVAL');
  t.equal(addon.readFile(`${dir}/${'n'.repeat(5000)}`), -os.constants.errno.ENAMETOOLONG, 'a path longer than PATH_MAX: -ENAMETOOLONG');
});

t.test('the code cache\'s reads map the file, not copy it: a command pays only for the pages V8 reads', async (t) => {
  const addon = loadAddon();
  const dir = fs.mkdtempSync(`${os.tmpdir()}/tsr-addon-`);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const mapped = (f: string) => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').some((l) => l.endsWith(` ${f}`));
  // A latin1 source of 2 MiB, as a bundle is: ASCII with one byte of every value at the end.
  const text = Buffer.concat([Buffer.alloc(2 << 20, 'abc\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => i))]);
  fs.writeFileSync(`${dir}/bundle.js`, text);
  fs.writeFileSync(`${dir}/bundle.cache`, text);
  const source = addon.readFileLatin1(`${dir}/bundle.js`);
  t.equal(source, text.toString('latin1'), 'the string: one character per byte');
  t.ok(mapped(`${dir}/bundle.js`), 'and the file is mapped under it (Node 20.4 and later hold it as an external string)');
  const cache = addon.readFile(`${dir}/bundle.cache`) as Buffer;
  t.ok(cache.equals(text), 'the Buffer: the bytes');
  t.ok(mapped(`${dir}/bundle.cache`), 'over a mapping of the file');
  cache[0] = 0x21;
  t.equal(fs.readFileSync(`${dir}/bundle.cache`)[0], 0x61, 'a private one: a write to the Buffer does not reach the file');
});
