/**
 * Bindings of native/shim/host-process.c (in libtsrshim.so): pidfds for signalling a
 * container's init, reading a file inside a container's root, and the type of a namespace file. Loading koffi costs about
 * 7 ms, so callers require this module only when they have something to do with it.
 */
import { bound } from './shim';

export interface HostProcess {
  /** A pidfd (close-on-exec), or -errno. */
  pidfdOpen(pid: number): number;
  /** 0, or -errno (-ESRCH once the process has exited). */
  pidfdSendSignal(pidfd: number, sig: number): number;
  /** Wait up to timeoutMs for the process to exit: 1 when it has, 0 on timeout, or -errno. */
  pidfdWait(pidfd: number, timeoutMs: number): number;
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
  const pidfdOpen = bound('int tsr_pidfd_open(int pid)');
  const pidfdSendSignal = bound('int tsr_pidfd_send_signal(int pidfd, int sig)');
  const pidfdWait = bound('int tsr_pidfd_wait(int pidfd, int timeout_ms)');
  const readInRoot = bound('int tsr_read_in_root(const char *root, const char *path, _Out_ uint8_t *buf, uint32_t len)');
  const nsType = bound('int tsr_ns_type(int fd)');
  cached = {
    pidfdOpen: (pid) => pidfdOpen()(pid),
    pidfdSendSignal: (fd, sig) => pidfdSendSignal()(fd, sig),
    pidfdWait: (fd, ms) => pidfdWait()(fd, ms),
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
