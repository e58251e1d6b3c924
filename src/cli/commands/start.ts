import type { Command } from '../command';
import { requireId } from '../command';
import { startContainer } from '../../lifecycle/start';

export const command: Command = {
  describe: 'start the user process of a created container',
  args: '<container-id>',
  flags: {},
  run(g, p) {
    startContainer(g.store(), requireId(p, 'start'), g.log);
    return 0;
  },
};
