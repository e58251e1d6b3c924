/**
 * koffi, the FFI, without its installer. koffi's own entry (index.js) bundles the prebuild
 * downloader it runs at `npm install`, and requires https, crypto and zlib for it on every load:
 * 10-25 ms of each create, run and exec, for code a runtime never runs. Its native module alone
 * holds the whole API we use (load, func, alloc, view, errno...), so it is loaded directly when
 * it is where koffi 2.x puts it and has koffi's version; any other layout gets koffi's entry.
 */
import fs from 'fs';
import path from 'path';
import { packagePath } from './paths';

/* eslint-disable @typescript-eslint/no-explicit-any */
let cached: any;

export function loadKoffi(): any {
  return (cached ??= nativeModule() ?? require('koffi'));
}

/**
 * A library function bound on its first call (bind makes it: lib.func(prototype)): koffi parses
 * a prototype in about 20 µs, and a command calls few of the functions a module declares. A bind
 * that throws is tried again on the next call.
 */
export function boundOnFirstCall<F>(bind: () => F): () => F {
  let fn: F | undefined;
  return () => (fn ??= bind());
}

/**
 * <koffi>/build/koffi/<platform>_<arch>/koffi.node, checked as koffi's entry checks it; or
 * undefined. koffi is looked for first in this package's own node_modules, then where Node's
 * resolution finds it (a hoisted install): that resolution walks node_modules directories, about
 * 0.25 ms of each command that loads the shim.
 */
function nativeModule(): any {
  return nativeModuleIn(packagePath('node_modules', 'koffi')) ?? nativeModuleIn(resolvedDir());
}

function resolvedDir(): string | undefined {
  try {
    return path.dirname(require.resolve('koffi/package.json'));
  } catch {
    return undefined; // not installed where Node looks: koffi's entry will say so
  }
}

function nativeModuleIn(dir: string | undefined): any {
  if (dir === undefined) return undefined;
  try {
    const { version } = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string };
    const file = path.join(dir, 'build', 'koffi', `${process.platform}_${process.arch}`, 'koffi.node');
    if (!fs.existsSync(file)) return undefined;
    const native = require(file);
    return native && native.version === version && typeof native.load === 'function' ? native : undefined;
  } catch {
    return undefined; // a layout or build we do not know: koffi's entry knows
  }
}
