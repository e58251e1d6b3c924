/**
 * `exec` → the plan for a process joining a running container. The cloned helper joins the
 * container's namespaces (user first, mount after the others), then forks with CLONE_PARENT:
 * the grandchild is inside the pid namespace and still the runtime's child. The helper reports
 * the grandchild's pid and exits; the grandchild becomes the configured process.
 * Pure, like the init planner.
 */
import type { Process, Spec } from '../generated/config';
import { Op } from './ops';
import { cgroupJoinOps } from './cgroup-join-plan';
import { NAMESPACE_FLAG, PR } from './linux-constants';
import { planExec, planProcessSetup } from './process-ops';
import { LsmFacts, planProcessFields } from './process-fields';
import type { SeccompFilter } from './seccomp-plan';
import { insertEndMark, markOp } from './marks';
import { checkSetgroups } from './rootless';

const CLONE_PARENT = 0x8000;

/** The order namespaces are joined in: user gives the rights for the rest; mount changes paths. */
export const EXEC_JOIN_ORDER = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'] as const;

export interface ExecPlanInput {
  process: Process;
  /** The container's config: its seccomp profile, personality and memory policy apply to exec too. */
  spec: Spec;
  lsm?: LsmFacts;
  compileSeccomp?(filter: SeccompFilter): Buffer;
  /** fds of the container's namespaces to join (those that differ from ours), by type. */
  namespaceFds: Partial<Record<string, number>>;
  lastCap: number;
  preserveFds?: number;
  /**
   * Join the cgroup at the last moment (exec --ignore-paused into a frozen cgroup): the process
   * reports ready and waits while the runtime moves it in, so the freeze cannot stall setup.
   */
  lateCgroupJoin?: boolean;
  /** cgroup v1 directories the process joins itself, first thing (none when it joins late). */
  cgroupJoin?: readonly string[];
  /** --debug: the process reports the time at each group of ops (marks.ts). */
  trace?: boolean;
  /** setgroups(2) is allowed in the container's user namespace (default true). */
  setgroups?: boolean;
}

export interface ExecPlan {
  ops: Op[];
  warnings: string[];
  /** execCPUAffinity.initial: set on the helper before it joins the cgroup (inherited by the process). */
  initialAffinity?: Buffer;
}

export function buildExecPlan(input: ExecPlanInput): ExecPlan {
  const fields = planProcessFields({
    spec: input.spec, proc: input.process, lastCap: input.lastCap, lsm: input.lsm, compileSeccomp: input.compileSeccomp, forExec: true,
  });
  const ops: Op[] = cgroupJoinOps(input.cgroupJoin);
  const mark = (group: string): void => {
    if (input.trace) ops.push(markOp(group));
  };
  if (input.trace && ops.length) ops.unshift(markOp('cgroup'));
  mark('namespaces');
  // Until exec, nothing in the container may open our /proc/PID (mem, fds, exe) or ptrace us.
  ops.push({ op: 'PRCTL', a: [PR.SET_DUMPABLE, 0, 0, 0], what: 'make the exec helper non-dumpable' });
  for (const type of EXEC_JOIN_ORDER) {
    const fd = input.namespaceFds[type];
    if (fd === undefined) continue;
    ops.push({ op: 'SETNS', a: [fd, NAMESPACE_FLAG[type]], what: `join the container's ${type} namespace` });
    ops.push({ op: 'CLOSE', a: [fd], what: `close the ${type} namespace fd` });
  }
  ops.push({ op: 'FORK', a: [CLONE_PARENT], what: 'fork into the pid namespace' });
  // The container's / (setns into its mount namespace made it ours): cwd and the terminal are
  // resolved inside it.
  ops.push({ op: 'OPEN_ROOT', strs: ['/'], what: "open the container's /" });
  mark('process');
  checkSetgroups(input.process, input.setgroups ?? true);
  planProcessSetup(ops, input.process, { lastCap: input.lastCap, createCwd: false, consoleBind: false, setgroups: input.setgroups });
  mark('exec');
  planExec(ops, input.process, { preserveFds: input.preserveFds, waitAfterReady: input.lateCgroupJoin });
  // Scheduler, personality, LSM labels, seccomp... at the places runc puts them.
  fields.apply(ops);
  if (input.trace) insertEndMark(ops);
  return { ops, warnings: fields.warnings, initialAffinity: fields.initialAffinity };
}
