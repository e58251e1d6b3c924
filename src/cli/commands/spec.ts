import * as fs from 'fs';
import * as path from 'path';
import type { Command } from '../command';
import { RuntimeError } from '../../errors';
import { defaultSpec } from '../../spec/default-spec';

export const command: Command = {
  describe: 'write a default config.json (like `runc spec`) into the bundle directory',
  args: '',
  flags: {
    bundle: { type: 'string', alias: ['b'], describe: 'directory to write config.json to', default: '.' },
    rootless: { type: 'bool', describe: 'a spec for a rootless container' },
  },
  run(_g, p) {
    const file = path.join(p.flags.bundle as string, 'config.json');
    if (fs.existsSync(file)) throw new RuntimeError('File config.json exists. Remove it first');
    fs.writeFileSync(file, JSON.stringify(defaultSpec({ rootless: Boolean(p.flags.rootless) }), null, '\t') + '\n', { mode: 0o666 });
    return 0;
  },
};
