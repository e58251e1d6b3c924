import type { Command } from '../command';
import { writeStdout } from '../../log';
import { runtimeFeatures } from '../../lifecycle/features';

/** features.md: what this runtime understands, for clients that adapt to the runtime. */
export const command: Command = {
  describe: 'print the features this runtime implements, as JSON (runtime-spec features.md)',
  args: '',
  flags: {},
  run() {
    writeStdout(JSON.stringify(runtimeFeatures(), null, 2) + '\n');
    return 0;
  },
};
