/**
 * A CLI command loads some 20 (state, kill) to 80 (create) modules, and resolving, reading and
 * compiling them one file at a time is a large part of its time: more than the command's own work
 * for the small ones. The build (scripts/code-cache.js) writes each command's modules as one
 * script, dist/code-cache/<command>/bundle.js, with V8's code cache for it: installCodeCache()
 * compiles that script from the cache and hands each module's function to Node's loader as the
 * compiled form of its file. Node still resolves, caches and names every module as usual (one
 * instance each, its real __filename and __dirname): only the reading and compiling of the source
 * are skipped.
 *
 * Nothing here may change what runs. A file whose size or mtime differs from when the bundle was
 * made loads from disk, and so does any module the bundle lacks; a cache V8 rejects (another Node,
 * other flags) only costs a compile; no bundle, or any error, leaves Node's loader as it was.
 */
import fs from 'fs';
import path from 'path';

/** Where the build writes the bundles: dist/code-cache/<command>/. */
export const CODE_CACHE_DIR = path.join(__dirname, '..', '..', 'code-cache');

/**
 * The bundle of the command argv names: that of its first word that names one. This runs before
 * the CLI parses anything, so a flag's value may be taken for the command (`--root state kill`):
 * only speed depends on the guess, as any bundle loads any module correctly.
 */
export function commandCacheDir(argv: readonly string[], base = CODE_CACHE_DIR): string | undefined {
  for (const arg of argv) {
    if (!/^[a-z]+$/.test(arg)) continue;
    const dir = path.join(base, arg);
    if (fs.existsSync(path.join(dir, 'bundle.node'))) return dir;
  }
  return undefined;
}

type ModuleFn = (exports: unknown, require: unknown, module: unknown, filename: string, dirname: string) => void;
/**
 * What bundle.js evaluates to: per file (relative to the bundle's directory), its size and mtime
 * (ms) when bundled, what its literal requires of other bundled files resolved to then, and its
 * compiled body.
 */
export type BundleFiles = Record<string, [number, number, Record<string, string>, ModuleFn]>;
type Entry = BundleFiles[string];

/* eslint-disable @typescript-eslint/no-explicit-any */
let installed: import('vm').Script | undefined;

/**
 * What bundle.node says a cache was made by: this node, and flags (bin/tsruntime's,
 * scripts/node-flags.json). V8 rejects a cache made by another version or under other flags, after
 * compiling for nothing, so such a cache is not even tried.
 */
export function cacheKey(flags: readonly string[]): string {
  return `${process.version} ${process.arch} v8 ${process.versions.v8}\n${flags.join(' ')}`;
}

function usableKey(key: string): boolean {
  const [node, flags] = key.split('\n');
  return node === cacheKey([]).split('\n')[0] && (flags ?? '').split(' ').every((f) => f === '' || process.execArgv.includes(f));
}

/** Installs the bundle in dir if it has a cache made by this node; its script, or undefined. */
export function installCodeCache(dir: string | undefined): import('vm').Script | undefined {
  if (installed || dir === undefined) return installed;
  try {
    // Without its cache the bundle is slower than the files (it compiles more than a command loads).
    if (!usableKey(fs.readFileSync(path.join(dir, 'bundle.node'), 'utf8'))) return undefined;
    // One buffer for both files (the cache is read over the bundle once it is a string): both
    // buffers would stay in memory until a garbage collection that a short command may never
    // have, and create's peak RSS is one of the targets.
    const buffer = readWhole(path.join(dir, 'bundle.js'));
    // The build writes the bundle in ASCII (its \u escapes), so latin1 reads it as it is: a plain copy.
    const source = buffer.toString('latin1');
    return (installed = installBundle(dir, readWhole(path.join(dir, 'bundle.cache'), buffer), source));
  } catch {
    return undefined;
  }
}

/** The bundle compiled (from cachedData when V8 accepts it), run, and its files handed to Node's loader. */
export function installBundle(dir: string, cachedData?: Buffer, source?: string): import('vm').Script {
  const vm = require('vm') as typeof import('vm');
  const file = path.join(dir, 'bundle.js');
  const script = new vm.Script(source ?? fs.readFileSync(file, 'latin1'), { filename: file, cachedData });
  hookLoader(dir, script.runInThisContext() as BundleFiles);
  return script;
}

/** The whole file, in scratch when it fits. */
function readWhole(file: string, scratch?: Buffer): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buffer = scratch && scratch.length >= size ? scratch.subarray(0, size) : Buffer.allocUnsafe(size);
    let at = 0;
    while (at < size) {
      const n = fs.readSync(fd, buffer, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    return buffer.subarray(0, at);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Node's loader gets the bundled bodies for the files it loads (main's require of a command), and
 * the bundled modules' own requires of each other skip Node's resolution (a few stat and realpath
 * calls each): the build resolved them. Either way the module is Node's, in its cache under its
 * file's name, so a later require of that file from anywhere gets the same instance.
 */
function hookLoader(dir: string, files: BundleFiles): void {
  // Node's Module class, as every CommonJS module's constructor: require('module') would load the
  // public module API and the ES module loader with it (about 1 ms) for the same object.
  const Module = module.constructor as any;
  // No path.join or path.dirname per module: without V8's JIT (bin/tsruntime's flags) path's
  // functions cost about 10 µs a call, a millisecond over create's requires. The bundle's names
  // are normalized paths relative to dir ("../../src/x.js"), so plain string work finds their files.
  const absolute = bundleNames(dir);
  const bundled = new Map<string, Entry>();
  for (const rel of Object.keys(files)) bundled.set(absolute(rel), files[rel]);
  const dirname = (filename: string) => filename.slice(0, filename.lastIndexOf('/')) || '/';
  const lookupPaths = new Map<string, string[]>();
  /** module.paths (where its require looks in node_modules): one per directory. */
  const nodeModulePaths = (directory: string): string[] => {
    const known = lookupPaths.get(directory);
    if (known) return known;
    const paths: string[] = Module._nodeModulePaths(directory);
    lookupPaths.set(directory, paths);
    return paths;
  };

  /** Runs a bundled body as module's code, once: a stale file (see fresh) is left to Node. */
  const take = (filename: string): Entry | undefined => {
    const entry = bundled.get(filename);
    if (!entry) return undefined;
    bundled.delete(filename);
    return fresh(filename, entry) ? entry : undefined;
  };
  const run = (module: any, entry: Entry) =>
    entry[3].call(module.exports, module.exports, requireFor(module, entry[2]), module, module.filename, dirname(module.filename));

  /** A bundled module's require: what Module._load does for a file, without resolving it. */
  const requireFor = (parent: any, deps: Record<string, string>): any => {
    const req = (request: string) => {
      const rel = deps[request];
      if (rel === undefined) return parent.require(request);
      const filename = absolute(rel);
      const cached = Module._cache[filename];
      if (cached) return cached.exports;
      const entry = take(filename);
      if (!entry) return parent.require(request);
      const module = new Module(filename, parent);
      module.filename = filename;
      module.paths = nodeModulePaths(dirname(filename));
      Module._cache[filename] = module;
      let ok = false;
      try {
        run(module, entry);
        ok = true;
      } finally {
        if (!ok) delete Module._cache[filename];
      }
      module.loaded = true;
      return module.exports;
    };
    req.resolve = (request: string, options?: unknown) => Module._resolveFilename(request, parent, false, options);
    req.main = require.main;
    req.cache = Module._cache;
    return req;
  };

  const loadJs = Module._extensions['.js'];
  Module._extensions['.js'] = function (module: any, filename: string) {
    const entry = take(filename);
    if (!entry) return loadJs.call(this, module, filename);
    run(module, entry);
  };
}

/**
 * The absolute file of a name in the bundle in dir: a normalized relative path, its "../" first.
 * Names that are not of that form go through path.resolve.
 */
export function bundleNames(dir: string): (rel: string) => string {
  const ancestors = [path.resolve(dir)];
  const memo = new Map<string, string>();
  return (rel) => {
    let abs = memo.get(rel);
    if (abs !== undefined) return abs;
    let up = 0;
    while (rel.startsWith('../', up * 3)) up++;
    const rest = rel.slice(up * 3);
    if (rest === '' || rest.startsWith('/') || rest.includes('//') || /(^|\/)\.\.?(\/|$)/.test(rest)) {
      abs = path.resolve(dir, rel);
    } else {
      while (ancestors.length <= up) {
        const last = ancestors[ancestors.length - 1];
        ancestors.push(last.slice(0, last.lastIndexOf('/')) || '/');
      }
      const base = ancestors[up];
      abs = base === '/' ? `/${rest}` : `${base}/${rest}`;
    }
    memo.set(rel, abs);
    return abs;
  };
}

/** The file is the one the bundle was made from (same size and mtime): else it loads from disk. */
function fresh(filename: string, [size, mtimeMs]: Entry): boolean {
  try {
    const st = fs.statSync(filename);
    return st.size === size && st.mtimeMs === mtimeMs;
  } catch {
    return false;
  }
}
