import type { Command } from '../command';
import { requireId } from '../command';
import { RuntimeError } from '../../errors';
import { cgroupManager } from '../../cgroups';
import { computeStatus } from '../../lifecycle/status';

export const command: Command = {
  describe: 'freeze every process of a running container',
  args: '<container-id>',
  flags: {},
  run(g, p) {
    const store = g.store();
    const id = requireId(p, 'pause');
    store.withLock(id, () => {
      const rec = store.load(id);
      const status = computeStatus(store, rec);
      if (status !== 'running' && status !== 'created') throw new RuntimeError(`container ${id} is not running`);
      cgroupManager({ cgroupsPath: rec.cgroupsPath, id }).freeze();
    });
    return 0;
  },
};
