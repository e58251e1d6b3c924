/** The option and result types of the library API (src/index.ts). */
import type { LinuxResources, Process, Spec } from '../generated/config';
import type { LogOptions } from '../log';
import type { State } from '../lifecycle/status';
import type { Status } from '../state/store';
import type { Features } from '../lifecycle/features';
import type { ExecOptions as LifecycleExecOptions } from '../lifecycle/exec';

export type { LinuxResources, Process, Spec, State, Status, Features, LogOptions };

/** One row of `list`: a container's state document. */
export type ContainerListEntry = State;

/** What every call takes: where container state lives and where the runtime logs. */
export interface CommonOptions {
  /** The state root (runc's --root). Default: /run/tsruntime, or $XDG_RUNTIME_DIR/tsruntime when rootless. */
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
  /** Use the systemd cgroup driver: cgroupsPath is "slice:prefix:name", the cgroup a transient scope unit. */
  systemdCgroup?: boolean;
  /**
   * runc's --rootless: whether a cgroup the caller may not make is skipped (when the config asks
   * for none) rather than an error. Default 'auto': when not running as real root.
   */
  rootless?: boolean | 'auto';
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

/**
 * exec's options: the CLI's flags as fields (see src/lifecycle/exec.ts ExecOptions for each), but
 * `user` as numbers and no --process file (pass `process` itself).
 */
export interface ExecOptions extends CommonOptions, Omit<LifecycleExecOptions, 'id' | 'user' | 'processFile'> {
  /** The user to run as: a uid, or uid and gid. */
  user?: number | { uid: number; gid?: number };
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
