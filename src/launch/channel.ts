/**
 * The runtime's side of the sync socket to a cloned process running a plan: it answers
 * sync points, collects the pid of a forked grandchild and fds passed to it, and turns a
 * reported failure into "<step>: ERRNO (text)". Returns when the process says it is ready.
 */
import { LaunchError, errnoName, errnoText, errnoWords } from '../errors';
import { Msg, StartStep, type Op } from '../plan/ops';
import type { Shim } from '../native/shim';


export interface ChannelHandlers {
  /** The process stopped at a SYNC op with this tag; it goes on once this returns. */
  sync?(tag: string | undefined): void;
  /** A FORK op made this (host) pid. */
  pid?(pid: number): void;
  /** The process passed an fd (a pty master). */
  fd?(fd: number): void;
  /** The process reached a MARK op (--debug): the group it starts (none: the last ended), and when. */
  mark?(group: string | undefined, timeNs: bigint): void;
}

/**
 * For a runtime without real root, what a refusal means: the kernel keeps some things to the
 * initial user namespace's root, whatever the container's user namespace allows.
 */
const ROOTLESS_HINT = 'a rootless container cannot do this: it needs privileges this user does not have on the host (run as root, or change the config)';

export function driveChannel(shim: Shim, parentFd: number, ops: readonly Op[], what: string, h: ChannelHandlers, rootless = false): void {
  for (;;) {
    const msg = shim.readMsg(parentFd);
    if (msg.rc < 0) throw new LaunchError(`${what} exited during setup without saying why`);
    switch (msg.kind) {
      case Msg.READY:
        return;
      case Msg.ERROR:
        throw new LaunchError(`${what}: ${msg.op < 0 ? describeStartFailure(msg.op, msg.err) : describeFailure(ops[msg.op], msg.err, rootless)}`);
      case Msg.SYNC:
        h.sync?.(ops[msg.op]?.tag);
        if (shim.writeByte(parentFd) < 0) throw new LaunchError(`${what} exited during setup`);
        break;
      case Msg.PID:
        h.pid?.(msg.value);
        break;
      case Msg.FD:
        if (msg.fd >= 0) h.fd?.(msg.fd);
        break;
      case Msg.MARK:
        h.mark?.(ops[msg.op]?.tag, msg.timeNs);
        break;
      default:
        throw new LaunchError(`${what} sent an unknown message (${msg.kind})`);
    }
  }
}

/**
 * An errno's words in an op's failure. EXDEV there is the in-root resolution refusing a path
 * (openat2 RESOLVE_IN_ROOT, or a mount into /proc), never a cross-device link.
 */
function opErrnoWords(name: string): string | undefined {
  return name === 'EXDEV' ? 'path escapes the container root' : errnoWords(name);
}

/** The steps before the first op (native/plan.h TSR_STEP_*), and what to do about each. */
const START_STEPS: Record<number, string> = {
  [StartStep.START]: 'start tsr-init (native/build/tsr-init; run `npm run build`)',
  [StartStep.NS_ROOT]: 'become root in the new user namespace (linux.uidMappings and gidMappings must map 0)',
  [StartStep.PLAN]: 'read the launch plan',
  [StartStep.PROCFS]: 'open /proc (it must be a procfs mounted on /proc)',
};

export function describeStartFailure(step: number, errno: number): string {
  const name = errnoName(errno);
  return `${START_STEPS[step] ?? `start-up step ${step}`}: ${errnoText(name, opErrnoWords(name))}`;
}

/** "mount proc on /proc: EPERM (operation not permitted)", or runc's words for exec lookups. */
export function describeFailure(op: Op | undefined, errno: number, rootless = false): string {
  const name = errnoName(errno);
  const text = opErrnoWords(name);
  if (op?.op === 'FIND_EXEC') {
    const arg0 = op.program ?? '';
    if (name === 'ENOENT') {
      return arg0.includes('/') ? `exec "${arg0}": no such file or directory` : `exec "${arg0}": executable file not found in $PATH`;
    }
    return `exec "${arg0}": ${text ?? name}`;
  }
  if ((op?.op === 'MOUNT_IN_ROOT' || op?.op === 'MOVE_MOUNT_IN_ROOT') && name === 'EXDEV') return `${op.what}: the destination resolves to a path inside /proc, where mounts are refused`;
  if (op?.op === 'CHDIR' && name === 'EXDEV') return `${op.what}: the directory is outside the container's root`;
  const hint = rootless && (name === 'EPERM' || name === 'EACCES') ? `: ${ROOTLESS_HINT}` : '';
  return `${op?.what ?? 'setup'}: ${errnoText(name, text)}${hint}`;
}
