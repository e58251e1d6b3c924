import type { Command } from '../command';
import { requireId } from '../command';
import { killContainer } from '../../lifecycle/kill';

export const command: Command = {
  describe: 'send a signal (default SIGTERM) to the container init, or with --all to all its processes',
  args: '<container-id> [signal]',
  flags: {
    all: { type: 'bool', alias: ['a'], describe: 'send the signal to every process in the container' },
  },
  run(g, p) {
    killContainer(g.store(), requireId(p, 'kill'), p.positionals[1], Boolean(p.flags.all));
    return 0;
  },
};
