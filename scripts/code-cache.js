#!/usr/bin/env node
'use strict';
/**
 * Build step (after tsc): dist/code-cache/bundle.js and bundle.cache, which create, run and exec
 * load instead of compiling some 60 files (src/cli/code-cache.ts says how they are used).
 *
 *   1. the modules: every .js file reachable by a literal require() from those commands' modules,
 *      less those the CLI has loaded before it installs the bundle (src/cli/main.ts and its imports);
 *   2. bundle.js: one object literal, per file (relative to dist/) its size, mtime and body wrapped
 *      as Node wraps a CommonJS module;
 *   3. bundle.cache: V8's code cache of bundle.js, made by a fresh node (the flags and version of the
 *      node that will read it) after loading the commands through the bundle, so the functions that
 *      loading compiled are in it.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const Module = require('module');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const OUT = path.join(DIST, 'code-cache');
const ENTRIES = ['create', 'run', 'exec'].map((c) => path.join(DIST, 'src', 'cli', 'commands', `${c}.js`));
const REQUIRE = /\brequire\((['"])([^'"\n]+)\1\)/g;

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

/** Every module to bundle, with what its literal requires of bundled files resolve to. */
function modules() {
  const preloaded = new Set(JSON.parse(node(`require(${JSON.stringify(path.join(DIST, 'src', 'cli', 'main.js'))}); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`)));
  const deps = new Map();
  const queue = [...ENTRIES];
  while (queue.length) {
    const file = queue.shift();
    if (deps.has(file)) continue;
    deps.set(file, {});
    const resolve = Module.createRequire(file).resolve;
    for (const m of fs.readFileSync(file, 'utf8').matchAll(REQUIRE)) {
      if (Module.isBuiltin(m[2])) continue;
      let dep;
      try {
        dep = resolve(m[2]);
      } catch {
        continue; // optional, or resolved at run time from elsewhere: loads from disk
      }
      if (!dep.endsWith('.js')) continue;
      deps.get(file)[m[2]] = dep;
      if (!deps.has(dep)) queue.push(dep);
    }
  }
  const files = [...deps.keys()].filter((f) => !preloaded.has(f)).sort();
  const inBundle = new Set(files);
  return files.map((file) => ({
    file,
    deps: Object.fromEntries(Object.entries(deps.get(file)).filter(([, d]) => inBundle.has(d)).map(([r, d]) => [r, path.relative(DIST, d)])),
  }));
}

function writeBundle(files) {
  const parts = files.map(({ file, deps }) => {
    const st = fs.statSync(file);
    const body = fs.readFileSync(file, 'utf8');
    return `${JSON.stringify(path.relative(DIST, file))}: [${st.size}, ${st.mtimeMs}, ${JSON.stringify(deps)}, function (exports, require, module, __filename, __dirname) {${body}\n}]`;
  });
  fs.mkdirSync(OUT, { recursive: true });
  fs.rmSync(path.join(OUT, 'bundle.cache'), { force: true });
  fs.writeFileSync(path.join(OUT, 'bundle.js'), `({\n${parts.join(',\n')}\n})\n`);
}

/**
 * The cache, from a node that loads the commands and every bundled module through the bundle and
 * plans a container from a default config.json (create --dry-run): the config validator and the
 * planner are compiled then, and V8's cache holds every function compiled so far. The warm-up is best effort: whatever it did
 * not reach is compiled at run time, as without a cache.
 */
function writeCache(files) {
  fs.rmSync(path.join(OUT, 'bundle.node'), { force: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-code-cache-'));
  try {
    fs.mkdirSync(path.join(tmp, 'rootfs'));
    const src = (f) => JSON.stringify(path.join(DIST, 'src', f));
    node(`
      const fs = require('fs');
      const cc = require(${src('cli/code-cache.js')});
      const spec = require(${src('spec/default-spec.js')}).defaultSpec({ args: ['true'] });
      fs.writeFileSync(${JSON.stringify(path.join(tmp, 'config.json'))}, JSON.stringify({
        ...spec,
        process: { ...spec.process, terminal: false },
        // Engines set a seccomp profile: its planning and compiling belong in the cache too.
        linux: { ...spec.linux, seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['kexec_load'], action: 'SCMP_ACT_ERRNO' }] } },
      }));
      const script = cc.installBundle(${JSON.stringify(OUT)});
      // Every bundled module's top level, then what a dry run compiles (the validator, the planner).
      for (const f of ${JSON.stringify(ENTRIES)}) require(f);
      for (const f of ${JSON.stringify(files.map((f) => f.file))}) require(f);
      const warm = () => require(${src('cli/main.js')}).main(['--root', ${JSON.stringify(path.join(tmp, 'state'))}, '--log', '/dev/null', 'create', '--dry-run', '--bundle', ${JSON.stringify(tmp)}, 'warm-up']);
      warm().catch(() => {}).then(() => {
        fs.writeFileSync(${JSON.stringify(path.join(OUT, 'bundle.cache'))}, script.createCachedData());
        fs.writeFileSync(${JSON.stringify(path.join(OUT, 'bundle.node'))}, cc.cacheKey(${JSON.stringify(FLAGS)}));
      });
    `);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const files = modules();
writeBundle(files);
writeCache(files);
const size = (f) => fs.statSync(path.join(OUT, f)).size;
console.log(`code-cache: dist/code-cache/bundle.js (${files.length} modules, ${Math.round(size('bundle.js') / 1024)} KiB), bundle.cache (${Math.round(size('bundle.cache') / 1024)} KiB)`);
