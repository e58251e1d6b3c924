/**
 * The executable's entry (bin/tsruntime runs it), and the code cache's bootstrap.
 *
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
 * other flags) only costs a compile; no bundle, no addon, or any error, leaves Node's loader as it was.
 */
import fs from 'fs';
import path from 'path';
import type { Addon } from '../native/addon';
import type { BundleFiles } from './bundle-loader';

/** Where the build writes the bundles: dist/code-cache/<command>/. */
export const CODE_CACHE_DIR = path.join(__dirname, '..', '..', 'code-cache');

/** native/build/tsr-addon.node, where src/native/paths.ts finds it in the package. */
const ADDON_FILE = path.join(__dirname, '..', '..', '..', 'native', 'build', 'tsr-addon.node');
let addon: Addon | null | undefined;

/**
 * The addon, loaded before any module of ours: a bundle is read and its files checked through it,
 * as Node's fs functions would compile on their first call (about 0.5 ms of every command). null
 * where it is not built (or is an older build's): then no bundle is installed, and Node loads
 * the files as usual.
 */
function loadedAddon(): Addon | null {
  if (addon === undefined) {
    try {
      const m = { exports: {} as Partial<Addon> };
      process.dlopen(m, ADDON_FILE);
      addon = typeof m.exports.statSizeMtime === 'function' ? (m.exports as Addon) : null;
    } catch {
      addon = null;
    }
  }
  return addon;
}

/**
 * The bundle of the command argv names: that of its first word that names one. This runs before
 * the CLI parses anything, so a flag's value may be taken for the command (`--root state kill`):
 * only speed depends on the guess, as any bundle loads any module correctly.
 */
export function commandCacheDir(argv: readonly string[], base = CODE_CACHE_DIR): string | undefined {
  const files = loadedAddon();
  if (!files) return undefined;
  for (const arg of argv) {
    if (!/^[a-z]+$/.test(arg)) continue;
    const dir = `${base}/${arg}`;
    if (typeof files.statSizeMtime(`${dir}/bundle.node`) !== 'number') return dir;
  }
  return undefined;
}

let installed: import('vm').Script | undefined;
/** The entry's require of main and of the addon's module, through the bundle once one is installed. */
let requireOwn: (request: './main' | '../native/addon') => unknown = require;

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
  const files = loadedAddon();
  if (installed || dir === undefined || !files) return installed;
  try {
    // Without its cache the bundle is slower than the files (it compiles more than a command loads).
    const key = files.readFileLatin1(`${dir}/bundle.node`);
    if (typeof key !== 'string' || !usableKey(key)) return undefined;
    // The build writes the bundle in ASCII (its \u escapes), so latin1 reads it as it is.
    const source = files.readFileLatin1(`${dir}/bundle.js`);
    const cache = files.readFile(`${dir}/bundle.cache`);
    if (typeof source !== 'string' || typeof cache === 'number') return undefined;
    return (installed = installBundle(dir, cache, source));
  } catch {
    return undefined;
  }
}

/** The bundle compiled (from cachedData when V8 accepts it), run, and its files handed to Node's loader. */
export function installBundle(dir: string, cachedData?: Buffer, source?: string): import('vm').Script {
  const vm = require('vm') as typeof import('vm');
  const file = path.join(dir, 'bundle.js');
  const script = new vm.Script(source ?? fs.readFileSync(file, 'latin1'), { filename: file, cachedData });
  const files = script.runInThisContext() as BundleFiles;
  const requireFor = bundleLoader(dir, files).hookLoader(dir, files, fresh);
  // Node's resolution of './main' (stats, and a realpath that lstats each directory up to /) cost
  // about 0.3 ms: the bundle knows the files.
  requireOwn = requireFor(module, {
    './main': path.relative(dir, path.join(__dirname, 'main.js')),
    '../native/addon': path.relative(dir, path.join(__dirname, '..', 'native', 'addon.js')),
  });
  return script;
}

/**
 * The hook in Node's loader: the bundle's copy of bundle-loader.js when it has a fresh one, which
 * compiles from the cache with the rest (from its file, it would be one more module to resolve,
 * read and compile on every call), else that file.
 */
function bundleLoader(dir: string, files: BundleFiles): typeof import('./bundle-loader') {
  const file = path.join(__dirname, 'bundle-loader.js');
  const rel = path.relative(dir, file);
  const entry = Object.hasOwn(files, rel) ? files[rel] : undefined;
  if (!entry || !fresh(file, entry[0], entry[1])) return require('./bundle-loader');
  delete files[rel];
  // As Node would load it: one instance, in its cache under its file's name.
  const Module = module.constructor as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  const loader = new Module(file, module);
  loader.filename = file;
  loader.paths = module.paths;
  Module._cache[file] = loader;
  try {
    entry[3].call(loader.exports, loader.exports, require, loader, file, __dirname);
  } catch (e) {
    delete Module._cache[file];
    throw e;
  }
  loader.loaded = true;
  return loader.exports;
}

/**
 * The file is the one the bundle was made from (same size and mtime): else it loads from disk.
 * Through the addon, or through fs where it is not built.
 */
function fresh(filename: string, size: number, mtimeMs: number): boolean {
  const files = loadedAddon();
  if (files) {
    const st = files.statSizeMtime(filename);
    return typeof st !== 'number' && st[0] === size && st[1] === mtimeMs;
  }
  try {
    const st = fs.statSync(filename);
    return st.size === size && st.mtimeMs === mtimeMs;
  } catch {
    return false;
  }
}

// As bin/tsruntime runs it: first of all the command's bundle, so the CLI's own modules come from
// it too. Required (by the build, tests), it only lends the functions above.
if (require.main === module) {
  installCodeCache(commandCacheDir(process.argv.slice(2)));
  if (addon) (requireOwn('../native/addon') as typeof import('../native/addon')).adoptAddon(addon);
  const { main, exitProcess } = requireOwn('./main') as typeof import('./main');

  main(process.argv.slice(2)).then(
    (code) => exitProcess(code),
    (e) => {
      (require('../log') as typeof import('../log')).writeStderr(`tsruntime: ${(e as Error).message}\n`);
      exitProcess(1);
    },
  );
}
