/**
 * linux.seccomp → a typed filter (SeccompFilter) that libseccomp compiles in this process
 * (src/native/seccomp.ts, which decides nothing), runc's ENOSYS stub in front of its program
 * (seccomp-enosys.ts), and the SECCOMP op that loads the program in the init. Every decision is
 * here and pure; libseccomp only answers questions (which syscalls and architectures it knows,
 * their numbers) and exports the program.
 *
 * Semantics follow runc: SCMP_ACT_KILL is KILL_THREAD; errnoRet defaults to EPERM; syscalls and
 * architectures the local libseccomp does not know are skipped; a rule whose action is the
 * default action is dropped; several conditions on the same argument index make one rule per
 * condition (OR), otherwise the conditions of a rule are ANDed; no ENOSYS stub when the default
 * action lets calls through (ALLOW, LOG, TRACE).
 */
import { InvalidConfigError, UnsupportedError } from '../errors';
import { Op } from './ops';
import { ArchLastSyscall, assemble, enosysStub } from './seccomp-enosys';

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

/** An argument condition (struct scmp_arg_cmp). */
export interface SeccompArg {
  index: number;
  /** SCMP_CMP_* as libseccomp numbers them. */
  op: number;
  value: bigint;
  valueTwo: bigint;
}

/** One libseccomp rule: an action for one syscall when all of args hold. */
export interface SeccompRule {
  /** Where in config.json it comes from, for messages: linux.seccomp.syscalls[i]. */
  where: string;
  name: string;
  action: number;
  args: SeccompArg[];
}

/** linux.seccomp, decided: what libseccomp is asked to compile, and what the SECCOMP op needs. */
export interface SeccompFilter {
  defaultAction: number;
  /** libseccomp's names of linux.seccomp.architectures (it adds the native one itself). */
  architectures: string[];
  rules: SeccompRule[];
  /** Every syscall the profile names, for the ENOSYS stub; undefined: no stub. */
  enosysNames?: string[];
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

/** Validate linux.seccomp and decide the filter; undefined when there is nothing to load. */
export function seccompFilter(cfg: SeccompConfig | undefined): SeccompFilter | undefined {
  if (!cfg) return undefined;
  checkNotify(cfg);
  const defaultAction = action(cfg.defaultAction, cfg.defaultErrnoRet, 'linux.seccomp.defaultAction');
  let flags = 0;
  for (const f of cfg.flags ?? []) {
    const bit = SECCOMP_FLAGS[f];
    if (bit === undefined) throw new InvalidConfigError(`linux.seccomp.flags: unknown or unsupported flag "${f}"`);
    flags |= bit;
  }
  if (cfg.listenerMetadata && !cfg.listenerPath) throw new InvalidConfigError('linux.seccomp.listenerMetadata: set without listenerPath');
  const architectures = (cfg.architectures ?? []).map((a) => {
    const name = ARCHES[a];
    if (!name) throw new InvalidConfigError(`linux.seccomp.architectures: unknown architecture "${a}"`);
    return name;
  });
  const rules: SeccompRule[] = [];
  const names: string[] = [];
  (cfg.syscalls ?? []).forEach((sc, i) => {
    const where = `linux.seccomp.syscalls[${i}]`;
    if (!sc.names?.length) throw new InvalidConfigError(`${where}.names: must contain at least one entry`);
    const act = action(sc.action, sc.errnoRet, `${where}.action`);
    const args = (sc.args ?? []).map((arg, j): SeccompArg => {
      const op = OPERATORS[arg.op];
      if (op === undefined) throw new InvalidConfigError(`${where}.args[${j}].op: unknown operator "${arg.op}"`);
      if (!Number.isInteger(arg.index) || arg.index < 0 || arg.index > 5) throw new InvalidConfigError(`${where}.args[${j}].index: must be 0 to 5`);
      return { index: arg.index, op, value: BigInt.asUintN(64, BigInt(arg.value)), valueTwo: BigInt.asUintN(64, BigInt(arg.valueTwo ?? 0)) };
    });
    // Names go to libseccomp as C strings: nothing outside the syscall alphabet (a NUL would cut one short).
    for (const name of sc.names) if (!/^[a-z0-9_]+$/.test(name)) throw new InvalidConfigError(`${where}.names: invalid syscall name "${name}"`);
    names.push(...sc.names);
    if (act === defaultAction) return; // libseccomp refuses a rule that does what the default does
    const indexes = args.map((a) => a.index);
    // libseccomp ANDs the conditions of a rule and refuses two on one argument: runc ORs those.
    const alternatives = new Set(indexes).size !== indexes.length ? args.map((a) => [a]) : [args];
    for (const name of sc.names) for (const alt of alternatives) rules.push({ where, name, action: act, args: alt });
  });
  // A tracer handles a new syscall itself; an allowing default needs no ENOSYS.
  const letsThrough = ['SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(cfg.defaultAction);
  return { defaultAction, architectures, rules, enosysNames: letsThrough ? undefined : [...new Set(names)], flags };
}

/** What the filter needs of libseccomp (src/native/seccomp.ts): answers and the export, no decision. */
export interface SeccompLibrary {
  /** Its token for an architecture name (x86_64, aarch64...); undefined when this libseccomp does not know it. */
  archToken(name: string): number | undefined;
  /** The token of the architecture this process runs on, which every filter holds. */
  nativeArch(): number;
  /**
   * A syscall's number on arch; without arch, the number rules take (negative, a pseudo-syscall,
   * for one the native architecture lacks). Undefined when unknown there.
   */
  syscallNumber(name: string, arch?: number): number | undefined;
  /** Its BPF program (struct sock_filter[]) for rules whose syscalls are resolved; throws naming a rule it refuses. */
  exportBpf(filter: ResolvedSeccompFilter): Buffer;
}

export interface ResolvedSeccompFilter {
  defaultAction: number;
  architectures: Array<{ name: string; token: number }>;
  rules: Array<SeccompRule & { nr: number }>;
}

/** The program the SECCOMP op loads: the ENOSYS stub (when the filter wants one), then libseccomp's. */
export function seccompProgram(filter: SeccompFilter, lib: SeccompLibrary): Buffer {
  const architectures: ResolvedSeccompFilter['architectures'] = [];
  for (const name of filter.architectures) {
    const token = lib.archToken(name);
    // An architecture this libseccomp does not know, this host cannot run either.
    if (token !== undefined) architectures.push({ name, token });
  }
  const rules: ResolvedSeccompFilter['rules'] = [];
  for (const rule of filter.rules) {
    const nr = lib.syscallNumber(rule.name);
    if (nr !== undefined) rules.push({ ...rule, nr }); // a syscall this libseccomp does not know: skipped, as runc does
  }
  const program = lib.exportBpf({ defaultAction: filter.defaultAction, architectures, rules });
  if (!filter.enosysNames) return program;
  const lasts: ArchLastSyscall[] = [...new Set([lib.nativeArch(), ...architectures.map((a) => a.token)])].map((arch) => {
    let last = -1;
    for (const name of filter.enosysNames!) last = Math.max(last, lib.syscallNumber(name, arch) ?? -1);
    return { arch, last };
  });
  return Buffer.concat([assemble(enosysStub(lasts)), program]);
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
