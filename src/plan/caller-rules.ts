/**
 * Who runs the runtime, and the rules every command needs from it: --rootless, and the default
 * state root. The rest of rootless mode (what a container may ask of an unprivileged caller)
 * is in rootless.ts; these are apart so that the small commands load only them.
 *
 * Pure: the caller comes in as facts (src/launch/caller.ts).
 */
import { InvalidArgumentError } from '../errors';

/** Who runs the runtime. */
export interface Caller {
  euid: number;
  egid: number;
  /** The runtime runs in a user namespace other than the initial one (runc's RunningInUserNS). */
  inUserns: boolean;
}

export type RootlessFlag = 'true' | 'false' | 'auto';

/** --rootless: true, false or auto (runc also takes Go's spellings of a boolean). */
export function parseRootlessFlag(value: string | undefined): RootlessFlag {
  const v = (value ?? '').trim();
  if (v === '' || v === 'auto') return 'auto';
  if (/^(1|t|true)$/i.test(v)) return 'true';
  if (/^(0|f|false)$/i.test(v)) return 'false';
  throw new InvalidArgumentError(`invalid --rootless value "${value}": expected true, false or auto`);
}

/** Whether the caller lacks real root: then the checks and id-map rules of rootless.ts apply. */
export function unprivileged(c: Caller): boolean {
  return c.euid !== 0 || c.inUserns;
}

/** Whether cgroups are handled the rootless way (runc's shouldUseRootlessCgroupManager): by default, without real root. */
export function rootlessCgroups(flag: RootlessFlag, c: Caller): boolean {
  return flag === 'auto' ? unprivileged(c) : flag === 'true';
}

export const ROOT_STATE_DIR = '/run/tsruntime';

/**
 * The default --root. runc's rule: $XDG_RUNTIME_DIR/<runtime> when it is set and the caller is
 * not root, or is root of a user namespace whose $USER is not "root" (rootless Podman runs its
 * runtime as uid 0 of its namespace); real root keeps /run/tsruntime even with XDG_RUNTIME_DIR
 * set (/run/user/0), and so does anyone without XDG_RUNTIME_DIR.
 */
export function defaultStateRoot(env: { XDG_RUNTIME_DIR?: string; USER?: string }, c: Caller): { root: string; xdg: boolean } {
  const xdg = env.XDG_RUNTIME_DIR;
  const honour = Boolean(xdg) && (c.euid !== 0 || (c.inUserns && env.USER !== 'root'));
  return honour ? { root: `${xdg!.replace(/\/+$/, '')}/tsruntime`, xdg: true } : { root: ROOT_STATE_DIR, xdg: false };
}
