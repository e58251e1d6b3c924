/**
 * --preserve-fds N (and LISTEN_FDS): fds 3 to N+2 are the caller's and go to the container. A
 * number the caller did not pass is either free, and then the runtime's own fds (the cgroup
 * directory it is born in, namespace files, the exec fifo) would be opened there and handed to
 * the container, or taken by Node's event loop. Either way the container would get a way to
 * the host: refuse, before anything is opened.
 */
import fs from 'fs';
import { RuntimeError } from '../errors';

/** Node's own event-loop fds (its pipes cannot be told from a caller's, and carry nothing). */
const RUNTIME_OWN = /^anon_inode:\[(eventpoll|eventfd|io_uring|signalfd|timerfd)\]$/;

export function checkPreservedFds(count: number, what: string): void {
  for (let fd = 3; fd < 3 + count; fd++) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      throw new RuntimeError(`${what}: fd ${fd} is not open: pass exactly the fds to keep, numbered from 3 (3 to ${2 + count})`);
    }
    if (RUNTIME_OWN.test(link)) {
      throw new RuntimeError(`${what}: fd ${fd} was not passed by the caller (it is the runtime's own ${link}): pass exactly the fds to keep, numbered from 3`);
    }
  }
}
