/** The option and result types of the library API (src/index.ts). */
import type { LinuxResources, Process, Spec } from '../generated/config';
import type { LogOptions } from '../log';
import type { State } from '../lifecycle/status';
import type { Status } from '../state/store';
import type { Features } from '../lifecycle/features';

export type { LinuxResources, Process, Spec, State, Status, Features, LogOptions };

/** One row of `list`: a container's state document. */
export type ContainerListEntry = State;

/** What every call takes: where container state lives and where the runtime logs. */
export interface CommonOptions {
  /** The state root (runc's --root). Default: /run/tsruntime. */
  root?: string;
  /** Where warnings and debug messages go (like --log, --log-format, --debug). Default: stderr, text. */
  log?: LogOptions;
}

export interface CreateOptions extends CommonOptions {
  /** The bundle directory holding config.json. */
  bundle: string;
  /** A unix socket that receives the pty master when process.terminal is true. */
  consoleSocket?: string;
  /** A file to write the init's pid to. */
  pidFile?: string;
  /** Use MS_MOVE and chroot instead of pivot_root (for ramfs roots). */
  noPivot?: boolean;
  /** Do not create a new session keyring. */
  noNewKeyring?: boolean;
  /** Pass this many fds of the calling process, from fd 3, to the container. */
  preserveFds?: number;
  /** Use the systemd cgroup driver (not supported yet). */
  systemdCgroup?: boolean;
}

export interface RunOptions extends CreateOptions {
  /** Return once the container runs (resolves to its state) instead of waiting for it. */
  detach?: boolean;
  /** Do not delete the container after it exits. */
  keep?: boolean;
}

export interface KillOptions extends CommonOptions {
  /** A name ("TERM", "SIGKILL") or number; default SIGTERM. */
  signal?: string | number;
  /** Signal every process in the container's cgroup, not just the init. */
  all?: boolean;
}

export interface DeleteOptions extends CommonOptions {
  /** Kill a running or paused container first; succeed when it does not exist. */
  force?: boolean;
}

export interface ExecOptions extends CommonOptions {
  /** The command and its arguments; the rest of the process comes from the container's config. */
  args?: string[];
  /** The whole process instead (runtime-spec process); `args` and the fields below are then ignored. */
  process?: Process;
  tty?: boolean;
  cwd?: string;
  /** Extra environment, "NAME=value". */
  env?: string[];
  /** The user to run as: a uid, or uid and gid. */
  user?: number | { uid: number; gid?: number };
  additionalGids?: number[];
  /** Capabilities to add ("CAP_NET_ADMIN"). */
  caps?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
  consoleSocket?: string;
  /** Return once the process runs (resolves to its pid) instead of waiting for it. */
  detach?: boolean;
  pidFile?: string;
  preserveFds?: number;
  /** Allow exec in a paused container. */
  ignorePaused?: boolean;
  /** Run in a sub-cgroup of the container: [controller:]path. */
  cgroup?: string;
}

export interface EventsOptions extends CommonOptions {
  /** Milliseconds between stats events (default 5000). */
  intervalMs?: number;
  /** Ends the watch when aborted. */
  signal?: AbortSignal;
}

/** The cgroup statistics of a stats event, in runc's `events` JSON layout. */
export type ContainerStats = Record<string, unknown>;

/** What `events` yields: runc's event objects. */
export type ContainerEvent = { type: 'stats'; id: string; data: ContainerStats } | { type: 'oom'; id: string };

/** A foreground process ended with this code (128 + signal when a signal killed it). */
export interface Exited {
  exitCode: number;
}
/** A detached exec runs as this host pid. */
export interface ExecDetached {
  pid: number;
}
