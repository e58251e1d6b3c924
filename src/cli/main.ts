/**
 * CLI entry. CommonJS and lazy on purpose: each command module is required only when it is
 * the one asked for, so `state`, `kill`, `start` and `delete` never load yargs, ajv or koffi.
 */
import { parseFlags, FlagSpecs } from './flags';
import type { Command, Globals } from './command';
import { Logger, writeStderr, writeStdout } from '../log';
import { describeSystemError, RuntimeError } from '../errors';
import { OCI_VERSION } from '../spec/version';
import { parseRootlessFlag } from '../plan/caller-rules';
import { defaultRoot, prepareXdgRoot } from '../state/root';

// The CLI's end, for entry.ts: here so that it is in every command's bundle.
export { exitProcess } from '../native/fast-exit';

export const VERSION = '0.1.0';

/**
 * Each command module, loaded only when it runs. Static requires (not a computed path) so the
 * build can bundle them: one file to open instead of dozens of module lookups per start.
 */
export const COMMAND_LOADERS: Record<string, () => { command: Command }> = {
  create: () => require('./commands/create'),
  start: () => require('./commands/start'),
  state: () => require('./commands/state'),
  kill: () => require('./commands/kill'),
  delete: () => require('./commands/delete'),
  run: () => require('./commands/run'),
  list: () => require('./commands/list'),
  spec: () => require('./commands/spec'),
  features: () => require('./commands/features'),
  ps: () => require('./commands/ps'),
  pause: () => require('./commands/pause'),
  resume: () => require('./commands/resume'),
  exec: () => require('./commands/exec'),
  update: () => require('./commands/update'),
  events: () => require('./commands/events'),
};
export const COMMANDS = Object.keys(COMMAND_LOADERS);

export const GLOBAL_FLAGS: FlagSpecs = {
  root: { type: 'string', describe: 'root directory for storage of container state (default: /run/tsruntime, or $XDG_RUNTIME_DIR/tsruntime when rootless)' },
  log: { type: 'string', describe: 'log file (default: stderr)' },
  'log-format': { type: 'string', describe: 'log format: text or json', default: 'text' },
  debug: { type: 'bool', describe: 'enable debug logging' },
  'systemd-cgroup': { type: 'bool', describe: 'use the systemd cgroup driver (cgroupsPath "slice:prefix:name")' },
  rootless: { type: 'string', describe: "ignore cgroup permission errors ('true', 'false', or 'auto')", default: 'auto' },
  criu: { type: 'string', describe: 'ignored: accepted for runc compatibility' },
  help: { type: 'bool', alias: ['h'], describe: 'show help' },
  version: { type: 'bool', alias: ['v'], describe: 'print the version' },
};

export async function main(argv: string[]): Promise<number> {
  let log = new Logger();
  try {
    const g = parseFlags(argv, GLOBAL_FLAGS);
    const format = g.flags['log-format'] as string;
    if (format !== 'text' && format !== 'json') throw new RuntimeError(`invalid log-format: ${format}`);
    log = new Logger({ file: g.flags.log as string | undefined, format, debug: Boolean(g.flags.debug) });
    if (g.flags.version) {
      writeStdout(`tsruntime version ${VERSION}\nspec: ${OCI_VERSION}\n`);
      return 0;
    }
    const name = g.positionals[0];
    if (!name || g.flags.help || name === 'help') {
      require('./help').printHelp(name === 'help' ? g.positionals[1] : undefined);
      return name || g.flags.help ? 0 : 1;
    }
    if (!Object.hasOwn(COMMAND_LOADERS, name)) throw new RuntimeError(`no such command: ${name}`);
    const cmd: Command = COMMAND_LOADERS[name]().command;
    const p = parseFlags(g.positionals.slice(1), { ...cmd.flags, help: { type: 'bool', alias: ['h'], describe: 'show help' } });
    if (p.flags.help) {
      require('./help').printHelp(name);
      return 0;
    }
    let store: import('../state/store').StateStore | undefined;
    const rootless = parseRootlessFlag(g.flags.rootless as string);
    const byDefault = g.flags.root === undefined ? defaultRoot() : undefined;
    const globals: Globals = {
      root: (g.flags.root as string | undefined) ?? byDefault!.root,
      log,
      systemdCgroup: Boolean(g.flags['systemd-cgroup']),
      rootless,
      debug: Boolean(g.flags.debug),
      store() {
        if (!store) {
          if (byDefault?.xdg) prepareXdgRoot(this.root);
          const { StateStore } = require('../state/store');
          store = new StateStore(this.root) as import('../state/store').StateStore;
        }
        return store;
      },
    };
    log.debug(`${name} ${argv.join(' ')}`);
    // --debug's timing trace: the whole command, from Node's start (the steps log themselves).
    const t0 = process.hrtime.bigint() - BigInt(Math.round(process.uptime() * 1e9));
    try {
      return await cmd.run(globals, p);
    } finally {
      log.timing(`${name}, since the runtime started`, t0);
    }
  } catch (e) {
    if (e instanceof RuntimeError) {
      log.error(e.message);
      return e.exitCode;
    }
    const err = e as NodeJS.ErrnoException;
    if (err.code && err.syscall) {
      log.error(describeSystemError(err));
      if (process.env.TSRUNTIME_TRACE) writeStderr(`${err.stack}\n`);
      return 1;
    }
    log.error(`internal error: ${err.message}`);
    if (process.env.TSRUNTIME_TRACE) writeStderr(`${err.stack}\n`);
    return 1;
  }
}
