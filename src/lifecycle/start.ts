/**
 * start: let a created container's init exec the user process, by reading the exec fifo the
 * init is blocked writing to. The fifo is opened non-blocking and polled while the init is
 * checked for life: opening it blocking would hang forever if the init had died.
 */
import * as fs from 'fs';
import { ContainerStateError } from '../errors';
import { StateStore, ContainerRecord } from '../state/store';
import { isAlive, sleepMs } from '../state/proc';
import { computeStatus, stateDocument } from './status';
import { runHooks } from './hooks';
import type { Spec } from '../generated/config';
import type { Logger } from '../log';

export function startContainer(store: StateStore, id: string, log: Logger): ContainerRecord {
  return store.withLock(id, () => {
    const rec = store.load(id);
    const status = computeStatus(store, rec);
    if (status === 'stopped') throw new ContainerStateError('cannot start a container that has stopped', id, status);
    if (status !== 'created') throw new ContainerStateError(`cannot start an already running container`, id, status);
    // Listen before the process runs, so its READY=1 cannot come too early.
    // Loaded only here: the relay needs koffi, which a plain start never loads.
    const hostNotify = rec.notify ? process.env.NOTIFY_SOCKET : undefined;
    const notify = hostNotify ? (require('./notify-socket') as typeof import('./notify-socket')) : undefined;
    const notifyFd = notify?.listenNotify(store.dir(id));
    const fifo = store.fifoPath(id);
    const t0 = process.hrtime.bigint();
    const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(1);
      for (let waited = 0; ; waited++) {
        let n = 0;
        try {
          n = fs.readSync(fd, buf, 0, 1, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        }
        if (n === 1) break;
        if (!isAlive(rec.pid, rec.startTime)) {
          // It may have written its byte, exec'd and exited between our read and this check
          // (a short-lived process): the byte is still in the fifo then.
          try {
            n = fs.readSync(fd, buf, 0, 1, null);
          } catch {
            n = 0;
          }
          if (n === 1) break;
          throw new ContainerStateError('cannot start a container that has stopped', id, 'stopped');
        }
        sleepMs(waited < 20 ? 1 : 10);
      }
    } finally {
      fs.closeSync(fd);
    }
    log.timing('the init takes start (exec fifo)', t0);
    fs.rmSync(fifo, { force: true });
    rec.status = 'running';
    store.save(rec);
    if (notify && hostNotify && notifyFd !== undefined) notify.relayReady(notifyFd, hostNotify, rec.pid, rec.startTime);
    // The process runs: a failing poststart hook is a warning and the others still run (runtime.md).
    log.step('poststart hooks', () => runHooks('poststart', (rec.config as Spec).hooks?.poststart, stateDocument(rec, 'running'), (m) => log.warn(m)));
    return rec;
  });
}
