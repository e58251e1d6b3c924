/**
 * Bindings of native/host-process.c (linked into libtsrshim.so): reading a file inside a
 * container's root. Loading koffi costs about 7 ms, so callers require this module only when
 * they have something to do with it.
 */
import { libraryPath } from './shim';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = (...args: any[]) => any;

export interface HostProcess {
  /**
   * The regular file at `file` inside `root`, every component resolved inside it (openat2
   * RESOLVE_IN_ROOT): an absolute symlink means the container's /, never the host's. undefined
   * when it cannot be read, is not a regular file, or is larger than maxBytes.
   */
  readInRoot(root: string, file: string, maxBytes?: number): Buffer | undefined;
}

let cached: HostProcess | undefined;

export function loadHostProcess(): HostProcess {
  if (cached) return cached;
  const koffi = require('koffi');
  const lib = koffi.load(libraryPath());
  const readInRoot: Fn = lib.func('int tsr_read_in_root(const char *root, const char *path, _Out_ uint8_t *buf, uint32_t len)');
  cached = {
    readInRoot(root, file, maxBytes = 16 * 1024 * 1024) {
      for (let size = 64 * 1024; ; size *= 4) {
        const buf = Buffer.alloc(Math.min(size, maxBytes + 1));
        const n = readInRoot(root, file, buf, buf.length);
        if (n < 0) return undefined;
        if (n < buf.length) return buf.subarray(0, n);
        if (buf.length > maxBytes) return undefined;
      }
    },
  };
  return cached;
}
