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

/**
 * Encode ops into the buffer the init (native/init/main.c) executes; slots bind FdSlot arguments.
 * Sized first and written into one buffer: create's plan has about a hundred ops, and a Buffer
 * and a BigInt per op and argument cost about 1 ms of each create without the JIT.
 */
export function encodePlan(ops: Op[], slots: Readonly<Record<string, number>> = {}): Buffer {
  const args: Array<Array<number | bigint>> = [];
  const sizes: number[] = [];
  let total = 8;
  for (const op of ops) {
    const a = (op.a ?? []).map((v) => bindArg(op, v, slots));
    if (a.length > 4) throw new Error(`op ${op.op}: more than 4 integer arguments`);
    let payload = 0;
    if (op.bytes) {
      payload = op.bytes.length;
    } else if (op.strs) {
      let present = 0;
      op.strs.forEach((s, i) => {
        if (s !== null) present |= 1 << i;
        payload += Buffer.byteLength(s ?? '') + 1;
      });
      if (op.op === 'MOUNT' || op.op === 'MOUNT_IN_ROOT') a[1] = present;
    }
    const size = Math.ceil((OP_HEADER + payload) / 8) * 8;
    args.push(a);
    sizes.push(size);
    total += size;
  }
  const buf = Buffer.alloc(total); // zero-filled: each string's NUL and each record's padding
  // DataView's setters are V8 builtins; Buffer's write*LE are JS, interpreted here (no JIT).
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  view.setUint32(0, PLAN_MAGIC, true);
  view.setUint32(4, ops.length, true);
  let off = 8;
  ops.forEach((op, n) => {
    view.setUint32(off, Opcode[op.op], true);
    view.setUint32(off + 4, sizes[n], true);
    args[n].forEach((v, i) => writeInt64(view, v, off + 8 + i * 8));
    let at = off + OP_HEADER;
    if (op.bytes) {
      op.bytes.copy(buf, at);
    } else {
      for (const s of op.strs ?? []) at += (s ? buf.write(s, at) : 0) + 1;
    }
    off += sizes[n];
  });
  return buf;
}

/** A plan argument as the int64 the init reads: two 32-bit halves for a safe integer, else as a BigInt. */
function writeInt64(view: DataView, v: number | bigint, at: number): void {
  if (typeof v === 'number' && Number.isSafeInteger(v)) {
    const high = Math.floor(v / 0x100000000);
    view.setUint32(at, v - high * 0x100000000, true);
    view.setInt32(at + 4, high, true);
  } else {
    view.setBigInt64(at, BigInt.asIntN(64, BigInt(v)), true);
  }
}
