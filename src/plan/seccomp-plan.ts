/**
 * linux.seccomp → a rule list for the native compiler (libseccomp, in the parent: see
 * native/shim/seccomp.c tsr_seccomp_compile) and the SECCOMP op that loads the program in the
 * init. Validation and translation are pure; only the compilation touches native code.
 *
 * Semantics follow runc: SCMP_ACT_KILL is KILL_THREAD; errnoRet defaults to EPERM; syscalls
 * the local libseccomp does not know are skipped; a rule whose action is the default action is
 * dropped; several conditions on the same argument index make one rule per condition (OR),
 * otherwise the conditions of a rule are ANDed.
 */
import { InvalidConfigError, UnsupportedError } from '../errors';
import { Op } from './ops';

export interface SeccompConfig {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: Array<{
    names: string[];
    action: string;
    errnoRet?: number;
    args?: Array<{ index: number; value: number; valueTwo?: number; op: string }>;
  }>;
}

const EPERM = 1;

const ACTIONS: Record<string, number> = {
  SCMP_ACT_KILL: 0x00000000,
  SCMP_ACT_KILL_THREAD: 0x00000000,
  SCMP_ACT_KILL_PROCESS: 0x80000000,
  SCMP_ACT_TRAP: 0x00030000,
  SCMP_ACT_ERRNO: 0x00050000,
  SCMP_ACT_TRACE: 0x7ff00000,
  SCMP_ACT_LOG: 0x7ffc0000,
  SCMP_ACT_ALLOW: 0x7fff0000,
  SCMP_ACT_NOTIFY: 0x7fc00000,
};

const OPERATORS: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

/** runtime-spec architecture → libseccomp's name for it. */
const ARCHES: Record<string, string> = {
  SCMP_ARCH_X86: 'x86',
  SCMP_ARCH_X86_64: 'x86_64',
  SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm',
  SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips',
  SCMP_ARCH_MIPS64: 'mips64',
  SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel',
  SCMP_ARCH_MIPSEL64: 'mipsel64',
  SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc',
  SCMP_ARCH_PPC64: 'ppc64',
  SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390',
  SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_PARISC: 'parisc',
  SCMP_ARCH_PARISC64: 'parisc64',
  SCMP_ARCH_RISCV64: 'riscv64',
  SCMP_ARCH_LOONGARCH64: 'loongarch64',
  SCMP_ARCH_M68K: 'm68k',
  SCMP_ARCH_SH: 'sh',
  SCMP_ARCH_SHEB: 'sheb',
};

export const SECCOMP_FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

function action(name: string, errnoRet: number | undefined, where: string): number {
  const base = ACTIONS[name];
  if (base === undefined) throw new InvalidConfigError(`${where}: unknown seccomp action "${name}"`);
  if (name === 'SCMP_ACT_NOTIFY') {
    throw new UnsupportedError(`${where}: SCMP_ACT_NOTIFY (a seccomp agent on listenerPath) is not supported`);
  }
  const takesErrno = name === 'SCMP_ACT_ERRNO' || name === 'SCMP_ACT_TRACE';
  if (errnoRet !== undefined && !takesErrno) {
    throw new InvalidConfigError(`${where}: errnoRet is not supported with action ${name} (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take it)`);
  }
  if (!takesErrno) return base;
  const e = errnoRet ?? EPERM;
  if (!Number.isInteger(e) || e < 0 || e > 0xffff) throw new InvalidConfigError(`${where}: errnoRet ${e} is out of range`);
  return (base | e) >>> 0;
}

export interface SeccompRules {
  /** For tsr_seccomp_compile. */
  rules: string;
  /** seccomp(2) flags for the SECCOMP op. */
  flags: number;
}

/**
 * runc's rules for SCMP_ACT_NOTIFY, checked before anything else: a config that breaks them is
 * invalid, whether or not this runtime can hand the listener to an agent.
 */
function checkNotify(cfg: SeccompConfig): void {
  if (cfg.defaultAction === 'SCMP_ACT_NOTIFY') {
    throw new InvalidConfigError('linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action');
  }
  const notify = (cfg.syscalls ?? []).map((sc, i) => ({ sc, i })).filter(({ sc }) => sc.action === 'SCMP_ACT_NOTIFY');
  for (const { sc, i } of notify) {
    if (sc.names?.includes('write')) {
      throw new InvalidConfigError(`linux.seccomp.syscalls[${i}].names: SCMP_ACT_NOTIFY cannot be used for the write syscall`);
    }
  }
  if (notify.length && !cfg.listenerPath) throw new InvalidConfigError('linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs a listenerPath');
}

/** Validate linux.seccomp and serialize it for the compiler; undefined when there is nothing to load. */
export function seccompRules(cfg: SeccompConfig | undefined): SeccompRules | undefined {
  if (!cfg) return undefined;
  checkNotify(cfg);
  const def = action(cfg.defaultAction, cfg.defaultErrnoRet, 'linux.seccomp.defaultAction');
  let flags = 0;
  for (const f of cfg.flags ?? []) {
    const bit = SECCOMP_FLAGS[f];
    if (bit === undefined) throw new InvalidConfigError(`linux.seccomp.flags: unknown or unsupported flag "${f}"`);
    flags |= bit;
  }
  if (cfg.listenerMetadata && !cfg.listenerPath) throw new InvalidConfigError('linux.seccomp.listenerMetadata: set without listenerPath');
  const lines = [`default ${def}`];
  for (const a of cfg.architectures ?? []) {
    const name = ARCHES[a];
    if (!name) throw new InvalidConfigError(`linux.seccomp.architectures: unknown architecture "${a}"`);
    lines.push(`arch ${name}`);
  }
  (cfg.syscalls ?? []).forEach((sc, i) => {
    const where = `linux.seccomp.syscalls[${i}]`;
    if (!sc.names?.length) throw new InvalidConfigError(`${where}.names: must contain at least one entry`);
    const act = action(sc.action, sc.errnoRet, `${where}.action`);
    const conds = (sc.args ?? []).map((arg, j) => {
      const op = OPERATORS[arg.op];
      if (op === undefined) throw new InvalidConfigError(`${where}.args[${j}].op: unknown operator "${arg.op}"`);
      if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) throw new InvalidConfigError(`${where}.args[${j}].index: must be 0 to 5`);
      return `${arg.index} ${op} ${BigInt(arg.value)} ${BigInt(arg.valueTwo ?? 0)}`;
    });
    if (act === def) return; // libseccomp refuses a rule that does what the default does
    const indexes = (sc.args ?? []).map((a) => a.index);
    const repeated = new Set(indexes).size !== indexes.length;
    for (const name of sc.names) {
      if (!/^[a-z0-9_]+$/.test(name)) throw new InvalidConfigError(`${where}.names: invalid syscall name "${name}"`);
      if (repeated) for (const c of conds) lines.push(`rule ${act} ${name} 1 ${c}`);
      else lines.push(`rule ${act} ${name} ${conds.length}${conds.length ? ' ' + conds.join(' ') : ''}`);
    }
  });
  return { rules: lines.join('\n') + '\n', flags };
}

/** The op that loads a compiled program (struct sock_filter[], 8 bytes each). */
export function seccompOp(bpf: Buffer, flags: number): Op {
  return { op: 'SECCOMP', a: [bpf.length / 8, flags], bytes: bpf, what: 'load the seccomp filter' };
}

/**
 * Put the SECCOMP op where runc loads the filter: with noNewPrivileges as late as possible (just
 * before the init reports ready, so the fewest of our own syscalls run under it); without, while
 * we still have CAP_SYS_ADMIN (before capabilities are dropped).
 */
export function insertSeccomp(ops: Op[], op: Op, noNewPrivileges: boolean): void {
  const anchor = noNewPrivileges ? 'READY' : 'CAP_BOUNDING';
  const at = ops.findIndex((o) => o.op === anchor);
  if (at < 0) throw new Error(`internal: no ${anchor} op to put the seccomp filter before`);
  ops.splice(at, 0, op);
}
