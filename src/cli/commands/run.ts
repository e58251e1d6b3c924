import type { Command } from '../command';
import { requireId } from '../command';
import { command as create } from './create';
import { runContainer } from '../../lifecycle/run';
import { validateId } from '../../state/store';

export const command: Command = {
  describe: 'create and start a container, wait for it, delete it, and exit with its exit code',
  args: '<container-id>',
  flags: {
    ...create.flags,
    detach: { type: 'bool', alias: ['d'], describe: 'return once the container runs' },
    keep: { type: 'bool', describe: 'do not delete the container after it exits' },
  },
  run(g, p) {
    const id = validateId(requireId(p, 'run'));
    return runContainer(g.store(), {
      id,
      bundle: p.flags.bundle as string,
      pidFile: p.flags['pid-file'] as string | undefined,
      consoleSocket: p.flags['console-socket'] as string | undefined,
      noPivot: Boolean(p.flags['no-pivot']),
      noNewKeyring: Boolean(p.flags['no-new-keyring']),
      preserveFds: p.flags['preserve-fds'] as number,
      systemdCgroup: g.systemdCgroup,
      detach: Boolean(p.flags.detach),
      keep: Boolean(p.flags.keep),
    }, g.log);
  },
};
