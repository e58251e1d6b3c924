/**
 * The one error type the runtime throws for anything the user can fix or should know about.
 * The CLI prints `message` as a single line on stderr (and to --log), then exits with `exitCode`.
 */
export class RuntimeError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'RuntimeError';
  }
}

/** errno name for a number, for messages such as "mount /proc on /proc: EPERM". */
export function errnoName(errno: number): string {
  // os.constants.errno maps names to numbers; invert lazily, only when an error is being reported.
  const table = require('os').constants.errno as Record<string, number>;
  for (const [name, value] of Object.entries(table)) if (value === errno) return name;
  return `errno ${errno}`;
}
