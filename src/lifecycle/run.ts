/**
 * run: create + start, then (unless detached) wait for the container, forwarding signals to
 * it, delete it, and return its exit code (128+signal when it was killed), as runc does. With
 * process.terminal and no --console-socket, the runtime proxies the pty in the foreground.
 */
import { StateStore } from '../state/store';
import { createContainer, CreateOptions } from './create';
import { startContainer } from './start';
import { deleteContainer } from './delete';
import { waitForeground } from './wait';
import { proxyTerminal } from './tty-proxy';
import { loadShim } from '../native/shim';
import type { Logger } from '../log';

export async function runContainer(store: StateStore, opts: CreateOptions & { detach?: boolean; keep?: boolean }, log: Logger): Promise<number> {
  const { record, terminalMaster } = createContainer(store, { ...opts, foreground: !opts.detach }, log);
  const proxy = terminalMaster !== undefined ? proxyTerminal(terminalMaster, loadShim()) : undefined;
  try {
    startContainer(store, opts.id, log);
  } catch (e) {
    await proxy?.finish();
    deleteContainer(store, opts.id, true, log, false);
    throw e;
  }
  if (opts.detach) return 0;
  const code = await waitForeground(record.pid, { terminal: proxy !== undefined });
  await proxy?.finish();
  if (!opts.keep) deleteContainer(store, opts.id, true, log, false);
  return code;
}
