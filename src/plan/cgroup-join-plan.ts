/**
 * The ops by which a new process joins its cgroup v1 hierarchies itself, first thing: it writes
 * "0" to each `tasks` file, which the runtime opened (so the kernel checks the runtime's
 * credentials), moving just that thread without the global lock a migration takes (see
 * src/launch/cgroup-join.ts). On cgroup v2 the process is born in its cgroup instead.
 */
import type { FdSlot, Op } from './ops';

/** The fd slot of a v1 directory's tasks file, bound by the launch once the cgroup exists. */
export function tasksSlot(dir: string): FdSlot {
  return { slot: `cgroup.tasks:${dir}` };
}

export function cgroupJoinOps(v1Dirs: readonly string[] | undefined): Op[] {
  return (v1Dirs ?? []).map((dir) => ({ op: 'WRITE_FD', a: [tasksSlot(dir)], strs: ['0'], what: `join cgroup ${dir}` }));
}
