/**
 * Bindings of native/shim/host-process.c (in libtsrshim.so): reading a file inside a container's
 * root, and the type of a namespace file. (Signals to a container's init go through pidfds of
 * native/addon.c, which commands load without koffi.)
 */
import { bound } from './shim';

export interface HostProcess {
  /**
   * The regular file at `file` inside `root`, every component resolved inside it (openat2
   * RESOLVE_IN_ROOT): an absolute symlink means the container's /, never the host's. undefined
   * when it cannot be read, is not a regular file, or is larger than maxBytes.
   */
  readInRoot(root: string, file: string, maxBytes?: number): Buffer | undefined;
  /** The CLONE_NEW* flag of the namespace open as fd (ioctl NS_GET_NSTYPE), or -errno. */
  nsType(fd: number): number;
}

let cached: HostProcess | undefined;

export function loadHostProcess(): HostProcess {
  if (cached) return cached;
  const readInRoot = bound('int tsr_read_in_root(const char *root, const char *path, _Out_ uint8_t *buf, uint32_t len)');
  const nsType = bound('int tsr_ns_type(int fd)');
  cached = {
    readInRoot(root, file, maxBytes = 16 * 1024 * 1024) {
      for (let size = 64 * 1024; ; size *= 4) {
        const buf = Buffer.alloc(Math.min(size, maxBytes + 1));
        const n = readInRoot()(root, file, buf, buf.length);
        if (n < 0) return undefined;
        if (n < buf.length) return buf.subarray(0, n);
        if (buf.length > maxBytes) return undefined;
      }
    },
    nsType: (fd) => nsType()(fd),
  };
  return cached;
}
