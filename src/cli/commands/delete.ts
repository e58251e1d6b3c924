import type { Command } from '../command';
import { requireId } from '../command';
import { deleteContainer } from '../../lifecycle/delete';

export const command: Command = {
  describe: 'delete a stopped (or, with --force, any) container and everything it holds',
  args: '<container-id>',
  flags: {
    force: { type: 'bool', alias: ['f'], describe: 'kill the container first if it is still running' },
  },
  run(g, p) {
    deleteContainer(g.store(), requireId(p, 'delete'), Boolean(p.flags.force), g.log);
    return 0;
  },
};
