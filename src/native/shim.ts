/**
 * The only door into the native shim (native/shim/). Loading koffi and the library costs a few ms, so only the
 * commands that clone (create, run, exec) import this module.
 */
import { ERRNO } from '../plan/linux-constants';
import { initPath, nativeBuildPath } from './paths';
import { boundOnFirstCall, loadKoffi } from './koffi';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Fn = ((...args: any[]) => any) & { async?: any };

export interface Shim {
  /**
   * Start a process running plan in tsr-init; with cgroupFd (a cgroup v2 dir) it is born in that
   * cgroup. keepFds: the fds the plan uses (fdsUsedBy); no other fd of ours reaches it.
   */
  spawn(plan: Buffer, cloneFlags: number, childSyncFd: number, parentSyncFd: number, cgroupFd: number, keepFds: readonly number[]): number;
  /** One message from the init; `fd` is an fd it passed along (a pty master), or -1; `timeNs` a MARK's CLOCK_MONOTONIC time. */
  readMsg(fd: number): { rc: number; kind: number; op: number; err: number; value: number; timeNs: bigint; fd: number };
  /** Send fd to a --console-socket (runc's protocol); 0 or -errno. */
  sendConsole(socketPath: string, fd: number, name: string): number;
  setWinsize(fd: number, rows: number, cols: number): number;
  /** The receiving end of a console socket: a listening socket, or -errno. */
  consoleListen(socketPath: string): number;
  /** sd_notify relay: a bound datagram socket (fd or -errno), one datagram (null on timeout), a send. */
  dgramBind(socketPath: string): number;
  dgramRecv(fd: number, timeoutMs: number): string | null;
  dgramSend(socketPath: string, message: string): number;
  /** The fd sent over the first connection (waits on a worker thread). */
  consoleAccept(listenFd: number): Promise<number>;
  socketpair(): [number, number];
  mkfifo(p: string, mode: number): number;
  writeByte(fd: number): number;
  /** Blocking waitpid of our own child; the raw wait status, or -errno. */
  waitSync(pid: number): number;
  /** waitpid of our own child that does not block: the raw wait status, -errno, or undefined while it runs. */
  waitIfExited(pid: number): number | undefined;
  /** SIGKILL our own child and reap it, so nothing of it remains (undoing a failed setup). */
  killAndReap(pid: number): void;
  setSubreaper(): number;
  /** FNV-1a (32 bits) of text, which holds no NUL: a name, never a check (native/shim/digest.c). */
  hashText(text: string): number;
}

let cached: Shim | undefined;
let library: any;

export function libraryPath(): string {
  return nativeBuildPath('libtsrshim.so');
}

/**
 * libtsrshim.so through koffi, loaded once per process: shim.ts, config-shim.ts and
 * host-process.ts each bind their own functions from it.
 */
export function shimLibrary(): any {
  if (library) return library;
  try {
    library = loadKoffi().load(libraryPath());
  } catch (e) {
    throw new Error(`cannot load the native shim ${libraryPath()} (run \`npm run build\`): ${(e as Error).message}`);
  }
  return library;
}

/** A function of the library, bound on its first call: shim.ts, config-shim.ts and host-process.ts declare theirs so. */
export function bound(prototype: string): () => Fn {
  return boundOnFirstCall<Fn>(() => shimLibrary().func(prototype));
}

export function loadShim(): Shim {
  if (cached) return cached;
  const spawn = bound(
    'int tsr_spawn(const char *init, const uint8_t *plan, uint32_t len, uint64_t flags, int child_fd, int parent_fd, int cgroup_fd, const int32_t *keep, uint32_t keep_count)',
  );
  const readMsg = bound(
    'int tsr_read_msg(int fd, _Out_ int32_t *kind, _Out_ int32_t *op, _Out_ int32_t *err, _Out_ int32_t *value, _Out_ int64_t *time, _Out_ int32_t *passed)',
  );
  const sendConsole = bound('int tsr_send_console(const char *path, int fd, const char *name)');
  const setWinsize = bound('int tsr_set_winsize(int fd, uint32_t rows, uint32_t cols)');
  const consoleListen = bound('int tsr_console_listen(const char *path)');
  const consoleAccept = bound('int tsr_console_accept(int fd)');
  const dgramBind = bound('int tsr_dgram_bind(const char *path)');
  const dgramRecv = bound('int tsr_dgram_recv(int fd, uint8_t *buf, int len, int timeout_ms)');
  const dgramSend = bound('int tsr_dgram_send(const char *path, const char *buf, int len)');
  const socketpair = bound('int tsr_socketpair(int *fds)');
  const mkfifo = bound('int tsr_mkfifo(const char *path, uint32_t mode)');
  const writeByte = bound('int tsr_write_byte(int fd)');
  const wait = bound('int tsr_wait(int pid)');
  const waitNoHang = bound('int tsr_wait_nohang(int pid)');
  const setSubreaper = bound('int tsr_set_subreaper()');
  const hashText = bound('uint32_t tsr_fnv1a32(const char *text)');
  cached = {
    spawn: (plan, flags, c, p, cgroupFd, keepFds) => spawn()(initPath(), plan, plan.length, flags, c, p, cgroupFd, Int32Array.from(keepFds), keepFds.length),
    readMsg(fd) {
      const kind = [0], op = [0], err = [0], value = [0], passed = [-1];
      const time = new BigInt64Array(1);
      const rc = readMsg()(fd, kind, op, err, value, time, passed);
      return { rc, kind: kind[0], op: op[0], err: err[0], value: value[0], timeNs: time[0], fd: passed[0] };
    },
    sendConsole: (p, fd, name) => sendConsole()(p, fd, name),
    setWinsize: (fd, rows, cols) => setWinsize()(fd, rows, cols),
    consoleListen: (p) => consoleListen()(p),
    dgramBind: (p) => dgramBind()(p),
    dgramRecv(fd, timeoutMs) {
      const buf = Buffer.alloc(4096);
      const n = dgramRecv()(fd, buf, buf.length, timeoutMs);
      if (n < 0) throw new Error(`recv on the notify socket: errno ${-n}`);
      return n === 0 ? null : buf.toString('utf8', 0, buf.indexOf(0));
    },
    dgramSend: (p, m) => dgramSend()(p, m, Buffer.byteLength(m)),
    consoleAccept: (fd) =>
      new Promise((resolve, reject) => {
        consoleAccept().async!(fd, (e: Error | null, r: number) => (e ? reject(e) : resolve(r)));
      }),
    socketpair() {
      const fds = Buffer.alloc(8);
      const rc = socketpair()(fds);
      if (rc < 0) throw new Error(`socketpair: errno ${-rc}`);
      return [fds.readInt32LE(0), fds.readInt32LE(4)];
    },
    mkfifo: (p, mode) => mkfifo()(p, mode),
    writeByte: (fd) => writeByte()(fd),
    waitSync: (pid) => wait()(pid),
    waitIfExited(pid) {
      const status: number = waitNoHang()(pid);
      return status === -ERRNO.EAGAIN ? undefined : status;
    },
    killAndReap(pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone: still reap it below */
      }
      wait()(pid);
    },
    setSubreaper: () => setSubreaper()(),
    hashText: (text) => hashText()(text),
  };
  return cached;
}
