/**
 * The default state root (--root): /run/tsruntime, or $XDG_RUNTIME_DIR/tsruntime for a rootless
 * caller (runc's rule: src/plan/caller-rules.ts defaultStateRoot). Read by every command: fs only.
 */
import fs from 'fs';
import { RuntimeError } from '../errors';
import { caller } from '../launch/caller';
import { defaultStateRoot } from '../plan/caller-rules';

export function defaultRoot(): { root: string; xdg: boolean } {
  return defaultStateRoot(process.env, caller());
}

/**
 * A root under $XDG_RUNTIME_DIR is made private and sticky, as runc makes its own: the XDG spec
 * lets the session manager remove files there that lack the sticky bit.
 */
export function prepareXdgRoot(root: string): void {
  try {
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new RuntimeError(`the path in $XDG_RUNTIME_DIR must be writable by the user: mkdir ${root}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  try {
    fs.chmodSync(root, 0o1700);
  } catch (e) {
    throw new RuntimeError(`you should check permission of the path in $XDG_RUNTIME_DIR: chmod ${root}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}
