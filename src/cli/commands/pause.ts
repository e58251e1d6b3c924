import type { Command } from '../command';
import { requireId } from '../command';
import { pauseContainer } from '../../lifecycle/pause';

export const command: Command = {
  describe: 'freeze every process of a running container',
  args: '<container-id>',
  flags: {},
  run(g, p) {
    pauseContainer(g.store(), requireId(p, 'pause'));
    return 0;
  },
};
