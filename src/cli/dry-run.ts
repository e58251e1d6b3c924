/** --dry-run and its --format, for create, run and exec: the flags and the printing of a plan. */
import type { Parsed } from './flags';
import type { PlanView } from '../launch/plan-view';
import { formatPlanText } from '../launch/plan-view';
import { writeStdout } from '../log';
import { RuntimeError } from '../errors';

export const DRY_RUN_FLAGS = {
  'dry-run': { type: 'bool', describe: 'check the config and print the launch plan; make nothing (no state, cgroup, mount or process)' },
  format: { type: 'string', describe: 'with --dry-run: text or json', default: 'text' },
} as const;

export function printPlan(view: PlanView, p: Parsed): number {
  const format = p.flags.format as string;
  if (format !== 'text' && format !== 'json') throw new RuntimeError(`invalid format option: ${format} (text or json)`);
  writeStdout(format === 'json' ? JSON.stringify(view, null, 2) + '\n' : formatPlanText(view));
  return 0;
}
