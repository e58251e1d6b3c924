/**
 * Process and Linux fields that become single syscalls in the init (or in an exec'd process):
 * scheduler, ioPriority, personality, memoryPolicy, execCPUAffinity, LSM labels, and checks on
 * rlimits. Pure; validation follows runc's validator. Each returns ops; the caller puts them
 * where they belong (before capabilities are dropped: SCHED_FIFO, IOPRIO_CLASS_RT and
 * set_mempolicy may need privileges the process loses).
 */
import type { Process, Spec } from '../generated/config';
import { InvalidConfigError } from '../errors';
import { Op } from './ops';
import { CAPABILITIES } from './linux-constants';
import { SeccompFilter, insertSeccomp, seccompFilter, seccompOp } from './seccomp-plan';

const SCHED_POLICY: Record<string, number> = {
  SCHED_OTHER: 0,
  SCHED_FIFO: 1,
  SCHED_RR: 2,
  SCHED_BATCH: 3,
  SCHED_ISO: 4,
  SCHED_IDLE: 5,
  SCHED_DEADLINE: 6,
};
const SCHED_FLAGS: Record<string, number> = {
  SCHED_FLAG_RESET_ON_FORK: 0x01,
  SCHED_FLAG_RECLAIM: 0x02,
  SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08,
  SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20,
  SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
};
const IOPRIO_CLASS: Record<string, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };
const IOPRIO_WHO_PROCESS = 1;
const PERSONALITY: Record<string, number> = { LINUX: 0x0000, LINUX32: 0x0008 };
const MPOL_MODE: Record<string, number> = {
  MPOL_DEFAULT: 0,
  MPOL_PREFERRED: 1,
  MPOL_BIND: 2,
  MPOL_INTERLEAVE: 3,
  MPOL_LOCAL: 4,
  MPOL_PREFERRED_MANY: 5,
  MPOL_WEIGHTED_INTERLEAVE: 6,
};
const MPOL_FLAGS: Record<string, number> = {
  MPOL_F_NUMA_BALANCING: 1 << 13,
  MPOL_F_RELATIVE_NODES: 1 << 14,
  MPOL_F_STATIC_NODES: 1 << 15,
};

/** "0-3,7" → [0, 1, 2, 3, 7]; throws on a malformed list. */
export function parseIdList(list: string, field: string): number[] {
  const out = new Set<number>();
  const text = list.trim();
  if (!text) return [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(part);
    if (!m) throw new InvalidConfigError(`${field}: invalid list "${list}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > 65535) throw new InvalidConfigError(`${field}: invalid range "${part.trim()}" in "${list}"`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}

/** A bitmask of ids, in unsigned longs (little-endian, as the kernel's cpu and node masks). */
export function idMask(ids: number[], minBytes = 8): Buffer {
  const max = ids.length ? Math.max(...ids) : 0;
  const bytes = Math.max(minBytes, Math.ceil((max + 1) / 64) * 8);
  const buf = Buffer.alloc(bytes);
  for (const id of ids) buf[id >> 3] |= 1 << (id & 7);
  return buf;
}

/** process.scheduler → SCHED_SETATTR. */
export function schedulerOps(proc: Process): Op[] {
  const s = proc.scheduler;
  if (!s) return [];
  const policy = SCHED_POLICY[s.policy];
  if (policy === undefined) throw new InvalidConfigError(`process.scheduler.policy: unknown policy "${s.policy}"`);
  const nice = s.nice ?? 0;
  if ((s.policy === 'SCHED_OTHER' || s.policy === 'SCHED_BATCH') && (nice < -20 || nice > 19)) {
    throw new InvalidConfigError(`process.scheduler.nice: invalid nice ${nice} when scheduler.policy is ${s.policy}`);
  }
  if (s.priority && s.policy !== 'SCHED_FIFO' && s.policy !== 'SCHED_RR') {
    throw new InvalidConfigError('process.scheduler.priority: can only be specified for SCHED_FIFO or SCHED_RR policy');
  }
  if (s.policy !== 'SCHED_DEADLINE' && (s.runtime || s.deadline || s.period)) {
    throw new InvalidConfigError('process.scheduler: runtime/deadline/period can only be specified for SCHED_DEADLINE policy');
  }
  let flags = 0n;
  for (const f of s.flags ?? []) {
    const bit = SCHED_FLAGS[f];
    if (bit === undefined) throw new InvalidConfigError(`process.scheduler.flags: unknown flag "${f}"`);
    flags |= BigInt(bit);
  }
  // struct sched_attr (SCHED_ATTR_SIZE_VER1, 56 bytes)
  const attr = Buffer.alloc(56);
  attr.writeUInt32LE(56, 0);
  attr.writeUInt32LE(policy, 4);
  attr.writeBigUInt64LE(flags, 8);
  attr.writeInt32LE(nice, 16);
  attr.writeUInt32LE(s.priority ?? 0, 20);
  attr.writeBigUInt64LE(BigInt(s.runtime ?? 0), 24);
  attr.writeBigUInt64LE(BigInt(s.deadline ?? 0), 32);
  attr.writeBigUInt64LE(BigInt(s.period ?? 0), 40);
  return [{ op: 'SCHED_SETATTR', bytes: attr, what: `set scheduler ${s.policy}` }];
}

/** process.ioPriority → IOPRIO_SET. */
export function ioPriorityOps(proc: Process): Op[] {
  const io = proc.ioPriority;
  if (!io) return [];
  const cls = IOPRIO_CLASS[io.class];
  if (cls === undefined) throw new InvalidConfigError(`process.ioPriority.class: invalid class "${io.class}"`);
  if (!Number.isInteger(io.priority) || io.priority < 0 || io.priority > 7) {
    throw new InvalidConfigError(`process.ioPriority.priority: invalid priority ${io.priority} (0 to 7)`);
  }
  return [{ op: 'IOPRIO_SET', a: [IOPRIO_WHO_PROCESS, 0, (cls << 13) | io.priority], what: `set I/O priority ${io.class} ${io.priority}` }];
}

/** process.rlimits: what the kernel cannot take is an error before anything is created. */
export function checkRlimits(proc: Process): void {
  const seen = new Set<string>();
  for (const rl of proc.rlimits ?? []) {
    if (seen.has(rl.type)) throw new InvalidConfigError(`process.rlimits: duplicated entry for ${rl.type}`);
    seen.add(rl.type);
    if (BigInt(rl.soft) > BigInt(rl.hard)) {
      throw new InvalidConfigError(`process.rlimits: ${rl.type} soft limit ${rl.soft} is above its hard limit ${rl.hard}`);
    }
  }
}

/** linux.personality → PERSONALITY. */
export function personalityOps(spec: Spec, warnings: string[]): Op[] {
  const p = spec.linux?.personality;
  if (!p) return [];
  const persona = PERSONALITY[p.domain];
  if (persona === undefined) throw new InvalidConfigError(`linux.personality.domain: invalid personality domain "${p.domain}"`);
  if (p.flags?.length) warnings.push(`linux.personality.flags: ignoring unsupported personality flags ${p.flags.join(', ')}`);
  return [{ op: 'PERSONALITY', a: [persona], what: `set personality ${p.domain}` }];
}

/** linux.memoryPolicy → SET_MEMPOLICY. */
export function memoryPolicyOps(spec: Spec): Op[] {
  const mp = spec.linux?.memoryPolicy;
  if (!mp) return [];
  const mode = MPOL_MODE[mp.mode];
  if (mode === undefined) throw new InvalidConfigError(`linux.memoryPolicy.mode: invalid mode "${mp.mode}"`);
  let flags = 0;
  for (const f of mp.flags ?? []) {
    const bit = MPOL_FLAGS[f];
    if (bit === undefined) throw new InvalidConfigError(`linux.memoryPolicy.flags: invalid flag "${f}"`);
    flags |= bit;
  }
  const nodes = parseIdList(mp.nodes ?? '', 'linux.memoryPolicy.nodes');
  if ((mp.mode === 'MPOL_DEFAULT' || mp.mode === 'MPOL_LOCAL') && nodes.length) {
    throw new InvalidConfigError(`linux.memoryPolicy: mode ${mp.mode} takes no nodes, got "${mp.nodes}"`);
  }
  if (['MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_PREFERRED_MANY', 'MPOL_WEIGHTED_INTERLEAVE'].includes(mp.mode) && !nodes.length) {
    throw new InvalidConfigError(`linux.memoryPolicy: mode ${mp.mode} needs at least one node`);
  }
  const mask = idMask(nodes);
  // maxnode: the kernel reads maxnode-1 bits; pass the mask's full size in bits.
  const maxnode = nodes.length ? mask.length * 8 : 0;
  return [{ op: 'SET_MEMPOLICY', a: [mode | flags, maxnode], bytes: mask, what: `set memory policy ${mp.mode}${nodes.length ? ` nodes ${mp.nodes}` : ''}` }];
}

/**
 * process.execCPUAffinity, for exec'd processes only (runtime-spec: "not applicable to the
 * container's init process"): `initial` is set by the runtime on the new process before it joins
 * the container's cgroup (tsr_sched_setaffinity from the parent), `final` by the process itself
 * after it joined (a SCHED_AFFINITY op).
 */
export function execCpuAffinity(proc: Process): { initial?: Buffer; finalOps: Op[] } {
  const a = proc.execCPUAffinity;
  if (!a) return { finalOps: [] };
  const initialIds = a.initial ? parseIdList(a.initial, 'process.execCPUAffinity.initial') : [];
  const finalIds = a.final ? parseIdList(a.final, 'process.execCPUAffinity.final') : [];
  const finalMask = idMask(finalIds, 128);
  return {
    initial: initialIds.length ? idMask(initialIds, 128) : undefined,
    finalOps: finalIds.length ? [{ op: 'SCHED_AFFINITY', a: [finalMask.length], bytes: finalMask, what: `set CPU affinity ${a.final}` }] : [],
  };
}

export interface LsmFacts {
  /** AppArmor is enabled (/sys/module/apparmor/parameters/enabled is Y). */
  apparmor: boolean;
  /** SELinux is enabled (selinuxfs mounted). */
  selinux: boolean;
}

/**
 * process.apparmorProfile and process.selinuxLabel → labels applied at exec (written to
 * /proc/self/attr/...). As runc: without SELinux a selinuxLabel is an error; without AppArmor
 * an apparmorProfile is an error too (runc fails writing the exec attribute; we say why first).
 */
export function lsmOps(proc: Process, lsm: LsmFacts): Op[] {
  const ops: Op[] = [];
  if (proc.apparmorProfile) {
    if (!lsm.apparmor) throw new InvalidConfigError(`process.apparmorProfile: AppArmor is not enabled on this host, cannot apply profile "${proc.apparmorProfile}"`);
    ops.push({ op: 'WRITE_PROC', strs: ['self/attr/apparmor/exec', `exec ${proc.apparmorProfile}`], what: `apply AppArmor profile ${proc.apparmorProfile}` });
  }
  if (proc.selinuxLabel) {
    if (!lsm.selinux) throw new InvalidConfigError('process.selinuxLabel: selinux label is specified in config, but selinux is disabled or not supported');
    ops.push({ op: 'WRITE_PROC', strs: ['self/attr/exec', proc.selinuxLabel], what: `set SELinux label ${proc.selinuxLabel}` });
  }
  return ops;
}

/**
 * Capabilities this kernel does not have (above cap_last_cap) are left out of the masks
 * (process-ops.ts); runtime-spec: "MUST be logged as a warning", and the container goes on.
 */
export function capabilityWarnings(proc: Process, lastCap: number): string[] {
  const out: string[] = [];
  for (const [set, names] of Object.entries(proc.capabilities ?? {})) {
    for (const name of (names as string[] | undefined) ?? []) {
      const bit = (CAPABILITIES as readonly string[]).indexOf(name);
      if (bit > lastCap) out.push(`process.capabilities.${set}: ${name} is not supported by this kernel (cap_last_cap ${lastCap}); ignored`);
    }
  }
  return out;
}

export interface ProcessFieldsInput {
  spec: Spec;
  proc: Process;
  lastCap: number;
  lsm?: LsmFacts;
  /** Compiles the decided seccomp filter to BPF (libseccomp, in the parent); absent: an empty program. */
  compileSeccomp?(filter: SeccompFilter): Buffer;
  /** For `exec`: also process.execCPUAffinity.final (the init never gets it). */
  forExec?: boolean;
}

export interface ProcessFields {
  warnings: string[];
  /** For `exec`: the CPU mask the runtime sets on the new process before it joins the cgroup. */
  initialAffinity?: Buffer;
  /** Puts the ops into a plan that already holds planProcessSetup's and planExec's. */
  apply(ops: Op[]): void;
}

/**
 * Everything process-level beyond process-ops.ts, validated now, applied later to a finished
 * op list (the init's, or an exec'd process's) at the places runc uses:
 *  - oom_score_adj first (before the process is made non-dumpable, see build-init-plan.ts),
 *  - scheduler, ioPriority, personality, memoryPolicy, LSM labels and execCPUAffinity.final
 *    before capabilities are dropped,
 *  - the seccomp filter just before READY with noNewPrivileges, before the capability drop without.
 */
export function planProcessFields(input: ProcessFieldsInput): ProcessFields {
  const { spec, proc } = input;
  const warnings: string[] = [];
  checkRlimits(proc);
  warnings.push(...capabilityWarnings(proc, input.lastCap));
  const affinity = input.forExec ? execCpuAffinity(proc) : { finalOps: [] as Op[], initial: undefined };
  const fieldOps = [
    ...schedulerOps(proc), ...ioPriorityOps(proc), ...personalityOps(spec, warnings), ...memoryPolicyOps(spec),
    ...lsmOps(proc, input.lsm ?? { apparmor: false, selinux: false }), ...affinity.finalOps,
  ];
  const seccomp = seccompFilter(spec.linux?.seccomp as Parameters<typeof seccompFilter>[0]);
  const bpf = seccomp ? (input.compileSeccomp ? input.compileSeccomp(seccomp) : Buffer.alloc(0)) : undefined;
  return {
    warnings,
    initialAffinity: affinity.initial,
    apply(ops) {
      const oom = ops.findIndex((o) => o.op === 'WRITE_PROC' && o.strs?.[0] === 'self/oom_score_adj');
      if (oom > 0) ops.unshift(...ops.splice(oom, 1));
      const capAt = ops.findIndex((o) => o.op === 'CAP_BOUNDING');
      ops.splice(capAt < 0 ? ops.length : capAt, 0, ...fieldOps);
      if (seccomp && bpf) insertSeccomp(ops, seccompOp(bpf, seccomp.flags), Boolean(proc.noNewPrivileges));
    },
  };
}
