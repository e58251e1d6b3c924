/** The executable's entry: bin/tsruntime runs this. */
import { commandCacheDir, installCodeCache } from './code-cache';

// First of all: the CLI's own modules come from the command's bundle too.
installCodeCache(commandCacheDir(process.argv.slice(2)));
const { main } = require('./main') as typeof import('./main');

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    (require('../log') as typeof import('../log')).writeStderr(`tsruntime: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
