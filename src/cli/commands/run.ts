import type { Command } from '../command';
import { command as create, createOptions } from './create';
import { printPlan } from '../dry-run';
import { planCreate } from '../../lifecycle/create';
import { runContainer } from '../../lifecycle/run';

export const command: Command = {
  describe: 'create and start a container, wait for it, delete it, and exit with its exit code',
  args: '<container-id>',
  flags: {
    ...create.flags,
    detach: { type: 'bool', alias: ['d'], describe: 'return once the container runs' },
    keep: { type: 'bool', describe: 'do not delete the container after it exits' },
  },
  run(g, p) {
    if (p.flags['dry-run']) return printPlan(planCreate(g.store(), { ...createOptions('run', g, p), foreground: !p.flags.detach }, g.log), p);
    return runContainer(g.store(), { ...createOptions('run', g, p), detach: Boolean(p.flags.detach), keep: Boolean(p.flags.keep) }, g.log);
  },
};
