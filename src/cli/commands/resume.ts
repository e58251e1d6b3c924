import type { Command } from '../command';
import { requireId } from '../command';
import { resumeContainer } from '../../lifecycle/pause';

export const command: Command = {
  describe: 'thaw a paused container',
  args: '<container-id>',
  flags: {},
  run(g, p) {
    resumeContainer(g.store(), requireId(p, 'resume'));
    return 0;
  },
};
