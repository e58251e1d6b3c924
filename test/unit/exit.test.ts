/**
 * A command that loaded the shim ends with _exit(2) where Node's process.exit would tear Node down
 * (src/native/shim.ts): the 'exit' listeners still run, the exit code and the output are whole.
 */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawnSync } from 'child_process';

const SHIM = path.resolve(__dirname, '..', '..', 'src', 'native', 'shim.js');

/** In a fresh node: load the shim, write 1 MiB to stdout (a file), exit with 7 from process.exit. */
function exitAfterShim(t: { teardown(fn: () => void): void }, env: Record<string, string> = {}): { status: number | null; listener: string; out: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-exit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const marker = path.join(dir, 'listener');
  const code = `
    require(${JSON.stringify(SHIM)}).shimLibrary();
    const fs = require('fs');
    const native = String(process.reallyExit).includes('[native code]');
    process.on('exit', (c) => fs.writeFileSync(${JSON.stringify(marker)}, 'ran with ' + c + (native ? ', node exit' : ', _exit')));
    process.stdout.write('x'.repeat(1 << 20));
    process.exit(7);
  `;
  const out = path.join(dir, 'out');
  const fd = fs.openSync(out, 'w');
  const r = spawnSync('env', ['-u', 'NODE_OPTIONS', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, '-e', code], { stdio: ['ignore', fd, 'pipe'] });
  fs.closeSync(fd);
  const listener = fs.existsSync(marker) ? fs.readFileSync(marker, 'utf8') : '';
  return { status: r.status, listener, out: fs.statSync(out).size };
}

t.test("after the shim loads, process.exit ends in _exit: listeners run, code and output whole", async (t) => {
  const r = exitAfterShim(t);
  t.equal(r.status, 7, 'the exit code');
  t.equal(r.listener, 'ran with 7, _exit', "the 'exit' listener ran, and the end was the shim's _exit");
  t.equal(r.out, 1 << 20, 'all of the output was written');
});

t.test('under coverage (written in Node teardown), Node exits as usual', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-exit-cov-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = exitAfterShim(t, { NODE_V8_COVERAGE: dir });
  t.equal(r.status, 7);
  t.equal(r.listener, 'ran with 7, node exit');
  t.ok(fs.readdirSync(dir).some((f) => f.endsWith('.json')), 'the coverage was written');
});
