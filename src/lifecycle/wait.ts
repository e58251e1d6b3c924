/** Waiting for a foreground process (run, exec) while forwarding the signals we get to it. */
import { loadShim } from '../native/shim';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM', 'SIGPIPE'];

/** Wait for our child pid; its exit code, or 128+signal. */
export async function waitForeground(pid: number, o: { terminal?: boolean } = {}): Promise<number> {
  // With a terminal the kernel delivers SIGWINCH itself when the proxy resizes the pty.
  const signals = o.terminal ? FORWARDED.filter((s) => s !== 'SIGWINCH') : FORWARDED;
  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* it already exited */
    }
  };
  for (const sig of signals) process.on(sig, forward);
  try {
    return exitCodeOf(await exited(pid));
  } finally {
    for (const sig of signals) process.off(sig, forward);
  }
}

/**
 * pid's wait status once it exits (or -errno), on SIGCHLD: a blocking waitpid would need a thread
 * (libuv's pool, which starts four for it), as the main thread stays free to forward signals.
 */
function exited(pid: number): Promise<number> {
  const shim = loadShim();
  return new Promise((resolve) => {
    // Node's signal handlers do not keep it running: this does, until the wait is over.
    const alive = setInterval(() => {}, 2 ** 31 - 1);
    const check = () => {
      const status = shim.waitIfExited(pid);
      if (status === undefined) return;
      process.off('SIGCHLD', check);
      clearInterval(alive);
      resolve(status);
    };
    process.on('SIGCHLD', check);
    check(); // it may have exited before the handler was there
  });
}

/** A wait status as a shell would report it. */
export function exitCodeOf(status: number): number {
  if (status < 0) return 255;
  const sig = status & 0x7f;
  if (sig === 0) return (status >> 8) & 0xff;
  return 128 + sig;
}
