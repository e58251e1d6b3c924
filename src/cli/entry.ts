/** The executable's entry: bin/tsruntime runs this. */
import { main } from './main';
import { writeStderr } from '../log';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    writeStderr(`tsruntime: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
