/** What /proc says about a process: alive, zombie, and its start time (to spot recycled pids). */
import * as fs from 'fs';

export interface ProcStat {
  state: string;
  /** Field 22 of /proc/PID/stat: start time in clock ticks since boot. */
  startTime: string;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], startTime: rest[19] };
}

/** True when pid runs (not a zombie) and is the same process that started at `startTime`. */
export function isAlive(pid: number, startTime?: string): boolean {
  if (!pid || pid <= 0) return false;
  const st = readProcStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
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
