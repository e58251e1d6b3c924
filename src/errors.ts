/**
 * The errors the runtime throws for anything the user can fix or should know about.
 * The CLI prints `message` as a single line on stderr (and to --log), then exits with `exitCode`;
 * library users tell the kinds apart with `instanceof` (every one is a RuntimeError).
 */
export class RuntimeError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'RuntimeError';
  }
}

/** No container has this id (under this root). */
export class ContainerNotFoundError extends RuntimeError {
  constructor(readonly id: string) {
    super(`container ${id} does not exist`);
    this.name = 'ContainerNotFoundError';
  }
}

/** `create` was given an id that a container already has. */
export class ContainerExistsError extends RuntimeError {
  constructor(readonly id: string) {
    super(`container with id exists: ${id}`);
    this.name = 'ContainerExistsError';
  }
}

/**
 * The container is not in a state the operation accepts: not running, not stopped, not paused,
 * already running, being created. `status` is the one it was found in, when known.
 */
export class ContainerStateError extends RuntimeError {
  constructor(message: string, readonly id: string, readonly status?: string) {
    super(message);
    this.name = 'ContainerStateError';
  }
}

/** The bundle or its config.json is unusable: missing, not JSON, or against the schema. */
export class InvalidConfigError extends RuntimeError {
  /** One entry per problem found (the message holds them one a line). */
  readonly problems: string[];
  constructor(message: string, problems?: string[]) {
    super(message);
    this.name = 'InvalidConfigError';
    this.problems = problems ?? [message];
  }
}

/** An argument (a container id, a signal, a duration, a resource value) is malformed. */
export class InvalidArgumentError extends RuntimeError {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentError';
  }
}

/** Setting up a container process failed: the init (or an exec'd process) reported a failed step. */
export class LaunchError extends RuntimeError {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchError';
  }
}

/** Something this runtime (or this host) does not support. */
export class UnsupportedError extends RuntimeError {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedError';
  }
}

/** errno name for a number, for messages such as "mount /proc on /proc: EPERM". */
export function errnoName(errno: number): string {
  // os.constants.errno maps names to numbers; invert lazily, only when an error is being reported.
  const table = require('os').constants.errno as Record<string, number>;
  for (const [name, value] of Object.entries(table)) if (value === errno) return name;
  return `errno ${errno}`;
}

/** strerror's words for the errno codes the runtime's messages meet (runc says them so too). */
const ERRNO_WORDS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EEXIST: 'file exists',
  ENOTDIR: 'not a directory',
  EBUSY: 'device or resource busy',
  EINVAL: 'invalid argument',
  ELOOP: 'too many levels of symbolic links',
  ENODEV: 'no such device',
  ERANGE: 'numerical result out of range',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUP: 'operation not supported',
};

/** strerror's words for an errno code ("EPERM"), when known. */
export function errnoWords(code: string): string | undefined {
  return ERRNO_WORDS[code];
}

/** "EPERM (operation not permitted)": the code, with its words (strerror's by default) when known. */
export function errnoText(code: string, words: string | undefined = ERRNO_WORDS[code]): string {
  return words ? `${code} (${words})` : code;
}

/**
 * A system call that failed where no step had words for it: the call and its path, and for a
 * refusal what to try. Never "internal error: EACCES".
 */
export function describeSystemError(e: NodeJS.ErrnoException): string {
  const what = [e.syscall, e.path, (e as { dest?: string }).dest ? `to ${(e as { dest?: string }).dest}` : ''].filter(Boolean).join(' ');
  let fix = '';
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    const euid = process.geteuid?.() ?? 0;
    fix = euid !== 0
      ? `: tsruntime runs as uid ${euid}, not root: give this user access to it, or run as root`
      : ': check the permissions and mount options of that path';
  }
  return `${what || 'system call'}: ${errnoText(String(e.code))}${fix}`;
}
