import type { Command } from '../command';
import { requireId } from '../command';
import { RuntimeError } from '../../errors';
import { cgroupManager } from '../../cgroups';
import { computeStatus } from '../../lifecycle/status';

export const command: Command = {
  describe: 'thaw a paused container',
  args: '<container-id>',
  flags: {},
  run(g, p) {
    const store = g.store();
    const id = requireId(p, 'resume');
    store.withLock(id, () => {
      const rec = store.load(id);
      if (computeStatus(store, rec) !== 'paused') throw new RuntimeError(`container ${id} is not paused`);
      cgroupManager({ cgroupsPath: rec.cgroupsPath, id }).thaw();
    });
    return 0;
  },
};
