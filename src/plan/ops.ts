/**
 * The ops of a launch plan and their wire encoding; the twin of native/plan.h, whose numbers
 * these must match. An op carries a human description (`what`) that never crosses into C:
 * when the init reports "op 7 failed with EPERM", the runtime turns it into "<what>: EPERM".
 */

export const Opcode = {
  SETNS: 1,
  UNSHARE: 2,
  MOUNT: 3,
  MOUNT_IN_ROOT: 4,
  MKDIR_IN_ROOT: 5,
  MKFILE_IN_ROOT: 6,
  SYMLINK_IN_ROOT: 8,
  OPEN_ROOT: 9,
  PIVOT_ROOT: 10,
  MOVE_ROOT: 11,
  SETHOSTNAME: 12,
  SETDOMAINNAME: 13,
  WRITE_PROC: 14,
  SETRLIMIT: 15,
  PRCTL: 16,
  CAP_BOUNDING: 17,
  SETGROUPS: 18,
  SETRESGID: 19,
  SETRESUID: 20,
  CAPSET: 21,
  AMBIENT: 22,
  CHDIR: 23,
  UMASK: 24,
  SYNC: 25,
  READY: 26,
  WAIT_FIFO: 27,
  FIND_EXEC: 28,
  EXEC: 29,
  SECCOMP: 30,
  SETSID: 31,
  MASK_PATH: 32,
  READONLY_PATH: 33,
  CLOSE: 34,
  MOUNT_SETATTR: 36,
  OPEN_CWD: 37,
  MARK: 38,
  MOVE_MOUNT_IN_ROOT: 39,
  // 40-59: config fields (native/init/process.c); 60+: exec and terminals.
  PERSONALITY: 40,
  SCHED_SETATTR: 41,
  IOPRIO_SET: 42,
  SCHED_AFFINITY: 43,
  SET_MEMPOLICY: 44,
  PARENT_MOUNT_PROPAGATION: 45,
  BIND_REMOUNT: 46,
  LOOPBACK_UP: 47,
  DEVICE_IN_ROOT: 48,
  CHROOT: 49,
  FORK: 60,
  SETUP_PTY: 61,
  WRITE_FD: 62,
  RUN_HOOK: 63,
} as const;
export type OpName = keyof typeof Opcode;

/** The messages the init sends on the sync socket (native/plan.h TSR_MSG_*). */
export const Msg = { READY: 1, ERROR: 2, SYNC: 3, PID: 4, FD: 5, MARK: 6 } as const;

/** An ERROR message's op before the first op ran: which start-up step failed (TSR_STEP_*). */
export const StartStep = { START: -1, NS_ROOT: -2, PLAN: -3, PROCFS: -4 } as const;

/**
 * An fd a plan uses that exists only once the id is claimed (the exec fifo, a cgroup's tasks
 * file): the plan names it, the launch binds it when it encodes the plan. So the plan is built
 * once, before anything is made, and stays a pure value.
 */
export interface FdSlot {
  slot: string;
}

export function isFdSlot(v: unknown): v is FdSlot {
  return typeof v === 'object' && v !== null && typeof (v as FdSlot).slot === 'string';
}

export interface Op {
  op: OpName;
  /** Integer arguments a0..a3 (bigint for 64-bit masks), or fd slots bound at encode time. */
  a?: Array<number | bigint | FdSlot>;
  /** String payload; null marks an absent string (MOUNT's bitmask a1 is derived from it). */
  strs?: Array<string | null>;
  /** Raw payload, for ops that carry binary data (SETGROUPS, SECCOMP). */
  bytes?: Buffer;
  /** What this step does, for error messages: "mount proc on /proc". */
  what: string;
  /** For SYNC: which hooks the parent runs at this point; for MARK: the op group that starts here. */
  tag?: string;
  /** For FIND_EXEC: the program as the config names it (args[0]), for runc's wording of a failure. */
  program?: string;
}

const PLAN_MAGIC = 0x54535231;
const OP_HEADER = 8 + 4 * 8;

/**
 * The fds of ours a plan uses (namespaces to join, cgroup files, the exec fifo, --preserve-fds):
 * the only ones, besides stdio and the sync socket, that reach tsr-init (the shim closes the rest).
 */
export function fdsUsedBy(ops: readonly Op[], slots: Readonly<Record<string, number>> = {}): number[] {
  const fds = new Set<number>();
  for (const op of ops) {
    if (op.op === 'SETNS' || op.op === 'WRITE_FD' || op.op === 'WAIT_FIFO' || op.op === 'CLOSE' || op.op === 'MOVE_MOUNT_IN_ROOT') fds.add(Number(bindArg(op, op.a?.[0], slots)));
    if (op.op === 'EXEC') for (let fd = 3; fd < 3 + Number(op.a?.[2] ?? 0); fd++) fds.add(fd);
  }
  return [...fds].filter((fd) => fd >= 0).sort((a, b) => a - b);
}

function bindArg(op: Op, v: number | bigint | FdSlot | undefined, slots: Readonly<Record<string, number>>): number | bigint {
  if (!isFdSlot(v)) return v ?? 0;
  const fd = slots[v.slot];
  if (fd === undefined) throw new Error(`internal: op ${op.op} (${op.what}) names fd slot "${v.slot}", which the launch did not bind`);
  return fd;
}

/** Encode ops into the buffer the init (native/init/main.c) executes; slots bind FdSlot arguments. */
export function encodePlan(ops: Op[], slots: Readonly<Record<string, number>> = {}): Buffer {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(8);
  header.writeUInt32LE(PLAN_MAGIC, 0);
  header.writeUInt32LE(ops.length, 4);
  parts.push(header);
  for (const op of ops) {
    const a = (op.a ?? []).map((v) => bindArg(op, v, slots));
    let payload: Buffer;
    if (op.bytes) {
      payload = op.bytes;
    } else {
      const strs = op.strs ?? [];
      if (op.op === 'MOUNT' || op.op === 'MOUNT_IN_ROOT') {
        let present = 0;
        strs.forEach((s, i) => {
          if (s !== null) present |= 1 << i;
        });
        a[1] = present;
      }
      payload = Buffer.concat(strs.map((s) => Buffer.from((s ?? '') + '\0')));
    }
    if (a.length > 4) throw new Error(`op ${op.op}: more than 4 integer arguments`);
    const size = Math.ceil((OP_HEADER + payload.length) / 8) * 8;
    const rec = Buffer.alloc(size);
    rec.writeUInt32LE(Opcode[op.op], 0);
    rec.writeUInt32LE(size, 4);
    for (let i = 0; i < 4; i++) rec.writeBigInt64LE(BigInt.asIntN(64, BigInt(a[i] ?? 0)), 8 + i * 8);
    payload.copy(rec, OP_HEADER);
    parts.push(rec);
  }
  return Buffer.concat(parts);
}
