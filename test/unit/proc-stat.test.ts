/** readProcStat (src/state/proc.ts) of a real process whose name is not UTF-8 and holds parentheses. */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawn } from 'child_process';
import { readProcStat } from '../../src/state/proc';

t.test("a comm of bytes that are not UTF-8, with ') (' in it, leaves the state and start time intact", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-procstat-'));
  // The name the kernel shows as comm: a lone 0xff and 0xe2 (a lead byte without its tail) around ") (".
  const name = Buffer.concat([Buffer.from(dir + '/'), Buffer.from([0xff, 0x29, 0x20, 0x28, 0xe2, 0x29, 0x78])]);
  fs.symlinkSync(fs.realpathSync('/bin/sleep'), name);
  // Node cannot exec a path that is not UTF-8: the shell execs it, from its own argument.
  const child = spawn('/bin/sh', ['-c', `exec "$(printf '${dir}/\\377) (\\342)x')" 30`], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const pid = child.pid!;
  let raw = '';
  for (let i = 0; i < 200 && !raw.includes('\xff'); i++) {
    await new Promise((r) => setTimeout(r, 10));
    raw = fs.readFileSync(`/proc/${pid}/stat`, 'latin1'); // until the exec has happened
  }
  t.match(raw, /\(\xff\) \(\xe2\)x\)/, 'the kernel shows the raw bytes in comm');
  const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  t.same(readProcStat(pid), { state: fields[0], startTime: fields[19] });
  t.match(readProcStat(pid)?.startTime, /^\d+$/);
});
