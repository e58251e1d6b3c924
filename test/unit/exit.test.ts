/**
 * The CLI ends with _exit(2) where Node's process.exit would tear Node down (src/native/fast-exit.ts,
 * native/addon.c): the 'exit' listeners still run, the exit code and the output are whole.
 */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawnSync } from 'child_process';

const FAST_EXIT = path.resolve(__dirname, '..', '..', 'src', 'native', 'fast-exit.js');

/** In a fresh node: write 1 MiB to stdout (a file), exit with 7 through exitProcess. */
function exitProcess(t: { teardown(fn: () => void): void }, env: Record<string, string> = {}): { status: number | null; listener: string; out: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-exit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const marker = path.join(dir, 'listener');
  const code = `
    const fs = require('fs');
    const nodes = process.reallyExit;
    process.on('exit', (c) => fs.writeFileSync(${JSON.stringify(marker)}, 'ran with ' + c + (process.reallyExit === nodes ? ', node exit' : ', _exit')));
    process.stdout.write('x'.repeat(1 << 20));
    require(${JSON.stringify(FAST_EXIT)}).exitProcess(7);
  `;
  const out = path.join(dir, 'out');
  const fd = fs.openSync(out, 'w');
  const r = spawnSync('env', ['-u', 'NODE_OPTIONS', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, '-e', code], { stdio: ['ignore', fd, 'pipe'] });
  fs.closeSync(fd);
  const listener = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '';
  return { status: r.status, listener, out: fs.statSync(out).size };
}

t.test("exitProcess ends in _exit: listeners run, code and output whole", async (t) => {
  const r = exitProcess(t);
  t.equal(r.status, 7, 'the exit code');
  t.equal(r.listener, 'ran with 7, _exit', "the 'exit' listener ran, and the end was tsr-addon.node's _exit");
  t.equal(r.out, 1 << 20, 'all of the output was written');
});

t.test('under coverage (written in Node teardown), Node exits as usual', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-exit-cov-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = exitProcess(t, { NODE_V8_COVERAGE: dir });
  t.equal(r.status, 7);
  t.equal(r.listener, 'ran with 7, node exit');
  t.ok(fs.readdirSync(dir).some((f) => f.endsWith('.json')), 'the coverage was written');
});
