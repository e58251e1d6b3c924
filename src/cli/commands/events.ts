import type { Command } from '../command';
import { RuntimeError } from '../../errors';

export const command: Command = {
  describe: 'events (not supported yet)',
  args: '<container-id>',
  flags: {},
  run() {
    throw new RuntimeError('"events" is not supported yet');
  },
};
