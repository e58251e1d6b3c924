/**
 * The code cache's hook in Node's loader (src/cli/entry.ts installs a command's bundle and hands
 * its files here): each module the bundle holds runs from it, compiled from V8's cache, instead of
 * being resolved, read and compiled from its file.
 */
import path from 'path';

type ModuleFn = (exports: unknown, require: unknown, module: unknown, filename: string, dirname: string) => void;
/**
 * What bundle.js evaluates to: per file (relative to the bundle's directory), its size and mtime
 * (ms) when bundled, what its literal requires of other bundled files resolved to then, and its
 * compiled body.
 */
export type BundleFiles = Record<string, [number, number, Record<string, string>, ModuleFn]>;
type Entry = BundleFiles[string];

/* eslint-disable @typescript-eslint/no-explicit-any */

/** Whether a file is the one the bundle was made from (its size and mtime then). */
export type Fresh = (filename: string, size: number, mtimeMs: number) => boolean;

/**
 * Node's loader gets the bundled bodies for the files it loads (main's require of a command), and
 * the bundled modules' own requires of each other skip Node's resolution (a few stat and realpath
 * calls each): the build resolved them. Either way the module is Node's, in its cache under its
 * file's name, so a later require of that file from anywhere gets the same instance. A file that
 * is not fresh loads from disk.
 */
export function hookLoader(dir: string, files: BundleFiles, fresh: Fresh): RequireFor {
  // Node's Module class, as every CommonJS module's constructor: require('module') would load the
  // public module API and the ES module loader with it (about 1 ms) for the same object.
  const Module = module.constructor as any;
  const names = bundleNames(dir);
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

  /** The bundled body of a file, once: a stale file is left to Node. */
  const take = (rel: string, filename: string): Entry | undefined => {
    if (!Object.hasOwn(files, rel)) return undefined;
    const entry = files[rel];
    delete files[rel];
    return fresh(filename, entry[0], entry[1]) ? entry : undefined;
  };
  const run = (module: any, entry: Entry) =>
    entry[3].call(module.exports, module.exports, requireFor(module, entry[2]), module, module.filename, dirname(module.filename));

  /** A bundled module's require: what Module._load does for a file, without resolving it. */
  const requireFor = (parent: any, deps: Record<string, string>): any => {
    const req = (request: string) => {
      const rel = deps[request];
      if (rel === undefined) return parent.require(request);
      const filename = names.absolute(rel);
      const cached = Module._cache[filename];
      if (cached) return cached.exports;
      const entry = take(rel, filename);
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
    const entry = take(names.relative(filename), filename);
    if (!entry) return loadJs.call(this, module, filename);
    run(module, entry);
  };
  return requireFor;
}

/**
 * A require for a module outside the bundle (the entry) whose requires of bundled files were
 * resolved ahead (deps: request to the bundle's name of the file), as the bundled modules' own.
 */
export type RequireFor = (parent: unknown, deps: Record<string, string>) => (request: string) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Between the bundle's names of files and the files: a name is a normalized path relative to dir,
 * its "../" first ("../../src/x.js"), as path.relative wrote it in the build. Plain string work,
 * no path.join or path.dirname per module: without V8's JIT (bin/tsruntime's flags) path's
 * functions cost about 10 µs a call, a millisecond over create's requires. Names not of that form
 * go through path.resolve.
 */
export function bundleNames(dir: string): { absolute(rel: string): string; relative(filename: string): string } {
  const ancestors = [path.resolve(dir)];
  /** dir's ancestor up levels above it. */
  const ancestor = (up: number): string => {
    while (ancestors.length <= up) {
      const last = ancestors[ancestors.length - 1];
      ancestors.push(last.slice(0, last.lastIndexOf('/')) || '/');
    }
    return ancestors[up];
  };
  const memo = new Map<string, string>();
  return {
    absolute(rel) {
      let abs = memo.get(rel);
      if (abs !== undefined) return abs;
      let up = 0;
      while (rel.startsWith('../', up * 3)) up++;
      const rest = rel.slice(up * 3);
      if (rest === '' || rest.startsWith('/') || rest.includes('//') || /(^|\/)\.\.?(\/|$)/.test(rest)) {
        abs = path.resolve(dir, rel);
      } else {
        const base = ancestor(up);
        abs = base === '/' ? `/${rest}` : `${base}/${rest}`;
      }
      memo.set(rel, abs);
      return abs;
    },
    /** filename's name, for an absolute normalized filename (as Node's loader has them). */
    relative(filename) {
      for (let up = 0; ; up++) {
        const base = ancestor(up);
        if (base === '/') return '../'.repeat(up) + filename.slice(1);
        if (filename.startsWith(base) && filename[base.length] === '/') return '../'.repeat(up) + filename.slice(base.length + 1);
      }
    },
  };
}
