/**
 * Compiled seccomp programs, kept under the state root (<root>/@seccomp/), so that a profile is
 * compiled once per host, not on every create and exec. libseccomp takes about 17 ms to compile
 * the profile Podman and Docker give every container and every exec'd process, and runc pays it on
 * each of those calls (its create here: 24.6 ms without a profile, 40.7 ms with Podman's).
 *
 * An entry holds its whole key: this cache's format, the CPU architecture, the kernel's release
 * (libseccomp asks the kernel which actions it supports), the libseccomp file that compiled it,
 * and the filter (linux.seccomp as the planner decided it). It is used only when that key is
 * ours, byte for byte: the hash in its name only finds it, so a collision costs a compile, never
 * a wrong program. Nothing else goes into a program.
 *
 * The entries are trusted as the state root is: that directory already holds every container's
 * config, whose profile exec applies to the processes it starts, so they add nothing to trust.
 * Still, an entry that is not a regular file of this user's, writable by no one else, is ignored.
 * Keeping an entry is best effort: a root that cannot take one (read-only, full) only means the
 * next call compiles again.
 */
import fs from 'fs';
import path from 'path';
import type { SeccompFilter } from '../plan/seccomp-plan';
import type { Logger } from '../log';
import { compileSeccomp } from './host-probe';
import { libseccompFile } from '../native/seccomp';
import { loadShim } from '../native/shim';

/**
 * Part of every key. Bump it when the program compiled for a filter changes (seccompProgram in
 * plan/seccomp-plan.ts, the ENOSYS stub of plan/seccomp-enosys.ts): the entries made before are
 * then ignored. test/unit/seccomp-cache.test.ts pins that output, and says so when it changes.
 */
export const SECCOMP_CACHE_FORMAT = 1;
/** The cache's directory under the state root: not a container id (ids have no '@'). */
export const CACHE_DIR = '@seccomp';
/** Entries kept at most; the oldest go first. A host runs a handful of distinct profiles. */
export const MAX_ENTRIES = 32;
const HEADER = /^tsr-seccomp (\d+) (\d+)$/;

export interface SeccompCacheDeps {
  /** The uncached compiler (libseccomp). */
  compile(filter: SeccompFilter): Buffer;
  /** The libseccomp file that compile() uses, or undefined when it cannot be told: no caching. */
  libraryFile(): string | undefined;
  /** A hash of the key, for the entry's name. */
  hash(text: string): number;
}

function nativeDeps(): SeccompCacheDeps {
  return { compile: compileSeccomp, libraryFile: libseccompFile, hash: (text) => loadShim().hashText(text) };
}

/** The key of a filter's program: everything the program depends on, as text. */
export function cacheKey(filter: SeccompFilter, libraryFile: string, kernel: string = kernelRelease(), arch: string = process.arch): string {
  // JSON has no BigInt: the few rules with argument conditions carry their values as decimal text.
  const rules = filter.rules.map((r) => (r.args.length ? { ...r, args: r.args.map((a) => ({ ...a, value: String(a.value), valueTwo: String(a.valueTwo) })) } : r));
  return JSON.stringify({ format: SECCOMP_CACHE_FORMAT, arch, kernel, libseccomp: libraryFile, filter: { ...filter, rules } });
}

/** uname -r, without Node's os module (about 0.4 ms to load). */
function kernelRelease(): string {
  return fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
}

/** An entry: a header line with the key's and the program's sizes, the key, the program. */
export function encodeEntry(key: string, program: Buffer): Buffer {
  const keyBytes = Buffer.from(key, 'utf8');
  return Buffer.concat([Buffer.from(`tsr-seccomp ${keyBytes.length} ${program.length}\n`, 'latin1'), keyBytes, program]);
}

/** The program of an entry made for exactly this key; undefined for any other or a malformed one. */
export function decodeEntry(entry: Buffer, key: string): Buffer | undefined {
  const nl = entry.indexOf(10);
  if (nl < 0 || nl > 64) return undefined;
  const m = HEADER.exec(entry.toString('latin1', 0, nl));
  if (!m) return undefined;
  const keyLength = Number(m[1]);
  const programLength = Number(m[2]);
  // A program is struct sock_filter[], 8 bytes each.
  if (programLength === 0 || programLength % 8 !== 0 || nl + 1 + keyLength + programLength !== entry.length) return undefined;
  const keyBytes = Buffer.from(key, 'utf8');
  if (keyBytes.length !== keyLength || !keyBytes.equals(entry.subarray(nl + 1, nl + 1 + keyLength))) return undefined;
  return Buffer.from(entry.subarray(nl + 1 + keyLength));
}

/**
 * The compiler create and exec use: the program for a filter from the cache under root when an
 * entry for it is there, else compiled and kept there.
 */
export function cachedSeccompCompiler(root: string, log?: Logger, deps: SeccompCacheDeps = nativeDeps()): (filter: SeccompFilter) => Buffer {
  return (filter) => {
    const library = deps.libraryFile();
    if (library === undefined) return deps.compile(filter);
    const key = cacheKey(filter, library);
    const dir = path.join(root, CACHE_DIR);
    const name = (deps.hash(key) >>> 0).toString(16).padStart(8, '0');
    const found = readEntry(path.join(dir, name), key);
    if (found) {
      log?.debug(`seccomp: the program for this profile was compiled before (${path.join(dir, name)})`);
      return found;
    }
    const t0 = process.hrtime.bigint();
    const program = deps.compile(filter);
    log?.timing('seccomp: compile the profile (libseccomp)', t0);
    keepEntry(dir, name, key, program, log);
    return program;
  };
}

function readEntry(file: string, key: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined; // none yet (or a symlink: not ours)
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.uid !== process.geteuid!() || (st.mode & 0o022) !== 0) return undefined;
    return decodeEntry(fs.readFileSync(fd), key);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Keep the program under dir/name: written aside, then renamed into place (readers see all of it or none). */
function keepEntry(dir: string, name: string, key: string, program: Buffer, log?: Logger): void {
  const tmp = path.join(dir, `.${name}.${process.pid}`);
  try {
    // The root too: a create compiles before it claims its id, which makes the root.
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, encodeEntry(key, program), { mode: 0o600 });
    fs.renameSync(tmp, path.join(dir, name));
    evict(dir);
  } catch (e) {
    log?.debug(`seccomp: the program is not kept in ${dir}: ${(e as Error).message}`);
    unlinkQuietly(tmp);
  }
}

/** Remove the oldest entries past MAX_ENTRIES, and what writers that died left (a minute old). */
function evict(dir: string): void {
  const entries: Array<{ file: string; mtime: number }> = [];
  const now = Date.now();
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    let mtime: number;
    try {
      mtime = fs.lstatSync(file).mtimeMs;
    } catch {
      continue; // removed meanwhile
    }
    if (!name.startsWith('.')) entries.push({ file, mtime });
    else if (now - mtime > 60_000) unlinkQuietly(file);
  }
  entries.sort((a, b) => a.mtime - b.mtime);
  for (const e of entries.slice(0, Math.max(0, entries.length - MAX_ENTRIES))) unlinkQuietly(e.file);
}

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    /* gone already, or never written */
  }
}
