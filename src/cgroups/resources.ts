/**
 * Pure helpers shared by the v1 and v2 drivers for linux.resources: the unit conversions runc
 * makes between the OCI (cgroup v1 shaped) values and cgroup v2 files, the text written to each
 * control file, and errors that name the config field they are about.
 *
 * Nothing here touches the filesystem, so the unit tests can check every conversion.
 */
import { RuntimeError } from '../errors';

/** An error about one field of linux.resources: "linux.resources.memory.swap: <problem>". */
export function fieldError(field: string, problem: string): RuntimeError {
  return new RuntimeError(`linux.resources.${field}: ${problem}`);
}

/** Decimal text of an integer value from JSON (no exponent, no fraction). */
export function intText(value: number | bigint): string {
  if (typeof value === 'bigint') return value.toString();
  if (!Number.isFinite(value)) throw new RuntimeError(`not a finite number: ${value}`);
  return BigInt(Math.trunc(value)).toString();
}

/**
 * cpu.shares (v1, 2..262144, default 1024) → cpu.weight (v2, 1..10000, default 100), as runc
 * (opencontainers/cgroups ≥ 0.0.4) converts it: a quadratic curve in log2(shares) through the
 * three points (2 → 1), (1024 → 100) and (262144 → 10000), rounded up. 0 stays 0 ("unset").
 */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  const l = Math.log2(shares);
  const exponent = (l * l + 125 * l) / 612 - 7 / 34;
  return Math.ceil(Math.pow(10, exponent));
}

/** blkio.weight (10..1000) → io.weight (1..10000), linearly, integer arithmetic as runc does. 0 stays 0. */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * memory.swap in the OCI spec is memory+swap (v1's memsw); v2's memory.swap.max is swap alone.
 * Returns the v2 value: 0 unset, -1 unlimited, else bytes. memory is the memory limit from the
 * same request (0 unset, -1 unlimited). The combinations v2 cannot express (a swap limit without
 * a memory limit, memory+swap below memory) are refused by the plan's rules before this runs.
 */
export function memorySwapToV2(memorySwap: number, memory: number): number {
  if (memory === -1 && memorySwap === 0) return -1; // "unlimited memory" means unlimited swap too
  if (memorySwap === -1 || memorySwap === 0) return memorySwap;
  if (memory === -1) return memorySwap;
  return memorySwap - memory;
}

/** A v2 limit file value: -1 → "max", 0 → "" (leave alone), else the number. */
export function v2Limit(value: number): string {
  if (value === 0) return '';
  if (value === -1) return 'max';
  return intText(value);
}

/** pids.max text: > 0 the limit; 0 → "1" (as runc, matching systemd's TasksMax); < 0 → "max". */
export function pidsMax(limit: number): string {
  if (limit > 0) return intText(limit);
  if (limit === 0) return '1';
  return 'max';
}

/** cpu.max text (v2): "<quota|max> <period>", the period defaulting to 100000 µs. */
export function cpuMax(quota: number | undefined, period: number | undefined): string {
  const q = quota !== undefined && quota > 0 ? intText(quota) : 'max';
  return `${q} ${intText(period || 100000)}`;
}

/** "major:minor rate" (v1 throttle files, v1 weight_device). */
export function deviceValue(major: number, minor: number, value: number): string {
  return `${intText(major)}:${intText(minor)} ${intText(value)}`;
}

/** io.max line: "major:minor key=rate" (key rbps, wbps, riops, wiops). */
export function ioMaxLine(key: 'rbps' | 'wbps' | 'riops' | 'wiops', major: number, minor: number, rate: number): string {
  return `${intText(major)}:${intText(minor)} ${key}=${intText(rate)}`;
}

/** rdma.max line: "mlx4_0 hca_handle=2 hca_object=2000" (absent keys left out, as runc). */
export function rdmaLine(device: string, limits: { hcaHandles?: number; hcaObjects?: number }): string {
  let s = device;
  if (limits.hcaHandles !== undefined) s += ` hca_handle=${intText(limits.hcaHandles)}`;
  if (limits.hcaObjects !== undefined) s += ` hca_object=${intText(limits.hcaObjects)}`;
  return s;
}

/**
 * Hugepage size names as the hugetlb controller uses them ("2MB", "1GB", "64KB") from the
 * directory names under /sys/kernel/mm/hugepages ("hugepages-2048kB"), like runc's HugePageSizes.
 */
export function hugePageSizeName(dirName: string): string | undefined {
  const m = /^hugepages-(\d+)kB$/.exec(dirName);
  if (!m) return undefined;
  let size = Number(m[1]) * 1024;
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (size >= 1024 && size % 1024 === 0 && i < units.length - 1) {
    size /= 1024;
    i++;
  }
  return `${size}${units[i]}`;
}

/** The controller a unified key belongs to ("memory.high" → "memory"), or undefined. */
export function unifiedController(key: string): string | undefined {
  const dot = key.indexOf('.');
  return dot > 0 ? key.slice(0, dot) : undefined;
}
