/**
 * The kernel's limits on what execve(2) passes to a new program, checked before anything is made:
 * otherwise a config with too many or too long args or env entries gets as far as the container
 * init's final execve, which fails with E2BIG after `start` (fs/exec.c, Linux 6.x):
 *  - one string, NUL included, at most MAX_ARG_STRLEN (32 pages: 131072 bytes);
 *  - all strings plus one pointer for each, at most a quarter of RLIMIT_STACK (the container's,
 *    or the runtime's when the config sets none), capped at 3/4 of _STK_LIM (6 MiB) and never
 *    below ARG_MAX (32 pages).
 */
import fs from 'fs';
import { RuntimeError } from '../errors';

const PAGE = 4096;
const MAX_ARG_STRLEN = 32 * PAGE;
const ARG_MAX = 32 * PAGE;
const STK_LIM_CAP = ((8 * 1024 * 1024) / 4) * 3;
/** Room for what the runtime itself adds (HOME, NOTIFY_SOCKET, LISTEN_*) and the program's path. */
const SLACK = PAGE;

interface Rlimit {
  type: string;
  soft: number;
}

export function checkExecLimits(args: readonly string[], env: readonly string[], rlimits: readonly Rlimit[] | undefined): void {
  let bytes = (Math.max(args.length, 1) + env.length) * 8 + SLACK;
  for (const [field, list] of [['process.args', args], ['process.env', env]] as const) {
    list.forEach((s, i) => {
      const n = Buffer.byteLength(s) + 1;
      if (n > MAX_ARG_STRLEN) throw new RuntimeError(`${field}[${i}]: ${n} bytes, more than the limit of ${MAX_ARG_STRLEN} bytes for one string (MAX_ARG_STRLEN)`);
      bytes += n;
    });
  }
  const stack = rlimits?.find((r) => r.type === 'RLIMIT_STACK')?.soft ?? ownStackLimit();
  const limit = Math.max(Math.min(STK_LIM_CAP, stack / 4), ARG_MAX);
  if (bytes > limit) {
    throw new RuntimeError(
      `process.args and process.env: ${args.length} + ${env.length} entries take ${bytes} bytes with their pointers, more than the limit of ${Math.floor(limit)} bytes for a new program (a quarter of RLIMIT_STACK, ${stack === Infinity ? 'unlimited' : stack})`,
    );
  }
}

/** Our soft RLIMIT_STACK (the init inherits it), from /proc/self/limits; Infinity if unlimited. */
function ownStackLimit(): number {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max stack size'));
    const soft = line?.slice('Max stack size'.length).trim().split(/\s+/)[0];
    return soft === undefined || soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return 8 * 1024 * 1024;
  }
}
