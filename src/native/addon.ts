/**
 * native/build/tsr-addon.node (native/addon.c): _exit, pidfds and the code cache's reads, for the
 * commands that never call the shim. It loads in about 0.1 ms where koffi takes 1.2-2, which is
 * most of what kill would otherwise spend beyond Node's own start.
 */
import { RuntimeError } from '../errors';
import { nativeBuildPath } from './paths';

export interface Addon {
  /** _exit(2): no teardown of Node. */
  exit(code: number): never;
  /** A pidfd (close-on-exec), or -errno. */
  pidfdOpen(pid: number): number;
  /** 0, or -errno (-ESRCH once the process has exited). */
  pidfdSendSignal(pidfd: number, sig: number): number;
  /** Wait up to timeoutMs for the process to exit: 1 when it has, 0 on timeout, or -errno. */
  pidfdWait(pidfd: number, timeoutMs: number): number;
  /** The whole of a regular file, mapped (private: a write to it stays in the Buffer), or -errno. */
  readFile(file: string): Buffer | number;
  /** The whole of a regular file as a latin1 string over its mapping (a copy on Node < 20.4), or -errno. */
  readFileLatin1(file: string): string | number;
  /** [size, mtimeMs] as fs.statSync gives them, or -errno. */
  statSizeMtime(file: string): [number, number] | number;
}

let cached: Addon | undefined;

/**
 * The instance src/cli/entry.ts loaded, before any module, to install the command's code cache:
 * one instance per process.
 */
export function adoptAddon(addon: Addon): void {
  cached ??= addon;
}

export function loadAddon(): Addon {
  if (cached) return cached;
  const file = nativeBuildPath('tsr-addon.node');
  const module: { exports: Partial<Addon> } = { exports: {} };
  try {
    process.dlopen(module, file);
  } catch (err) {
    throw new RuntimeError(`cannot load ${file} (${(err as Error).message.split('\n')[0]}): build the package again with \`npm run build\``);
  }
  return (cached = module.exports as Addon);
}
