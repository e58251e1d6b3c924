/**
 * The system calls behind the cgroup v2 device filter (src/cgroups/bpf.ts): bpf(2) by number
 * through libc's syscall(), setrlimit, close, and native memory with a stable address for the
 * pointers inside a bpf_attr. Typed; errors come back as -errno, as the kernel gives them.
 */
import { RuntimeError } from '../errors';
import { libc } from './libc';

/** bpf(2) syscall numbers per architecture. */
const SYS_BPF: Record<string, number> = { x64: 321, arm64: 280, ia32: 357, arm: 386, ppc64: 361, s390x: 351, riscv64: 280, loong64: 280 };

/* eslint-disable @typescript-eslint/no-explicit-any */
interface Fns {
  syscall: any;
  setrlimit: any;
  close: any;
}
let fns: Fns | undefined;

function load(): Fns {
  if (fns) return fns;
  const { lib } = libc();
  fns = {
    syscall: lib.func('long syscall(long number, ...)'),
    setrlimit: lib.func('int setrlimit(int resource, const void *rlim)'),
    close: lib.func('int close(int fd)'),
  };
  return fns;
}

/** bpf(cmd, attr, attr.length): the result, or -errno. */
export function bpf(cmd: number, attr: Buffer): number {
  const sys = SYS_BPF[process.arch];
  if (sys === undefined) throw new RuntimeError(`bpf(2): unsupported architecture ${process.arch}`);
  const rc = Number(load().syscall(sys, 'int', cmd, 'void *', attr, 'unsigned int', attr.length));
  return rc < 0 ? -libc().koffi.errno() : rc;
}

/** setrlimit(resource, { rlim, rlim }) with both limits infinite; 0 or -errno. */
export function setRlimitInfinity(resource: number): number {
  const rlim = Buffer.alloc(16, 0xff); // { RLIM_INFINITY, RLIM_INFINITY }
  const rc = load().setrlimit(resource, rlim);
  return rc < 0 ? -libc().koffi.errno() : rc;
}

/** close(2) of an fd the kernel handed back (bpf program fds). */
export function closeFd(fd: number): void {
  load().close(fd);
}

/** Native memory, zeroed, seen from JS as a Buffer, whose address can go into a bpf_attr. */
export class NativeBlock {
  private readonly ptr: any;
  readonly buf: Buffer;
  readonly address: bigint;
  constructor(size: number) {
    const { koffi } = libc();
    this.ptr = koffi.alloc('uint8_t', size);
    this.buf = Buffer.from(koffi.view(this.ptr, size));
    this.buf.fill(0);
    this.address = BigInt(koffi.address(this.ptr));
  }
  free(): void {
    libc().koffi.free(this.ptr);
  }
}
