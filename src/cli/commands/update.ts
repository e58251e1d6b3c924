import type { Command } from '../command';
import { RuntimeError } from '../../errors';

export const command: Command = {
  describe: 'update (not supported yet)',
  args: '<container-id>',
  flags: {},
  run() {
    throw new RuntimeError('"update" is not supported yet');
  },
};
