/**
 * start: let a created container's init exec the user process, by reading the exec fifo the
 * init is blocked opening for writing. Never by opening it blocking for reading: that would hang
 * forever if the init had died (no writer would ever come).
 */
import fs from 'fs';
import { ContainerStateError } from '../errors';
import { StateStore, ContainerRecord } from '../state/store';
import { isAlive, sleepMs } from '../state/proc';
import { removeFile } from '../state/remove';
import { computeStatus, stateDocument } from './status';
import { runHooks } from './hooks';
import type { Spec } from '../generated/config';
import type { Logger } from '../log';

export function startContainer(store: StateStore, id: string, log: Logger): ContainerRecord {
  return store.withLock(id, () => {
    const rec = store.load(id);
    const status = computeStatus(store, rec);
    if (status === 'stopped') throw new ContainerStateError('cannot start a container that has stopped', id, status);
    if (status === 'paused') throw new ContainerStateError('cannot start a container in the paused state', id, status);
    if (status !== 'created') throw new ContainerStateError(`cannot start an already running container`, id, status);
    // Listen before the process runs, so its READY=1 cannot come too early.
    // Loaded only here: the relay needs koffi, which a plain start never loads.
    const hostNotify = rec.notify ? process.env.NOTIFY_SOCKET : undefined;
    const notify = hostNotify ? (require('./notify-socket') as typeof import('./notify-socket')) : undefined;
    const notifyFd = notify?.listenNotify(store.dir(id));
    const fifo = store.fifoPath(id);
    const t0 = process.hrtime.bigint();
    awaitInit(fifo, rec, id);
    log.timing('the init takes start (exec fifo)', t0);
    // The record stays as it is: a status is computed (status.ts), and without its fifo a live
    // init is running.
    removeFile(fifo);
    if (notify && hostNotify && notifyFd !== undefined) notify.relayReady(notifyFd, hostNotify, rec.pid, rec.startTime);
    // The process runs: a failing poststart hook is a warning and the others still run (runtime.md).
    log.step('poststart hooks', () => runHooks('poststart', (rec.config as Spec).hooks?.poststart, stateDocument(rec, 'running'), (m) => log.warn(m)));
    return rec;
  });
}

/**
 * Wait for the init's byte on the exec fifo. A blocking read returns with the byte, or at EOF once
 * no writer is left: the init died, or (just after READY) has not opened the fifo yet. To open
 * that blocking read end without waiting for a writer that may never come, we hold a write end of
 * our own for the open only.
 */
function awaitInit(fifo: string, rec: ContainerRecord, id: string): void {
  const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;
  const released = fs.openSync(fifo, O_RDONLY | O_NONBLOCK); // the init's open for writing returns now
  let fd: number;
  try {
    const ours = fs.openSync(fifo, O_WRONLY | O_NONBLOCK);
    try {
      fd = fs.openSync(fifo, O_RDONLY);
    } finally {
      fs.closeSync(ours);
    }
  } finally {
    fs.closeSync(released);
  }
  try {
    const buf = Buffer.alloc(1);
    for (let delay = 0.05; ; delay = Math.min(delay * 2, 10)) {
      if (fs.readSync(fd, buf, 0, 1, null) === 1) return;
      if (!isAlive(rec.pid, rec.startTime)) {
        // It may have written its byte, exec'd and exited between our read and this check.
        if (fs.readSync(fd, buf, 0, 1, null) === 1) return;
        throw new ContainerStateError('cannot start a container that has stopped', id, 'stopped');
      }
      sleepMs(delay); // alive, and its open for writing not made yet: rare, and short
    }
  } finally {
    fs.closeSync(fd);
  }
}
