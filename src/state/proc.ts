/** What /proc says about a process: alive, zombie, and its start time (to spot recycled pids). */
import fs from 'fs';
import { loadAddon } from '../native/addon';

export interface ProcStat {
  state: string;
  /** Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
  startTime: string;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    // As UTF-8: Node reads that in C++, where other encodings take its JS path (about 0.2 ms of
    // compiling on each command's first call; /proc files have no size, so it reads in chunks).
    // Only comm (field 2) may hold bytes that are not UTF-8, and a decoder never folds an ASCII
    // byte into a replacement character: its last ')' and the fields after it read the same.
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], startTime: rest[19] };
}

/**
 * True when pid runs (not a zombie) and is the same process that started at `startTime`.
 * Without a start time there is nothing to tell our process from one that reused its pid, so a
 * record without one (missing, empty, or not a number) is never alive: such a container is
 * stopped, and nothing is ever signalled through it.
 */
export function isAlive(pid: unknown, startTime: unknown): boolean {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return false;
  if (typeof startTime !== 'string' || !/^\d+$/.test(startTime)) return false;
  const st = readProcStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return st.startTime === startTime;
}

let self: string | undefined;
/** "pid starttime" of this process: who holds a lock, who is creating a container. */
export function selfIdentity(): string {
  return (self ??= `${process.pid} ${readProcStat(process.pid)?.startTime ?? ''}`);
}

/** Whether an identity written by selfIdentity() names a live process. */
export function identityAlive(identity: string | undefined): boolean {
  const [pid, start] = (identity ?? '').trim().split(' ');
  return isAlive(Number(pid), start);
}

const ESRCH = 3;

/**
 * Send sig to pid only if it is still the process that started at startTime. The signal goes
 * through a pidfd: the pidfd pins the process that had the pid when it was opened, and the start
 * time read after opening it proves that process is ours (ours was alive before the pidfd was
 * opened and still is). process.kill(pid) after a check could hit a process that took the pid in
 * between. Returns false when the process is gone (nothing was sent). With waitExitMs, waits up to
 * that long for it to exit after the signal.
 */
export function signalProcess(pid: number, startTime: string, sig: number, opts: { waitExitMs?: number } = {}): boolean {
  if (!isAlive(pid, startTime)) return false;
  const native = loadAddon();
  const fd = native.pidfdOpen(pid);
  if (fd === -ESRCH) return false;
  if (fd < 0) throw pidfdError(`pidfd_open(${pid})`, -fd);
  try {
    if (!isAlive(pid, startTime)) return false;
    const rc = native.pidfdSendSignal(fd, sig);
    if (rc === -ESRCH) return false;
    if (rc < 0) throw pidfdError(`signal ${sig} to pid ${pid}`, -rc);
    // waitExitMs: wait for it to die on the pidfd itself (callers check again: a timeout is theirs to report).
    if (opts.waitExitMs) native.pidfdWait(fd, opts.waitExitMs);
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

function pidfdError(what: string, errno: number): Error {
  const { RuntimeError, errnoName } = require('../errors') as typeof import('../errors');
  return new RuntimeError(`${what}: ${errnoName(errno)}`);
}

/** Sleep without spinning: the CLI is synchronous by design (it is faster to start). */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Close fds we own, ignoring those already closed (cleanup paths). */
export function closeAll(fds: readonly number[]): void {
  for (const fd of fds) {
    try {
      fs.closeSync(fd);
    } catch {
      /* already closed */
    }
  }
}
