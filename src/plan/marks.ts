/**
 * Timing marks for --debug's trace: with InitPlanInput.trace (or the exec plan's), a MARK op
 * starts each group of ops (cgroup, namespaces, mounts, devices, rootfs, process, exec) and one
 * ends the last before READY. The init reports the time at each (CLOCK_MONOTONIC, the clock of
 * process.hrtime), and the launch logs each group's duration. Without the flag a plan has no
 * MARK, so a normal run reads no clock and sends no extra message.
 */
import type { Op } from './ops';

/** The MARK that starts `group`, or ends the last group when there is none. */
export function markOp(group?: string): Op {
  return { op: 'MARK', tag: group, what: group ? `timing mark: ${group}` : 'timing mark: setup done' };
}

/** The closing MARK, just before READY: what runs after it is not the init's setup any more. */
export function insertEndMark(ops: Op[]): void {
  const ready = ops.findIndex((o) => o.op === 'READY');
  ops.splice(ready < 0 ? ops.length : ready, 0, markOp());
}
