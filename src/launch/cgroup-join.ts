/**
 * Putting a new process (container init, exec helper) into its cgroups without the cost of a
 * migration. Writing a pid to cgroup.procs takes the kernel's global threadgroup lock, which
 * waits for an RCU grace period: about 15 ms per create or exec on this kind of host, the
 * largest single cost we had. Instead:
 *  - cgroup v2 (pure, or the unified mount of a hybrid host): the process is born there
 *    (clone3 with CLONE_INTO_CGROUP);
 *  - cgroup v1: the single-threaded child writes "0" to each hierarchy's `tasks` file itself,
 *    which moves just that thread and skips the global lock. The files are opened here, by
 *    the runtime, so the kernel checks the runtime's credentials, as with a write from here.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { CgroupManager } from '../cgroups/common';
import type { Op } from '../plan/ops';
import { closeAll } from '../state/proc';

export interface SelfJoin {
  /** The cgroup v2 directory to be born in, or -1. */
  cgroupFd: number;
  /** Ops that go first in the child's plan. */
  ops: Op[];
  /** Every fd opened here: the caller closes them once the child is spawned. */
  fds: number[];
}

export function prepareSelfJoin(m: CgroupManager): SelfJoin {
  const fds: number[] = [];
  const ops: Op[] = [];
  try {
    const v2 = m.paths[''];
    const cgroupFd = v2 ? fs.openSync(v2, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY) : -1;
    if (cgroupFd >= 0) fds.push(cgroupFd);
    const v1Dirs = new Set(Object.entries(m.paths).filter(([k]) => k !== '').map(([, dir]) => dir));
    for (const dir of v1Dirs) {
      const fd = fs.openSync(path.join(dir, 'tasks'), fs.constants.O_WRONLY);
      fds.push(fd);
      ops.push({ op: 'WRITE_FD', a: [fd], strs: ['0'], what: `join cgroup ${dir}` });
    }
    return { cgroupFd, ops, fds };
  } catch (e) {
    closeAll(fds);
    throw e;
  }
}
