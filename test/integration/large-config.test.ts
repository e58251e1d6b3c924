/**
 * A config with 100,000 process args or 100,000 env entries: the runtime either runs it within
 * the time a test allows or refuses it with one clear line that names the limit. Either way,
 * nothing is left behind (and if it hangs and is killed, `delete --force` cleans up). Here the
 * 100,000 short args fit in execve's limit and run; the 100,000 env entries do not, and are
 * refused before anything is made. A config just under the limit still runs.
 */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawn } from 'child_process';
import { BIN, Sandbox, leftovers } from '../helpers/runtime';
import { removeContainerCgroups } from '../helpers/leftover-cleanup';

const skip = process.getuid?.() !== 0 ? 'needs root: containers' : false;
const N = 100_000;
const LIMIT_MS = 10_000;

/** `run` with a deadline: SIGKILL when it passes. */
function runWithin(sb: Sandbox, bundle: string, id: string): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
  const out = path.join(sb.dir, `${id}.out`);
  const err = path.join(sb.dir, `${id}.err`);
  const outFd = fs.openSync(out, 'w');
  const errFd = fs.openSync(err, 'w');
  const child = spawn(BIN, ['--root', sb.root, 'run', '--bundle', bundle, id], { stdio: ['ignore', outFd, errFd] });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, LIMIT_MS);
  return new Promise((resolve) =>
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (sig ? os.constants.signals[sig] : 0), stdout: fs.readFileSync(out, 'utf8'), stderr: fs.readFileSync(err, 'utf8'), timedOut });
    }),
  );
}

/** Each case edits the spec and returns what the container must print. */
const cases: Array<[string, (spec: Record<string, any>) => string]> = [
  [
    `${N} args`,
    (spec) => {
      spec.process.args = ['sh', '-c', 'echo $#', 'sh', ...Array.from({ length: N - 4 }, (_, i) => `a${i}`)];
      return String(N - 4);
    },
  ],
  [
    `${N} env entries`,
    (spec) => {
      const extra = N - spec.process.env.length;
      spec.process.env = [...spec.process.env, ...Array.from({ length: extra }, (_, i) => `E${i}=v${i}`)];
      spec.process.args = ['sh', '-c', `echo $E0-$E${extra - 1}`];
      return `v0-v${extra - 1}`;
    },
  ],
];

for (const [what, edit] of cases) {
  t.test(`a config with ${what} runs or is refused clearly, and leaves nothing`, { skip }, async (t) => {
    const sb = new Sandbox(t);
    const id = sb.id();
    t.teardown(() => removeContainerCgroups(id));
    let expected = '';
    const bundle = sb.bundle(['true'], (spec) => (expected = edit(spec)));
    const started = Date.now();
    const r = await runWithin(sb, bundle, id);
    t.comment(`${what}: exit ${r.code} after ${Date.now() - started} ms${r.timedOut ? ' (killed)' : ''}`);
    t.notOk(r.timedOut, `run finished within ${LIMIT_MS / 1000} s`);
    if (!r.timedOut) {
      if (r.code === 0) {
        t.equal(r.stdout.trim(), expected, 'the process got every entry');
      } else {
        t.match(r.stderr, /^tsruntime: [^\n]*(limit|at most|too many|too large)[^\n]*\n$/, `refused with one line naming the limit: ${r.stderr.slice(0, 200)}`);
      }
    }
    const del = sb.tsr(['delete', '--force', id]);
    t.equal(del.status, 0, `delete --force: ${del.stderr.trim()}`);
    t.same([...leftovers(sb, id, bundle), ...(fs.existsSync(sb.root) ? fs.readdirSync(sb.root) : [])], [], 'nothing left');
  });
}

t.test('args and env just under the execve limit still run', { skip }, async (t) => {
  // The limit the runtime checks against is the kernel's: a config 8 KiB under it must run.
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max stack size'))!;
  const soft = line.slice('Max stack size'.length).trim().split(/\s+/)[0];
  const stack = soft === 'unlimited' ? Infinity : Number(soft);
  const limit = Math.max(Math.min(6 * 1024 * 1024, stack / 4), 128 * 1024);
  const sb = new Sandbox(t);
  const id = sb.id();
  t.teardown(() => removeContainerCgroups(id));
  const bundle = sb.bundle(['sh', '-c', 'echo $#'], (spec) => {
    const entry = 'x'.repeat(1000); // 1001 bytes + an 8-byte pointer each
    const base = 3 * 8 + spec.process.env.reduce((n: number, e: string) => n + e.length + 1 + 8, 0) + 'sh -c echo $#'.length + 3 + 'HOME=/root'.length + 1 + 8;
    const n = Math.floor((limit - 8192 - base) / 1009);
    spec.process.args = ['sh', '-c', 'echo $#', 'sh', ...Array(n).fill(entry)];
  });
  const r = await runWithin(sb, bundle, id);
  t.equal(r.code, 0, `run: ${r.stderr.trim()}`);
  t.match(r.stdout, /^\d+\n$/, 'the process ran');
  t.equal(sb.tsr(['delete', '--force', id]).status, 0);
  t.same(leftovers(sb, id, bundle), [], 'nothing left');
});
