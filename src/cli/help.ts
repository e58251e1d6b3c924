/** --help, rendered by yargs from the same flag tables the parser uses (loaded only here). */
import { COMMANDS, COMMAND_LOADERS, GLOBAL_FLAGS, VERSION } from './main';
import type { FlagSpecs } from './flags';
import type { Command } from './command';
import { writeStdout } from '../log';

function toYargs(flags: FlagSpecs): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [name, f] of Object.entries(flags)) {
    out[name] = {
      describe: f.describe,
      alias: f.alias,
      type: f.type === 'bool' ? 'boolean' : f.type === 'list' ? 'array' : f.type,
      default: f.default,
    };
  }
  return out;
}

export function printHelp(commandName?: string): void {
  const yargs = require('yargs/yargs');
  let y = yargs([]).scriptName('tsruntime').version(false).help(false).wrap(100);
  if (commandName && Object.hasOwn(COMMAND_LOADERS, commandName)) {
    const cmd: Command = COMMAND_LOADERS[commandName]().command;
    y = y.usage(`tsruntime ${commandName} [options] ${cmd.args}\n\n${cmd.describe}`).options(toYargs(cmd.flags));
  } else {
    y = y.usage(`tsruntime ${VERSION}: an OCI container runtime\n\ntsruntime [global options] <command> [command options] [arguments...]`).options(toYargs(GLOBAL_FLAGS));
    for (const name of COMMANDS) {
      const cmd: Command = COMMAND_LOADERS[name]().command;
      y = y.command(`${name} ${cmd.args}`, cmd.describe);
    }
  }
  y.showHelp((s: string) => writeStdout(s + '\n'));
}
