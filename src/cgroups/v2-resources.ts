/**
 * linux.resources on a cgroup v2 directory, with runc's conversions (fs2): pids.max, memory.max /
 * memory.swap.max / memory.low, io.weight or io.bfq.weight / io.max, cpu.weight / cpu.max /
 * cpu.max.burst / cpu.idle, cpuset.cpus / cpuset.mems, hugetlb.<size>.max (+ .rsvd.max),
 * rdma.max, the `unified` key/values, and devices as an eBPF filter.
 *
 * The resources have passed the plan's rules (src/plan/rules/resources.ts): no v1-only field,
 * every controller offered by this host. What fails here is what only the live cgroup can
 * refuse: a controller not enabled for this directory, a value the kernel does not take.
 *
 * Also used by the v1 driver on hybrid hosts for the controllers bound to the cgroup2 mount
 * (hugetlb here) and for `unified` keys of those controllers.
 */
import fs from 'fs';
import path from 'path';
import { RuntimeError } from '../errors';
import type { HugepageLimit, LinuxResources } from '../generated/config';
import { ApplyOptions } from './common';
import { errCode, hasFile, readControl, writeCgroupFile, writeError } from './cgroup-fs';
import { containerDeviceRules } from './devices';
import { deviceFilter } from './ebpf';
import {
  blkioWeightToIoWeight,
  cpuMax,
  fieldError,
  intText,
  ioMaxLine,
  memorySwapToV2,
  pidsMax,
  rdmaLine,
  sharesToWeight,
  unifiedController,
  v2Limit,
} from './resources';
import { emptyStats, MAX_UINT64, parseCounter, parseIoStatV2, parseKeyValues, Stats } from './stats';
import { hostHugePageSizes } from './detect';

/** Controllers enabled for dir (its cgroup.controllers). */
export function controllersOf(dir: string): string[] {
  return (readControl(dir, 'cgroup.controllers') ?? '').split(/\s+/).filter(Boolean);
}

/**
 * A writer for one v2 directory that explains a missing file by the controller not enabled
 * there: "the pids controller is not available for cgroup <dir> (it has: cpu memory)".
 */
class V2Writer {
  private controllers?: string[];
  constructor(readonly dir: string) {}

  has(controller: string): boolean {
    this.controllers ??= controllersOf(this.dir);
    return this.controllers.includes(controller);
  }

  write(file: string, value: string, field: string): void {
    try {
      writeCgroupFile(path.join(this.dir, file), value);
    } catch (e) {
      const controller = unifiedController(file);
      if (errCode(e) === 'ENOENT' && controller && controller !== 'cgroup' && !this.has(controller) && fs.existsSync(this.dir)) {
        throw fieldError(field, this.missing(controller));
      }
      throw writeError(e, this.dir, file, value, field);
    }
  }

  missing(controller: string): string {
    this.controllers ??= controllersOf(this.dir);
    return `the ${controller} controller is not available for cgroup ${this.dir} (it has: ${this.controllers.join(' ') || 'none'})`;
  }
}

/** Apply r to the cgroup v2 directory dir (pure v2 hosts). */
export function applyV2(dir: string, r: LinuxResources, opts: ApplyOptions = {}): void {
  const w = new V2Writer(dir);

  // pids
  if (r.pids?.limit !== undefined) w.write('pids.max', pidsMax(r.pids.limit), 'pids.limit');

  // memory
  const m = r.memory;
  if (m && (m.limit || m.swap || m.reservation)) {
    const limit = m.limit ?? 0;
    if (m.checkBeforeUpdate && (limit > 0 || (m.swap ?? 0) > 0)) {
      const usage = parseCounter(readControl(dir, 'memory.current'));
      if (usage !== undefined) {
        if ((m.swap ?? 0) > 0 && BigInt(m.swap!) <= usage) throw fieldError('memory.swap', `rejecting memory+swap limit ${m.swap} <= usage ${usage}`);
        if (limit > 0 && BigInt(limit) <= usage) throw fieldError('memory.limit', `rejecting memory limit ${limit} <= usage ${usage}`);
      }
    }
    const swap = memorySwapToV2(m.swap ?? 0, limit);
    let swapText = v2Limit(swap);
    if (swapText === '' && swap === 0 && (m.swap ?? 0) > 0) swapText = '0'; // memory == memory+swap: no swap at all
    if (swapText !== '') {
      try {
        writeCgroupFile(path.join(dir, 'memory.swap.max'), swapText);
      } catch (e) {
        // No swap accounting: "no swap" and "unlimited swap" need nothing, a real limit does.
        if (!(errCode(e) === 'ENOENT' && (swapText === 'max' || swapText === '0'))) w.write('memory.swap.max', swapText, 'memory.swap');
      }
    }
    const limitText = v2Limit(limit);
    if (limitText !== '') w.write('memory.max', limitText, 'memory.limit');
    const low = v2Limit(m.reservation ?? 0);
    if (low !== '') w.write('memory.low', low, 'memory.reservation');
  }

  // io
  applyIoV2(w, r);

  // cpu
  const c = r.cpu;
  if (c) {
    if (c.idle !== undefined) w.write('cpu.idle', intText(c.idle), 'cpu.idle');
    if (c.shares) w.write('cpu.weight', String(sharesToWeight(c.shares)), 'cpu.shares');
    let burstLater: string | undefined;
    if (c.burst !== undefined) {
      const burst = intText(c.burst);
      try {
        w.write('cpu.max.burst', burst, 'cpu.burst');
      } catch (e) {
        // The burst may not fit the current quota yet: write it again after cpu.max.
        if (!(/EINVAL/.test((e as Error).message) && c.quota)) throw e;
        burstLater = burst;
      }
    }
    if (c.quota || c.period) {
      w.write('cpu.max', cpuMax(c.quota, c.period), c.quota ? 'cpu.quota' : 'cpu.period');
      if (burstLater !== undefined) w.write('cpu.max.burst', burstLater, 'cpu.burst');
    }
  }

  // devices
  if (!opts.update && !opts.skipDevices) {
    const rules = containerDeviceRules(r.devices, opts.linuxDevicePaths);
    const filter = deviceFilter(rules);
    const { attachDeviceFilter } = require('./bpf') as typeof import('./bpf');
    try {
      attachDeviceFilter(dir, filter.insns);
    } catch (e) {
      throw new RuntimeError(`linux.resources.devices: ${(e as Error).message}`);
    }
  }

  // cpuset
  if (c?.cpus) w.write('cpuset.cpus', c.cpus, 'cpu.cpus');
  if (c?.mems) w.write('cpuset.mems', c.mems, 'cpu.mems');

  // hugetlb
  if (r.hugepageLimits?.length) applyHugetlbV2(w, r.hugepageLimits);

  // rdma
  for (const [device, limits] of Object.entries(r.rdma ?? {})) w.write('rdma.max', rdmaLine(device, limits), `rdma["${device}"]`);

  // unified, last: it may override what the fields above wrote (as in runc).
  for (const [key, value] of Object.entries(r.unified ?? {})) writeUnified(w, key, value);
}

function applyIoV2(w: V2Writer, r: LinuxResources): void {
  const b = r.blockIO;
  if (!b) return;
  if (b.weight || b.weightDevice?.some((d) => d.weight)) {
    // BFQ's io.bfq.weight takes blkio's 10..1000 scale as is; io.weight (the cost model) its own.
    const bfq = hasFile(w.dir, 'io.bfq.weight');
    if (b.weight) {
      if (bfq) w.write('io.bfq.weight', String(b.weight), 'blockIO.weight');
      else if (hasFile(w.dir, 'io.weight')) w.write('io.weight', String(blkioWeightToIoWeight(b.weight)), 'blockIO.weight');
      else throw fieldError('blockIO.weight', w.has('io') ? `neither io.bfq.weight (BFQ scheduler) nor io.weight (io cost model) exists in ${w.dir}` : w.missing('io'));
    }
    const devices = (b.weightDevice ?? []).filter((d) => d.weight);
    if (devices.length) {
      // io.bfq.weight accepts "major:minor weight" lines only on kernels whose file shows "default N".
      const text = readControl(w.dir, 'io.bfq.weight');
      if (!bfq || text === undefined || /^\s*\d+\s*$/.test(text)) {
        throw fieldError('blockIO.weightDevice', `per-device weights need the BFQ I/O scheduler's io.bfq.weight with per-device support (${w.dir})`);
      }
      for (const d of devices) w.write('io.bfq.weight', `${intText(d.major)}:${intText(d.minor)} ${d.weight}`, 'blockIO.weightDevice');
    }
  }
  const throttle: Array<['rbps' | 'wbps' | 'riops' | 'wiops', 'throttleReadBpsDevice' | 'throttleWriteBpsDevice' | 'throttleReadIOPSDevice' | 'throttleWriteIOPSDevice']> = [
    ['rbps', 'throttleReadBpsDevice'],
    ['wbps', 'throttleWriteBpsDevice'],
    ['riops', 'throttleReadIOPSDevice'],
    ['wiops', 'throttleWriteIOPSDevice'],
  ];
  for (const [key, field] of throttle) {
    (b[field] ?? []).forEach((d, i) => w.write('io.max', ioMaxLine(key, d.major, d.minor, d.rate), `blockIO.${field}[${i}]`));
  }
}

/** hugetlb.<size>.max and, where the kernel has it, hugetlb.<size>.rsvd.max (runc's order and rule). */
function applyHugetlbV2(w: V2Writer, limits: HugepageLimit[]): void {
  let rsvd = true;
  limits.forEach((l, i) => {
    const field = `hugepageLimits[${i}]`;
    const value = intText(l.limit);
    w.write(`hugetlb.${l.pageSize}.max`, value, field);
    if (!rsvd) return;
    try {
      writeCgroupFile(path.join(w.dir, `hugetlb.${l.pageSize}.rsvd.max`), value);
    } catch (e) {
      if (errCode(e) === 'ENOENT') rsvd = false;
      else w.write(`hugetlb.${l.pageSize}.rsvd.max`, value, field);
    }
  });
}

/** One `unified` key: written line by line like runc's WriteFileByLine, errors explained. */
function writeUnified(w: V2Writer, key: string, value: string): void {
  for (const line of value.split('\n')) {
    if (line === '' && value !== '') continue;
    w.write(key, line, `unified["${key}"]`);
  }
}

/**
 * Hybrid hosts: hugepage limits and `unified` keys for the controllers bound to the cgroup2
 * mount, written into the container's cgroup2 directory (the controllers are enabled down the
 * path first).
 */
export function applyHybridUnified(dir: string, r: LinuxResources, enable: (controllers: string[]) => void): void {
  const needed = new Set(Object.keys(r.unified ?? {}).map(unifiedController).filter((c): c is string => c !== undefined && c !== 'cgroup'));
  if (r.hugepageLimits?.length) needed.add('hugetlb');
  if (needed.size === 0 && !Object.keys(r.unified ?? {}).length) return;
  enable([...needed]);
  const w = new V2Writer(dir);
  if (r.hugepageLimits?.length) applyHugetlbV2(w, r.hugepageLimits);
  for (const [key, value] of Object.entries(r.unified ?? {})) writeUnified(w, key, value);
}

// ---------------------------------------------------------------------------------------------
// Stats (runc fs2 GetStats, in runc's events shape).

function entryV2(dir: string, prefix: 'memory' | 'memory.swap'): { usage?: bigint; limit?: bigint; max?: bigint } {
  return {
    usage: parseCounter(readControl(dir, `${prefix}.current`)),
    limit: parseCounter(readControl(dir, `${prefix}.max`)),
    max: parseCounter(readControl(dir, `${prefix}.peak`)),
  };
}

/** Hugetlb usage of a cgroup2 directory for each host page size. */
export function hugetlbStatsV2(dir: string, stats: Stats): void {
  for (const size of hostHugePageSizes()) {
    const usage = parseCounter(readControl(dir, `hugetlb.${size}.rsvd.current`)) ?? parseCounter(readControl(dir, `hugetlb.${size}.current`));
    if (usage === undefined) continue;
    const events = parseKeyValues(readControl(dir, `hugetlb.${size}.events`));
    stats.hugetlb[size] = { usage, failcnt: events.max ?? 0n };
  }
}

export function statsV2(dir: string): Stats {
  const s = emptyStats();
  if (!fs.existsSync(dir)) throw new RuntimeError(`cgroup ${dir} does not exist`);
  // pids
  const current = parseCounter(readControl(dir, 'pids.current'));
  if (current !== undefined) {
    const max = parseCounter(readControl(dir, 'pids.max'));
    s.pids = { current, limit: max === MAX_UINT64 ? 0n : max };
  } else {
    s.pids = { current: BigInt((readControl(dir, 'cgroup.procs') ?? '').split('\n').filter(Boolean).length) };
  }
  // memory
  const raw = parseKeyValues(readControl(dir, 'memory.stat'));
  if (Object.keys(raw).length) {
    s.memory.raw = raw;
    s.memory.cache = raw.file ?? 0n;
  }
  const mem = entryV2(dir, 'memory');
  if (mem.usage !== undefined) {
    s.memory.usage = { usage: mem.usage, limit: mem.limit ?? MAX_UINT64, max: mem.max, failcnt: 0n };
    const swap = entryV2(dir, 'memory.swap');
    if (swap.usage !== undefined) {
      let limit = swap.limit ?? MAX_UINT64;
      if (limit !== MAX_UINT64 && s.memory.usage.limit !== MAX_UINT64) limit += s.memory.usage.limit;
      else limit = MAX_UINT64;
      s.memory.swap = { usage: swap.usage + mem.usage, limit, failcnt: 0n };
    }
  }
  // io
  const io = parseIoStatV2(readControl(dir, 'io.stat'));
  if (io.bytes.length) s.blkio.ioServiceBytesRecursive = io.bytes;
  if (io.ios.length) s.blkio.ioServicedRecursive = io.ios;
  // cpu
  const cpu = parseKeyValues(readControl(dir, 'cpu.stat'));
  if (Object.keys(cpu).length) {
    s.cpu.usage = {
      total: (cpu.usage_usec ?? 0n) * 1000n,
      user: (cpu.user_usec ?? 0n) * 1000n,
      kernel: (cpu.system_usec ?? 0n) * 1000n,
    };
    s.cpu.throttling = {
      periods: cpu.nr_periods,
      throttledPeriods: cpu.nr_throttled,
      throttledTime: cpu.throttled_usec === undefined ? undefined : cpu.throttled_usec * 1000n,
    };
  }
  hugetlbStatsV2(dir, s);
  return s;
}

/** OOM kills so far (memory.events oom_kill); undefined without the memory controller. */
export function oomKillCountV2(dir: string): number | undefined {
  const text = readControl(dir, 'memory.events');
  if (text === undefined) return undefined;
  return Number(parseKeyValues(text).oom_kill ?? 0n);
}

