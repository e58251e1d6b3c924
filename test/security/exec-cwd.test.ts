/**
 * cwd escape through a leaked fd, the runc CVE-2024-21626 class.
 *
 * A process entering the container must never get a working directory outside it. The attack:
 * a cwd of /proc/self/fd/N (given with `exec --cwd`, as a symlink the container put where its
 * configured cwd was, or as process.cwd in config.json). If the runtime still holds a host
 * directory at fd N when it chdirs (the exec helper and the init are clones of the runtime),
 * the process starts in a host directory and ".." walks up to the host's /.
 *
 * For every N, the process (when it runs at all) tries to read a marker file this test made in
 * its own temp dir on the host, through "../../..(40 times)/<temp dir>/marker" from its cwd, and
 * the test checks from the host that /proc/PID/cwd, walked up with "..", ends at the
 * container's root. Passing means: for every N the runtime either refused with an error that
 * names the cwd, or the process ran inside the container and did not read the marker.
 */
import t, { type Test } from 'tap';
import fs from 'fs';
import path from 'path';
import { randomBytes } from 'crypto';
import { NEEDS_ROOT, Sandbox } from '../helpers/runtime';
import { waitSync } from '../helpers/wait';

const skip = NEEDS_ROOT;
/** The fds tried: the runtime's own (Node's, the cgroup directory, sockets) are in this range. */
const FDS = Array.from({ length: 38 }, (_, i) => i + 3);

interface Attack {
  sb: Sandbox;
  rootfs: string;
  token: string;
  /** The marker, as a path relative to any cwd: up to / and down into the test's temp dir. */
  rel: string;
  /** The attacking command: read the marker, record the result in the container's /tmp, stay. */
  script(n: number): string[];
  results: Outcome[];
}

interface Outcome {
  n: number;
  how: string;
}

function setup(t: Test): Attack {
  const sb = new Sandbox(t);
  const token = `host-marker-${randomBytes(8).toString('hex')}`;
  fs.writeFileSync(path.join(sb.dir, 'marker'), token + '\n');
  const rel = '../'.repeat(40) + path.join(sb.dir, 'marker').slice(1);
  // A rootfs of its own, writable: the container changes it, the test reads the results there.
  const first = sb.bundle(['true'], undefined, true);
  return {
    sb,
    rootfs: path.join(first, 'rootfs'),
    token,
    rel,
    results: [],
    script: (n) => ['sh', '-c', `cat ${rel} > /tmp/attack-${n} 2>&1; echo "end $?" >> /tmp/attack-${n}; exec sleep 300`],
  };
}

/** A bundle over the attack's shared rootfs. */
function bundle(a: Attack, args: string[], edit?: (spec: Record<string, any>) => void): string {
  return a.sb.bundle(args, (s) => {
    s.root = { path: a.rootfs, readonly: false };
    edit?.(s);
  });
}

function statKey(p: string): string {
  try {
    const st = fs.statSync(p);
    return `${st.dev}:${st.ino}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'error';
  }
}

/**
 * One attempt: `status`/`stderr` of the runtime command that should have started the attacking
 * process, and its pid when it did. Records what happened in a.results.
 */
function judge(a: Attack, n: number, cwd: string, r: { status: number; stderr: string }, pid: number | undefined): void {
  if (r.status !== 0) {
    const clear = r.stderr.includes(cwd) || /cwd/i.test(r.stderr);
    a.results.push({ n, how: clear ? `refused: ${r.stderr.trim()}` : `UNCLEAR refusal: ${r.stderr.trim() || '(no message)'}` });
    return;
  }
  const file = path.join(a.rootfs, 'tmp', `attack-${n}`);
  const read = () => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
  waitSync(() => /^end /m.test(read()), 10_000, 10);
  const out = read();
  const parts: string[] = [];
  if (out.includes(a.token)) parts.push('MARKER READ');
  if (pid) {
    // Walk up from the process's cwd as the host sees it: inside the container ".." stops at
    // the container's root; from a host directory it reaches the host's /.
    const top = statKey(`/proc/${pid}/cwd/${'../'.repeat(40)}`);
    const root = statKey(`/proc/${pid}/root`);
    let cwdLink = '';
    try {
      cwdLink = fs.readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      /* gone */
    }
    if (top !== root) parts.push(`CWD OUTSIDE (${cwdLink}, its top ${top} is not the container root ${root}${top === statKey('/') ? ', it is the host /' : ''})`);
    else parts.push(`ran inside (${cwdLink})`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  } else {
    parts.push('NO PID to check');
  }
  a.results.push({ n, how: `${parts.join(', ')}; cat said: ${out.trim().replace(/\s*\n\s*/g, ' | ').slice(0, 200)}` });
}

function verdict(t: Test, a: Attack, what: string): void {
  t.comment(`${what}:\n${a.results.map((r) => `  fd ${r.n}: ${r.how}`).join('\n')}`);
  const list = (re: RegExp) => a.results.filter((r) => re.test(r.how)).map((r) => `fd ${r.n}: ${r.how}`);
  t.equal(a.results.length, FDS.length, `${what}: every fd was tried`);
  t.same(list(/MARKER READ/), [], `${what}: no process read the host marker through ".." from its cwd`);
  t.same(list(/CWD OUTSIDE|NO PID/), [], `${what}: every process that ran had its cwd inside the container (/proc/PID/cwd)`);
  t.same(list(/UNCLEAR/), [], `${what}: every refusal says the cwd is the problem`);
}

function readPid(file: string): number | undefined {
  try {
    return Number(fs.readFileSync(file, 'utf8')) || undefined;
  } catch {
    return undefined;
  }
}

function runningContainer(a: Attack, edit?: (spec: Record<string, any>) => void): string {
  const id = a.sb.id('cwd');
  const r = a.sb.tsr(['run', '--detach', '--bundle', bundle(a, ['sleep', '300'], edit), id]);
  if (r.status !== 0) throw new Error(`run --detach: ${r.stderr}`);
  return id;
}

t.test('exec --cwd /proc/self/fd/N', { skip }, async (t) => {
  const a = setup(t);
  const id = runningContainer(a);
  const pidFile = path.join(a.sb.dir, 'exec.pid');
  for (const n of FDS) {
    fs.rmSync(pidFile, { force: true });
    const cwd = `/proc/self/fd/${n}`;
    const r = a.sb.tsr(['exec', '--detach', '--pid-file', pidFile, '--cwd', cwd, id, ...a.script(n)]);
    judge(a, n, cwd, r, r.status === 0 ? readPid(pidFile) : undefined);
  }
  verdict(t, a, 'exec --cwd /proc/self/fd/N');
});

t.test("exec with the default cwd, which the container made a symlink to /proc/self/fd/N", { skip }, async (t) => {
  const a = setup(t);
  const id = runningContainer(a, (s) => {
    s.process.cwd = '/work';
  });
  // The container swaps its cwd for the symlink itself...
  const swap = a.sb.tsr(['exec', '--cwd', '/', id, 'sh', '-c', `rm -rf /work && ln -s /proc/self/fd/${FDS[0]} /work && readlink /work`]);
  t.equal(swap.status, 0, `the container replaces /work with a symlink (${swap.stderr.trim()})`);
  t.equal(swap.stdout.trim(), `/proc/self/fd/${FDS[0]}`);
  const pidFile = path.join(a.sb.dir, 'exec.pid');
  for (const n of FDS) {
    // ...and for the next fds the test retargets it in the container's rootfs (same effect, one exec less each).
    const link = path.join(a.rootfs, 'work');
    fs.rmSync(link, { force: true, recursive: true });
    fs.symlinkSync(`/proc/self/fd/${n}`, link);
    fs.rmSync(pidFile, { force: true });
    const r = a.sb.tsr(['exec', '--detach', '--pid-file', pidFile, id, ...a.script(n)]);
    judge(a, n, '/work', r, r.status === 0 ? readPid(pidFile) : undefined);
  }
  verdict(t, a, 'exec, cwd /work -> /proc/self/fd/N');
});

t.test('run with process.cwd /proc/self/fd/N', { skip }, async (t) => {
  const a = setup(t);
  for (const n of FDS) {
    const id = a.sb.id('cwd');
    const cwd = `/proc/self/fd/${n}`;
    const r = a.sb.tsr(['run', '--detach', '--bundle', bundle(a, a.script(n), (s) => (s.process.cwd = cwd)), id]);
    let pid: number | undefined;
    if (r.status === 0) {
      try {
        pid = a.sb.state(id).pid || undefined;
      } catch {
        /* judged as NO PID */
      }
    }
    judge(a, n, cwd, r, pid);
    a.sb.tsr(['delete', '--force', id]);
  }
  verdict(t, a, 'run, process.cwd /proc/self/fd/N');
});
