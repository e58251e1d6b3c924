/**
 * Reading and writing cgroupfs: control files (one write each; linux.resources errors name the
 * config field), cgroup.procs, making and removing cgroup directories.
 */
import fs from 'fs';
import path from 'path';
import { errnoText, RuntimeError } from '../errors';

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Block the thread for ms milliseconds (no event loop needed). */
export function sleepMs(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

export function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException)?.code ?? String((e as Error)?.message ?? e);
}

/** Write a cgroup control file: O_WRONLY without O_CREAT/O_TRUNC, one write() as the kernel expects. */
export function writeCgroupFile(file: string, data: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY);
  try {
    fs.writeSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

export function readCgroupFile(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

/** Read a cgroup.procs file; a missing cgroup has no pids. */
export function readProcs(dir: string): number[] {
  let text: string;
  try {
    text = readCgroupFile(path.join(dir, 'cgroup.procs'));
  } catch (e) {
    if (errCode(e) === 'ENOENT' || errCode(e) === 'ENODEV') return [];
    throw new RuntimeError(`read ${path.join(dir, 'cgroup.procs')}: ${errCode(e)}`);
  }
  const out: number[] = [];
  for (const line of text.split('\n')) if (line !== '') out.push(Number(line));
  return out;
}

/**
 * Poll check() with a short backoff until it returns true or timeoutMs passes. Returns the last
 * result. Cgroup state changes (freezing, processes leaving) take micro- to milliseconds.
 */
export function waitFor(check: () => boolean, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    if (check()) return true;
    if (Date.now() >= deadline) return false;
    if (i >= 10) sleepMs(Math.min(i < 50 ? 1 : 10, Math.max(1, deadline - Date.now())));
  }
}

export function subdirs(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(dir, d.name));
  } catch (e) {
    if (errCode(e) === 'ENOENT') return [];
    throw e;
  }
}

/** mkdir -p, returning the directories it created, outermost first. */
export function mkdirTracked(dir: string): string[] {
  let first: string | undefined;
  // `delete` removes the empty default parent (/tsruntime): a concurrent create can see it vanish.
  for (let attempt = 0; ; attempt++) {
    try {
      first = fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
      break;
    } catch (e) {
      if (errCode(e) !== 'ENOENT' || attempt >= 5) throw e;
    }
  }
  if (first === undefined) return [];
  const created = [first];
  for (let d = dir; d !== first && d.startsWith(first + '/'); d = path.dirname(d)) created.splice(1, 0, d);
  return created;
}

/** Remove a cgroup directory and its sub-cgroups (deepest first). ENOENT counts as done. */
function removeTree(dir: string): void {
  try {
    fs.rmdirSync(dir);
    return;
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT') return;
    if (code !== 'EBUSY' && code !== 'ENOTEMPTY') throw e;
  }
  for (const sub of subdirs(dir)) removeTree(sub);
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw e;
  }
}

/**
 * Remove cgroup directories (each with its sub-cgroups), retrying with a short backoff while one is
 * busy (its processes are still exiting) for up to budgetMs in total. ENOENT counts as removed.
 * Throws one RuntimeError naming every directory that could not be removed.
 */
export function removeCgroupDirs(dirs: readonly string[], budgetMs = 1000): void {
  const deadline = Date.now() + budgetMs;
  let pending = dirs;
  let delay = 2;
  for (;;) {
    const busy: string[] = [];
    const failed: string[] = [];
    for (const dir of pending) {
      try {
        removeTree(dir);
      } catch (e) {
        const code = errCode(e);
        if (code === 'EBUSY' || code === 'ENOTEMPTY') busy.push(dir);
        else failed.push(`remove cgroup ${dir}: ${code}`);
      }
    }
    if (busy.length === 0 || Date.now() >= deadline) {
      failed.push(...busy.map((dir) => `remove cgroup ${dir}: EBUSY (processes still inside)`));
      if (failed.length > 0) throw new RuntimeError(failed.join('; '));
      return;
    }
    sleepMs(Math.min(delay, Math.max(1, deadline - Date.now())));
    delay = Math.min(delay * 2, 100);
    pending = busy;
  }
}

export function isSigkill(signal: NodeJS.Signals | number): boolean {
  return signal === 'SIGKILL' || signal === 9;
}



/** Whether a control file exists in dir. */
export function hasFile(dir: string, file: string): boolean {
  return fs.existsSync(path.join(dir, file));
}

/**
 * Write a control file for linux.resources.<field>. A missing file becomes "<file> does not
 * exist in <dir>" (the kernel or the controller lacks the feature); other errors carry the errno.
 */
export function writeControl(dir: string, file: string, data: string, field: string): void {
  try {
    writeCgroupFile(path.join(dir, file), data);
  } catch (e) {
    throw writeError(e, dir, file, data, field);
  }
}

/** The error writeControl throws for a failed write of data to dir/file. */
export function writeError(e: unknown, dir: string, file: string, data: string, field: string): RuntimeError {
  const code = errCode(e);
  if (code === 'ENOENT') {
    if (!fs.existsSync(dir)) return new RuntimeError(`linux.resources.${field}: cgroup ${dir} does not exist`);
    return new RuntimeError(`linux.resources.${field}: ${file} does not exist in ${dir} (not supported by this kernel or controller)`);
  }
  return new RuntimeError(`linux.resources.${field}: write ${JSON.stringify(data)} to ${path.join(dir, file)}: ${errnoText(code)}`);
}

/** A control file's text, or undefined when it does not exist. */
export function readControl(dir: string, file: string): string | undefined {
  try {
    return readCgroupFile(path.join(dir, file));
  } catch (e) {
    const code = errCode(e);
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EOPNOTSUPP') return undefined;
    throw new RuntimeError(`read ${path.join(dir, file)}: ${code}`);
  }
}

/**
 * In a cgroup2 hierarchy mounted at mountPoint, enable controllers in cgroup.subtree_control of
 * every ancestor of dir (mountPoint included, dir excluded) so that dir gets them. only: just
 * these controllers (those available); otherwise every available one. Refusals are ignored: the
 * write of a resource file then reports what is missing.
 */
export function enableControllers(mountPoint: string, dir: string, only?: string[]): void {
  let current = mountPoint;
  for (const seg of dir.slice(mountPoint.length).split('/').filter(Boolean)) {
    enableIn(current, only);
    current = path.join(current, seg);
  }
}

function enableIn(dir: string, only?: string[]): void {
  let available: string[];
  let enabled: string[];
  try {
    available = readCgroupFile(path.join(dir, 'cgroup.controllers')).split(/\s+/).filter(Boolean);
    enabled = readCgroupFile(path.join(dir, 'cgroup.subtree_control')).split(/\s+/).filter(Boolean);
  } catch {
    return;
  }
  const missing = available.filter((c) => !enabled.includes(c) && (!only || only.includes(c)));
  if (missing.length === 0) return;
  const file = path.join(dir, 'cgroup.subtree_control');
  try {
    writeCgroupFile(file, missing.map((c) => '+' + c).join(' '));
  } catch {
    // One refusal (e.g. EBUSY: processes in dir; threaded mode) fails the whole write: try one by one.
    for (const c of missing) {
      try {
        writeCgroupFile(file, '+' + c);
      } catch {
        /* not available here; resources needing it will report it */
      }
    }
  }
}
