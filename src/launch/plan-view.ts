/**
 * A launch plan as people and programs read it (--dry-run): the namespaces the process is
 * cloned into and each step the init will take, in order, with its arguments. Fds that exist
 * only once the container is made (the exec fifo, a cgroup's tasks file) show as their slot.
 */
import { isFdSlot, Op } from '../plan/ops';
import { NAMESPACE_FLAG } from '../plan/linux-constants';

export interface PlanStep {
  op: string;
  what: string;
  args?: Array<number | string>;
  strings?: Array<string | null>;
  /** Bytes of binary payload (a seccomp program, a group list). */
  bytes?: number;
}

export interface PlanView {
  /** The namespaces the process is cloned into (runtime-spec types). */
  newNamespaces: string[];
  warnings: string[];
  steps: PlanStep[];
}

export function planView(plan: { cloneFlags: number; ops: readonly Op[]; warnings: readonly string[] }): PlanView {
  return {
    newNamespaces: Object.entries(NAMESPACE_FLAG).filter(([, flag]) => plan.cloneFlags & flag).map(([type]) => type),
    warnings: [...plan.warnings],
    steps: plan.ops.map((o) => {
      const step: PlanStep = { op: o.op, what: o.what };
      if (o.a?.length) step.args = o.a.map((v) => (isFdSlot(v) ? `<${v.slot}>` : typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : `0x${v.toString(16)}`) : v));
      if (o.strs?.length) step.strings = [...o.strs];
      if (o.bytes) step.bytes = o.bytes.length;
      return step;
    }),
  };
}

/** One line per step: "  12  mount proc on /proc". */
export function formatPlanText(view: PlanView): string {
  const lines = [`new namespaces: ${view.newNamespaces.join(', ') || '(none)'}`];
  for (const w of view.warnings) lines.push(`warning: ${w}`);
  const width = String(view.steps.length - 1).length;
  view.steps.forEach((s, i) => lines.push(`${String(i).padStart(width + 2)}  ${s.what}`));
  return lines.join('\n') + '\n';
}
