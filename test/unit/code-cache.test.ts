/**
 * The code cache of the CLI commands (src/cli/entry.ts, bundle-loader.ts) must never change what
 * runs: a stale file loads from disk, a cache V8 rejects is only compiled again, a cache from
 * another node or no bundle leaves the loader alone. Each case runs in a fresh node: the hook is
 * process-wide.
 */
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { spawnSync } from 'child_process';

const CODE_CACHE = path.resolve(__dirname, '..', '..', 'src', 'cli', 'entry.js');
const BUNDLE_LOADER = path.resolve(__dirname, '..', '..', 'src', 'cli', 'bundle-loader.js');

/** A dist/ with two modules on disk and a bundle of both whose bodies say "bundled". */
function fakeDist(t: { teardown(fn: () => void): void }): { dist: string; dir: string; a: string; b: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-code-cache-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  const dist = path.join(root, 'dist');
  const dir = path.join(dist, 'code-cache');
  fs.mkdirSync(path.join(dist, 'src'), { recursive: true });
  fs.mkdirSync(dir);
  const a = path.join(dist, 'src', 'a.js');
  const b = path.join(dist, 'src', 'b.js');
  fs.writeFileSync(a, "module.exports = { from: 'disk' };\n");
  fs.writeFileSync(b, "module.exports = { from: 'disk', a: require('./a') };\n");
  const entry = (file: string, deps: Record<string, string>, body: string) => {
    const st = fs.statSync(file);
    return `${JSON.stringify(path.relative(dir, file))}: [${st.size}, ${st.mtimeMs}, ${JSON.stringify(deps)}, function (exports, require, module, __filename, __dirname) {${body}\n}]`;
  };
  fs.writeFileSync(
    path.join(dir, 'bundle.js'),
    `({\n${entry(a, {}, "module.exports = { from: 'bundled', file: __filename };")},\n${entry(b, { './a': path.relative(dir, a) }, "module.exports = { from: 'bundled', a: require('./a') };")}\n})\n`,
  );
  return { dist, dir, a, b };
}

/** In a fresh node: install the cache from dir, require b, and report what ran. */
function load(dir: string, b: string, a: string, writeCache = false): { installed: boolean; rejected?: boolean; b: string; a: string; same: boolean; file?: string } {
  const code = `
    const cc = require(${JSON.stringify(CODE_CACHE)});
    let script;
    if (${writeCache}) {
      script = cc.installBundle(${JSON.stringify(dir)});
      require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'bundle.cache'))}, require(${JSON.stringify(b)}) && script.createCachedData());
      require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'bundle.node'))}, cc.cacheKey([]));
    } else script = cc.installCodeCache(${JSON.stringify(dir)});
    const b = require(${JSON.stringify(b)});
    process.stdout.write(JSON.stringify({ installed: Boolean(script), rejected: script && script.cachedDataRejected,
      b: b.from, a: b.a.from, same: require(${JSON.stringify(a)}) === b.a, file: b.a.file }));
  `;
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const r = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', code], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

t.test('with a cache made by this node, the bundled bodies run, as the modules Node knows', async (t) => {
  const { dir, a, b } = fakeDist(t);
  load(dir, b, a, true);
  const r = load(dir, b, a);
  t.same(r, { installed: true, rejected: false, b: 'bundled', a: 'bundled', same: true, file: a });
});

t.test('a file changed since the bundle was made loads from disk', async (t) => {
  const { dir, a, b } = fakeDist(t);
  load(dir, b, a, true);
  fs.writeFileSync(a, "module.exports = { from: 'disk', edited: 1 };\n");
  const r = load(dir, b, a);
  t.equal(r.b, 'bundled', 'b is unchanged: bundled');
  t.equal(r.a, 'disk', 'a changed: from disk');
  t.ok(r.same, 'one instance of a');
});

t.test('a cache V8 rejects is compiled again: the same code runs', async (t) => {
  const { dir, a, b } = fakeDist(t);
  load(dir, b, a, true);
  fs.writeFileSync(path.join(dir, 'bundle.cache'), Buffer.alloc(4096, 7));
  const r = load(dir, b, a);
  t.equal(r.rejected, true, 'V8 rejected the cache');
  t.same([r.b, r.a, r.same], ['bundled', 'bundled', true]);
});

t.test('no cache for this node, or no bundle: the loader is left alone', async (t) => {
  const { dir, a, b } = fakeDist(t);
  load(dir, b, a, true);
  fs.writeFileSync(path.join(dir, 'bundle.node'), 'v0.0.0 other\n');
  t.same(load(dir, b, a), { installed: false, b: 'disk', a: 'disk', same: true }, 'another node');
  fs.writeFileSync(path.join(dir, 'bundle.node'), `${process.version} ${process.arch} v8 ${process.versions.v8}\n--no-opt`);
  t.same(load(dir, b, a), { installed: false, b: 'disk', a: 'disk', same: true }, 'made under flags this node does not have');
  fs.rmSync(dir, { recursive: true });
  t.same(load(dir, b, a), { installed: false, b: 'disk', a: 'disk', same: true });
});

t.test("the loader hook itself runs from the bundle when it holds a fresh copy, else from its file", async (t) => {
  const { dir, b } = fakeDist(t);
  const text = fs.readFileSync(BUNDLE_LOADER, 'utf8');
  const bundle = path.join(dir, 'bundle.js');
  const without = fs.readFileSync(bundle, 'utf8');
  /** The fake bundle, with a copy of the loader recorded at this size. */
  const bundleWithLoader = (size: number) => {
    const st = fs.statSync(BUNDLE_LOADER);
    const loader = `${JSON.stringify(path.relative(dir, BUNDLE_LOADER))}: [${size}, ${st.mtimeMs}, {}, function (exports, require, module, __filename, __dirname) {globalThis.loaderFrom = 'bundle';${text}\n}]`;
    fs.writeFileSync(bundle, without.replace(/^\(\{\n/, () => `({\n${loader},\n`));
  };
  const run = () => {
    const code = `
      const cc = require(${JSON.stringify(CODE_CACHE)});
      const script = cc.installBundle(${JSON.stringify(dir)});
      const b = require(${JSON.stringify(b)});
      process.stdout.write(JSON.stringify({ loader: globalThis.loaderFrom ?? 'file', b: b.from, a: b.a.from,
        one: require(${JSON.stringify(BUNDLE_LOADER)}) === require.cache[${JSON.stringify(BUNDLE_LOADER)}].exports }));
    `;
    const r = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', code], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout);
  };
  t.same(run(), { loader: 'file', b: 'bundled', a: 'bundled', one: true }, 'a bundle without it: from its file');
  bundleWithLoader(fs.statSync(BUNDLE_LOADER).size);
  t.same(run(), { loader: 'bundle', b: 'bundled', a: 'bundled', one: true }, "a bundle with it: the bundle's, as Node's one instance");
  bundleWithLoader(fs.statSync(BUNDLE_LOADER).size + 1);
  t.same(run(), { loader: 'file', b: 'bundled', a: 'bundled', one: true }, 'a stale copy: from its file');
});

t.test("a bundle's names find the same files as path.resolve, without it", async (t) => {
  const { bundleNames } = require(BUNDLE_LOADER) as typeof import('../../src/cli/bundle-loader');
  const dirs = ['/work/tsr/dist/code-cache/state', '/a/b', '/a', '/', 'relative/dir'];
  const names = ['../../src/cli/main.js', '../x.js', 'x.js', 'sub/y.js', '../../../node_modules/koffi/index.js', '../../../../../../../../etc/z.js', './odd.js', '../a/../b.js', '..hidden.js', '../', 'a/..', 'a/.', 'a//b.js', '../.', 'x/.../y.js'];
  for (const dir of dirs) {
    const { absolute } = bundleNames(dir);
    for (const rel of names) t.equal(absolute(rel), path.resolve(path.join(dir, rel)), `${dir} + ${rel}`);
  }
});

t.test("a file's name in the bundle is the one path.relative gave it in the build", async (t) => {
  const { bundleNames } = require(BUNDLE_LOADER) as typeof import('../../src/cli/bundle-loader');
  const dirs = ['/work/tsr/dist/code-cache/state', '/a/b', '/a', '/'];
  const files = ['/work/tsr/dist/src/cli/main.js', '/work/tsr/node_modules/koffi/index.js', '/work/tsr-other/x.js', '/a/b/c.js', '/a/bc.js', '/ab/c.js', '/x.js', '/etc/z.js'];
  for (const dir of dirs) {
    const { relative, absolute } = bundleNames(dir);
    for (const file of files) {
      t.equal(relative(file), path.relative(dir, file), `${dir} + ${file}`);
      t.equal(absolute(relative(file)), file, `${dir} + ${file}, and back`);
    }
  }
});
