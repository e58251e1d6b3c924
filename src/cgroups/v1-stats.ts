/**
 * Usage counters of a cgroup on v1 hierarchies (v1 and hybrid hosts), as runc's fs driver reads
 * them (GetStats), in runc's events shape; on hybrid hosts hugetlb may come from the cgroup2
 * directory.
 */
import type { V1Context } from './v1-resources';
import { readControl } from './cgroup-fs';
import { hugetlbStatsV2 } from './v2-resources';
import { hostHugePageSizes } from './detect';
import { BlkioEntry, emptyStats, MAX_UINT64, parseBlkioV1, parseCounter, parseCpuList, parseKeyValues, parseNumberList, Stats } from './stats';

const CLOCK_TICKS = 100n; // USER_HZ on every Linux architecture runc supports

function memoryEntryV1(dir: string, prefix: string): { limit: bigint; usage?: bigint; max?: bigint; failcnt: bigint } | undefined {
  const usage = parseCounter(readControl(dir, `${prefix}.usage_in_bytes`));
  if (usage === undefined) return undefined;
  return {
    usage,
    max: parseCounter(readControl(dir, `${prefix}.max_usage_in_bytes`)) ?? 0n,
    failcnt: parseCounter(readControl(dir, `${prefix}.failcnt`)) ?? 0n,
    limit: parseCounter(readControl(dir, `${prefix}.limit_in_bytes`)) ?? 0n,
  };
}

function blkioFirst(dir: string, names: string[]): BlkioEntry[] | undefined {
  for (const name of names) {
    const text = readControl(dir, name);
    if (text !== undefined) {
      const entries = parseBlkioV1(text);
      return entries.length ? entries : undefined;
    }
  }
  return undefined;
}

export function statsV1(ctx: V1Context): Stats {
  const s = emptyStats();
  const p = ctx.paths;
  // cpu / cpuacct
  if (p.cpuacct) {
    const stat = parseKeyValues(readControl(p.cpuacct, 'cpuacct.stat'));
    const ns = (ticks: bigint | undefined) => ((ticks ?? 0n) * 1_000_000_000n) / CLOCK_TICKS;
    const percpuKernel: bigint[] = [];
    const percpuUser: bigint[] = [];
    for (const line of (readControl(p.cpuacct, 'cpuacct.usage_all') ?? '').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length === 3 && /^\d+$/.test(f[1])) {
        percpuUser.push(BigInt(f[1]));
        percpuKernel.push(BigInt(f[2]));
      }
    }
    s.cpu.usage = {
      total: parseCounter(readControl(p.cpuacct, 'cpuacct.usage')) ?? 0n,
      percpu: parseNumberList(readControl(p.cpuacct, 'cpuacct.usage_percpu')),
      percpu_kernel: percpuKernel,
      percpu_user: percpuUser,
      kernel: ns(stat.system),
      user: ns(stat.user),
    };
  }
  if (p.cpu) {
    const stat = parseKeyValues(readControl(p.cpu, 'cpu.stat'));
    s.cpu.throttling = { periods: stat.nr_periods, throttledPeriods: stat.nr_throttled, throttledTime: stat.throttled_time };
  }
  // cpuset
  if (p.cpuset) {
    const px = ctx.cpusetPrefix;
    const u = (name: string) => parseCounter(readControl(p.cpuset, px + name)) ?? 0n;
    s.cpuset = {
      cpus: parseCpuList(readControl(p.cpuset, px + 'cpus')),
      cpu_exclusive: u('cpu_exclusive'),
      mems: parseCpuList(readControl(p.cpuset, px + 'mems')),
      mem_hardwall: u('mem_hardwall'),
      mem_exclusive: u('mem_exclusive'),
      memory_migrate: u('memory_migrate'),
      memory_spread_page: u('memory_spread_page'),
      memory_spread_slab: u('memory_spread_slab'),
      memory_pressure: u('memory_pressure'),
      sched_load_balance: u('sched_load_balance'),
      sched_relax_domain_level: BigInt((readControl(p.cpuset, px + 'sched_relax_domain_level') ?? '0').trim() || '0'),
    };
  }
  // memory
  if (p.memory) {
    const raw = parseKeyValues(readControl(p.memory, 'memory.stat'));
    if (Object.keys(raw).length) s.memory.raw = raw;
    s.memory.cache = raw.cache ?? 0n;
    s.memory.usage = memoryEntryV1(p.memory, 'memory');
    s.memory.swap = memoryEntryV1(p.memory, 'memory.memsw');
    s.memory.kernel = memoryEntryV1(p.memory, 'memory.kmem');
    s.memory.kernelTCP = memoryEntryV1(p.memory, 'memory.kmem.tcp');
  }
  // pids
  if (p.pids) {
    const max = parseCounter(readControl(p.pids, 'pids.max'));
    s.pids = { current: parseCounter(readControl(p.pids, 'pids.current')), limit: max === MAX_UINT64 ? 0n : max };
  }
  // blkio: CFQ's counters, else BFQ's, else the throttling layer's (what runc falls back to)
  if (p.blkio) {
    s.blkio.ioServiceBytesRecursive = blkioFirst(p.blkio, ['blkio.io_service_bytes_recursive', 'blkio.bfq.io_service_bytes_recursive', 'blkio.throttle.io_service_bytes_recursive']);
    s.blkio.ioServicedRecursive = blkioFirst(p.blkio, ['blkio.io_serviced_recursive', 'blkio.bfq.io_serviced_recursive', 'blkio.throttle.io_serviced_recursive']);
    s.blkio.ioQueueRecursive = blkioFirst(p.blkio, ['blkio.io_queued_recursive']);
    s.blkio.ioServiceTimeRecursive = blkioFirst(p.blkio, ['blkio.io_service_time_recursive']);
    s.blkio.ioWaitTimeRecursive = blkioFirst(p.blkio, ['blkio.io_wait_time_recursive']);
    s.blkio.ioMergedRecursive = blkioFirst(p.blkio, ['blkio.io_merged_recursive']);
    s.blkio.ioTimeRecursive = blkioFirst(p.blkio, ['blkio.time_recursive']);
    s.blkio.sectorsRecursive = blkioFirst(p.blkio, ['blkio.sectors_recursive']);
  }
  // hugetlb
  if (p.hugetlb) {
    for (const size of hostHugePageSizes()) {
      const usage = parseCounter(readControl(p.hugetlb, `hugetlb.${size}.usage_in_bytes`));
      if (usage === undefined) continue;
      s.hugetlb[size] = {
        usage,
        max: parseCounter(readControl(p.hugetlb, `hugetlb.${size}.max_usage_in_bytes`)),
        failcnt: parseCounter(readControl(p.hugetlb, `hugetlb.${size}.failcnt`)) ?? 0n,
      };
    }
  } else if (p['']) {
    hugetlbStatsV2(p[''], s);
  }
  return s;
}

/** OOM kills so far ("oom_kill N" in memory.oom_control, Linux 4.13+); undefined without memory. */
export function oomKillCountV1(paths: Readonly<Record<string, string>>): number | undefined {
  if (!paths.memory) return undefined;
  const text = readControl(paths.memory, 'memory.oom_control');
  if (text === undefined) return undefined;
  return Number(parseKeyValues(text).oom_kill ?? 0n);
}
