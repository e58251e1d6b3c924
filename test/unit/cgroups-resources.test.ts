// Unit tests for linux.resources: v1↔v2 conversions, device rules, the eBPF device filter (to the
// instruction), stats JSON, and the update/events helpers. No root, no real cgroups.
import t from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import {
  blkioWeightToIoWeight,
  cpuMax,
  deviceValue,
  hugePageSizeName,
  ioMaxLine,
  memorySwapToV2,
  pidsMax,
  rdmaLine,
  sharesToWeight,
  v2Limit,
} from '../../src/cgroups/resources';
import { containerDeviceRules, DEFAULT_ALLOWED_DEVICES, DeviceRule, DeviceState, ruleText } from '../../src/cgroups/devices';
import { deviceFilter, disassemble, encodeInsns, OP, runFilter } from '../../src/cgroups/ebpf';
import { emptyStats, eventJSON, parseBlkioV1, parseCpuList, parseIoStatV2, statsJSON } from '../../src/cgroups/stats';
import { applyV2 } from '../../src/cgroups/v2-resources';
import { mergeResources, ramInBytes, resourcesFromFlags } from '../../src/lifecycle/update';
import { parseDuration } from '../../src/lifecycle/events';
import { RuntimeError } from '../../src/errors';

t.test('cpu.shares → cpu.weight (runc: quadratic in log2, through 2→1, 1024→100, 262144→10000)', async (t) => {
  const cases: Array<[number, number]> = [
    [0, 0], // unset stays unset
    [1, 1], // below the v1 minimum
    [2, 1],
    [3, 2],
    [128, 21],
    [512, 59],
    [1024, 100], // the defaults map onto each other
    [2048, 174],
    [10000, 627],
    [262143, 10000],
    [262144, 10000],
    [1000000, 10000],
  ];
  for (const [shares, weight] of cases) t.equal(sharesToWeight(shares), weight, `${shares} → ${weight}`);
});

t.test('blkio weight → io.weight (linear [10,1000] → [1,10000])', async (t) => {
  for (const [w, io] of [[0, 0], [10, 1], [100, 910], [500, 4950], [1000, 10000]]) t.equal(blkioWeightToIoWeight(w), io, `${w} → ${io}`);
});

t.test('memory+swap → memory.swap.max (runc ConvertMemorySwapToCgroupV2Value)', async (t) => {
  t.equal(memorySwapToV2(0, 0), 0, 'all unset');
  t.equal(memorySwapToV2(-1, 0), -1, 'unlimited memory+swap, unset memory');
  t.equal(memorySwapToV2(300, -1), 300, 'unlimited memory: swap as is');
  t.equal(memorySwapToV2(-1, -1), -1, 'all unlimited');
  t.equal(memorySwapToV2(0, -1), -1, 'unlimited memory, unset swap → unlimited swap');
  t.equal(memorySwapToV2(0, 300), 0, 'swap unset');
  t.equal(memorySwapToV2(300, 300), 0, 'memory+swap == memory: no swap');
  t.equal(memorySwapToV2(500, 300), 200, 'swap = memory+swap - memory');
});

t.test('control file texts', async (t) => {
  t.equal(v2Limit(0), '', '0 → leave alone');
  t.equal(v2Limit(-1), 'max');
  t.equal(v2Limit(12345), '12345');
  t.equal(pidsMax(100), '100');
  t.equal(pidsMax(0), '1', '0 → 1, as runc (systemd cannot express 0)');
  t.equal(pidsMax(-1), 'max');
  t.equal(cpuMax(50000, 100000), '50000 100000');
  t.equal(cpuMax(50000, undefined), '50000 100000', 'default period');
  t.equal(cpuMax(-1, 200000), 'max 200000', 'no quota');
  t.equal(cpuMax(undefined, 200000), 'max 200000');
  t.equal(ioMaxLine('rbps', 8, 0, 1048576), '8:0 rbps=1048576');
  t.equal(ioMaxLine('wiops', 254, 16, 100), '254:16 wiops=100');
  t.equal(deviceValue(8, 0, 500), '8:0 500');
  t.equal(rdmaLine('mlx4_0', { hcaHandles: 2, hcaObjects: 2000 }), 'mlx4_0 hca_handle=2 hca_object=2000');
  t.equal(rdmaLine('mlx4_0', { hcaObjects: 7 }), 'mlx4_0 hca_object=7');
  t.equal(hugePageSizeName('hugepages-2048kB'), '2MB');
  t.equal(hugePageSizeName('hugepages-1048576kB'), '1GB');
  t.equal(hugePageSizeName('hugepages-64kB'), '64KB');
  t.equal(hugePageSizeName('hugepages-16384kB'), '16MB');
  t.equal(hugePageSizeName('other'), undefined);
});

t.test('applyV2 on a fake cgroup directory: the files and the converted values', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-fake-cg-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files = ['pids.max', 'memory.max', 'memory.swap.max', 'memory.low', 'cpu.weight', 'cpu.max', 'cpu.idle', 'io.weight', 'io.max', 'rdma.max'];
  const reset = () => {
    fs.writeFileSync(path.join(dir, 'cgroup.controllers'), 'cpu io memory pids rdma\n');
    for (const f of files) fs.writeFileSync(path.join(dir, f), '');
  };
  const read = (f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
  reset();
  applyV2(
    dir,
    {
      pids: { limit: 0 },
      memory: { limit: 64 << 20, swap: 96 << 20, reservation: 32 << 20 },
      cpu: { shares: 2048, quota: 25000 },
      blockIO: { weight: 100, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] },
      rdma: { mlx5_1: { hcaHandles: 3 } },
    },
    { update: true }, // no device filter: that needs a real cgroup
  );
  t.equal(read('pids.max'), '1', 'pids 0 → 1');
  t.equal(read('memory.max'), String(64 << 20));
  t.equal(read('memory.swap.max'), String(32 << 20), 'swap alone = memory+swap - memory');
  t.equal(read('memory.low'), String(32 << 20), 'reservation → memory.low');
  t.equal(read('cpu.weight'), '174', 'shares 2048 → weight 174');
  t.equal(read('cpu.max'), '25000 100000', 'quota with the default period');
  t.equal(read('io.weight'), '910', 'blkio weight 100 → io.weight 910');
  t.equal(read('io.max'), '8:0 rbps=1000');
  t.equal(read('rdma.max'), 'mlx5_1 hca_handle=3');
  t.equal(read('cpu.idle'), '', 'idle untouched');

  reset();
  applyV2(dir, { memory: { limit: 64 << 20, swap: 64 << 20 } }, { update: true });
  t.equal(read('memory.swap.max'), '0', 'memory+swap == memory → no swap');
  reset();
  applyV2(dir, { memory: { limit: -1 } }, { update: true });
  t.equal(read('memory.max'), 'max');
  t.equal(read('memory.swap.max'), 'max', 'unlimited memory → unlimited swap');

  reset();
  fs.writeFileSync(path.join(dir, 'cgroup.controllers'), 'cpu memory\n');
  fs.rmSync(path.join(dir, 'pids.max'));
  t.throws(() => applyV2(dir, { pids: { limit: 10 } }, { update: true }), /^linux\.resources\.pids\.limit: the pids controller is not available for cgroup .* \(it has: cpu memory\)$/);
  fs.rmSync(path.join(dir, 'io.weight'));
  t.throws(() => applyV2(dir, { blockIO: { weight: 100 } }, { update: true }), /^linux\.resources\.blockIO\.weight: the io controller is not available/);
  t.throws(() => applyV2(dir, { unified: { 'hugetlb.2MB.max': '0' } }, { update: true }), /^linux\.resources\.unified\["hugetlb\.2MB\.max"\]: the hugetlb controller is not available/);
});

const rule = (type: 'a' | 'b' | 'c', major: number, minor: number, access: string, allow: boolean): DeviceRule => ({ type, major, minor, access, allow });

t.test('device rules: runc defaults, normalization', async (t) => {
  const rules = containerDeviceRules([{ allow: false, access: 'rwm' }]);
  t.equal(rules.length, 1 + DEFAULT_ALLOWED_DEVICES.length, 'config rules, then every default');
  t.same(rules[0], rule('a', -1, -1, 'rwm', false), 'type defaults to a, numbers to *');
  t.same(rules[3], rule('c', 1, 3, 'rwm', true), '/dev/null');
  t.equal(containerDeviceRules([], ['/dev/null']).length, DEFAULT_ALLOWED_DEVICES.length - 1, 'a default whose path the config lists is dropped (runc)');
  t.same(containerDeviceRules([{ allow: true, type: 'c', major: 4, access: 'mwr' }])[0], rule('c', 4, -1, 'rwm', true), 'access normalized, minor *');
  t.equal(ruleText(rule('c', 136, -1, 'rwm', true)), 'c 136:* rwm');
  t.equal(ruleText(rule('a', -1, -1, 'rwm', false)), 'a *:* rwm');
});

t.test('device state: v1 transitions and the emulator rules', async (t) => {
  const target = DeviceState.fromRules(containerDeviceRules([{ allow: false, access: 'rwm' }]));
  t.equal(target.defaultAllow, false);
  const fresh = DeviceState.fromList('a *:* rwm\n');
  t.equal(fresh.defaultAllow, true, 'a new cgroup under an unrestricted parent allows everything');
  const steps = fresh.transition(target).map((r) => `${r.allow ? 'allow' : 'deny'} ${ruleText(r)}`);
  t.same(
    steps,
    ['deny a *:* rwm', ...DEFAULT_ALLOWED_DEVICES.map((d) => `allow ${ruleText(d)}`)],
    'reset to deny-all, then the exceptions in the order the rules gave them (devices.list keeps it)',
  );
  // What the kernel lists afterwards reads back as the same state.
  const list = steps.slice(1).map((s) => s.replace(/^allow /, '')).join('\n') + '\n';
  t.ok(DeviceState.fromList(list).equals(target), 'devices.list round trip');
  // Already there: nothing to write. One access less: only that is denied.
  t.same(DeviceState.fromList(list).transition(target), [], 'no-op transition');
  const narrower = DeviceState.fromRules([rule('a', -1, -1, 'rwm', false), rule('c', 1, 3, 'rw', true)]);
  t.same(DeviceState.fromList('c 1:3 rwm\nc 1:5 rwm\n').transition(narrower), [rule('c', 1, 3, 'm', false), rule('c', 1, 5, 'rwm', false)]);
  // Allow-list mode target from a black-list config.
  const black = DeviceState.fromRules([rule('a', -1, -1, 'rwm', true), rule('b', 8, -1, 'rw', false)]);
  t.same(DeviceState.fromList('c 1:3 rwm\n').transition(black), [rule('a', -1, -1, 'rwm', true), rule('b', 8, -1, 'rw', false)]);
  // Punching a hole into a wildcard exception is refused, as by runc and the v1 kernel.
  t.throws(
    () => DeviceState.fromRules([rule('a', -1, -1, 'rwm', false), rule('c', -1, -1, 'rwm', true), rule('c', 1, 3, 'r', false)]),
    /punch a hole in the wildcard rule "c \*:\* rwm"/,
  );
  t.throws(() => DeviceState.fromRules([rule('a', -1, -1, 'rwm', false), rule('c', 1, -1, 'r', true), rule('c', 1, 3, 'rw', false)]), RuntimeError);
  // Removing part of an exact exception is fine.
  const s = DeviceState.fromRules([rule('a', -1, -1, 'rwm', false), rule('c', 1, 3, 'rwm', true), rule('c', 1, 3, 'w', false)]);
  t.same(s.sortedExceptions(), [{ type: 'c', major: 1, minor: 3, access: 'rm' }]);
});

const PROLOGUE = ['r2 = *(u32 *)(r1 + 0)', 'w2 &= 0xffff', 'r3 = *(u32 *)(r1 + 0)', 'w3 >>= 16', 'r4 = *(u32 *)(r1 + 4)', 'r5 = *(u32 *)(r1 + 8)'];

t.test('eBPF device filter: instructions for a few rule sets', async (t) => {
  const deny = deviceFilter([rule('a', -1, -1, 'rwm', false)]);
  t.same(disassemble(deny.insns), [...PROLOGUE, 'w0 = 0', 'exit'], 'deny all: prologue, return 0');
  t.equal(deny.defaultAllow, false);

  const allow = deviceFilter([rule('a', -1, -1, 'rwm', true)]);
  t.same(disassemble(allow.insns), [...PROLOGUE, 'w0 = 1', 'exit'], 'allow all: prologue, return 1');

  const one = deviceFilter([rule('a', -1, -1, 'rwm', false), rule('c', 1, 3, 'rwm', true)]);
  t.same(
    disassemble(one.insns),
    [...PROLOGUE, 'if r2 != 2 goto +4', 'if r4 != 1 goto +3', 'if r5 != 3 goto +2', 'w0 = 1', 'exit', 'w0 = 0', 'exit'],
    'one char device, all accesses: type, major, minor checks (no access check for rwm)',
  );
  t.same(one.insns[6], { code: OP.JNE_K, dst: 2, src: 0, off: 4, imm: 2 }, 'instruction fields');
  t.equal(encodeInsns(one.insns).subarray(6 * 8, 7 * 8).toString('hex'), '5502040002000000', 'struct bpf_insn encoding (code, dst|src<<4, off, imm)');
  t.equal(encodeInsns(one.insns).subarray(0, 8).toString('hex'), '6112000000000000', 'r2 = *(u32 *)(r1 + 0)');

  const partial = deviceFilter([rule('a', -1, -1, 'rwm', false), rule('b', -1, -1, 'm', true), rule('c', 5, -1, 'rw', true)]);
  t.same(
    disassemble(partial.insns),
    [
      ...PROLOGUE,
      // b *:* m: type and access only
      'if r2 != 1 goto +5',
      'w1 = w3',
      'w1 &= 0x1',
      'if r1 != r3 goto +2',
      'w0 = 1',
      'exit',
      // c 5:* rw: type, access, major
      'if r2 != 2 goto +6',
      'w1 = w3',
      'w1 &= 0x6',
      'if r1 != r3 goto +3',
      'if r4 != 5 goto +2',
      'w0 = 1',
      'exit',
      'w0 = 0',
      'exit',
    ],
    'wildcards skip their check; partial access masks the request',
  );

  const black = deviceFilter([rule('a', -1, -1, 'rwm', true), rule('b', 8, 0, 'w', false)]);
  t.same(
    disassemble(black.insns),
    [...PROLOGUE, 'if r2 != 1 goto +7', 'w1 = w3', 'w1 &= 0x4', 'if r1 != r3 goto +4', 'if r4 != 8 goto +3', 'if r5 != 0 goto +2', 'w0 = 0', 'exit', 'w0 = 1', 'exit'],
    'deny-list: the exception returns 0, the default 1',
  );

  const defaults = deviceFilter(containerDeviceRules([{ allow: false, access: 'rwm' }]));
  t.equal(defaults.insns.length, 6 + 2 * 6 + 8 * 5 + 4 + 2, "runc's default list: 2 mknod blocks, 8 exact devices, one major-only block, the default");
  t.equal(disassemble(defaults.insns).filter((l) => l === 'w0 = 1').length, 11, 'one allow exit per exception');
});

t.test('eBPF device filter: decisions (interpreted)', async (t) => {
  const f = deviceFilter(containerDeviceRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: 7, minor: 0, access: 'r' }])).insns;
  const cases: Array<['b' | 'c', number, number, string, boolean]> = [
    ['c', 1, 3, 'rw', true], // /dev/null
    ['c', 1, 3, 'm', true],
    ['c', 1, 1, 'r', false], // /dev/mem
    ['c', 1, 1, 'm', true], // mknod of any char device
    ['c', 136, 7, 'rw', true], // a pty
    ['c', 137, 7, 'rw', false],
    ['b', 7, 0, 'r', true],
    ['b', 7, 0, 'w', false],
    ['b', 7, 0, 'rw', false], // a request needs all its accesses allowed
    ['b', 7, 1, 'r', false],
    ['b', 8, 0, 'm', true],
    ['b', 8, 0, 'r', false],
  ];
  for (const [type, major, minor, access, want] of cases) {
    t.equal(runFilter(f, type, major, minor, access), want, `${type} ${major}:${minor} ${access} → ${want ? 'allow' : 'deny'}`);
  }
});

t.test('stats JSON: runc field names, omitempty, exact 64-bit numbers', async (t) => {
  const s = emptyStats();
  s.pids = { current: 3n, limit: 0n };
  s.memory.usage = { limit: (1n << 64n) - 1n, usage: 1234n, max: 0n, failcnt: 0n };
  s.memory.raw = { file: 0n, anon: 5n };
  s.cpu.usage = { total: 10n, kernel: 0n, user: 0n };
  s.hugetlb['2MB'] = { usage: 0n, failcnt: 0n };
  s.blkio.ioServiceBytesRecursive = [{ major: 8n, minor: 0n, op: 'Read', value: 0n }];
  const data = JSON.parse(statsJSON(s));
  t.same(Object.keys(data), ['cpu', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'intel_rdt', 'network_interfaces']);
  t.same(data.cpu, { usage: { total: 10, kernel: 0, user: 0 } }, 'empty throttling left out, kernel/user always there');
  t.same(data.pids, { current: 3 }, 'zero limit left out');
  t.same(data.hugetlb, { '2MB': { failcnt: 0 } });
  t.same(data.blkio, { ioServiceBytesRecursive: [{ major: 8, op: 'Read' }] }, 'Go omits minor 0 and value 0 too');
  t.same(data.memory.raw, { anon: 5, file: 0 }, 'map entries are never omitted');
  t.match(statsJSON(s), /"usage":\{"limit":18446744073709551615,"usage":1234,"failcnt":0\}/, '2^64-1 written exactly');
  t.equal(data.network_interfaces, null);
  t.equal(eventJSON('oom', 'c1'), '{"type":"oom","id":"c1"}');
  t.match(eventJSON('stats', 'c1', s), /^\{"type":"stats","id":"c1","data":\{"cpu":/);
});

t.test('stats parsers', async (t) => {
  t.same(parseBlkioV1('8:0 Read 1282048\n8:0 Write 2195456\nTotal 3477504\n'), [
    { major: 8n, minor: 0n, op: 'Read', value: 1282048n },
    { major: 8n, minor: 0n, op: 'Write', value: 2195456n },
  ]);
  t.same(parseBlkioV1('8:0 6792\n'), [{ major: 8n, minor: 0n, value: 6792n }], 'sectors: no op');
  const io = parseIoStatV2('254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n');
  t.same(io.bytes, [
    { major: 254n, minor: 0n, op: 'Read', value: 10n },
    { major: 254n, minor: 0n, op: 'Write', value: 20n },
  ]);
  t.same(io.ios.map((e) => e.value), [1n, 2n]);
  t.same(parseCpuList('0-2,5\n'), [0, 1, 2, 5]);
  t.equal(parseCpuList(''), undefined);
});

t.test('update: flag parsing and merging like runc update', async (t) => {
  t.equal(ramInBytes('64m'), 64 * 1024 * 1024);
  t.equal(ramInBytes('1.5g'), 1.5 * 1024 ** 3);
  t.equal(ramInBytes('512KiB'), 512 * 1024);
  t.equal(ramInBytes('1000'), 1000);
  t.equal(ramInBytes('2 MB'), 2 * 1024 * 1024);
  t.throws(() => ramInBytes('lots'), /invalid size/);
  const r = resourcesFromFlags({ memory: '64m', memorySwap: '-1', cpuShare: '512', cpuQuota: '-1', pidsLimit: 0, blkioWeight: 300, cpusetCpus: '0-1' });
  t.same(r, { memory: { limit: 64 << 20, swap: -1 }, cpu: { shares: 512, quota: -1, cpus: '0-1' }, blockIO: { weight: 300 }, pids: { limit: 0 } });
  t.throws(() => resourcesFromFlags({ cpuPeriod: '1.5' }), /invalid value for cpu-period/);

  const stored = {
    memory: { limit: 100, swap: 200, reservation: 50 },
    cpu: { shares: 1024, quota: 20000, period: 100000 },
    blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 10 }] },
    pids: { limit: 10 },
    hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
  };
  const merged = mergeResources(stored, {
    memory: { limit: 300 },
    cpu: { period: 50000 },
    blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 20 }, { major: 8, minor: 16, rate: 30 }] },
  });
  t.same(merged.memory, { limit: 300, swap: 200, reservation: 50 }, 'given values replace, others stay');
  t.same(merged.cpu, { shares: 1024, quota: 20000, period: 50000 });
  t.same(merged.blockIO!.throttleReadBpsDevice, [{ major: 8, minor: 0, rate: 20 }, { major: 8, minor: 16, rate: 30 }], 'per-device upsert');
  t.same(merged.pids, { limit: 10 });
  t.same(merged.hugepageLimits, stored.hugepageLimits, 'untouched sections stay');
  t.same(stored.memory, { limit: 100, swap: 200, reservation: 50 }, 'stored resources not modified');
  t.same(mergeResources(stored, { memory: { limit: -1 } }).memory!.swap, 0, '--memory -1 without a swap value resets swap');
  t.notOk(mergeResources(stored, { cpu: { idle: 1 } }).cpu!.shares, 'idle without shares drops shares');
  t.throws(() => mergeResources(stored, { devices: [{ allow: true, access: 'rwm' }] }), /devices cannot be changed by update/);
  t.throws(() => mergeResources(stored, { hugepageLimits: [{ pageSize: '2MB', limit: 1 }] }), /hugepageLimits cannot be changed/);
});

t.test('events: Go durations', async (t) => {
  t.equal(parseDuration('5s'), 5000);
  t.equal(parseDuration('100ms'), 100);
  t.equal(parseDuration('1m30s'), 90000);
  t.equal(parseDuration('1.5h'), 5400000);
  t.equal(parseDuration('250us'), 0.25);
  t.equal(parseDuration('0'), 0);
  t.throws(() => parseDuration('5'), /invalid duration/);
  t.throws(() => parseDuration('fast'), /invalid duration/);
  t.throws(() => parseDuration(''), /invalid duration/);
});
