#!/usr/bin/env node
'use strict';
/**
 * Build step (after tsc): one bundle with V8's code cache per CLI command, dist/code-cache/<command>/
 * bundle.js and bundle.cache, which the command loads instead of resolving, reading and compiling
 * its modules one file at a time (src/cli/entry.ts and bundle-loader.ts say how they are used;
 * entry.ts picks the bundle before the CLI's own modules load, so they come from it too).
 *
 *   1. the modules: every .js file reachable from the command's module, src/cli/main.js and
 *      src/cli/bundle-loader.js by a literal require() (of main.js's own, only those at its top
 *      level: the others load the other commands);
 *   2. bundle.js: one object literal, per file (relative to the bundle's directory) its size, mtime
 *      and body wrapped as Node wraps a CommonJS module;
 *   3. bundle.cache: V8's code cache of bundle.js, made by a fresh node (the flags and version of the
 *      node that will read it) after loading the modules through the bundle and running the command
 *      once (writeCache), so the functions that compiled are in it;
 *   4. for the small commands (TRIMMED), 2 and 3 again with only the modules that run loaded.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const Module = require('module');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'code-cache');
const CLI = path.join(DIST, 'src', 'cli');
/**
 * The commands that plan a container (their warm-up is a dry run of create, or of exec): they load
 * most of their bundle, so the warm-up evaluates every bundled module first.
 */
const PLANNING = new Set(['create', 'run', 'exec']);
const REQUIRE = /\brequire\((['"])([^'"\n]+)\1\)/g;
/** A require at a file's top level, as tsc writes imports: at the start of a line. */
const TOP_REQUIRE = /^[^\s].*\brequire\((['"])([^'"\n]+)\1\)/gm;

/** The node flags bin/tsruntime passes (scripts/node-flags.json, from build.js). */
const FLAGS = process.argv.slice(2);

/**
 * code run by a node as bin/tsruntime runs it: its flags, no NODE_OPTIONS (other flags: V8 rejects
 * the cache), and a script file rather than -e (which would be one of its process.execArgv).
 */
function node(code) {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_EXTRA_CA_CERTS;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-code-cache-'));
  try {
    fs.writeFileSync(path.join(dir, 'run.js'), code);
    return execFileSync(process.execPath, [...FLAGS, path.join(dir, 'run.js')], { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** What entry.js has loaded before it installs a bundle: itself. */
const PRELOADED = new Set([path.join(CLI, 'entry.js'), ...JSON.parse(node(`require(${JSON.stringify(path.join(CLI, 'entry.js'))}); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`))]);
/** The hook entry.js installs: in every bundle, so it compiles from the cache too. */
const LOADER = path.join(CLI, 'bundle-loader.js');

/** Every module of the command's bundle, with what its literal requires of bundled files resolve to. */
function modules(command) {
  const main = path.join(CLI, 'main.js');
  // main.js requires every command's module inside a function: only its top-level requires (and
  // this command's, below) are followed. Its other requires of files that are in the bundle anyway
  // (the state store) are bundled ones too, not resolved by Node at run time.
  const follow = (file, code) => new Set([...code.matchAll(file === main ? TOP_REQUIRE : REQUIRE)].map((m) => m[2]));
  const deps = new Map();
  const commandFile = path.join(CLI, 'commands', `${command}.js`);
  const queue = [LOADER, main, commandFile];
  while (queue.length) {
    const file = queue.shift();
    if (deps.has(file)) continue;
    deps.set(file, {});
    const resolve = Module.createRequire(file).resolve;
    const code = fs.readFileSync(file, 'utf8');
    const followed = follow(file, code);
    for (const m of code.matchAll(REQUIRE)) {
      if (Module.isBuiltin(m[2])) continue;
      let dep;
      try {
        dep = resolve(m[2]);
      } catch {
        continue; // optional, or resolved at run time from elsewhere: loads from disk
      }
      if (!dep.endsWith('.js')) continue;
      deps.get(file)[m[2]] = dep;
      if (followed.has(m[2]) && !deps.has(dep)) queue.push(dep);
    }
  }
  // and main's require of this command is a bundled one too (not resolved by Node at run time).
  deps.get(main)[`./commands/${command}`] = commandFile;
  const files = [...deps.keys()].filter((f) => !PRELOADED.has(f)).sort();
  const inBundle = new Set(files);
  return files.map((file) => ({
    file,
    deps: Object.fromEntries(Object.entries(deps.get(file)).filter(([, d]) => inBundle.has(d))),
  }));
}

/**
 * A module's code as V8 will read it from the bundle: without its comments, which are about a
 * sixth of tsc's output (the doc comments of src/). Every command pays for the bundle's size, in
 * reading it, in the string V8 keeps as the source of its functions (create's peak RSS) and in the
 * cache. The comments are found by TypeScript's parser, as the trivia before each token (a scanner
 * alone cannot tell a regular expression from a division), and only they are cut: a comment that
 * spans lines leaves a line break, so no statement joins its neighbour.
 */
function withoutComments(file, code) {
  const known = stripped.get(file);
  if (known) return known;
  const ts = require('typescript');
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const cuts = new Map();
  const visit = (node) => {
    if (node.kind < ts.SyntaxKind.FirstNode || node.kind === ts.SyntaxKind.EndOfFileToken) {
      for (const c of ts.getLeadingCommentRanges(code, node.pos) ?? []) cuts.set(c.pos, c.end);
    }
    for (const child of node.getChildren(source)) visit(child);
  };
  visit(source);
  let out = '';
  let at = 0;
  for (const [pos, end] of [...cuts].sort((x, y) => x[0] - y[0])) {
    out += code.slice(at, pos) + (code.slice(pos, end).includes('\n') ? '\n' : ' ');
    at = end;
  }
  out += code.slice(at);
  stripped.set(file, out);
  return out;
}
/** withoutComments' results: most files are in several commands' bundles (create's 85 in run's and exec's). */
const stripped = new Map();

function writeBundle(out, files) {
  const parts = files.map(({ file, deps }) => {
    const st = fs.statSync(file);
    const body = withoutComments(file, fs.readFileSync(file, 'utf8'));
    const rel = Object.fromEntries(Object.entries(deps).map(([r, d]) => [r, path.relative(out, d)]));
    return `${JSON.stringify(path.relative(out, file))}: [${st.size}, ${st.mtimeMs}, ${JSON.stringify(rel)}, function (exports, require, module, __filename, __dirname) {${body}\n}]`;
  });
  fs.mkdirSync(out, { recursive: true });
  // New files, never rewritten ones: a command that runs meanwhile has the old ones mapped
  // (native/addon.c), and a mapped file cut short faults where it is read.
  fs.rmSync(path.join(out, 'bundle.cache'), { force: true });
  fs.rmSync(path.join(out, 'bundle.js'), { force: true });
  // ASCII only: one other character made V8 hold the whole 700 KiB of create's bundle as a two-byte
  // string (about 1.3 ms more to read and compile), and ASCII can be read as latin1, a plain copy.
  // Any other character is written as its \u escape, which means the same in a string, template,
  // regular expression, identifier or comment.
  const text = `({\n${parts.join(',\n')}\n})\n`.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  fs.writeFileSync(path.join(out, 'bundle.js'), text);
}

/**
 * The commands whose warm-up acts on a container made for it (see writeCache), in the state a real
 * call finds it in, so they compile (and keep) what they run on a real one, not only the error path
 * of a missing one: start a created one, kill a running one, delete a stopped one.
 */
const ON_CONTAINER = { state: 'running', list: 'running', exec: 'running', kill: 'running', start: 'created', delete: 'stopped' };
/**
 * Small commands whose warm-up runs what a real call runs (on that container): their bundle keeps
 * only the modules the warm-up loaded, about 20 of the 45 that literal requires reach. Every
 * command reads, copies and deserializes its whole bundle: the whole one cost each about 0.5 ms
 * more. A module left out (the driver for a record from an older version, or for another cgroup
 * layout, say) loads from its file.
 */
const TRIMMED = new Set(['state', 'list', 'start', 'kill', 'delete']);

/**
 * What the warm-up runs: a dry run of create for create and run, a dry run of exec --process for
 * exec (what containerd and conmon call), else the command itself.
 */
function warmUpArgs(command, tmp) {
  if (command === 'exec') return ['exec', '--dry-run', '--process', path.join(tmp, 'process.json'), 'warm-up'];
  if (PLANNING.has(command)) return ['create', '--dry-run', '--bundle', tmp, 'warm-up'];
  if (command === 'list' || command === 'features') return [command];
  // SIGWINCH: the container's init is the warm-up's own node, which ignores it.
  if (command === 'kill') return ['kill', 'warm-up', 'WINCH'];
  if (command === 'spec') return ['spec', '--bundle', path.join(tmp, 'spec')];
  return [command, 'warm-up']; // a container that does not exist: the CLI, the state store, the error
}

/**
 * Whether the warm-up is a call that succeeds: every one but those on a container that does not
 * exist. One that fails where it should not (the native build missing, say) compiles an error's
 * path instead of the command's, and the build says so rather than ship that cache.
 */
function warmUpSucceeds(command) {
  return PLANNING.has(command) || Object.hasOwn(ON_CONTAINER, command) || ['list', 'features', 'spec'].includes(command);
}

/**
 * The cache, from a node that installs the bundle and runs the command once (warmUpArgs: for
 * create and run a dry run from a default config.json, for exec one of its process, which compile
 * the config validator and the planner after every bundled module is evaluated (PLANNING); for
 * the commands of ON_CONTAINER on a container made for it): V8's cache holds every function
 * compiled so far. The small commands' caches stay small: what their warm-up
 * did not reach is compiled at run time, as without a cache.
 */
function writeCache(command, out, files) {
  fs.rmSync(path.join(out, 'bundle.node'), { force: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-code-cache-'));
  const loaded = path.join(tmp, 'loaded.json');
  try {
    fs.mkdirSync(path.join(tmp, 'rootfs'));
    fs.mkdirSync(path.join(tmp, 'spec'));
    const src = (f) => JSON.stringify(path.join(DIST, 'src', f));
    node(`
      const fs = require('fs');
      const cc = require(${src('cli/entry.js')});
      const spec = require(${src('spec/default-spec.js')}).defaultSpec({ args: ['true'] });
      fs.writeFileSync(${JSON.stringify(path.join(tmp, 'config.json'))}, JSON.stringify({
        ...spec,
        process: { ...spec.process, terminal: false },
        // Engines set a seccomp profile: its planning and compiling belong in the cache too.
        linux: { ...spec.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kexec_load'], action: 'SCMP_ACT_ERRNO' }] } },
      }));
      const script = cc.installBundle(${JSON.stringify(out)});
      // What the warm-up compiles; for create, run and exec every bundled module's top level first.
      for (const f of ${JSON.stringify(PLANNING.has(command) ? files.map((f) => f.file) : [])}) require(f);
      const status = ${JSON.stringify(ON_CONTAINER[command])};
      if (status) {
        // A container whose init is this node itself, made through the store as create makes one
        // (after the bundle is installed, so the store's code is the bundle's), with a thawed
        // freezer file of this host's kind in place of a cgroup's, and an empty directory in
        // place of the cgroup's directories (delete removes it as it removes those). Stopped: the
        // recorded start time is not this node's. Created: its exec fifo holds the init's byte
        // already, on an fd this node keeps open. Nothing here signals or changes another process.
        const { StateStore } = require(${src('state/store.js')});
        const { readProcStat } = require(${src('state/proc.js')});
        const freezer = ${JSON.stringify(path.join(tmp, 'freezer'))};
        const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
        fs.mkdirSync(freezer);
        fs.writeFileSync(freezer + (v2 ? '/cgroup.freeze' : '/freezer.state'), v2 ? '0\\n' : 'THAWED\\n');
        const cgroupDir = ${JSON.stringify(path.join(tmp, 'cgroup'))};
        fs.mkdirSync(cgroupDir);
        fs.mkdirSync(${JSON.stringify(path.join(tmp, 'state'))});
        const config = JSON.parse(fs.readFileSync(${JSON.stringify(path.join(tmp, 'config.json'))}, 'utf8'));
        const store = new StateStore(${JSON.stringify(path.join(tmp, 'state'))});
        store.claim({
          id: 'warm-up', pid: process.pid, startTime: status === 'stopped' ? '1' : readProcStat(process.pid).startTime, bundle: ${JSON.stringify(tmp)},
          rootfs: ${JSON.stringify(path.join(tmp, 'rootfs'))}, created: new Date().toISOString(), owner: '', status: status === 'created' ? 'created' : 'running',
          cgroupsPath: '/tsruntime-code-cache-warm-up', config, freezer: { version: v2 ? 2 : 1, dir: freezer }, cgroupDirs: [cgroupDir],
        }).release();
        if (status === 'created') {
          require('child_process').execFileSync('mkfifo', [store.fifoPath('warm-up')]);
          fs.writeSync(fs.openSync(store.fifoPath('warm-up'), 'r+'), 'x');
        }
        fs.writeFileSync(${JSON.stringify(path.join(tmp, 'process.json'))}, JSON.stringify(config.process));
      }
      const args = ['--root', ${JSON.stringify(path.join(tmp, 'state'))}, '--log', '/dev/null', ...${JSON.stringify(warmUpArgs(command, tmp))}];
      require(${src('cli/main.js')}).main(args).catch((e) => e.message).then((code) => {
        fs.writeFileSync(${JSON.stringify(path.join(out, 'bundle.cache'))}, script.createCachedData());
        fs.writeFileSync(${JSON.stringify(path.join(out, 'bundle.node'))}, cc.cacheKey(${JSON.stringify(FLAGS)}));
        fs.writeFileSync(${JSON.stringify(loaded)}, JSON.stringify({ code, modules: Object.keys(require.cache) }));
      });
    `);
    const { code, modules } = JSON.parse(fs.readFileSync(loaded, 'utf8'));
    if (warmUpSucceeds(command) && code !== 0) {
      fs.rmSync(path.join(out, 'bundle.node'), { force: true });
      throw new Error(`code-cache: the warm-up of ${command} (${warmUpArgs(command, tmp).join(' ')}) failed (${typeof code === 'number' ? `exit status ${code}` : code}), so its cache would hold an error's path: is native/build complete?`);
    }
    return new Set(modules);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// A bundle per command; a layout from an older build goes.
fs.rmSync(OUT, { recursive: true, force: true });
const { COMMANDS } = require(path.join(CLI, 'main.js'));
const made = [];
for (const command of COMMANDS) {
  const out = path.join(OUT, command);
  let files = modules(command);
  writeBundle(out, files);
  const loaded = writeCache(command, out, files);
  if (TRIMMED.has(command)) {
    const kept = new Set(files.map((f) => f.file).filter((f) => loaded.has(f)));
    files = files.filter((f) => kept.has(f.file)).map((f) => ({ file: f.file, deps: Object.fromEntries(Object.entries(f.deps).filter(([, d]) => kept.has(d))) }));
    writeBundle(out, files);
    writeCache(command, out, files);
  }
  const kib = (f) => Math.round(fs.statSync(path.join(out, f)).size / 1024);
  made.push(`${command} ${files.length} (${kib('bundle.js')}+${kib('bundle.cache')} KiB)`);
}
console.log(`code-cache: dist/code-cache/<command>/, modules per bundle (source+cache): ${made.join(', ')}`);
