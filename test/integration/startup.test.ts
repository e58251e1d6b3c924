/**
 * Start-up cost: what each command loads. Every container operation of a client is a fresh Node
 * process, so modules a command does not need are time on every call.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { spawnSync } from 'child_process';
import { PROJECT, Sandbox, NEEDS_ROOT, cgroupRoots } from '../helpers/runtime';

const ENTRY = path.join(PROJECT, 'dist', 'src', 'cli', 'entry.js');
/** The flags bin/tsruntime runs node with (its code cache is made under them). */
const NODE_FLAGS: string[] = JSON.parse(fs.readFileSync(path.join(PROJECT, 'scripts', 'node-flags.json'), 'utf8'));

/**
 * A real call, and what it loaded: Node's built-in modules (process.moduleLoadList), our modules
 * (Node's module cache, whether they came from a bundle or a file), the files it read with
 * fs.readFileSync (which Node's loader reads modules with), opened, stat'ed or looked for with fs
 * (the code cache does none of these: it reads and checks through the addon), the files Node's resolver
 * looked up for a require, the directories it listed, and its threads at the end.
 */
function loaded(sb: Sandbox, args: string[]): { status: number; builtins: string[]; modules: string[]; read: string[]; resolved: string[]; listed: string[]; threads: number; stderr: string } {
  const probe = path.join(sb.dir, 'probe.js');
  const report = path.join(sb.dir, 'loaded.json');
  fs.writeFileSync(
    probe,
    `const fs = require('fs');
    const read = [];
    const readFileSync = fs.readFileSync;
    fs.readFileSync = function (p, ...rest) { if (typeof p === 'string') read.push(p); return readFileSync.call(this, p, ...rest); };
    for (const name of ['openSync', 'statSync', 'existsSync']) {
      const f = fs[name];
      fs[name] = function (p, ...rest) { if (typeof p === 'string') read.push(p); return f.call(this, p, ...rest); };
    }
    const resolved = [];
    const Module = module.constructor;
    const resolveFilename = Module._resolveFilename;
    Module._resolveFilename = function (...args) { const f = resolveFilename.apply(this, args); resolved.push(f); return f; };
    const listed = [];
    const readdirSync = fs.readdirSync;
    fs.readdirSync = function (p, ...rest) { listed.push(String(p)); return readdirSync.call(this, p, ...rest); };
    process.on('exit', () => readFileSync === fs.readFileSync || fs.writeFileSync(${JSON.stringify(report)}, JSON.stringify({
      builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13)), modules: Object.keys(require.cache), read, resolved, listed,
      threads: readdirSync('/proc/self/task').length })));`,
  );
  fs.rmSync(report, { force: true });
  // Files, not pipes: a created container's init inherits the runtime's stdio.
  const out = fs.openSync(path.join(sb.dir, 'out'), 'w');
  const err = path.join(sb.dir, 'err');
  const errFd = fs.openSync(err, 'w');
  // As bin/tsruntime runs node: its flags, without NODE_OPTIONS or NODE_EXTRA_CA_CERTS. Through
  // env(1): the test runner puts its own hooks back into the NODE_OPTIONS of every node it spawns.
  const node = ['env', '-u', 'NODE_OPTIONS', '-u', 'NODE_EXTRA_CA_CERTS', process.execPath, ...NODE_FLAGS];
  const r = spawnSync(node[0], [...node.slice(1), '-r', probe, ENTRY, '--root', sb.root, ...args], { stdio: ['ignore', out, errFd], timeout: 30_000 });
  fs.closeSync(out);
  fs.closeSync(errFd);
  return { status: r.status ?? -1, ...JSON.parse(fs.readFileSync(report, 'utf8')), stderr: fs.readFileSync(err, 'utf8') };
}

/** A container's whole life, one CLI call at a time: create, state, start, exec, list, kill, delete, run. */
function lifecycleCalls(sb: Sandbox, id: string): string[][] {
  return [
    ['create', '--bundle', sb.bundle(['sleep', '300']), id],
    ['state', id],
    ['start', id],
    ['exec', id, 'true'],
    ['list'],
    ['kill', id, 'KILL'],
    ['delete', '--force', id],
    ['run', '--bundle', sb.bundle(['true']), sb.id()],
  ];
}

t.test('no command of a container lifecycle loads https, crypto or zlib (koffi without its downloader)', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const calls = lifecycleCalls(sb, id);
  for (const args of calls) {
    const r = loaded(sb, args);
    t.equal(r.status, 0, `${args[0]} succeeds${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
    t.same(r.builtins.filter((m) => /^(https|crypto|zlib)$/.test(m)), [], `${args[0]} loads none of https, crypto, zlib`);
  }
});

// child_process (with net and stream) costs some 9 ms to load, tty some 7: only newuidmap, hooks,
// `ps` and a foreground terminal need them, and none of these calls does. Node's rimraf (fs.rmSync)
// costs 0.5 ms where unlink and rmdir do (state/remove.ts). os costs 0.4 ms for a few kernel
// numbers (plan/linux-constants.ts keeps them); an error message may still load it.
t.test('no command of a container lifecycle without hooks, terminal or id-map helpers loads child_process, net, tty, rimraf or os', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  for (const args of lifecycleCalls(sb, id)) {
    const r = loaded(sb, args);
    t.equal(r.status, 0, `${args[0]} succeeds${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
    t.same(r.builtins.filter((m) => /^(child_process|net|tty|internal\/fs\/rimraf|os)$/.test(m)), [], `${args[0]} loads none of child_process, net, tty, rimraf, os`);
  }
});

/** The modules a command's bundle holds: the keys of its object literal (scripts/code-cache.js). */
function bundled(command: string): string[] {
  const dir = path.join(PROJECT, 'dist', 'code-cache', command);
  const text = fs.readFileSync(path.join(dir, 'bundle.js'), 'latin1');
  return [...text.matchAll(/^("[^"\n]+"): \[/gm)].map((m) => path.resolve(dir, JSON.parse(m[1]) as string));
}

/** The commands whose bundle holds only what their warm-up loaded (scripts/code-cache.js, TRIMMED). */
const TRIMMED = ['state', 'list', 'start', 'kill', 'delete'];

// The small commands' bundles keep only what their warm-up loaded: that is what a real call loads
// only if the warm-up ran the real path (on a created container for start, a running one for
// kill, a stopped one for delete), not the error path of a missing container.
t.test("each command compiles its modules from its own bundle in the code cache, none from disk; a small command's bundle holds no more", { skip: NEEDS_ROOT }, async (t) => {
  const cacheDir = path.join(PROJECT, 'dist', 'code-cache');
  const src = path.join(PROJECT, 'dist', 'src') + path.sep;
  const entry = path.join(src, 'cli', 'entry.js');
  const sb = new Sandbox(t);
  const id = sb.id();
  for (const args of lifecycleCalls(sb, id)) {
    t.ok(fs.existsSync(path.join(cacheDir, args[0], 'bundle.cache')), `the build made ${args[0]}'s cache`);
    const r = loaded(sb, args);
    t.equal(r.status, 0, `${args[0]} succeeds${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
    t.ok(r.modules.filter((f) => f.startsWith(src)).length > 10, `${args[0]} loads its modules`);
    t.same(r.read.filter((f) => f.startsWith(src) && f !== entry), [], `${args[0]} reads no module from disk but the entry (not even the bundle's loader)`);
    // Node's fs functions compile on their first call in every process: the addon reads the
    // bundle and checks each module's file (size, mtime) without them.
    t.same(r.read.filter((f) => f.startsWith(cacheDir) || (f.startsWith(src) && f !== entry)), [], `${args[0]} reads its bundle and checks its modules without Node's fs`);
    // Node's resolution of a relative require stats candidates and realpaths the file (an lstat
    // per directory up to /): about 0.3 ms for the entry's require of main.js on each call.
    t.same(r.resolved.filter((f) => f.startsWith(src) && f !== entry), [], `${args[0]}: Node's resolver looks up no module of ours but the entry, the bundle knows them`);
    if (TRIMMED.includes(args[0])) {
      const inBundle = bundled(args[0]);
      t.ok(inBundle.length > 10, `${args[0]}'s bundle holds its modules (${inBundle.length})`);
      t.same(inBundle.filter((f) => !r.modules.includes(f)).map((f) => path.relative(PROJECT, f)), [], `${args[0]}'s bundle holds no module it does not load`);
    }
  }
});

// A blocking waitpid on libuv's thread pool started four threads for one wait (and a foreground
// wait must leave the main thread free to forward signals): exec and run wait on SIGCHLD instead.
t.test('exec and run wait for their process without starting a thread pool: no more threads than state', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const calls = lifecycleCalls(sb, id);
  const threads = new Map<string, number>();
  for (const args of calls) {
    const r = loaded(sb, args);
    t.equal(r.status, 0, `${args[0]} succeeds${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
    threads.set(args[0], r.threads);
  }
  t.ok(threads.get('state')! > 1, `state has node's own threads (${threads.get('state')})`);
  t.equal(threads.get('exec'), threads.get('state'), 'exec: as many threads as state');
  t.equal(threads.get('run'), threads.get('state'), 'run: as many threads as state');
});

t.test('create and run never list the state root: their cost does not grow with the containers under it', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  for (const args of [
    ['create', '--bundle', sb.bundle(['sleep', '300']), id],
    ['run', '--bundle', sb.bundle(['true']), sb.id()],
  ]) {
    const r = loaded(sb, args);
    t.equal(r.status, 0, `${args[0]} succeeds${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
    t.same(r.listed.filter((d) => path.resolve(d) === sb.root), [], `${args[0]} does not list --root`);
  }
  t.equal(sb.tsr(['delete', '--force', id]).status, 0);
});

t.test('state and list of a running container read its freezer file, never the cgroup drivers; kill reads neither, nor loads koffi', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  t.equal(sb.tsr(['run', '--detach', '--bundle', sb.bundle(['sleep', '300']), id]).status, 0, 'run -d');
  const cgroups = path.join(PROJECT, 'dist', 'src', 'cgroups') + path.sep;
  const drivers = (read: string[]) => read.filter((f) => f.startsWith(cgroups) && !/\/(frozen|cgroup-fs)\.js$/.test(f)).map((f) => path.basename(f));
  const record = path.join(sb.root, id, 'state.json');
  t.ok(JSON.parse(fs.readFileSync(record, 'utf8')).freezer, 'create recorded where the freezer is');
  for (const args of [['state', id], ['list'], ['kill', id, 'CONT']]) {
    const r = loaded(sb, args);
    t.equal(r.status, 0, `${args[0]} succeeds${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
    t.same(drivers(r.modules), [], `${args[0]} loads no cgroup driver`);
    // A signal goes to a paused init as to a running one: kill needs only whether it lives.
    if (args[0] !== 'kill') continue;
    t.same(r.modules.filter((f) => f.startsWith(cgroups)), [], 'kill loads no cgroup module at all (not even the freezer\'s)');
    // Its pidfd comes from tsr-addon.node: koffi alone would be 1.2-2 ms of the call.
    t.same(r.modules.filter((f) => /koffi|host-process|shim\.js$/.test(f)), [], 'kill loads neither koffi nor the shim');
  }
  t.equal(sb.tsr(['pause', id]).status, 0, 'pause');
  t.equal(sb.state(id).status, 'paused', 'paused, from the recorded freezer file');
  // A record written before freezer files were recorded: the driver still finds the freezer.
  const rec = JSON.parse(fs.readFileSync(record, 'utf8'));
  delete rec.freezer;
  fs.writeFileSync(record, JSON.stringify(rec));
  t.equal(sb.state(id).status, 'paused', 'paused, from an older record');
  t.equal(sb.tsr(['resume', id]).status, 0, 'resume');
  t.equal(sb.state(id).status, 'running', 'running again');
  t.equal(sb.tsr(['kill', id, 'KILL']).status, 0);
  t.ok(sb.waitStatus(id, 'stopped'), 'stopped');
  // Its own pid namespace died with its init: nothing in the cgroup to look for, and the
  // directories create recorded are all it takes to remove it.
  t.ok(JSON.parse(fs.readFileSync(record, 'utf8')).cgroupDirs?.length > 0, 'create recorded the cgroup\'s directories');
  const del = loaded(sb, ['delete', id]);
  t.equal(del.status, 0, `delete succeeds${del.stderr ? `: ${del.stderr.trim()}` : ''}`);
  t.same(del.read.filter((f) => f.endsWith('/cgroup.procs') || f === '/proc/self/mountinfo'), [], 'delete of a stopped container with its own pid namespace reads neither cgroup.procs nor the host\'s layout');
  t.same(drivers(del.modules).filter((m) => m !== 'common.js'), [], 'and loads no cgroup driver');
  t.same(cgroupRoots().map((base) => path.join(base, 'tsruntime', id)).filter((d) => fs.existsSync(d)), [], 'its cgroup is gone');
});
