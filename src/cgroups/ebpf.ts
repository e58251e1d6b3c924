/**
 * The cgroup v2 device filter: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE generated from
 * the device rules (devices.ts), returning 1 to allow an access and 0 to deny it.
 *
 * The program's context is struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
 * where access_type holds the device type (BPF_DEVCG_DEV_BLOCK 1, _CHAR 2) in its low 16 bits and
 * the access (BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4) in its high 16 bits. The layout follows
 * the one runc and crun use, so that the filter behaves exactly like the v1 devices controller:
 *
 *   r2 = type, r3 = access, r4 = major, r5 = minor          (prologue, 6 instructions)
 *   per exception, in the order DeviceState sorts them:
 *     if r2 != TYPE goto next
 *     [if access is not rwm: r1 = r3; r1 &= ACCESS; if r1 != r3 goto next]
 *     [if major is not *: if r4 != MAJOR goto next]
 *     [if minor is not *: if r5 != MINOR goto next]
 *     r0 = <the opposite of the default>; exit
 *   next: ...
 *   r0 = <default>; exit
 *
 * Only the pure parts live here (generation, encoding, a disassembler for tests and debugging);
 * loading and attaching are in bpf.ts, which needs koffi.
 */
import { DeviceRule, DeviceState } from './devices';

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Opcode pieces (linux/bpf_common.h, linux/bpf.h).
const BPF_LDX = 0x01;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_W = 0x00;
const BPF_MEM = 0x60;
const BPF_K = 0x00;
const BPF_X = 0x08;
const BPF_AND = 0x50;
const BPF_RSH = 0x70;
const BPF_MOV = 0xb0;
const BPF_JNE = 0x50;
const BPF_EXIT = 0x90;

export const OP = {
  LDXW: BPF_LDX | BPF_MEM | BPF_W, // 0x61: dst = *(u32 *)(src + off)
  AND32_K: BPF_ALU | BPF_AND | BPF_K, // 0x54: dst = (u32)(dst & imm)
  RSH32_K: BPF_ALU | BPF_RSH | BPF_K, // 0x74: dst = (u32)(dst >> imm)
  MOV32_K: BPF_ALU | BPF_MOV | BPF_K, // 0xb4: dst = (u32)imm
  MOV32_X: BPF_ALU | BPF_MOV | BPF_X, // 0xbc: dst = (u32)src
  JNE_K: BPF_JMP | BPF_JNE | BPF_K, // 0x55: if dst != imm goto pc+off
  JNE_X: BPF_JMP | BPF_JNE | BPF_X, // 0x5d: if dst != src goto pc+off
  EXIT: BPF_JMP | BPF_EXIT, // 0x95
} as const;

export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;
export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;

const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5;

function insn(code: number, dst: number, src: number, off: number, imm: number): Insn {
  return { code, dst, src, off, imm };
}

export function accessBits(access: string): number {
  let bits = 0;
  for (const c of access) {
    if (c === 'r') bits |= BPF_DEVCG_ACC_READ;
    else if (c === 'w') bits |= BPF_DEVCG_ACC_WRITE;
    else if (c === 'm') bits |= BPF_DEVCG_ACC_MKNOD;
    else throw new Error(`unknown device access ${JSON.stringify(c)}`);
  }
  return bits;
}

export interface DeviceFilter {
  insns: Insn[];
  /** The program's default verdict (true: allow what no exception matches). */
  defaultAllow: boolean;
}

/** Generate the filter for a rule list (config rules + defaults, see containerDeviceRules). */
export function deviceFilter(rules: DeviceRule[]): DeviceFilter {
  const state = DeviceState.fromRules(rules);
  const out: Insn[] = [
    insn(OP.LDXW, R2, R1, 0, 0),
    insn(OP.AND32_K, R2, 0, 0, 0xffff),
    insn(OP.LDXW, R3, R1, 0, 0),
    insn(OP.RSH32_K, R3, 0, 0, 16),
    insn(OP.LDXW, R4, R1, 4, 0),
    insn(OP.LDXW, R5, R1, 8, 0),
  ];
  const verdict = (allow: boolean) => [insn(OP.MOV32_K, R0, 0, 0, allow ? 1 : 0), insn(OP.EXIT, 0, 0, 0, 0)];
  for (const e of state.sortedExceptions()) {
    const block: Insn[] = [];
    // Jumps in this block go to the first instruction after it; offsets are filled in below.
    const jumps: number[] = [];
    const jne = (i: Insn) => {
      jumps.push(block.length);
      block.push(i);
    };
    jne(insn(OP.JNE_K, R2, 0, 0, e.type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
    const bits = accessBits(e.access);
    if (bits !== (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
      block.push(insn(OP.MOV32_X, R1, R3, 0, 0));
      block.push(insn(OP.AND32_K, R1, 0, 0, bits));
      jne(insn(OP.JNE_X, R1, R3, 0, 0));
    }
    if (e.major >= 0) jne(insn(OP.JNE_K, R4, 0, 0, e.major | 0));
    if (e.minor >= 0) jne(insn(OP.JNE_K, R5, 0, 0, e.minor | 0));
    block.push(...verdict(!state.defaultAllow));
    for (const j of jumps) block[j].off = block.length - j - 1;
    out.push(...block);
  }
  out.push(...verdict(state.defaultAllow));
  return { insns: out, defaultAllow: state.defaultAllow };
}

/** The kernel's struct bpf_insn layout, 8 bytes each, little-endian (x86_64, aarch64). */
export function encodeInsns(insns: Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    const o = n * 8;
    buf.writeUInt8(i.code, o);
    buf.writeUInt8((i.dst & 0x0f) | ((i.src & 0x0f) << 4), o + 1);
    buf.writeInt16LE(i.off, o + 2);
    buf.writeInt32LE(i.imm | 0, o + 4);
  });
  return buf;
}

/** A readable listing, one instruction per line ("r2 = *(u32 *)(r1 + 0)", "if r4 != 1 goto +3", ...). */
export function disassemble(insns: Insn[]): string[] {
  return insns.map((i) => {
    switch (i.code) {
      case OP.LDXW:
        return `r${i.dst} = *(u32 *)(r${i.src} + ${i.off})`;
      case OP.AND32_K:
        return `w${i.dst} &= 0x${(i.imm >>> 0).toString(16)}`;
      case OP.RSH32_K:
        return `w${i.dst} >>= ${i.imm}`;
      case OP.MOV32_K:
        return `w${i.dst} = ${i.imm}`;
      case OP.MOV32_X:
        return `w${i.dst} = w${i.src}`;
      case OP.JNE_K:
        return `if r${i.dst} != ${i.imm} goto +${i.off}`;
      case OP.JNE_X:
        return `if r${i.dst} != r${i.src} goto +${i.off}`;
      case OP.EXIT:
        return 'exit';
      default:
        return `.insn 0x${i.code.toString(16)} dst=r${i.dst} src=r${i.src} off=${i.off} imm=${i.imm}`;
    }
  });
}

/**
 * Run a generated program on one access, the way the kernel would (only the instructions this
 * generator emits). For tests: checks the filter's decisions without a kernel.
 */
export function runFilter(insns: Insn[], type: 'b' | 'c', major: number, minor: number, access: string): boolean {
  const r = new Array<number>(11).fill(0);
  const ctx = [((accessBits(access) << 16) | (type === 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR)) >>> 0, major >>> 0, minor >>> 0];
  for (let pc = 0; pc < insns.length; pc++) {
    const i = insns[pc];
    switch (i.code) {
      case OP.LDXW:
        r[i.dst] = ctx[i.off / 4];
        break;
      case OP.AND32_K:
        r[i.dst] = (r[i.dst] & i.imm) >>> 0;
        break;
      case OP.RSH32_K:
        r[i.dst] = r[i.dst] >>> i.imm;
        break;
      case OP.MOV32_K:
        r[i.dst] = i.imm >>> 0;
        break;
      case OP.MOV32_X:
        r[i.dst] = r[i.src] >>> 0;
        break;
      case OP.JNE_K:
        if (r[i.dst] !== i.imm >>> 0) pc += i.off;
        break;
      case OP.JNE_X:
        if (r[i.dst] !== r[i.src]) pc += i.off;
        break;
      case OP.EXIT:
        return r[0] === 1;
      default:
        throw new Error(`runFilter: unexpected opcode 0x${i.code.toString(16)}`);
    }
  }
  throw new Error('runFilter: fell off the end of the program');
}
