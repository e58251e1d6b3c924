import type { Command } from '../command';
import { writeDefaultSpec } from '../../lifecycle/spec';

export const command: Command = {
  describe: 'write a default config.json (like `runc spec`) into the bundle directory',
  args: '',
  flags: {
    bundle: { type: 'string', alias: ['b'], describe: 'directory to write config.json to', default: '.' },
    rootless: { type: 'bool', describe: 'a spec for a rootless container' },
  },
  run(_g, p) {
    writeDefaultSpec(p.flags.bundle as string, { rootless: Boolean(p.flags.rootless) });
    return 0;
  },
};
