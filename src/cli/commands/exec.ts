import type { Command } from '../command';
import { requireId } from '../command';
import { RuntimeError } from '../../errors';
import { execInContainer, ExecOptions, planExecInContainer } from '../../lifecycle/exec';
import { DRY_RUN_FLAGS, printPlan } from '../dry-run';

export const command: Command = {
  describe: 'run a process inside a running container',
  args: '<container-id> <command> [args...]',
  flags: {
    process: { type: 'string', alias: ['p'], describe: 'path to a process.json (runtime-spec process), or - for stdin' },
    tty: { type: 'bool', alias: ['t'], describe: 'allocate a pseudo-TTY' },
    'console-socket': { type: 'string', describe: 'unix socket that receives the pty master' },
    cwd: { type: 'string', describe: 'current working directory in the container' },
    env: { type: 'list', alias: ['e'], describe: 'set an environment variable (repeatable)' },
    user: { type: 'string', alias: ['u'], describe: 'uid[:gid]' },
    'additional-gids': { type: 'list', alias: ['g'], describe: 'additional gid (repeatable)' },
    cap: { type: 'list', alias: ['c'], describe: 'add a capability (repeatable)' },
    'no-new-privs': { type: 'bool', describe: 'set no_new_privs' },
    apparmor: { type: 'string', describe: 'AppArmor profile for the process' },
    'process-label': { type: 'string', describe: 'SELinux label for the process' },
    detach: { type: 'bool', alias: ['d'], describe: 'return once the process runs' },
    'pid-file': { type: 'string', describe: 'file to write the process id to' },
    'preserve-fds': { type: 'number', describe: 'pass N additional fds (from fd 3)', default: 0 },
    'ignore-paused': { type: 'bool', describe: 'allow exec in a paused container' },
    cgroup: { type: 'string', describe: 'run in a sub-cgroup of the container: [controller:]path' },
    ...DRY_RUN_FLAGS,
  },
  run(g, p) {
    const id = requireId(p, 'exec');
    const gids = (p.flags['additional-gids'] as string[]).map((s) => {
      if (!/^\d+$/.test(s)) throw new RuntimeError(`--additional-gids ${s}: not a number`);
      return Number(s);
    });
    const opts: ExecOptions = {
      id,
      processFile: p.flags.process as string | undefined,
      args: p.positionals.slice(1),
      tty: Boolean(p.flags.tty),
      cwd: p.flags.cwd as string | undefined,
      env: p.flags.env as string[],
      user: p.flags.user as string | undefined,
      additionalGids: gids,
      caps: p.flags.cap as string[],
      noNewPrivs: Boolean(p.flags['no-new-privs']),
      apparmor: p.flags.apparmor as string | undefined,
      processLabel: p.flags['process-label'] as string | undefined,
      consoleSocket: p.flags['console-socket'] as string | undefined,
      detach: Boolean(p.flags.detach),
      pidFile: p.flags['pid-file'] as string | undefined,
      preserveFds: p.flags['preserve-fds'] as number,
      ignorePaused: Boolean(p.flags['ignore-paused']),
      cgroup: p.flags.cgroup as string | undefined,
    };
    if (p.flags['dry-run']) return printPlan(planExecInContainer(g.store(), opts, g.log), p);
    return execInContainer(g.store(), opts, g.log);
  },
};

