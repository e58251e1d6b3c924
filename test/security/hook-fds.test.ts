/**
 * Hooks and the container's process get the fds they are meant to, and nothing else.
 *
 * Whoever calls the runtime (an engine, a shim, a shell) may leave fds open that are not meant
 * for the container: a directory fd is enough to walk to the host's / (a startContainer hook is
 * a binary from the image, run inside the container). A hook of any kind must get the state on
 * stdin, stdout and stderr, and no other fd; the container's process gets stdio plus the fds
 * asked for with --preserve-fds.
 *
 * The test calls create, start and delete with fd 77 open on a directory it owns and fd 78 on a
 * file it owns (and fd 3 for --preserve-fds), with a hook of every kind. Each hook is
 * test/fixtures/fd-report (static: the same program on the host and in the image), which writes
 * the fds it was started with and what it read on stdin to a file.
 */
import t, { type Test } from 'tap';
import fs from 'fs';
import path from 'path';
import { spawnSync } from 'child_process';
import { BIN, NEEDS_ROOT, PROJECT, Sandbox } from '../helpers/runtime';

const skip = NEEDS_ROOT;
const FD_REPORT = path.join(PROJECT, 'native', 'build', 'fd-report');
const HOST_HOOKS = ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop'] as const;
const ALL_HOOKS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;

interface Report {
  fds: Map<number, string>;
  stdin: string;
}

function parseReport(file: string): Report | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const fds = new Map<number, string>();
  let stdin = '';
  for (const line of text.split('\n')) {
    const m = /^fd (\d+) (.*)$/.exec(line);
    if (m) fds.set(Number(m[1]), m[2]);
    else if (line.startsWith('stdin ')) stdin = line.slice(6);
  }
  return { fds, stdin };
}

const show = (r: Report) => [...r.fds].map(([fd, target]) => `${fd} ${target}`).join(', ');

interface Caller {
  /** fd number in the runtime → what the test opened there. */
  extra: Record<number, number>;
  dir: string;
  file: string;
}

/** Run the CLI with `extra` fds open at the given numbers, as an engine might leave them. */
function tsrWith(sb: Sandbox, caller: Caller, args: string[]): { status: number; stderr: string } {
  const out = fs.openSync(path.join(sb.dir, 'cli-out'), 'a');
  const err = fs.openSync(path.join(sb.dir, 'cli-err'), 'w');
  try {
    // A dense array: child_process skips the holes of a sparse one and renumbers what follows.
    const top = Math.max(...Object.keys(caller.extra).map(Number));
    const stdio: Array<'ignore' | number> = Array.from({ length: top + 1 }, () => 'ignore');
    stdio[1] = out;
    stdio[2] = err;
    for (const [n, fd] of Object.entries(caller.extra)) stdio[Number(n)] = fd;
    const res = spawnSync(BIN, ['--root', sb.root, ...args], { stdio, timeout: 30_000 });
    if (res.error) throw res.error;
    return { status: res.status ?? 128, stderr: fs.readFileSync(path.join(sb.dir, 'cli-err'), 'utf8') };
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
}

function openCaller(t: Test, sb: Sandbox, withFd3: boolean): Caller {
  const dir = path.join(sb.dir, 'caller-dir');
  const file = path.join(sb.dir, 'caller-file');
  fs.mkdirSync(dir);
  fs.writeFileSync(file, 'a file the caller has open\n');
  const extra: Record<number, number> = {
    77: fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY),
    78: fs.openSync(file, 'r+'),
  };
  if (withFd3) extra[3] = fs.openSync(file, 'r');
  t.teardown(() => Object.values(extra).forEach((fd) => fs.closeSync(fd)));
  return { extra, dir, file };
}

/** create, start, wait, delete with the caller's fds; returns where each report is. */
function lifecycle(t: Test, sb: Sandbox, caller: Caller, createFlags: string[]): { reports: Record<string, string>; id: string } {
  const id = sb.id('hookfd');
  const reports: Record<string, string> = {};
  let rootfs = '';
  const hostHook = (kind: string) => {
    reports[kind] = path.join(sb.dir, `hook-${kind}`);
    return { path: FD_REPORT, args: ['fd-report', reports[kind]] };
  };
  const bundle = sb.bundle(['/fd-report', '/process-fds'], (s) => {
    s.root.readonly = false; // the in-container reports are written there
    s.hooks = Object.fromEntries(HOST_HOOKS.map((k) => [k, [hostHook(k)]]));
    s.hooks.startContainer = [{ path: '/fd-report', args: ['fd-report', '/hook-startContainer'] }];
  }, true);
  rootfs = path.join(bundle, 'rootfs');
  fs.copyFileSync(FD_REPORT, path.join(rootfs, 'fd-report'));
  fs.chmodSync(path.join(rootfs, 'fd-report'), 0o755);
  reports.startContainer = path.join(rootfs, 'hook-startContainer');
  reports.process = path.join(rootfs, 'process-fds');

  const c = tsrWith(sb, caller, ['create', ...createFlags, '--bundle', bundle, id]);
  t.equal(c.status, 0, `create (${c.stderr.trim()})`);
  const s = tsrWith(sb, caller, ['start', id]);
  t.equal(s.status, 0, `start (${s.stderr.trim()})`);
  t.ok(sb.waitStatus(id, 'stopped', 10_000), 'the process ran and exited');
  const d = tsrWith(sb, caller, ['delete', id]);
  t.equal(d.status, 0, `delete (${d.stderr.trim()})`);
  return { reports, id };
}

function checkHooks(t: Test, reports: Record<string, string>, id: string, caller: Caller): void {
  for (const kind of ALL_HOOKS) {
    const r = parseReport(reports[kind]);
    if (!r) {
      t.fail(`${kind} hook: ran and reported its fds`);
      continue;
    }
    t.comment(`${kind} hook holds: ${show(r)}`);
    const extra = [...r.fds].filter(([fd]) => fd > 2).map(([fd, target]) => `${fd} ${target}`);
    t.same(extra, [], `${kind} hook: no fd but stdin, stdout and stderr`);
    const leaked = [...r.fds].filter(([, target]) => target === caller.dir || target === caller.file).map(([fd, target]) => `${fd} ${target}`);
    t.same(leaked, [], `${kind} hook: none of the caller's fds (its directory, its file) reached the hook`);
    t.same([0, 1, 2].filter((fd) => !r.fds.has(fd)), [], `${kind} hook: stdin, stdout and stderr are open`, { fds: show(r) });
    t.match(r.stdin, `"id":"${id}"`, `${kind} hook: the state is on stdin`);
  }
}

t.test("hooks of every kind and the container's process, with the caller's fds 77 and 78 open", { skip }, async (t) => {
  const sb = new Sandbox(t);
  const caller = openCaller(t, sb, false);
  const { reports, id } = lifecycle(t, sb, caller, []);
  checkHooks(t, reports, id, caller);
  const p = parseReport(reports.process);
  t.ok(p, "the container's process reported its fds");
  if (p) {
    t.comment(`the container's process holds: ${show(p)}`);
    t.same([...p.fds.keys()].sort((a, b) => a - b), [0, 1, 2], "the container's process: only stdin, stdout and stderr", { fds: show(p) });
  }
});

t.test('with --preserve-fds 1: fd 3 reaches the process, and no hook', { skip }, async (t) => {
  const sb = new Sandbox(t);
  const caller = openCaller(t, sb, true);
  const { reports, id } = lifecycle(t, sb, caller, ['--preserve-fds', '1']);
  checkHooks(t, reports, id, caller);
  const p = parseReport(reports.process);
  t.ok(p, "the container's process reported its fds");
  if (p) {
    t.comment(`the container's process holds: ${show(p)}`);
    t.same([...p.fds.keys()].sort((a, b) => a - b), [0, 1, 2, 3], "the container's process: stdio and the preserved fd 3", { fds: show(p) });
    t.equal(p.fds.get(3), caller.file, "fd 3 is the caller's file");
  }
});

t.test('--preserve-fds beyond the fds the caller passed: none of the runtime\'s own fds reach the process', { skip }, async (t) => {
  // The caller asks for 30 fds and has only fd 3 open: fds 4..32 are then whatever the runtime
  // itself has there (Node's event loop, the cgroup directory it is born in...). They must not
  // reach the container: the runtime refuses, or passes only what it was given.
  const sb = new Sandbox(t);
  const caller = openCaller(t, sb, true);
  const id = sb.id('hookfd');
  const bundle = sb.bundle(['/fd-report', '/process-fds'], (s) => {
    s.root.readonly = false;
  }, true);
  const rootfs = path.join(bundle, 'rootfs');
  fs.copyFileSync(FD_REPORT, path.join(rootfs, 'fd-report'));
  fs.chmodSync(path.join(rootfs, 'fd-report'), 0o755);
  const c = tsrWith(sb, caller, ['create', '--preserve-fds', '30', '--bundle', bundle, id]);
  if (c.status !== 0) {
    t.match(c.stderr, /preserve|fd/i, `create is refused with a reason: ${c.stderr.trim()}`);
    return;
  }
  t.equal(tsrWith(sb, caller, ['start', id]).status, 0, 'start');
  t.ok(sb.waitStatus(id, 'stopped', 10_000), 'the process ran and exited');
  const p = parseReport(path.join(rootfs, 'process-fds'));
  t.ok(p, "the container's process reported its fds");
  if (!p) return;
  t.comment(`the container's process holds: ${show(p)}`);
  const given = new Set([0, 1, 2, ...Object.keys(caller.extra).map(Number)]);
  const runtimes = [...p.fds].filter(([fd]) => !given.has(fd)).map(([fd, target]) => `${fd} ${target}`);
  t.same(runtimes, [], "the container's process holds no fd the caller did not pass");
});
