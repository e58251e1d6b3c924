/** encodePlan: the wire format the init (native/init/main.c) reads (native/plan.h). */
import t, { Test } from 'tap';
import fs from 'fs';
import path from 'path';
import { encodePlan, Msg, Op, Opcode, StartStep } from '../../src/plan/ops';
import { buildInitPlan } from '../../src/plan/build-init-plan';
import type { Spec } from '../../src/generated/config';
import { hybridCgroups } from '../helpers/plan';

const PROJECT = path.resolve(__dirname, '..', '..', '..');
const MAGIC = 0x54535231;
const OP_HEADER = 40; // u32 op, u32 size, 4 x i64

interface Rec {
  op: number;
  size: number;
  a: bigint[];
  payload: Buffer;
}

/** Walks the buffer the way tsr_spawn does, checking the framing. */
function decode(t: Test, buf: Buffer): Rec[] {
  t.equal(buf.readUInt32LE(0), MAGIC, 'magic "TSR1"');
  const count = buf.readUInt32LE(4);
  const out: Rec[] = [];
  let off = 8;
  for (let i = 0; i < count; i++) {
    const size = buf.readUInt32LE(off + 4);
    if (size < OP_HEADER || size % 8 !== 0 || off + size > buf.length) {
      t.fail(`record ${i}: bad size ${size} at offset ${off}`);
      return out;
    }
    out.push({
      op: buf.readUInt32LE(off),
      size,
      a: [0, 1, 2, 3].map((k) => buf.readBigInt64LE(off + 8 + k * 8)),
      payload: buf.subarray(off + OP_HEADER, off + size),
    });
    off += size;
  }
  t.equal(off, buf.length, 'the records fill the buffer exactly');
  return out;
}

/** NUL-terminated strings of a payload (the padding after the last one is dropped). */
function strings(payload: Buffer, n: number): string[] {
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const end = payload.indexOf(0, at);
    out.push(payload.subarray(at, end).toString());
    at = end + 1;
  }
  return out;
}

t.test('header and an empty plan', async (t) => {
  const buf = encodePlan([]);
  t.equal(buf.length, 8);
  t.equal(buf.readUInt32LE(0), MAGIC);
  t.equal(buf.readUInt32LE(4), 0);
});

t.test('records: opcode, 8-aligned size, integer arguments, strings', async (t) => {
  const ops: Op[] = [
    { op: 'SETHOSTNAME', strs: ['h'], what: 'x' }, // 40 + 2 → 48
    { op: 'SETHOSTNAME', strs: ['1234567'], what: 'x' }, // 40 + 8 → 48 exactly
    { op: 'SETHOSTNAME', strs: ['12345678'], what: 'x' }, // 40 + 9 → 56
    { op: 'READY', what: 'x' }, // header only
    { op: 'SYMLINK_IN_ROOT', strs: ['pts/ptmx', '/dev/ptmx'], what: 'x' },
    { op: 'SETRLIMIT', a: [7, 1024n, 4096n], what: 'x' },
    { op: 'WAIT_FIFO', a: [-1], what: 'x' },
    { op: 'CAP_BOUNDING', a: [(1n << 40n) | (1n << 5n), 40], what: 'x' },
    { op: 'CAPSET', a: [0xffffffffffffffffn, 0n, 1n], what: 'x' },
  ];
  const recs = decode(t, encodePlan(ops));
  t.equal(recs.length, ops.length);
  t.same(recs.map((r) => r.size), [48, 48, 56, 40, 64, 40, 40, 40, 40]);
  t.ok(recs.every((r) => r.size % 8 === 0), 'every record is 8-byte aligned');
  t.same(recs.map((r) => r.op), ops.map((o) => Opcode[o.op]));
  t.same(strings(recs[0].payload, 1), ['h']);
  t.same(strings(recs[2].payload, 1), ['12345678']);
  t.same(strings(recs[4].payload, 2), ['pts/ptmx', '/dev/ptmx']);
  t.same(recs[3].a, [0n, 0n, 0n, 0n], 'absent arguments are 0');
  t.same(recs[5].a, [7n, 1024n, 4096n, 0n], 'numbers and bigints');
  t.same(recs[6].a[0], -1n, 'negative numbers stay negative');
  t.same(recs[7].a.slice(0, 2), [(1n << 40n) | (1n << 5n), 40n], '64-bit capability masks');
  t.same(recs[8].a[0], -1n, 'an all-ones u64 mask is the same bits as int64 -1');
  t.ok(recs[0].payload.subarray(2).every((b) => b === 0), 'padding is zeroed');
});

t.test('MOUNT and MOUNT_IN_ROOT: a1 is the bitmask of present strings', async (t) => {
  const ops: Op[] = [
    { op: 'MOUNT', a: [0x80000 | 0x4000], strs: [null, '/', null, null], what: 'x' },
    { op: 'MOUNT', a: [0x1000 | 0x4000], strs: ['/r', '/r', null, null], what: 'x' },
    { op: 'MOUNT_IN_ROOT', a: [2], strs: ['tmpfs', '/dev', 'tmpfs', 'mode=755'], what: 'x' },
    { op: 'MOUNT_IN_ROOT', a: [0], strs: ['proc', '/proc', 'proc', null], what: 'x' },
    { op: 'MOUNT_IN_ROOT', a: [0x20 | 0x1000 | 1, 999], strs: [null, '/data', null, null], what: 'x' },
  ];
  const recs = decode(t, encodePlan(ops));
  t.same(recs.map((r) => r.a[1]), [0b0010n, 0b0011n, 0b1111n, 0b0111n, 0b0010n], 'present strings, whatever a1 was');
  t.same(recs.map((r) => r.a[0]), [0x84000n, 0x5000n, 2n, 0n, 0x1021n], 'a0 keeps the flags');
  t.same(strings(recs[0].payload, 4), ['', '/', '', ''], 'absent strings are empty on the wire');
  t.same(strings(recs[2].payload, 4), ['tmpfs', '/dev', 'tmpfs', 'mode=755']);
  t.same(ops[4].a, [0x20 | 0x1000 | 1, 999], 'the op itself is not modified');
  t.equal(recs[0].size, 48, '4 NULs and "/"');
});

t.test('raw bytes payload (SETGROUPS) and UTF-8 strings', async (t) => {
  const gids = Buffer.alloc(8);
  gids.writeUInt32LE(5, 0);
  gids.writeUInt32LE(27, 4);
  const recs = decode(t, encodePlan([
    { op: 'SETGROUPS', a: [2], bytes: gids, what: 'x' },
    { op: 'SETGROUPS', a: [0], bytes: Buffer.alloc(0), what: 'x' },
    { op: 'SETHOSTNAME', strs: ['hôte'], what: 'x' },
  ]));
  t.same([...recs[0].payload], [5, 0, 0, 0, 27, 0, 0, 0]);
  t.equal(recs[0].size, 48);
  t.equal(recs[1].size, 40, 'no groups: header only');
  t.same(strings(recs[2].payload, 1), ['hôte'], 'strings are UTF-8');
});

t.test('integer arguments across the 32-bit boundary read back as the same int64', async (t) => {
  const values = [0, 1, -1, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, -0x80000000, -0x80000001, 2 ** 40 + 7, -(2 ** 40) - 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  for (let i = 0; i < values.length; i += 4) {
    const a = values.slice(i, i + 4);
    const [rec] = decode(t, encodePlan([{ op: 'PRCTL', a, what: 'x' }]));
    t.same(rec.a.slice(0, a.length), a.map((v) => BigInt(v)), a.join(', '));
  }
  t.throws(() => encodePlan([{ op: 'PRCTL', a: [1.5], what: 'x' }]), RangeError, 'a fraction is a programming error, as before');
});

t.test('more than four integer arguments is a programming error', async (t) => {
  t.throws(() => encodePlan([{ op: 'PRCTL', a: [1, 2, 3, 4, 5], what: 'x' }]), /more than 4 integer arguments/);
});

t.test('opcodes match native/plan.h', async (t) => {
  const header = fs.readFileSync(path.join(PROJECT, 'native', 'plan.h'), 'utf8');
  const inC = new Map<string, number>();
  for (const m of header.matchAll(/TSR_OP_([A-Z_]+)\s*=\s*(\d+)/g)) inC.set(m[1], Number(m[2]));
  t.ok(inC.size > 30, `${inC.size} opcodes in plan.h`);
  for (const [name, value] of Object.entries(Opcode)) t.equal(inC.get(name), value, `${name} = ${value}`);
  for (const [name, value] of inC) t.equal((Opcode as Record<string, number>)[name], value, `plan.h ${name} is in ops.ts`);
  t.match(header, /#define TSR_PLAN_MAGIC 0x54535231u/);
});

t.test('messages and start-up steps match native/plan.h', async (t) => {
  const header = fs.readFileSync(path.join(PROJECT, 'native', 'plan.h'), 'utf8');
  const msgs = new Map([...header.matchAll(/TSR_MSG_([A-Z_]+)\s*=\s*(-?\d+)/g)].map((m) => [m[1], Number(m[2])]));
  const steps = new Map([...header.matchAll(/TSR_STEP_([A-Z_]+)\s*=\s*(-?\d+)/g)].map((m) => [m[1], Number(m[2])]));
  t.same(Object.fromEntries(msgs), Msg, 'TSR_MSG_* = Msg');
  t.same(Object.fromEntries(steps), StartStep, 'TSR_STEP_* = StartStep');
  t.match(
    header,
    /struct tsr_msg \{\s*int32_t kind;[^}]*int32_t op;[^}]*int32_t err;[^}]*int32_t value;[^}]*int64_t time_ns;[^}]*\}/,
    'struct tsr_msg is four int32 (kind, op, err, value) and an int64 (time_ns): 24 bytes, no padding',
  );
});

t.test('a MARK message from C reads back whole through the shim (24 bytes, 64-bit time)', async (t) => {
  const { loadShim } = require('../../src/native/shim') as typeof import('../../src/native/shim');
  const shim = loadShim();
  const [ours, theirs] = shim.socketpair();
  t.teardown(() => [ours, theirs].forEach((fd) => fs.closeSync(fd)));
  // As native/init/channel.c lays it out: kind, op, err, value (int32), time_ns (int64).
  const msg = Buffer.alloc(24);
  msg.writeInt32LE(Msg.MARK, 0);
  msg.writeInt32LE(17, 4);
  msg.writeBigInt64LE(987654321012345678n, 16);
  fs.writeSync(theirs, msg);
  t.match(shim.readMsg(ours), { rc: 0, kind: Msg.MARK, op: 17, err: 0, value: 0, timeNs: 987654321012345678n, fd: -1 });
  fs.writeSync(theirs, msg.subarray(0, 16));
  t.ok(shim.readMsg(ours).rc < 0, 'a record of the old 16-byte size is refused');
});

t.test('a whole init plan encodes into well-formed records', async (t) => {
  const spec = {
    ociVersion: '1.2.0',
    root: { path: 'rootfs', readonly: true },
    hostname: 'h',
    process: { args: ['sh', '-c', 'echo hi'], cwd: '/', user: { uid: 0, gid: 0, additionalGids: [1, 2, 3] }, env: ['PATH=/bin'] },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['mode=755'] },
    ],
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'uts' }], maskedPaths: ['/proc/kcore'] },
  } as Spec;
  const plan = buildInitPlan({
    spec,
    rootfs: '/r',
    bundle: '/b',
    fifoFd: 9,
    namespaceFds: {},
    host: { lastCap: 40, pathKind: () => 'dir', cgroupHierarchies: [], cgroupPath: '/x', cgroup: hybridCgroups() },
  });
  const recs = decode(t, encodePlan(plan.ops));
  t.equal(recs.length, plan.ops.length);
  t.same(recs.map((r) => r.op), plan.ops.map((o) => Opcode[o.op]));
  const exec = recs[recs.length - 1];
  t.equal(exec.op, Opcode.EXEC);
  t.same(strings(exec.payload, 4), ['sh', '-c', 'echo hi', 'PATH=/bin']);
});
