/** spec: a default config.json in a bundle directory, as `runc spec` writes it. */
import fs from 'fs';
import path from 'path';
import { RuntimeError } from '../errors';
import { defaultSpec } from '../spec/default-spec';

export function writeDefaultSpec(bundle: string, opts: { rootless?: boolean } = {}): string {
  const file = path.join(bundle, 'config.json');
  if (fs.existsSync(file)) throw new RuntimeError('File config.json exists. Remove it first');
  fs.writeFileSync(file, JSON.stringify(defaultSpec({ rootless: Boolean(opts.rootless) }), null, '\t') + '\n', { mode: 0o666 });
  return file;
}
