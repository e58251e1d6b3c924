/**
 * The per-container lock (src/state/lock.ts) with real processes: mutual exclusion among many
 * processes, also while they take over the lock of a holder that died, and a lock released by a
 * directory removed under it. No root needed: the state root is a temp dir.
 */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawn } from 'child_process';

const STORE = path.resolve(__dirname, '..', '..', 'src', 'state', 'store.js');

/**
 * A process that takes the lock `rounds` times and logs "in"/"out" around a short hold; the last
 * time it dies holding it (SIGKILL), leaving a stale lock for the others to take over.
 */
const WORKER = `
const fs = require('fs');
const { StateStore } = require(${JSON.stringify(STORE)});
const [root, id, log, rounds] = process.argv.slice(1);
const store = new StateStore(root);
const hold = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
for (let i = 0; i < Number(rounds); i++) {
  store.withLock(id, () => {
    fs.appendFileSync(log, 'in ' + process.pid + '\\n');
    hold();
    if (i === Number(rounds) - 1) {
      fs.appendFileSync(log, 'out ' + process.pid + ' dying\\n');
      process.kill(process.pid, 'SIGKILL');
    }
    fs.appendFileSync(log, 'out ' + process.pid + '\\n');
  });
}
`;

function runWorkers(n: number, args: string[]): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<number>((resolve) => spawn(process.execPath, ['-e', WORKER, ...args], { stdio: 'inherit' }).on('exit', (c) => resolve(c ?? -1)))),
  );
}

/** Every "in" is followed by the "out" of the same process before any other "in". */
function overlaps(log: string): string[] {
  const bad: string[] = [];
  const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  for (let i = 0; i < lines.length; i += 2) {
    const [a, b] = [lines[i], lines[i + 1]];
    if (!a?.startsWith('in ') || (b !== `out ${a.slice(3)}` && b !== `out ${a.slice(3)} dying`)) bad.push(`${i}: ${a} / ${b}`);
  }
  return bad;
}

t.test('one holder at a time, also when the lock left by a dead process is taken over', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-lock-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const id = 'c1';
  fs.mkdirSync(path.join(root, id));
  // A lock whose holder is dead: pid 1 never started at tick 1.
  fs.writeFileSync(path.join(root, id, 'lock'), '1 1');
  for (let round = 0; round < 3; round++) {
    const log = path.join(root, `log-${round}`);
    const codes = await runWorkers(8, [root, id, log, '5']);
    t.same(codes, Array(8).fill(-1), `round ${round}: every worker took the lock 5 times, then died holding it`);
    t.same(overlaps(log), [], `round ${round}: no two holders at once`);
    t.equal(fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length, 80, `round ${round}: 40 holds`);
    t.same(fs.readdirSync(path.join(root, id)).filter((e) => e !== 'lock'), [], `round ${round}: no ticket left`);
  }
});

t.test('a lock whose directory is removed by its holder: waiters learn the container is gone', async (t) => {
  const { StateStore, ContainerGone } = require(STORE);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-lock-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'c2'));
  const store = new StateStore(root);
  store.withLock('c2', (lock: { removeDir(): void }) => lock.removeDir());
  t.same(fs.readdirSync(root), [], 'directory and identity file gone');
  let err: unknown;
  try {
    store.lock('c2');
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof ContainerGone, `locking it again: the container does not exist (${err})`);
});

t.test("a link that landed in a directory renamed away meanwhile is not taken for the lock of the one there now", async (t) => {
  const { LockFiles } = require(path.resolve(__dirname, '..', '..', 'src', 'state', 'lock.js'));
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-lock-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'c3');
  fs.mkdirSync(dir);
  const files = new LockFiles(path.join(root, '@lock.test'));
  files.use();
  t.teardown(() => files.done());
  t.equal(files.link(dir, 'lock'), 'ok', 'a link in the directory at its path: ours');
  fs.unlinkSync(path.join(dir, 'lock'));

  // Right after our link lands, the directory is renamed away and another takes its path, whose
  // lock someone else holds (a delete and a create of the same id, between our two steps).
  const linkSync = fs.linkSync;
  fs.linkSync = function (this: unknown, ...args: Parameters<typeof fs.linkSync>) {
    linkSync.apply(this, args);
    fs.renameSync(dir, `${dir}.old`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'lock'), `${process.pid + 1} 12345`);
  } as typeof fs.linkSync;
  try {
    t.equal(files.link(dir, 'lock'), 'moved', "the link is in the old directory: 'moved', not 'ok'");
  } finally {
    fs.linkSync = linkSync;
  }
  t.equal(fs.readFileSync(path.join(dir, 'lock'), 'utf8'), `${process.pid + 1} 12345`, "the other holder's lock is untouched");
});
