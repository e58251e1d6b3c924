/**
 * linux.resources as systemd unit properties, as runc's systemd driver translates them (its
 * docs/systemd.md tables): what systemd knows is set on the unit, so that systemd itself keeps it
 * (a daemon-reload re-applies unit properties over whatever was written to the cgroup files);
 * everything is then also written to the cgroup files by the cgroupfs writers, which covers what
 * systemd has no property for.
 *
 * Pure: the D-Bus types are plain data (signature + value); unit-tested without systemd.
 */
import type { LinuxResources } from '../generated/config';
import type { DBusValue } from '../native/sd-bus-types';
import { DeviceState, containerDeviceRules } from './devices';
import { blkioWeightToIoWeight, fieldError, memorySwapToV2, sharesToWeight } from './resources';

export interface UnitProperty {
  name: string;
  /** D-Bus signature of the value ("t", "s", "b", "ay", "au", "a(ss)"). */
  sig: string;
  value: DBusValue;
}

/** systemd's "infinity" for 64-bit limits (USEC_INFINITY, CGROUP_LIMIT_MAX). */
export const UINT64_MAX = 0xffffffffffffffffn;
const DEFAULT_CPU_PERIOD = 100000;

export interface PropertyOptions {
  /** Which cgroup version systemd drives: the property names differ. */
  cgroup: 'v1' | 'v2';
  /** systemd's version number (Manager.Version): older ones lack some properties. */
  systemdVersion: number;
  /** `update`: devices are left alone, as by the cgroupfs writers. */
  update?: boolean;
  /** linux.devices paths (see containerDeviceRules). */
  linuxDevicePaths?: readonly string[];
}

export interface TranslatedResources {
  properties: UnitProperty[];
  /**
   * The resources to write to the cgroup files: the input, except a CPU quota rounded up the way
   * systemd rounds CPUQuotaPerSecUSec, so the files say what the unit says.
   */
  resources: LinuxResources;
}

const u64 = (name: string, value: number | bigint): UnitProperty => ({ name, sig: 't', value: BigInt(value) });
/** A limit: -1 (or "max") is infinity. */
const limit = (name: string, value: number): UnitProperty => u64(name, value < 0 ? UINT64_MAX : BigInt(value));

/**
 * A cpuset list ("0-3,8") as the byte array AllowedCPUs/AllowedMemoryNodes take: bit n of
 * byte n/8 for CPU n (runc's RangeToBits, in systemd's byte order).
 */
export function cpuListToBytes(list: string, field: string): Buffer {
  const bits: number[] = [];
  for (const part of list.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw fieldError(field, `invalid CPU or node list ${JSON.stringify(list)}`);
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start > end) throw fieldError(field, `invalid range ${JSON.stringify(part)} in ${JSON.stringify(list)}`);
    if (end > 65535) throw fieldError(field, `${end} is too large a CPU or node number`);
    for (let i = start; i <= end; i++) bits.push(i);
  }
  if (bits.length === 0) throw fieldError(field, `empty CPU or node list ${JSON.stringify(list)}`);
  const out = Buffer.alloc(Math.floor(Math.max(...bits) / 8) + 1);
  for (const b of bits) out[b >> 3] |= 1 << (b & 7);
  return out;
}

/**
 * CPUQuotaPerSecUSec (and CPUQuotaPeriodUSec) for a cfs quota and period. systemd keeps the
 * quota as a per-second budget in whole 10 ms steps (percent of a CPU): a quota that is not one
 * is rounded up, and the rounded quota returned so the cgroup file gets the same value.
 */
export function cpuQuotaProperties(quota: number, period: number, systemdVersion: number): { properties: UnitProperty[]; quota: number } {
  const properties: UnitProperty[] = [];
  if (period !== 0 && systemdVersion >= 242) properties.push(u64('CPUQuotaPeriodUSec', period));
  if (quota === 0 && period === 0) return { properties, quota };
  let perSec = UINT64_MAX;
  if (quota > 0) {
    const p = BigInt(period || DEFAULT_CPU_PERIOD);
    perSec = (BigInt(quota) * 1000000n) / p;
    if (perSec % 10000n !== 0n) {
      perSec = (perSec / 10000n + 1n) * 10000n;
      quota = Number((perSec * p) / 1000000n);
    }
  }
  properties.push(u64('CPUQuotaPerSecUSec', perSec));
  return { properties, quota };
}

/**
 * DevicePolicy and DeviceAllow from the container's device rules (config rules plus runc's
 * defaults), as runc's systemd device properties: an allow-list becomes DevicePolicy=strict with
 * one DeviceAllow entry per exception; allow-all becomes "auto". A deny-list cannot be said to
 * systemd: the unit gets deny-all, and the cgroupfs writer's own filter (attached right after,
 * replacing systemd's) applies the real rules.
 */
export function deviceProperties(r: LinuxResources, systemdVersion: number, linuxDevicePaths?: readonly string[]): UnitProperty[] {
  const state = DeviceState.fromRules(containerDeviceRules(r.devices, linuxDevicePaths));
  const allow = (entries: Array<[string, string]>): UnitProperty => ({ name: 'DeviceAllow', sig: 'a(ss)', value: entries });
  if (state.defaultAllow) {
    const all = state.exceptions.size === 0;
    return [allow([]), { name: 'DevicePolicy', sig: 's', value: all ? 'auto' : 'strict' }];
  }
  const entries: Array<[string, string]> = [];
  for (const e of state.sortedExceptions()) {
    const group = e.type === 'c' ? 'char-' : 'block-';
    if (e.major < 0) {
      if (e.minor >= 0) continue; // "*:N" has no systemd spelling; the cgroupfs filter has it
      entries.push([`${group}*`, e.access]);
    } else if (e.minor < 0) {
      if (systemdVersion < 240) continue; // older systemd wants a /proc/devices group name; the filter covers it
      entries.push([`${group}${e.major}`, e.access]);
    } else {
      entries.push([`/dev/${e.type === 'c' ? 'char' : 'block'}/${e.major}:${e.minor}`, e.access]);
    }
  }
  return [allow([]), { name: 'DevicePolicy', sig: 's', value: 'strict' }, allow(entries)];
}

/** `unified` keys systemd has a property for (runc's unifiedResToSystemdProps). */
function unifiedProperties(unified: Record<string, string>, o: PropertyOptions): UnitProperty[] {
  const out: UnitProperty[] = [];
  const num = (key: string, v: string): bigint => {
    if (v === 'max') return UINT64_MAX;
    if (!/^\d+$/.test(v)) throw fieldError(`unified["${key}"]`, `invalid value ${JSON.stringify(v)}`);
    return BigInt(v);
  };
  const idle = (unified['cpu.idle'] ?? '').trim() === '1' && o.systemdVersion >= 252;
  for (const [key, raw] of Object.entries(unified)) {
    const v = raw.trim();
    switch (key) {
      case 'cpu.idle':
        if (idle) out.push(u64('CPUWeight', 0)); // systemd writes cpu.idle=1 for CPUWeight=0
        break;
      case 'cpu.weight':
        if (!idle) out.push(u64('CPUWeight', num(key, v)));
        break;
      case 'cpu.max': {
        const f = v.split(/\s+/);
        if (f.length < 1 || f.length > 2 || (f[0] !== 'max' && !/^\d+$/.test(f[0])) || (f[1] !== undefined && !/^\d+$/.test(f[1]))) {
          throw fieldError(`unified["${key}"]`, `invalid value ${JSON.stringify(v)}`);
        }
        out.push(...cpuQuotaProperties(f[0] === 'max' ? 0 : Number(f[0]), f[1] === undefined ? DEFAULT_CPU_PERIOD : Number(f[1]), o.systemdVersion).properties);
        break;
      }
      case 'cpuset.cpus':
      case 'cpuset.mems':
        if (o.systemdVersion >= 244) out.push({ name: key === 'cpuset.cpus' ? 'AllowedCPUs' : 'AllowedMemoryNodes', sig: 'ay', value: cpuListToBytes(v, `unified["${key}"]`) });
        break;
      case 'memory.high':
      case 'memory.low':
      case 'memory.min':
      case 'memory.max':
      case 'memory.swap.max': {
        const name = { 'memory.high': 'MemoryHigh', 'memory.low': 'MemoryLow', 'memory.min': 'MemoryMin', 'memory.max': 'MemoryMax', 'memory.swap.max': 'MemorySwapMax' }[key];
        out.push(u64(name, num(key, v)));
        break;
      }
      case 'pids.max': {
        const n = num(key, v);
        out.push(u64('TasksMax', n === 0n ? 1n : n)); // systemd refuses TasksMax=0
        break;
      }
      default:
      // No property: the cgroupfs writer still writes it.
    }
  }
  return out;
}

/** The unit properties for r, and the resources to write to the files afterwards. */
export function resourceProperties(r: LinuxResources, o: PropertyOptions): TranslatedResources {
  const props: UnitProperty[] = [];
  const resources: LinuxResources = JSON.parse(JSON.stringify(r));
  if (!o.update) props.push(...deviceProperties(r, o.systemdVersion, o.linuxDevicePaths));
  const m = r.memory;
  const c = r.cpu;
  if (o.cgroup === 'v2') {
    if (m?.limit) props.push(limit('MemoryMax', m.limit));
    if (m?.reservation) props.push(limit('MemoryLow', m.reservation));
    if (m?.swap) {
      const swap = memorySwapToV2(m.swap, m.limit ?? 0);
      props.push(limit('MemorySwapMax', swap)); // 0 here is "no swap": limit equal to memory+swap
    }
    const idle = c?.idle === 1 && o.systemdVersion >= 252;
    if (idle) props.push(u64('CPUWeight', 0));
    else if (c?.shares) props.push(u64('CPUWeight', sharesToWeight(c.shares)));
    if (r.blockIO?.weight) props.push(u64('IOWeight', blkioWeightToIoWeight(r.blockIO.weight)));
  } else {
    if (m?.limit) props.push(limit('MemoryLimit', m.limit));
    if (c?.shares) props.push(u64('CPUShares', c.shares));
    if (r.blockIO?.weight) props.push(u64('BlockIOWeight', r.blockIO.weight));
  }
  if (c && (c.quota || c.period)) {
    const q = cpuQuotaProperties(c.quota ?? 0, c.period ?? 0, o.systemdVersion);
    props.push(...q.properties);
    if (c.quota && c.quota > 0 && q.quota !== c.quota) resources.cpu!.quota = q.quota;
  }
  if (r.pids?.limit !== undefined) {
    const l = r.pids.limit;
    props.push(l < 0 ? u64('TasksMax', UINT64_MAX) : u64('TasksMax', l === 0 ? 1 : l));
  }
  if (o.systemdVersion >= 244) {
    if (c?.cpus) props.push({ name: 'AllowedCPUs', sig: 'ay', value: cpuListToBytes(c.cpus, 'cpu.cpus') });
    if (c?.mems) props.push({ name: 'AllowedMemoryNodes', sig: 'ay', value: cpuListToBytes(c.mems, 'cpu.mems') });
  }
  if (o.cgroup === 'v2' && r.unified) props.push(...unifiedProperties(r.unified, o));
  return { properties: props, resources };
}

export interface ScopeOptions {
  unit: string;
  slice: string;
  pid: number;
  description: string;
  cgroup: 'v1' | 'v2';
  systemdVersion: number;
  /** unified["memory.oom.group"], which systemd only takes when the unit starts (OOMPolicy). */
  oomGroup?: string;
}

/**
 * The properties a container's scope starts with (besides its resources): its process, its
 * slice, delegation of the cgroup subtree to the container, and accounting for every controller
 * (so that the controllers are enabled down to the scope, as the cgroupfs driver does).
 */
export function scopeProperties(o: ScopeOptions): UnitProperty[] {
  const b = (name: string, value: boolean): UnitProperty => ({ name, sig: 'b', value });
  const props: UnitProperty[] = [
    { name: 'Description', sig: 's', value: o.description },
    { name: 'Slice', sig: 's', value: o.slice },
    b('Delegate', true),
    { name: 'PIDs', sig: 'au', value: [o.pid] },
    b('MemoryAccounting', true),
    b('CPUAccounting', true),
    b(o.cgroup === 'v2' ? 'IOAccounting' : 'BlockIOAccounting', true),
    b('TasksAccounting', true),
    b('DefaultDependencies', false),
  ];
  if (o.oomGroup !== undefined && o.systemdVersion >= 253) {
    const v = o.oomGroup.trim();
    if (v === '0' || v === '1') props.push({ name: 'OOMPolicy', sig: 's', value: v === '1' ? 'kill' : 'continue' });
  }
  return props;
}

/** "v252.4-1" → 252 (systemd's Version property); -1 when unreadable. */
export function parseSystemdVersion(text: string): number {
  const m = /^"?v?(\d+)/.exec(text.trim());
  return m ? Number(m[1]) : -1;
}
