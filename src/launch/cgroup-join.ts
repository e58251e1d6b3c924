/**
 * Putting a new process (container init, exec helper) into its cgroups without the cost of a
 * migration. Writing a pid to cgroup.procs takes the kernel's global threadgroup lock, which
 * waits for an RCU grace period: about 15 ms per create or exec on this kind of host, the
 * largest single cost we had. Instead:
 *  - cgroup v2 (pure, or the unified mount of a hybrid host): the process is born there
 *    (clone3 with CLONE_INTO_CGROUP);
 *  - cgroup v1: the single-threaded child writes "0" to each hierarchy's `tasks` file itself
 *    (src/plan/cgroup-join-plan.ts), which moves just that thread and skips the global lock.
 *    The files are opened here, by the runtime, so the kernel checks the runtime's
 *    credentials, as with a write from here.
 * Unless the cgroup cannot exist before its process (a systemd scope): then launch asks the
 * manager to put the process in (join) before letting it go.
 */
import fs from 'fs';
import path from 'path';
import type { CgroupManager } from '../cgroups/common';
import { tasksSlot } from '../plan/cgroup-join-plan';
import { closeAll } from '../state/proc';

/** The v1 directories the process joins itself: the planner's input. */
export function v1JoinDirs(m: CgroupManager): string[] {
  if (!m.selfJoin) return [];
  return [...new Set(Object.entries(m.paths).filter(([k]) => k !== '').map(([, dir]) => dir))];
}

export interface SelfJoin {
  /** The cgroup v2 directory to be born in, or -1. */
  cgroupFd: number;
  /** The tasks files' fds, for the plan's slots. */
  slots: Record<string, number>;
  /** Every fd opened here: the caller closes them once the child is spawned. */
  fds: number[];
}

/** Open what the join needs, once the cgroup exists. */
export function openSelfJoin(m: CgroupManager): SelfJoin {
  const fds: number[] = [];
  const slots: Record<string, number> = {};
  if (!m.selfJoin) return { cgroupFd: -1, slots, fds };
  try {
    const v2 = m.paths[''];
    const cgroupFd = v2 ? fs.openSync(v2, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY) : -1;
    if (cgroupFd >= 0) fds.push(cgroupFd);
    for (const dir of v1JoinDirs(m)) {
      const fd = fs.openSync(path.join(dir, 'tasks'), fs.constants.O_WRONLY);
      fds.push(fd);
      slots[tasksSlot(dir).slot] = fd;
    }
    return { cgroupFd, slots, fds };
  } catch (e) {
    closeAll(fds);
    throw e;
  }
}
