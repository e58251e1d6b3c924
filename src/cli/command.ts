/** What every CLI command module exports: its flags and a run function over the library. */
import type { FlagSpecs, Parsed } from './flags';
import type { Logger } from '../log';
import type { StateStore } from '../state/store';

export interface Globals {
  root: string;
  log: Logger;
  systemdCgroup: boolean;
  /** --rootless: true, false or auto. */
  rootless: import('../plan/caller-rules').RootlessFlag;
  debug: boolean;
  store(): StateStore;
}

export interface Command {
  describe: string;
  /** Positional arguments, for usage text: "<container-id>". */
  args: string;
  flags: FlagSpecs;
  run(g: Globals, p: Parsed): number | Promise<number>;
}

/** The container id argument, with runc's message when it is missing. */
export function requireId(p: Parsed, command: string): string {
  const id = p.positionals[0];
  if (!id) {
    const { RuntimeError } = require('../errors');
    throw new RuntimeError(`"${command}" requires a container id`);
  }
  return id;
}
