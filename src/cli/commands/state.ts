import type { Command } from '../command';
import { requireId } from '../command';
import { computeStatus, stateDocument } from '../../lifecycle/status';
import { writeStdout } from '../../log';

export const command: Command = {
  describe: 'print the state of a container as JSON',
  args: '<container-id>',
  flags: {},
  run(g, p) {
    const store = g.store();
    const rec = store.load(requireId(p, 'state'), { creating: true });
    writeStdout(JSON.stringify(stateDocument(rec, computeStatus(store, rec)), null, 2) + '\n');
    return 0;
  },
};
