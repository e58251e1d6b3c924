/**
 * Container statistics in the shape of runc's `events` output (runc/types/events.go), which
 * containerd and other callers decode. Counters are bigint: several are 64-bit values beyond
 * 2^53 (an unlimited v2 limit is 2^64-1), and toJSONText writes them as exact decimal numbers.
 *
 * The readers here work on the text of control files; the drivers pick the files.
 */

export interface MemoryEntry {
  limit: bigint;
  usage?: bigint;
  max?: bigint;
  failcnt: bigint;
}

export interface BlkioEntry {
  major?: bigint;
  minor?: bigint;
  op?: string;
  value?: bigint;
}

export interface Stats {
  cpu: {
    usage?: {
      total?: bigint;
      percpu?: bigint[];
      percpu_kernel?: bigint[];
      percpu_user?: bigint[];
      kernel: bigint;
      user: bigint;
    };
    throttling?: { periods?: bigint; throttledPeriods?: bigint; throttledTime?: bigint };
  };
  cpuset: {
    cpus?: number[];
    cpu_exclusive: bigint;
    mems?: number[];
    mem_hardwall: bigint;
    mem_exclusive: bigint;
    memory_migrate: bigint;
    memory_spread_page: bigint;
    memory_spread_slab: bigint;
    memory_pressure: bigint;
    sched_load_balance: bigint;
    sched_relax_domain_level: bigint;
  };
  memory: {
    cache?: bigint;
    usage?: MemoryEntry;
    swap?: MemoryEntry;
    kernel?: MemoryEntry;
    kernelTCP?: MemoryEntry;
    raw?: Record<string, bigint>;
  };
  pids: { current?: bigint; limit?: bigint };
  blkio: {
    ioServiceBytesRecursive?: BlkioEntry[];
    ioServicedRecursive?: BlkioEntry[];
    ioQueueRecursive?: BlkioEntry[];
    ioServiceTimeRecursive?: BlkioEntry[];
    ioWaitTimeRecursive?: BlkioEntry[];
    ioMergedRecursive?: BlkioEntry[];
    ioTimeRecursive?: BlkioEntry[];
    sectorsRecursive?: BlkioEntry[];
  };
  hugetlb: Record<string, { usage?: bigint; max?: bigint; failcnt: bigint }>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

export function emptyStats(): Stats {
  return {
    cpu: {},
    cpuset: {
      cpu_exclusive: 0n,
      mem_hardwall: 0n,
      mem_exclusive: 0n,
      memory_migrate: 0n,
      memory_spread_page: 0n,
      memory_spread_slab: 0n,
      memory_pressure: 0n,
      sched_load_balance: 0n,
      sched_relax_domain_level: 0n,
    },
    memory: {},
    pids: {},
    blkio: {},
    hugetlb: {},
    intel_rdt: {},
    network_interfaces: null,
  };
}

export const MAX_UINT64 = (1n << 64n) - 1n;

/** A cgroup counter: "123" → 123n, "max" → 2^64-1 (what runc reports for unlimited); undefined for junk. */
export function parseCounter(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === 'max') return MAX_UINT64;
  if (/^-?\d+$/.test(t)) {
    const v = BigInt(t);
    return v < 0n ? 0n : v;
  }
  return undefined;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events) → map. */
export function parseKeyValues(text: string | undefined): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out[m[1]] = BigInt(m[2]);
  }
  return out;
}

/** Space separated numbers (cpuacct.usage_percpu). */
export function parseNumberList(text: string | undefined): bigint[] {
  return (text ?? '')
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map((s) => BigInt(s));
}

/** A cpuset list ("0-3,7") → [0,1,2,3,7]. */
export function parseCpuList(text: string | undefined): number[] | undefined {
  const t = (text ?? '').trim();
  if (t === '') return undefined;
  const out: number[] = [];
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let i = from; i <= to; i++) out.push(i);
  }
  return out;
}

/**
 * v1 blkio files ("8:0 Read 1282048" lines, a "Total N" line) → entries, as runc's getBlkioStat.
 * Two-field lines ("8:0 6792", blkio.sectors) have no op.
 */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/[\s:]+/).filter(Boolean);
    if (f.length < 3) continue; // "Total N" or empty
    if (!/^\d+$/.test(f[0]) || !/^\d+$/.test(f[1])) continue;
    const entry: BlkioEntry = { major: BigInt(f[0]), minor: BigInt(f[1]) };
    if (f.length === 4) {
      entry.op = f[2];
      entry.value = BigInt(f[3]);
    } else entry.value = BigInt(f[2]);
    out.push(entry);
  }
  return out;
}

/** v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") → runc's v1-shaped entries. */
export function parseIoStatV2(text: string | undefined): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const parts = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(parts[0] ?? '');
    if (!dev) continue;
    const major = BigInt(dev[1]);
    const minor = BigInt(dev[2]);
    for (const kv of parts.slice(1)) {
      const [k, v] = kv.split('=');
      if (!/^\d+$/.test(v ?? '')) continue;
      const value = BigInt(v);
      if (k === 'rbytes') bytes.push({ major, minor, op: 'Read', value });
      else if (k === 'wbytes') bytes.push({ major, minor, op: 'Write', value });
      else if (k === 'rios') ios.push({ major, minor, op: 'Read', value });
      else if (k === 'wios') ios.push({ major, minor, op: 'Write', value });
    }
  }
  return { bytes, ios };
}

// ---------------------------------------------------------------------------------------------
// JSON as Go's encoding/json writes runc's types: exact 64-bit integers, and runc's omitempty /
// omitzero tags honoured field by field (so that the output matches runc's byte for byte in shape).

type Field = [name: string, value: unknown, mode: 'always' | 'omitempty'];

function num(v: bigint | number | undefined): string {
  return (v ?? 0).toString();
}
function isZero(v: unknown): boolean {
  return v === undefined || v === 0 || v === 0n || v === '' || (Array.isArray(v) && v.length === 0);
}
function obj(fields: Field[]): string {
  const parts: string[] = [];
  for (const [name, value, mode] of fields) {
    if (mode === 'omitempty' && isZero(value)) continue;
    parts.push(`${JSON.stringify(name)}:${value as string}`);
  }
  return `{${parts.join(',')}}`;
}
function list(values: Array<bigint | number> | undefined): string | undefined {
  return values && values.length ? `[${values.map((v) => v.toString()).join(',')}]` : undefined;
}
function numOpt(v: bigint | undefined): string | undefined {
  return v === undefined || v === 0n ? undefined : v.toString();
}
function memoryEntry(e: MemoryEntry | undefined): string | undefined {
  if (!e || (e.limit === 0n && !e.usage && !e.max && e.failcnt === 0n)) return undefined; // omitzero
  return obj([
    ['limit', num(e.limit), 'always'],
    ['usage', numOpt(e.usage), 'omitempty'],
    ['max', numOpt(e.max), 'omitempty'],
    ['failcnt', num(e.failcnt), 'always'],
  ]);
}
function blkioList(entries: BlkioEntry[] | undefined): string | undefined {
  if (!entries || entries.length === 0) return undefined;
  return `[${entries
    .map((e) =>
      obj([
        ['major', numOpt(e.major), 'omitempty'],
        ['minor', numOpt(e.minor), 'omitempty'],
        ['op', e.op ? JSON.stringify(e.op) : undefined, 'omitempty'],
        ['value', numOpt(e.value), 'omitempty'],
      ]),
    )
    .join(',')}]`;
}

/** runc's types.Stats as JSON text. */
export function statsJSON(s: Stats): string {
  const u = s.cpu.usage;
  const usageZero = !u || (!u.total && !u.percpu?.length && !u.percpu_kernel?.length && !u.percpu_user?.length && !u.kernel && !u.user);
  const th = s.cpu.throttling;
  const thZero = !th || (!th.periods && !th.throttledPeriods && !th.throttledTime);
  const cpu = obj([
    ['usage', usageZero ? undefined : obj([
      ['total', numOpt(u!.total), 'omitempty'],
      ['percpu', list(u!.percpu), 'omitempty'],
      ['percpu_kernel', list(u!.percpu_kernel), 'omitempty'],
      ['percpu_user', list(u!.percpu_user), 'omitempty'],
      ['kernel', num(u!.kernel), 'always'],
      ['user', num(u!.user), 'always'],
    ]), 'omitempty'],
    ['throttling', thZero ? undefined : obj([
      ['periods', numOpt(th!.periods), 'omitempty'],
      ['throttledPeriods', numOpt(th!.throttledPeriods), 'omitempty'],
      ['throttledTime', numOpt(th!.throttledTime), 'omitempty'],
    ]), 'omitempty'],
  ]);
  const cs = s.cpuset;
  const cpuset = obj([
    ['cpus', list(cs.cpus), 'omitempty'],
    ['cpu_exclusive', num(cs.cpu_exclusive), 'always'],
    ['mems', list(cs.mems), 'omitempty'],
    ['mem_hardwall', num(cs.mem_hardwall), 'always'],
    ['mem_exclusive', num(cs.mem_exclusive), 'always'],
    ['memory_migrate', num(cs.memory_migrate), 'always'],
    ['memory_spread_page', num(cs.memory_spread_page), 'always'],
    ['memory_spread_slab', num(cs.memory_spread_slab), 'always'],
    ['memory_pressure', num(cs.memory_pressure), 'always'],
    ['sched_load_balance', num(cs.sched_load_balance), 'always'],
    ['sched_relax_domain_level', num(cs.sched_relax_domain_level), 'always'],
  ]);
  const raw = s.memory.raw && Object.keys(s.memory.raw).length
    ? `{${Object.keys(s.memory.raw).sort().map((k) => `${JSON.stringify(k)}:${s.memory.raw![k].toString()}`).join(',')}}`
    : undefined;
  const memory = obj([
    ['cache', numOpt(s.memory.cache), 'omitempty'],
    ['usage', memoryEntry(s.memory.usage), 'omitempty'],
    ['swap', memoryEntry(s.memory.swap), 'omitempty'],
    ['kernel', memoryEntry(s.memory.kernel), 'omitempty'],
    ['kernelTCP', memoryEntry(s.memory.kernelTCP), 'omitempty'],
    ['raw', raw, 'omitempty'],
  ]);
  const pids = obj([
    ['current', numOpt(s.pids.current), 'omitempty'],
    ['limit', numOpt(s.pids.limit), 'omitempty'],
  ]);
  const b = s.blkio;
  const blkio = obj([
    ['ioServiceBytesRecursive', blkioList(b.ioServiceBytesRecursive), 'omitempty'],
    ['ioServicedRecursive', blkioList(b.ioServicedRecursive), 'omitempty'],
    ['ioQueueRecursive', blkioList(b.ioQueueRecursive), 'omitempty'],
    ['ioServiceTimeRecursive', blkioList(b.ioServiceTimeRecursive), 'omitempty'],
    ['ioWaitTimeRecursive', blkioList(b.ioWaitTimeRecursive), 'omitempty'],
    ['ioMergedRecursive', blkioList(b.ioMergedRecursive), 'omitempty'],
    ['ioTimeRecursive', blkioList(b.ioTimeRecursive), 'omitempty'],
    ['sectorsRecursive', blkioList(b.sectorsRecursive), 'omitempty'],
  ]);
  const hugetlb = `{${Object.keys(s.hugetlb)
    .sort()
    .map((k) => {
      const h = s.hugetlb[k];
      return `${JSON.stringify(k)}:${obj([
        ['usage', numOpt(h.usage), 'omitempty'],
        ['max', numOpt(h.max), 'omitempty'],
        ['failcnt', num(h.failcnt), 'always'],
      ])}`;
    })
    .join(',')}}`;
  return obj([
    ['cpu', cpu, 'always'],
    ['cpuset', cpuset, 'always'],
    ['memory', memory, 'always'],
    ['pids', pids, 'always'],
    ['blkio', blkio, 'always'],
    ['hugetlb', hugetlb, 'always'],
    ['intel_rdt', '{}', 'always'],
    ['network_interfaces', 'null', 'always'],
  ]);
}

/** One `events` line (without the newline): {"type":"stats","id":"c1","data":{...}} or {"type":"oom","id":"c1"}. */
export function eventJSON(type: string, id: string, data?: Stats): string {
  return obj([
    ['type', JSON.stringify(type), 'always'],
    ['id', JSON.stringify(id), 'always'],
    ['data', data ? statsJSON(data) : undefined, 'omitempty'],
  ]);
}
