import type { Command, Globals } from '../command';
import { requireId } from '../command';
import type { Parsed } from '../flags';
import { createContainer, CreateOptions, planCreate } from '../../lifecycle/create';
import { DRY_RUN_FLAGS, printPlan } from '../dry-run';
import { validateId } from '../../state/store';

/** create's flags as library options; `run` takes the same ones. */
export function createOptions(command: string, g: Globals, p: Parsed): CreateOptions {
  return {
    id: validateId(requireId(p, command)),
    bundle: p.flags.bundle as string,
    pidFile: p.flags['pid-file'] as string | undefined,
    consoleSocket: p.flags['console-socket'] as string | undefined,
    noPivot: Boolean(p.flags['no-pivot']),
    noNewKeyring: Boolean(p.flags['no-new-keyring']),
    preserveFds: p.flags['preserve-fds'] as number,
    systemdCgroup: g.systemdCgroup,
    rootless: g.rootless,
  };
}

export const command: Command = {
  describe: 'create a container from a bundle; its process waits until `start`',
  args: '<container-id>',
  flags: {
    bundle: { type: 'string', alias: ['b'], describe: 'path to the bundle directory (default: current directory)', default: '.' },
    'console-socket': { type: 'string', describe: 'unix socket that receives the pty master when process.terminal is true' },
    'pid-file': { type: 'string', describe: 'file to write the init process id to' },
    'no-pivot': { type: 'bool', describe: 'use MS_MOVE and chroot instead of pivot_root (for ramfs roots)' },
    'no-new-keyring': { type: 'bool', describe: 'do not create a new session keyring' },
    'preserve-fds': { type: 'number', describe: 'pass N additional fds (from fd 3) to the container', default: 0 },
    ...DRY_RUN_FLAGS,
  },
  run(g, p) {
    if (p.flags['dry-run']) return printPlan(planCreate(g.store(), createOptions('create', g, p), g.log), p);
    createContainer(g.store(), createOptions('create', g, p), g.log);
    return 0;
  },
};

