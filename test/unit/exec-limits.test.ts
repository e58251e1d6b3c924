/** checkExecLimits: the kernel's execve limits on args and env, checked before create makes anything. */
import t from 'tap';
import { checkExecLimits } from '../../src/lifecycle/exec-limits';

const stack = (soft: number) => [{ type: 'RLIMIT_STACK', soft, hard: soft }];
const entries = (n: number, len: number) => Array(n).fill('e'.repeat(len - 1));

t.test('one string longer than MAX_ARG_STRLEN', async (t) => {
  t.doesNotThrow(() => checkExecLimits(['sh', 'x'.repeat(131071)], [], stack(64 << 20)), '131071 bytes + NUL: the largest');
  t.throws(() => checkExecLimits(['sh'], ['A=' + 'x'.repeat(131070)], stack(64 << 20)), /^process\.env\[0\]: 131073 bytes, more than the limit of 131072 bytes for one string/);
});

t.test('all strings and pointers against a quarter of RLIMIT_STACK', async (t) => {
  // 1 MiB of stack: 256 KiB for strings and pointers.
  t.doesNotThrow(() => checkExecLimits(['sh'], entries(10_000, 16), stack(1 << 20)), '10,000 x (16 + 8) bytes fit in 256 KiB');
  t.throws(() => checkExecLimits(['sh'], entries(12_000, 16), stack(1 << 20)), /^process\.args and process\.env: 1 \+ 12000 entries take \d+ bytes with their pointers, more than the limit of 262144 bytes/);
  // The limit never goes above 6 MiB, nor below 128 KiB.
  t.throws(() => checkExecLimits(['sh'], entries(300_000, 16), stack(1 << 30)), /more than the limit of 6291456 bytes/);
  t.throws(() => checkExecLimits(['sh'], entries(10_000, 16), stack(64 << 10)), /more than the limit of 131072 bytes/);
});

t.test("without RLIMIT_STACK in the config, the runtime's own (inherited) limit", async (t) => {
  t.doesNotThrow(() => checkExecLimits(['true'], ['PATH=/bin'], undefined));
  t.throws(() => checkExecLimits(['true'], entries(1_000_000, 8), undefined), /more than the limit of \d+ bytes for a new program/);
});
