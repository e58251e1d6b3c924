/**
 * Waiting in tests: for effects that happen after a call returned (a process dying, a container
 * reaching a status). Timeouts here bound a wait; no test asserts how long anything took.
 */
import fs from 'fs';

/**
 * How much slower than this kind of host the tests run: TSR_TEST_SLOW (a factor) is set by
 * scripts/vm.sh, whose emulated guest starts node 10 to 30 times slower. Unset elsewhere, so a
 * real hang still fails at the timeout it would have here.
 */
export const SLOWDOWN = Math.max(1, Number(process.env.TSR_TEST_SLOW) || 1);

/** A timeout (ms) scaled for where the tests run. */
export function scaled(ms: number): number {
  return ms * SLOWDOWN;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Block the thread for ms (between synchronous CLI calls, where there is no event loop to yield to). */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

/** Resolve after ms. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll cond every stepMs, blocking, until it holds or timeoutMs have passed; true when it held. */
export function waitSync(cond: () => boolean, timeoutMs = 5000, stepMs = 20): boolean {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    sleepSync(stepMs);
  }
  return cond();
}

/** The same, yielding to the event loop between checks. */
export async function until(cond: () => boolean, timeoutMs = 5000, stepMs = 20): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(stepMs);
  }
  return cond();
}

/** pid exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
