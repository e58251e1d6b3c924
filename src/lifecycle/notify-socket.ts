/**
 * NOTIFY_SOCKET (sd_notify), the way runc relays it. When the runtime runs under a service
 * manager that set NOTIFY_SOCKET, the container gets its own socket at /run/notify/notify.sock
 * (the state directory's notify/ bind-mounted read-only), and `start` waits for the
 * container's READY=1 and passes it on, with MAINPID, to the manager's socket.
 */
import fs from 'fs';
import path from 'path';
import type { Spec } from '../generated/config';
import { RuntimeError } from '../errors';
import { isAlive } from '../state/proc';
import { loadShim } from '../native/shim';

export const NOTIFY_IN_CONTAINER = '/run/notify/notify.sock';

/** The directory of the container's socket, under its state directory. */
export function notifyDir(stateDir: string): string {
  return path.join(stateDir, 'notify');
}

/** create, once the id is claimed: make the directory withNotify's mount binds. */
export function makeNotifyDir(stateDir: string): void {
  fs.mkdirSync(notifyDir(stateDir), { mode: 0o755 });
}

/** create, before the plan: give the container a mount and env for its socket. */
export function withNotify(spec: Spec, stateDir: string): void {
  const dir = notifyDir(stateDir);
  spec.mounts = [...(spec.mounts ?? []), {
    destination: path.posix.dirname(NOTIFY_IN_CONTAINER),
    source: dir,
    type: 'bind',
    options: ['bind', 'nosuid', 'noexec', 'nodev', 'ro'],
  }];
  const proc = spec.process!;
  proc.env = [...(proc.env ?? []).filter((e) => !e.startsWith('NOTIFY_SOCKET=')), `NOTIFY_SOCKET=${NOTIFY_IN_CONTAINER}`];
}

/** start, before letting the process run: listen on the container's socket. */
export function listenNotify(stateDir: string): number {
  const sock = path.join(stateDir, 'notify', path.posix.basename(NOTIFY_IN_CONTAINER));
  const fd = loadShim().dgramBind(sock);
  if (fd < 0) throw new RuntimeError(`notify socket ${sock}: errno ${-fd}`);
  return fd;
}

/** start, after: wait for READY=1 from the container and pass it to the host's socket. */
export function relayReady(fd: number, hostSocket: string, pid: number, startTime: string): void {
  const shim = loadShim();
  try {
    for (;;) {
      const msg = shim.dgramRecv(fd, 100);
      if (msg === null) {
        if (!isAlive(pid, startTime)) throw new RuntimeError('the container exited before it sent READY=1 on NOTIFY_SOCKET');
        continue;
      }
      if (msg.split('\n').includes('READY=1')) {
        const rc = shim.dgramSend(hostSocket, `READY=1\nMAINPID=${pid}\n`);
        if (rc < 0) throw new RuntimeError(`NOTIFY_SOCKET ${hostSocket}: errno ${-rc}`);
        return;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}
