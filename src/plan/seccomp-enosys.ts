/**
 * runc's "ENOSYS patch" (libcontainer/seccomp/patchbpf): a BPF prefix that runs before libseccomp's
 * program and answers ENOSYS, instead of the profile's default action, for a syscall newer than
 * every syscall the profile names on that architecture. A profile written before clone3 or
 * faccessat2 existed then makes glibc fall back to clone or faccessat, where the default EPERM
 * would make it fail. Pure: the highest syscall numbers come from the caller (libseccomp knows
 * them), the instructions are checked by test/unit/seccomp-enosys.test.ts.
 *
 * libseccomp's jumps are relative, so its program runs unchanged after the prefix.
 */

/** One classic BPF instruction (struct sock_filter). */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** For one architecture in the filter: the highest syscall number the profile names there (-1: none). */
export interface ArchLastSyscall {
  /** libseccomp's token: the AUDIT_ARCH_* value the kernel reports, except for x32. */
  arch: number;
  last: number;
}

export const BPF_LD_W_ABS = 0x20;
export const BPF_JMP_JA = 0x05;
export const BPF_JMP_JEQ_K = 0x15;
export const BPF_JMP_JGT_K = 0x25;
export const BPF_JMP_JSET_K = 0x45;
export const BPF_RET_K = 0x06;
/** Offsets in struct seccomp_data. */
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const RET_ERRNO_ENOSYS = 0x00050000 | 38;

export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** x32 shares x86_64's AUDIT_ARCH and sets this bit in the syscall number; libseccomp's token for it lacks the 64-bit flag. */
export const SCMP_ARCH_X32 = 0x4000003e;
export const X32_SYSCALL_BIT = 0x40000000;
const AUDIT_ARCH_S390 = 0x00000016;
const AUDIT_ARCH_S390X = 0x80000016;

/** Where a jump goes, resolved once the prefix is laid out. */
type Target = 'enosys' | 'filter' | 'next-arch' | number;
interface Pending {
  code: number;
  k: number | 'filter';
  jt?: Target;
  jf?: Target;
}

/** An architecture as the kernel reports it, with what the profile names on it, natively and (x86_64 only) as x32. */
interface Group {
  audit: number;
  last: number;
  x32Last: number;
}

function groups(arches: readonly ArchLastSyscall[]): Group[] {
  const out: Group[] = [];
  for (const { arch, last } of arches) {
    const audit = arch === SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : arch;
    let g = out.find((x) => x.audit === audit);
    if (!g) out.push((g = { audit, last: -1, x32Last: -1 }));
    if (arch === SCMP_ARCH_X32) g.x32Last = Math.max(g.x32Last, last);
    else g.last = Math.max(g.last, last);
  }
  // An architecture on which the profile names nothing is left to libseccomp's program.
  return out.filter((g) => g.last >= 0 || g.x32Last >= 0);
}

/** Calls above last get ENOSYS, the rest go to the filter; with no last, all go to the filter. */
function compare(last: number): Pending {
  return last >= 0 ? { code: BPF_JMP_JGT_K, k: last >>> 0, jt: 'enosys', jf: 'filter' } : { code: BPF_JMP_JA, k: 'filter' };
}

/**
 * The prefix, for the architectures of the filter in order (duplicates merged); empty when the
 * profile names no syscall on any of them. Layout:
 *
 *     ld [arch]
 *     per architecture: jeq AUDIT_ARCH, else the next one
 *                       ld [nr]
 *                       (s390, s390x) jeq 0 → ENOSYS: unknown syscalls arrive as the multiplexer, 0
 *                       (x86_64) jset X32_BIT → the x32 comparison, else skip it
 *                       jgt last → ENOSYS, else the filter
 *     ja filter        (an architecture not listed: libseccomp's program decides)
 *     ret ERRNO(ENOSYS)
 *     libseccomp's program
 */
export function enosysStub(arches: readonly ArchLastSyscall[]): SockFilter[] {
  const gs = groups(arches);
  if (!gs.length) return [];
  const pending: Pending[] = [{ code: BPF_LD_W_ABS, k: SECCOMP_DATA_ARCH }];
  const starts: number[] = [];
  for (const g of gs) {
    starts.push(pending.length);
    pending.push({ code: BPF_JMP_JEQ_K, k: g.audit >>> 0, jt: 0, jf: 'next-arch' });
    pending.push({ code: BPF_LD_W_ABS, k: SECCOMP_DATA_NR });
    if (g.audit === AUDIT_ARCH_S390 || g.audit === AUDIT_ARCH_S390X) pending.push({ code: BPF_JMP_JEQ_K, k: 0, jt: 'enosys', jf: 0 });
    if (g.audit === AUDIT_ARCH_X86_64) {
      pending.push({ code: BPF_JMP_JSET_K, k: X32_SYSCALL_BIT, jt: 0, jf: 1 });
      pending.push(compare(g.x32Last));
    }
    pending.push(compare(g.last));
  }
  const lastJump = pending.length;
  pending.push({ code: BPF_JMP_JA, k: 'filter' });
  const enosys = pending.length;
  pending.push({ code: BPF_RET_K, k: RET_ERRNO_ENOSYS });
  const filter = pending.length;

  return pending.map((p, at) => {
    const group = starts.findIndex((s) => s > at);
    const offset = (target: Target | undefined): number => {
      if (target === undefined) return 0;
      if (typeof target === 'number') return target;
      const to = target === 'enosys' ? enosys : target === 'filter' ? filter : group >= 0 ? starts[group] : lastJump;
      return to - at - 1;
    };
    const jt = offset(p.jt);
    const jf = offset(p.jf);
    // A few instructions for each architecture, and libseccomp knows about twenty: never near 255.
    if (jt > 255 || jf > 255) throw new Error(`internal: ENOSYS stub jump of ${Math.max(jt, jf)} instructions`);
    return { code: p.code, jt, jf, k: p.k === 'filter' ? offset('filter') : p.k };
  });
}

/** os.endianness() === 'LE', without loading the os module (about 0.4 ms of a create). */
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** struct sock_filter[] in this host's byte order, as libseccomp exports its program. */
export function assemble(insns: readonly SockFilter[]): Buffer {
  const out = Buffer.alloc(insns.length * 8);
  const le = HOST_LITTLE_ENDIAN;
  insns.forEach((i, n) => {
    if (le) out.writeUInt16LE(i.code, n * 8);
    else out.writeUInt16BE(i.code, n * 8);
    out.writeUInt8(i.jt, n * 8 + 2);
    out.writeUInt8(i.jf, n * 8 + 3);
    if (le) out.writeUInt32LE(i.k >>> 0, n * 8 + 4);
    else out.writeUInt32BE(i.k >>> 0, n * 8 + 4);
  });
  return out;
}
