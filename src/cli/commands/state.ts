import type { Command } from '../command';
import { requireId } from '../command';
import { containerState } from '../../lifecycle/state';
import { writeStdout } from '../../log';

export const command: Command = {
  describe: 'print the state of a container as JSON',
  args: '<container-id>',
  flags: {},
  run(g, p) {
    writeStdout(JSON.stringify(containerState(g.store(), requireId(p, 'state')), null, 2) + '\n');
    return 0;
  },
};
