/**
 * Load a device filter (ebpf.ts) and attach it to a cgroup v2 directory with the bpf(2) syscall
 * (src/native/bpf-syscalls.ts): BPF_PROG_LOAD, then BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI, then
 * BPF_PROG_DETACH of the device programs that were attached before (found with BPF_PROG_QUERY),
 * so that re-applying replaces rather than stacks filters.
 *
 * Loaded only by the v2 driver, only when devices are applied: koffi costs a few ms to load.
 */
import fs from 'fs';
import { RuntimeError, errnoName } from '../errors';
import { bpf as bpfSyscall, closeFd, NativeBlock, setRlimitInfinity } from '../native/bpf-syscalls';
import { encodeInsns, Insn } from './ebpf';

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_PROG_QUERY = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;
const RLIMIT_MEMLOCK = 8;
const EPERM = 1;
const EAGAIN = 11;
const ENOSPC = 28;

/** Enough for every bpf_attr variant used here; the kernel requires the unused tail to be zero. */
const ATTR_SIZE = 128;

/** bpf(cmd, attr) on a fresh zeroed attr filled by fill(); returns the result or -errno. */
function bpf(cmd: number, fill: (attr: Buffer) => void): number {
  const attr = Buffer.alloc(ATTR_SIZE);
  fill(attr);
  return bpfSyscall(cmd, attr);
}

function errText(rc: number): string {
  return errnoName(-rc);
}

/** Raise RLIMIT_MEMLOCK for kernels (< 5.11) that charge BPF programs to it; best effort. */
function raiseMemlock(): void {
  setRlimitInfinity(RLIMIT_MEMLOCK);
}

function loadProgram(insns: Insn[], license: string): number {
  const code = encodeInsns(insns);
  const lic = Buffer.from(license + '\0');
  const block = new NativeBlock(code.length + lic.length);
  try {
    code.copy(block.buf, 0);
    lic.copy(block.buf, code.length);
    const fill = (attr: Buffer, log?: { addr: bigint; size: number }) => {
      attr.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0);
      attr.writeUInt32LE(insns.length, 4);
      attr.writeBigUInt64LE(block.address, 8);
      attr.writeBigUInt64LE(block.address + BigInt(code.length), 16);
      if (log) {
        attr.writeUInt32LE(1, 24); // log_level
        attr.writeUInt32LE(log.size, 28);
        attr.writeBigUInt64LE(log.addr, 32);
      }
    };
    let rc = 0;
    for (let i = 0; i < 30; i++) {
      rc = bpf(BPF_PROG_LOAD, (a) => fill(a));
      if (rc !== -EAGAIN) break;
    }
    if (rc >= 0) return rc;
    // Again with the verifier's log, to say why.
    let reason = '';
    for (let size = 64 * 1024; size <= 16 * 1024 * 1024; size *= 8) {
      const logBlock = new NativeBlock(size);
      try {
        const again = bpf(BPF_PROG_LOAD, (a) => fill(a, { addr: logBlock.address, size: size - 1 }));
        if (again >= 0) return again;
        if (again === -ENOSPC) continue;
        const end = logBlock.buf.indexOf(0);
        reason = logBlock.buf.toString('utf8', 0, end < 0 ? undefined : end).trim();
        break;
      } finally {
        logBlock.free();
      }
    }
    throw new RuntimeError(`BPF_PROG_LOAD of the device filter: ${errText(rc)}${reason ? `: ${reason}` : ''}`);
  } finally {
    block.free();
  }
}

/** File descriptors of the device programs attached to the cgroup (directly, not inherited). */
function attachedPrograms(cgroupFd: number): number[] {
  let count = 64;
  for (let tries = 0; tries < 10; tries++) {
    const ids = new NativeBlock(count * 4);
    try {
      const rc = bpf(BPF_PROG_QUERY, (a) => {
        a.writeUInt32LE(cgroupFd, 0);
        a.writeUInt32LE(BPF_CGROUP_DEVICE, 4);
        a.writeBigUInt64LE(ids.address, 16);
        a.writeUInt32LE(count, 24);
      });
      if (rc === -ENOSPC) {
        count *= 4;
        continue;
      }
      if (rc < 0) throw new RuntimeError(`BPF_PROG_QUERY on the container cgroup: ${errText(rc)}`);
      // The ids written are non-zero; the array was zeroed beforehand.
      const out: number[] = [];
      for (let i = 0; i < count; i++) {
        const id = ids.buf.readUInt32LE(i * 4);
        if (id === 0) break;
        const fd = bpf(BPF_PROG_GET_FD_BY_ID, (a) => a.writeUInt32LE(id, 0));
        if (fd === -EPERM) continue; // hidden from us (LSM): leave it alone, as runc does
        if (fd < 0) {
          for (const f of out) closeFd(f);
          throw new RuntimeError(`BPF_PROG_GET_FD_BY_ID ${id}: ${errText(fd)}`);
        }
        out.push(fd);
      }
      return out;
    } finally {
      ids.free();
    }
  }
  throw new RuntimeError('BPF_PROG_QUERY: could not get the list of device programs');
}

/**
 * Load insns as a device filter and make it the only one attached to cgroupDir. Throws a
 * RuntimeError saying which step failed (the kernel's verifier log included for a load failure).
 */
export function attachDeviceFilter(cgroupDir: string, insns: Insn[], license = 'Apache'): void {
  raiseMemlock();
  let dirFd: number;
  try {
    dirFd = fs.openSync(cgroupDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch (e) {
    throw new RuntimeError(`open cgroup ${cgroupDir}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const fds: number[] = [];
  try {
    const old = attachedPrograms(dirFd);
    fds.push(...old);
    const prog = loadProgram(insns, license);
    fds.push(prog);
    const rc = bpf(BPF_PROG_ATTACH, (a) => {
      a.writeUInt32LE(dirFd, 0);
      a.writeUInt32LE(prog, 4);
      a.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
      a.writeUInt32LE(BPF_F_ALLOW_MULTI, 12);
    });
    if (rc < 0) throw new RuntimeError(`BPF_PROG_ATTACH of the device filter to ${cgroupDir}: ${errText(rc)}`);
    for (const fd of old) {
      const d = bpf(BPF_PROG_DETACH, (a) => {
        a.writeUInt32LE(dirFd, 0);
        a.writeUInt32LE(fd, 4);
        a.writeUInt32LE(BPF_CGROUP_DEVICE, 8);
      });
      if (d < 0) throw new RuntimeError(`BPF_PROG_DETACH of the previous device filter from ${cgroupDir}: ${errText(d)}`);
    }
  } finally {
    for (const fd of fds) closeFd(fd);
    fs.closeSync(dirFd);
  }
}

/** How many device programs are attached to cgroupDir itself (for tests). */
export function countDeviceFilters(cgroupDir: string): number {
  const dirFd = fs.openSync(cgroupDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    const fds = attachedPrograms(dirFd);
    for (const fd of fds) closeFd(fd);
    return fds.length;
  } finally {
    fs.closeSync(dirFd);
  }
}
