/**
 * Container processes that are children of this process. The CLI is a short-lived process: what
 * it spawns (a container's init, a detached exec) is re-parented when it exits and reaped there.
 * A library caller lives on, so it must reap them itself, or they stay zombies; and a zombie
 * in a container's pid namespace keeps that namespace's init from ever finishing its exit
 * (the kernel waits for every member to be reaped), so the container would never stop.
 *
 * The pids are those of our own unreaped children: the kernel cannot reuse them until we wait.
 */
import { readProcStat } from '../state/proc';
import { loadShim } from '../native/shim';

/** pid → the container it belongs to. */
const children = new Map<number, string>();
let listening = false;

/** Reap `pid` (a child of ours, in container `id`) once it exits. */
export function trackChild(pid: number, id: string): void {
  if (!(pid > 0)) return;
  children.set(pid, id);
  if (!listening) {
    // Signal listeners do not keep the event loop alive: a caller may exit with containers running.
    process.on('SIGCHLD', reapExited);
    listening = true;
  }
}

/** Wait for those of our children that have exited (never blocks: only zombies are waited for). */
export function reapExited(): void {
  for (const pid of [...children.keys()]) {
    const st = readProcStat(pid);
    if (st && st.state !== 'Z') continue;
    if (st) loadShim().waitSync(pid);
    children.delete(pid);
  }
  if (children.size === 0 && listening) {
    process.off('SIGCHLD', reapExited);
    listening = false;
  }
}

/** Whether any child of ours in container `id` is still to be reaped. */
export function hasChildren(id: string): boolean {
  reapExited();
  for (const owner of children.values()) if (owner === id) return true;
  return false;
}

/** Reap the children of container `id` as they exit, for up to timeoutMs. */
export async function settleChildren(id: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (hasChildren(id) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 5));
}
