/**
 * runc's ENOSYS stub (src/plan/seccomp-enosys.ts) on hand-made inputs: the instructions, what
 * they answer for each architecture and syscall number (a small cBPF interpreter runs them), and
 * how seccompProgram puts the stub in front of libseccomp's program (a fake library). Pure, no root.
 */
import t from 'tap';
import os from 'os';
import {
  AUDIT_ARCH_X86_64, BPF_JMP_JA, BPF_JMP_JEQ_K, BPF_JMP_JGT_K, BPF_JMP_JSET_K, BPF_LD_W_ABS, BPF_RET_K,
  RET_ERRNO_ENOSYS, SCMP_ARCH_X32, SockFilter, X32_SYSCALL_BIT, assemble, enosysStub,
} from '../../src/plan/seccomp-enosys';
import { ResolvedSeccompFilter, SeccompLibrary, seccompFilter, seccompProgram } from '../../src/plan/seccomp-plan';

const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const AUDIT_ARCH_S390X = 0x80000016;
/** What the program under test returns when it falls through to libseccomp's program. */
const TO_FILTER = 0x7fff0000;
const FILTER: SockFilter = { code: BPF_RET_K, jt: 0, jf: 0, k: TO_FILTER };

const ld = (k: number): SockFilter => ({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k });
const jeq = (k: number, jt: number, jf: number): SockFilter => ({ code: BPF_JMP_JEQ_K, jt, jf, k });
const jgt = (k: number, jt: number, jf: number): SockFilter => ({ code: BPF_JMP_JGT_K, jt, jf, k });
const jset = (k: number, jt: number, jf: number): SockFilter => ({ code: BPF_JMP_JSET_K, jt, jf, k });
const ja = (k: number): SockFilter => ({ code: BPF_JMP_JA, jt: 0, jf: 0, k });
const ENOSYS: SockFilter = { code: BPF_RET_K, jt: 0, jf: 0, k: RET_ERRNO_ENOSYS };

/** The classic BPF a seccomp filter may use, as far as the stub uses it: the value it returns for (arch, nr). */
function run(program: SockFilter[], arch: number, nr: number): number {
  let a = 0;
  for (let pc = 0, steps = 0; pc < program.length && steps < 10_000; pc++, steps++) {
    const i = program[pc];
    switch (i.code) {
      case BPF_LD_W_ABS:
        a = i.k === 0 ? nr >>> 0 : i.k === 4 ? arch >>> 0 : NaN;
        break;
      case BPF_JMP_JEQ_K:
        pc += a === i.k >>> 0 ? i.jt : i.jf;
        break;
      case BPF_JMP_JGT_K:
        pc += a > i.k >>> 0 ? i.jt : i.jf;
        break;
      case BPF_JMP_JSET_K:
        pc += (a & i.k) !== 0 ? i.jt : i.jf;
        break;
      case BPF_JMP_JA:
        pc += i.k;
        break;
      case BPF_RET_K:
        return i.k >>> 0;
      default:
        throw new Error(`unexpected instruction 0x${i.code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('ran off the end of the program');
}

const answer = (stub: SockFilter[], arch: number, nr: number) => {
  const r = run([...stub, FILTER], arch, nr);
  return r === RET_ERRNO_ENOSYS ? 'ENOSYS' : r === TO_FILTER ? 'filter' : `0x${r.toString(16)}`;
};

t.test('x86_64 alone: instruction by instruction', async (t) => {
  t.same(enosysStub([{ arch: AUDIT_ARCH_X86_64, last: 334 }]), [
    ld(4), // arch
    jeq(AUDIT_ARCH_X86_64, 0, 4), // not x86_64: to the final ja
    ld(0), // nr
    jset(X32_SYSCALL_BIT, 0, 1), // an x32 call...
    ja(3), // ...goes to the filter: the profile lists no x32
    jgt(334, 1, 2), // newer than 334: ENOSYS, else the filter
    ja(1), // another architecture: the filter
    ENOSYS,
  ]);
});

t.test('x86_64, x86 and x32 (Docker\'s and Podman\'s list): instruction by instruction', async (t) => {
  const stub = enosysStub([
    { arch: AUDIT_ARCH_X86_64, last: 450 },
    { arch: AUDIT_ARCH_X86_64, last: 450 },
    { arch: AUDIT_ARCH_I386, last: 449 },
    { arch: SCMP_ARCH_X32, last: X32_SYSCALL_BIT + 440 },
  ]);
  t.same(stub, [
    ld(4),
    jeq(AUDIT_ARCH_X86_64, 0, 4), // x32 shares x86_64's AUDIT_ARCH: one group
    ld(0),
    jset(X32_SYSCALL_BIT, 0, 1),
    jgt(X32_SYSCALL_BIT + 440, 5, 6),
    jgt(450, 4, 5),
    jeq(AUDIT_ARCH_I386, 0, 2),
    ld(0),
    jgt(449, 1, 2),
    ja(1),
    ENOSYS,
  ]);
  const cases: Array<[number, number, string]> = [
    [AUDIT_ARCH_X86_64, 0, 'filter'],
    [AUDIT_ARCH_X86_64, 450, 'filter'],
    [AUDIT_ARCH_X86_64, 451, 'ENOSYS'],
    [AUDIT_ARCH_X86_64, X32_SYSCALL_BIT + 440, 'filter'],
    [AUDIT_ARCH_X86_64, X32_SYSCALL_BIT + 441, 'ENOSYS'],
    [AUDIT_ARCH_I386, 449, 'filter'],
    [AUDIT_ARCH_I386, 450, 'ENOSYS'],
    [AUDIT_ARCH_AARCH64, 1000, 'filter'],
  ];
  for (const [arch, nr, want] of cases) t.equal(answer(stub, arch, nr), want, `arch 0x${arch.toString(16)} nr ${nr}: ${want}`);
});

t.test('what the stub answers, architecture by architecture', async (t) => {
  const stub = enosysStub([{ arch: AUDIT_ARCH_AARCH64, last: 300 }, { arch: AUDIT_ARCH_X86_64, last: 200 }, { arch: AUDIT_ARCH_AARCH64, last: 310 }]);
  t.equal(answer(stub, AUDIT_ARCH_AARCH64, 310), 'filter', 'one arch listed twice: the higher last');
  t.equal(answer(stub, AUDIT_ARCH_AARCH64, 311), 'ENOSYS');
  t.equal(answer(stub, AUDIT_ARCH_X86_64, 201), 'ENOSYS');
  t.equal(answer(stub, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT + 1), 'filter', 'x32 not listed: its calls are the filter\'s (bad arch)');
  t.equal(answer(stub, AUDIT_ARCH_I386, 5000), 'filter', 'an architecture the profile does not list: the filter');

  const x32Only = enosysStub([{ arch: SCMP_ARCH_X32, last: X32_SYSCALL_BIT + 400 }]);
  t.equal(answer(x32Only, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT + 401), 'ENOSYS');
  t.equal(answer(x32Only, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT + 400), 'filter');
  t.equal(answer(x32Only, AUDIT_ARCH_X86_64, 5000), 'filter', 'x86_64 not listed: its calls are the filter\'s');

  const s390x = enosysStub([{ arch: AUDIT_ARCH_S390X, last: 400 }]);
  t.same(s390x.slice(1, 4), [jeq(AUDIT_ARCH_S390X, 0, 3), ld(0), jeq(0, 2, 0)], 's390x: syscall 0 (the multiplexer unknown syscalls arrive as) first');
  t.equal(answer(s390x, AUDIT_ARCH_S390X, 0), 'ENOSYS');
  t.equal(answer(s390x, AUDIT_ARCH_S390X, 1), 'filter');
  t.equal(answer(s390x, AUDIT_ARCH_S390X, 401), 'ENOSYS');

  t.same(enosysStub([{ arch: AUDIT_ARCH_X86_64, last: -1 }]), [], 'the profile names nothing anywhere: no stub');
  const partial = enosysStub([{ arch: AUDIT_ARCH_X86_64, last: 100 }, { arch: AUDIT_ARCH_I386, last: -1 }]);
  t.notOk(partial.some((i) => i.k === AUDIT_ARCH_I386), 'an architecture where the profile names nothing is left to the filter');
  t.equal(answer(partial, AUDIT_ARCH_I386, 5000), 'filter');
});

t.test('assemble: struct sock_filter in host byte order', async (t) => {
  const b = assemble([jgt(0x01020304, 5, 6)]);
  t.equal(b.length, 8);
  t.same([b[2], b[3]], [5, 6]);
  if (os.endianness() === 'LE') t.same([...b], [0x25, 0, 5, 6, 4, 3, 2, 1]);
  else t.same([...b], [0, 0x25, 5, 6, 1, 2, 3, 4]);
});

/** A libseccomp that knows x86_64 (native), x86 and x32, and a few syscalls; it exports a one-instruction program. */
function fakeLibrary(): SeccompLibrary & { exported: ResolvedSeccompFilter[] } {
  const tokens: Record<string, number> = { x86_64: AUDIT_ARCH_X86_64, x86: AUDIT_ARCH_I386, x32: SCMP_ARCH_X32 };
  const numbers: Record<string, Record<number, number>> = {
    read: { [AUDIT_ARCH_X86_64]: 0, [AUDIT_ARCH_I386]: 3, [SCMP_ARCH_X32]: X32_SYSCALL_BIT + 0 },
    openat2: { [AUDIT_ARCH_X86_64]: 437, [AUDIT_ARCH_I386]: 437, [SCMP_ARCH_X32]: X32_SYSCALL_BIT + 437 },
    socketcall: { [AUDIT_ARCH_I386]: 102 },
    kexec_file_load: { [AUDIT_ARCH_X86_64]: 320, [SCMP_ARCH_X32]: X32_SYSCALL_BIT + 320 },
  };
  const exported: ResolvedSeccompFilter[] = [];
  return {
    exported,
    archToken: (name) => tokens[name],
    nativeArch: () => AUDIT_ARCH_X86_64,
    syscallNumber(name, arch) {
      const n = numbers[name];
      if (!n) return undefined;
      if (arch === undefined) return n[AUDIT_ARCH_X86_64] ?? -10060; // a pseudo-syscall where native lacks it
      return n[arch];
    },
    exportBpf: (filter) => (exported.push(filter), assemble([FILTER])),
  };
}

t.test('seccompProgram: libseccomp resolves, the plan skips what it does not know, the stub goes first', async (t) => {
  const lib = fakeLibrary();
  const filter = seccompFilter({
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_LOONGARCH64', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['read', 'socketcall', 'not_a_syscall'], action: 'SCMP_ACT_ALLOW' },
      { names: ['openat2'], action: 'SCMP_ACT_ERRNO' }, // the default action: no rule, but named
    ],
  })!;
  const program = seccompProgram(filter, lib);
  t.same(lib.exported, [{
    defaultAction: 0x00050001,
    architectures: [{ name: 'x86', token: AUDIT_ARCH_I386 }, { name: 'x32', token: SCMP_ARCH_X32 }, { name: 'x86_64', token: AUDIT_ARCH_X86_64 }],
    rules: [
      { where: 'linux.seccomp.syscalls[0]', name: 'read', action: 0x7fff0000, args: [], nr: 0 },
      { where: 'linux.seccomp.syscalls[0]', name: 'socketcall', action: 0x7fff0000, args: [], nr: -10060 },
    ],
  }], 'an architecture and a syscall libseccomp does not know are skipped; a pseudo-syscall goes to libseccomp as it is');
  const stub = enosysStub([
    { arch: AUDIT_ARCH_X86_64, last: 437 }, // native first
    { arch: AUDIT_ARCH_I386, last: 437 },
    { arch: SCMP_ARCH_X32, last: X32_SYSCALL_BIT + 437 },
  ]);
  t.same(program, Buffer.concat([assemble(stub), assemble([FILTER])]), 'stub (highest named syscall per arch, the dropped rule\'s openat2 included), then libseccomp\'s program');
  const insns: SockFilter[] = [];
  for (let at = 0; at < program.length; at += 8) {
    const le = os.endianness() === 'LE';
    insns.push({ code: le ? program.readUInt16LE(at) : program.readUInt16BE(at), jt: program[at + 2], jf: program[at + 3], k: le ? program.readUInt32LE(at + 4) : program.readUInt32BE(at + 4) });
  }
  t.equal(run(insns, AUDIT_ARCH_X86_64, 438), RET_ERRNO_ENOSYS, 'the whole program: newer than openat2, ENOSYS');
  t.equal(run(insns, AUDIT_ARCH_X86_64, 435), TO_FILTER, 'clone3, older than openat2: libseccomp\'s program decides');

  const allow = fakeLibrary();
  const plain = seccompProgram(seccompFilter({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['openat2'], action: 'SCMP_ACT_ERRNO' }] })!, allow);
  t.same(plain, assemble([FILTER]), 'an allowing default: libseccomp\'s program alone');
  t.same(allow.exported[0].architectures, [], 'no architecture listed: libseccomp\'s native one only');
});
