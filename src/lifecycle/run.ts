/**
 * run: create + start, then (unless detached) wait for the container, forwarding signals to
 * it, delete it, and return its exit code (128+signal when it was killed), as runc does.
 */
import { StateStore } from '../state/store';
import { createContainer, CreateOptions } from './create';
import { startContainer } from './start';
import { deleteContainer } from './delete';
import { loadShim } from '../native/shim';
import type { Logger } from '../log';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT', 'SIGALRM'];

export async function runContainer(store: StateStore, opts: CreateOptions & { detach?: boolean; keep?: boolean }, log: Logger): Promise<number> {
  const { record } = createContainer(store, opts, log);
  try {
    startContainer(store, opts.id, log);
  } catch (e) {
    deleteContainer(store, opts.id, true, log);
    throw e;
  }
  if (opts.detach) return 0;

  const forward = (sig: NodeJS.Signals) => {
    try {
      process.kill(record.pid, sig);
    } catch {
      /* it already exited */
    }
  };
  for (const sig of FORWARDED) process.on(sig, forward);
  let status: number;
  try {
    status = await loadShim().waitAsync(record.pid);
  } finally {
    for (const sig of FORWARDED) process.off(sig, forward);
  }
  if (!opts.keep) deleteContainer(store, opts.id, true, log);
  return exitCodeOf(status);
}

/** A wait status as a shell would report it. */
export function exitCodeOf(status: number): number {
  if (status < 0) return 255;
  const sig = status & 0x7f;
  if (sig === 0) return (status >> 8) & 0xff;
  return 128 + sig;
}
