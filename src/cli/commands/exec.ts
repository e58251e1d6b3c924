import type { Command } from '../command';
import { RuntimeError } from '../../errors';

export const command: Command = {
  describe: 'exec (not supported yet)',
  args: '<container-id>',
  flags: {},
  run() {
    throw new RuntimeError('"exec" is not supported yet');
  },
};
