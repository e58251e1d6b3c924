/**
 * Starting a process that runs a launch plan (the container init, an exec'd process): the sync
 * socket, the spawn (src/native: a clone that becomes tsr-init), the runtime's work before the
 * go byte (id maps, network devices, a cgroup join), then the channel until the process is
 * ready, with its pty master sent to a --console-socket or kept for the caller. Shared by
 * create and exec, which only say what differs.
 */
import fs from 'fs';
import path from 'path';
import { LaunchError, RuntimeError, errnoName } from '../errors';
import { encodePlan, fdsUsedBy, Op } from '../plan/ops';
import { loadShim } from '../native/shim';
import { closeAll } from '../state/proc';
import type { CgroupManager } from '../cgroups/common';
import type { Logger } from '../log';
import { openSelfJoin } from './cgroup-join';
import { driveChannel } from './channel';

export interface LaunchInput {
  /** "container init" or "exec": how errors name the process. */
  what: string;
  ops: Op[];
  cloneFlags: number;
  /** Fds bound to the plan's slots (the exec fifo). */
  slots?: Record<string, number>;
  /** The cgroup the process joins itself as it starts (the plan holds the v1 join ops), or is put in before it goes on. */
  join?: CgroupManager;
  /** The process exists (cloned, or forked by the plan): record it. */
  onProcess?(pid: number): void;
  /** Runs before the process is let go: id maps, network devices, a join from outside. */
  beforeGo?(pid: number): void;
  /** The process stopped at a SYNC op with this tag (hooks, late id maps). */
  onSync?(tag: string | undefined, pid: number): void;
  /** --console-socket: where a pty master goes; without it the caller gets it. */
  consoleSocket?: string;
  /** For --debug's timing trace: the spawn, and the setup between sync points. */
  log?: Logger;
  /** The runtime lacks real root: a refused step says that may be why. */
  rootless?: boolean;
}

export interface Launched {
  /** The process running the plan (the forked one when the plan forks). */
  pid: number;
  /** The pty master, with process.terminal and no console socket: the caller's to proxy and close. */
  terminalMaster?: number;
  /** The sync socket: still open for a plan that waits after READY (see releaseAfterReady). */
  syncFd: number;
}

/**
 * Spawn and drive the process to READY. On failure whatever was spawned is killed and reaped
 * before the error goes on, and the fds opened here are closed either way, but syncFd on
 * success: the caller closes it (after releaseAfterReady if the plan waits).
 */
export function launch(input: LaunchInput): Launched {
  const shim = loadShim();
  const trace = input.log?.tracing ? input.log : undefined;
  let since = process.hrtime.bigint();
  const fds: number[] = [];
  let cloned = 0;
  let pid = 0;
  let master: number | undefined;
  let parentFd = -1;
  try {
    // A cgroup that cannot exist before its process (a systemd scope) is joined from here.
    const joinLater = input.join && !input.join.selfJoin ? input.join : undefined;
    const join = input.join ? openSelfJoin(input.join) : undefined;
    if (join) fds.push(...join.fds);
    const slots = { ...input.slots, ...join?.slots };
    const [parent, child] = shim.socketpair();
    parentFd = parent;
    const spawned = shim.spawn(encodePlan(input.ops, slots), input.cloneFlags, child, parent, join?.cgroupFd ?? -1, fdsUsedBy(input.ops, slots));
    fs.closeSync(child);
    if (spawned < 0) throw new LaunchError(`${input.what}: clone: ${errnoName(-spawned)}`);
    cloned = pid = spawned;
    input.onProcess?.(pid);
    closeAll(fds.splice(0)); // the child has its copies
    joinLater?.join(pid);
    input.beforeGo?.(pid);
    // The plan's MARKs (--debug) read the clock process.hrtime reads (CLOCK_MONOTONIC): from the
    // go byte to the first is the start-up of tsr-init (/proc, the plan; its exec came before the
    // go, but in a new user namespace), then group by group.
    let group = trace ? { name: 'start-up', since: process.hrtime.bigint() } : undefined;
    if (shim.writeByte(parentFd) < 0) throw new LaunchError(`${input.what} exited before setup`);
    trace?.timing(`${input.what}: spawn`, since);
    since = process.hrtime.bigint();
    driveChannel(shim, parentFd, input.ops, input.what, {
      sync(tag) {
        trace?.timing(`${input.what}: setup until ${tag ?? 'a sync point'}`, since);
        input.onSync?.(tag, pid);
        since = process.hrtime.bigint();
      },
      pid(forked) {
        // A FORK op (exec into a pid namespace, a pid or time namespace joined or made late):
        // the forked process runs the rest of the plan; the one we cloned exits at once.
        shim.waitSync(cloned);
        cloned = 0;
        pid = forked;
        input.onProcess?.(pid);
      },
      mark(next, at) {
        if (group) trace?.duration(`${input.what}: ${group.name}`, at - group.since);
        group = next === undefined ? undefined : { name: next, since: at };
      },
      fd(fd) {
        if (!input.consoleSocket) {
          master = fd;
          return;
        }
        try {
          const sent = shim.sendConsole(path.resolve(input.consoleSocket), fd, '/dev/ptmx');
          if (sent < 0) throw new RuntimeError(`--console-socket ${input.consoleSocket}: ${errnoName(-sent)}`);
        } finally {
          fs.closeSync(fd);
        }
      },
    }, input.rootless);
    trace?.timing(`${input.what}: setup until ready`, since);
    return { pid, terminalMaster: master, syncFd: parentFd };
  } catch (e) {
    if (cloned > 0) shim.killAndReap(cloned);
    if (pid > 0 && pid !== cloned) shim.killAndReap(pid);
    closeAll([...fds, ...(master !== undefined ? [master] : []), ...(parentFd >= 0 ? [parentFd] : [])]);
    throw e;
  }
}

/** A plan whose READY waits (a0 = 1): let the process go on, then close the channel. */
export function releaseAfterReady(launched: Launched, what: string): void {
  if (loadShim().writeByte(launched.syncFd) < 0) throw new LaunchError(`${what} exited before it could run`);
}

/**
 * process.terminal and --console-socket, checked before anything is made (runc's words): a tty
 * needs someone to hold the master, and a console socket needs a tty to send.
 */
export function checkTerminal(terminal: boolean, consoleSocket: string | undefined, detached: boolean): void {
  if (terminal && detached && !consoleSocket) {
    throw new RuntimeError('cannot allocate tty if tsruntime will detach without setting console socket (--console-socket)');
  }
  if (!terminal && consoleSocket) {
    throw new RuntimeError('cannot use console socket if tsruntime will not detach or allocate tty (process.terminal is false)');
  }
}
