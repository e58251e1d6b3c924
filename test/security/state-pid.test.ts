/**
 * A state record whose pid check cannot work (no start time, an empty one, or one that is not the
 * process's) must never let `kill` or `delete --force` signal whatever process has that pid now.
 *
 * The attack: the state of container <id> names the pid of an unrelated host process (here a
 * `sleep` this test started and owns) as its init, as happens when the init died and its pid was
 * reused, with a record written without a start time. `kill <id> STOP`, `kill <id> KILL` and
 * `delete --force <id>` must all leave that process running and not stopped.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawn, ChildProcess } from 'child_process';
import { Sandbox, TapLike } from '../helpers/runtime';

const skip = process.getuid?.() !== 0 ? 'needs root: the runtime keeps its state under /run' : false;

function procState(pid: number): { state: string; startTime: string } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], startTime: rest[19] };
  } catch {
    return undefined;
  }
}

/** A host process the test owns; it is killed at teardown whatever happens. */
function victim(t: TapLike): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
  return child as ChildProcess & { pid: number };
}

/** Wait up to ms for the process to show `want` ('S' sleeping, 'T' stopped, 'gone'); the last state seen. */
async function settle(pid: number, want: string, ms = 200): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const st = procState(pid);
    const now = !st || st.state === 'Z' ? 'gone' : st.state;
    if (now === want || Date.now() > end) return now;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** state.json as create writes it, for a container whose init would be `pid`. */
function forge(sb: Sandbox, id: string, pid: number, startTime: string | undefined, status = 'running'): void {
  const dir = path.join(sb.root, id);
  fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  const rec: Record<string, unknown> = {
    id,
    pid,
    bundle: sb.dir,
    rootfs: path.join(sb.dir, 'rootfs'),
    created: new Date().toISOString(),
    owner: '',
    status,
    cgroupsPath: `/tsruntime/${id}`,
    config: { ociVersion: '1.2.0', process: { args: ['sleep', '300'], cwd: '/' }, root: { path: 'rootfs' } },
  };
  if (startTime !== undefined) rec.startTime = startTime;
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(rec));
}

const cases: Array<[string, (real: string) => string | undefined]> = [
  ['no startTime', () => undefined],
  ['an empty startTime', () => ''],
  ['the startTime of another process', (real) => String(Number(real) + 1)],
];

for (const [what, startTimeOf] of cases) {
  for (const status of ['running', 'created']) {
    t.test(`a ${status} record with ${what} signals nothing`, { skip }, async (t) => {
      const sb = new Sandbox(t);
      const sleeper = victim(t);
      const real = procState(sleeper.pid)!.startTime;
      const id = sb.id();
      forge(sb, id, sleeper.pid, startTimeOf(real), status);

      const st = sb.tsr(['state', id]);
      t.equal(st.status, 0, `state: ${st.stderr}`);
      t.equal(JSON.parse(st.stdout || '{}').status, 'stopped', 'state reports the container stopped');

      const stop = sb.tsr(['kill', id, 'STOP']);
      t.not(stop.status, 0, 'kill STOP fails');
      t.match(stop.stderr, /container not running/);
      t.equal(await settle(sleeper.pid, 'T'), 'S', 'kill STOP did not stop the host process');

      const kill = sb.tsr(['kill', id, 'KILL']);
      t.not(kill.status, 0, 'kill KILL fails');
      t.equal(await settle(sleeper.pid, 'gone'), 'S', 'kill KILL did not kill the host process');

      const del = sb.tsr(['delete', '--force', id]);
      t.equal(del.status, 0, `delete --force removes the record: ${del.stderr}`);
      t.equal(await settle(sleeper.pid, 'gone'), 'S', 'delete --force did not kill the host process');
      t.notOk(fs.existsSync(path.join(sb.root, id)), 'the state dir is gone');
    });
  }
}

t.test('control: with the right startTime the same record does reach the process', { skip }, async (t) => {
  // Proves the checks above can see a signal land: the runtime signals a record that matches.
  const sb = new Sandbox(t);
  const sleeper = victim(t);
  const id = sb.id();
  forge(sb, id, sleeper.pid, procState(sleeper.pid)!.startTime);
  t.equal(sb.state(id).status, 'running');
  const stop = sb.tsr(['kill', id, 'STOP']);
  t.equal(stop.status, 0, stop.stderr);
  t.equal(await settle(sleeper.pid, 'T'), 'T', 'kill STOP stopped it');
  t.equal(sb.tsr(['kill', id, 'CONT']).status, 0);
  t.equal(await settle(sleeper.pid, 'S'), 'S', 'kill CONT resumed it');
  const del = sb.tsr(['delete', '--force', id]);
  t.equal(del.status, 0, del.stderr);
  t.equal(await settle(sleeper.pid, 'gone'), 'gone', 'delete --force killed it');
});
