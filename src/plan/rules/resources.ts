/**
 * The rules about linux.resources that the config and the host's cgroup layout decide: value
 * ranges, fields a cgroup version does not have, controllers this host has not mounted, files a
 * kernel does not offer, `unified` keys, device rules. create runs them while it plans and
 * `update` on the merged resources, so a config that cannot work fails before an id is claimed
 * or a cgroup made; the drivers (src/cgroups) then only write files, and what only the live
 * cgroup can tell (usage above a new limit, a value the kernel refuses) is theirs to report.
 *
 * Pure: the host comes in as CgroupFacts (src/launch/host-probe.ts reads them).
 *
 * On v2, fields that exist only on v1 (swappiness, kernel memory, disabling the OOM killer,
 * realtime CPU, leaf weights, net_cls/net_prio) are errors naming the field, as crun reports
 * them: runc drops them silently, which leaves the container without the limit it asked for.
 */
import { InvalidConfigError, RuntimeError } from '../../errors';
import type { DeviceCgroup, LinuxResources, Memory } from '../../generated/config';
import { containerDeviceRules, DeviceState } from '../../cgroups/devices';
import { unifiedController } from '../../cgroups/resources';

/** What the resource rules need to know about this host's cgroups. */
export interface CgroupFacts {
  /** 'v1' and 'hybrid' hosts are driven with v1 files, 'v2' hosts with cgroup2 files. */
  mode: 'v1' | 'hybrid' | 'v2';
  /** Controllers with a v1 hierarchy mounted ("memory", "cpu", ...; none on v2). */
  v1Controllers: readonly string[];
  /** Where the cgroup2 filesystem is mounted (v2 hosts, and hybrid hosts that have one). */
  unifiedMount?: string;
  /** The controllers the cgroup2 mount's root offers (its cgroup.controllers). */
  readonly unifiedControllers: readonly string[];
  /** This host's huge page sizes ("2MB", "1GB"). */
  readonly hugePageSizes: readonly string[];
  /** The files at the root of a v1 controller's hierarchy, or of the cgroup2 mount (""). */
  rootFiles(controller: string): readonly string[];
}

export interface ResourceRuleOptions {
  /** `update`: device rules are left as they are (runc's update never changes them). */
  update?: boolean;
  /** linux.devices paths: runc drops its default device rule for a device the config lists. */
  linuxDevicePaths?: readonly string[];
}

function fieldError(field: string, problem: string): InvalidConfigError {
  return new InvalidConfigError(`linux.resources.${field}: ${problem}`);
}

/** Throws the first rule r breaks on this host, naming the field. */
export function checkResourceRules(r: LinuxResources, host: CgroupFacts, opts: ResourceRuleOptions = {}): void {
  if (!opts.update) checkDeviceRules(r.devices, host, opts.linuxDevicePaths);
  if (host.mode === 'v2') checkV2(r, host);
  else checkV1(r, host);
  if (r.hugepageLimits?.length) checkHugePageSizes(r, host);
}

/**
 * Which fields of a linux.resources object are set to something that asks for an effect (runc
 * treats 0 as "unset" for most numbers).
 */
export function requestedFields(r: LinuxResources): string[] {
  const out: string[] = [];
  const num = (v: number | undefined) => v !== undefined && v !== 0;
  const m = r.memory;
  if (m) {
    if (num(m.limit)) out.push('memory.limit');
    if (num(m.reservation)) out.push('memory.reservation');
    if (num(m.swap)) out.push('memory.swap');
    if (m.kernel !== undefined) out.push('memory.kernel');
    if (m.kernelTCP !== undefined) out.push('memory.kernelTCP');
    if (m.swappiness !== undefined) out.push('memory.swappiness');
    if (m.disableOOMKiller) out.push('memory.disableOOMKiller');
    if (m.useHierarchy !== undefined) out.push('memory.useHierarchy');
  }
  const c = r.cpu;
  if (c) {
    if (num(c.shares)) out.push('cpu.shares');
    if (num(c.quota)) out.push('cpu.quota');
    if (num(c.period)) out.push('cpu.period');
    if (c.burst !== undefined) out.push('cpu.burst');
    if (num(c.realtimeRuntime)) out.push('cpu.realtimeRuntime');
    if (num(c.realtimePeriod)) out.push('cpu.realtimePeriod');
    if (c.cpus) out.push('cpu.cpus');
    if (c.mems) out.push('cpu.mems');
    if (c.idle !== undefined) out.push('cpu.idle');
  }
  if (r.pids?.limit !== undefined) out.push('pids.limit');
  const b = r.blockIO;
  if (b) {
    if (num(b.weight)) out.push('blockIO.weight');
    if (num(b.leafWeight)) out.push('blockIO.leafWeight');
    for (const k of ['weightDevice', 'throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
      if (b[k]?.length) out.push(`blockIO.${k}`);
    }
  }
  if (r.hugepageLimits?.length) out.push('hugepageLimits');
  if (num(r.network?.classID)) out.push('network.classID');
  if (r.network?.priorities?.length) out.push('network.priorities');
  if (r.rdma && Object.keys(r.rdma).length) out.push('rdma');
  if (r.unified && Object.keys(r.unified).length) out.push('unified');
  return out;
}

/**
 * Fields that ask nothing of a cgroup any more: kernel memory limits (deprecated in v1, absent in
 * v2) and memory.useHierarchy (deprecated: current kernels keep it on). They need no controller on
 * v2, and a rootless container without a cgroup loses nothing by their absence.
 */
const NO_EFFECT = new Set(['memory.kernel', 'memory.kernelTCP', 'memory.useHierarchy']);

/**
 * The requested fields whose effect is written to a cgroup: a container that has none (rootless,
 * without a writable cgroup) cannot honour them, and must say so rather than drop them.
 */
export function fieldsNeedingCgroup(r: LinuxResources | undefined): string[] {
  return r ? requestedFields(r).filter((f) => !NO_EFFECT.has(f)) : [];
}

/** The controller a requested field needs, by the names of this host's cgroup version. */
export function controllerFor(field: string, v2: boolean): string {
  const top = field.split('.')[0];
  if (field === 'cpu.cpus' || field === 'cpu.mems') return 'cpuset';
  if (top === 'blockIO') return v2 ? 'io' : 'blkio';
  if (top === 'hugepageLimits') return 'hugetlb';
  if (field === 'network.classID') return 'net_cls';
  if (field === 'network.priorities') return 'net_prio';
  return top; // memory, cpu, pids, rdma, unified
}

// ---------------------------------------------------------------------------------------------
// cgroup v1 (and hybrid) hosts.

function checkV1(r: LinuxResources, host: CgroupFacts): void {
  for (const field of requestedFields(r)) {
    const controller = controllerFor(field, false);
    if (controller === 'unified') {
      if (!host.unifiedMount) throw fieldError('unified', 'invalid configuration: cannot use unified on cgroup v1 (this host has no cgroup2 mount)');
      hybridUnifiedControllers(r.unified, host);
      continue;
    }
    if (host.v1Controllers.includes(controller)) continue;
    if (controller === 'hugetlb' && host.unifiedMount && host.unifiedControllers.includes('hugetlb')) continue;
    throw fieldError(field, `cannot set ${controller} limit: no ${controller} cgroup hierarchy is mounted on this host`);
  }
  if (r.memory) checkMemoryV1(r.memory, host);
  const c = r.cpu;
  const has = (controller: string, file: string) => host.rootFiles(controller).includes(file);
  if (c?.burst && !has('cpu', 'cpu.cfs_burst_us')) throw fieldError('cpu.burst', 'this kernel has no cpu.cfs_burst_us (CPU burst needs Linux 5.14)');
  for (const key of ['realtimeRuntime', 'realtimePeriod'] as const) {
    if (c?.[key] && !has('cpu', 'cpu.rt_runtime_us')) {
      throw fieldError(`cpu.${key}`, 'realtime CPU limits need a kernel built with CONFIG_RT_GROUP_SCHED (no cpu.rt_runtime_us)');
    }
  }
  if (r.blockIO) checkBlkioWeightsV1(r, host);
}

function checkMemoryV1(m: Memory, host: CgroupFacts): void {
  const has = (file: string) => host.rootFiles('memory').includes(file);
  if (m.swappiness !== undefined && m.swappiness > 100) {
    throw fieldError('memory.swappiness', `invalid memory swappiness value: ${m.swappiness} (valid range is 0-100)`);
  }
  if ((m.limit ?? 0) > 0 && (m.swap ?? 0) > 0 && m.swap! < m.limit!) throw fieldError('memory.swap', 'memory+swap limit should be >= memory limit');
  if (m.swap && !has('memory.memsw.limit_in_bytes')) {
    throw fieldError('memory.swap', 'swap accounting is not enabled on this host (no memory.memsw.limit_in_bytes; boot with swapaccount=1)');
  }
  if (m.kernel && !has('memory.kmem.limit_in_bytes')) {
    throw fieldError('memory.kernel', 'kernel memory accounting not supported by this kernel (no memory.kmem.limit_in_bytes)');
  }
  if (m.kernelTCP && !has('memory.kmem.tcp.limit_in_bytes')) {
    throw fieldError('memory.kernelTCP', 'kernel TCP memory accounting not supported by this kernel (no memory.kmem.tcp.limit_in_bytes)');
  }
}

/**
 * Weights need CFQ's blkio.weight or BFQ's blkio.bfq.weight. BFQ keeps its weight files off the
 * root cgroup, so any blkio.bfq.* file there says BFQ is present; leaf weights were CFQ's only.
 */
function checkBlkioWeightsV1(r: LinuxResources, host: CgroupFacts): void {
  const files = host.rootFiles('blkio');
  const weights = files.includes('blkio.weight') || files.some((f) => f.startsWith('blkio.bfq.'));
  const leafWeights = files.includes('blkio.leaf_weight');
  const noWeights = (field: string, leaf: boolean) =>
    fieldError(field, `this host's blkio controller has no ${leaf ? 'leaf weight' : 'weight'} files (blkio.weight needs the CFQ I/O scheduler, blkio.bfq.weight BFQ)`);
  const b = r.blockIO!;
  if (b.weight && !weights) throw noWeights('blockIO.weight', false);
  if (b.leafWeight && !leafWeights) throw noWeights('blockIO.leafWeight', true);
  b.weightDevice?.forEach((d, i) => {
    if (d.weight && !weights) throw noWeights(`blockIO.weightDevice[${i}].weight`, false);
    if (d.leafWeight && !leafWeights) throw noWeights(`blockIO.weightDevice[${i}].leafWeight`, true);
  });
}

/**
 * Hybrid hosts: the controllers the `unified` keys need, all of which must be bound to the
 * cgroup2 mount ("cgroup.*" core files need none); anything else is runc's "cannot use unified
 * on cgroup v1", naming the key.
 */
export function hybridUnifiedControllers(unified: Record<string, string> | undefined, host: CgroupFacts): string[] {
  const needed = new Set<string>();
  for (const key of Object.keys(unified ?? {})) {
    const c = checkUnifiedKey(key);
    if (c === 'cgroup') continue;
    if (!host.unifiedControllers.includes(c)) {
      throw fieldError(
        `unified["${key}"]`,
        `invalid configuration: cannot use unified on cgroup v1 (the ${c} controller is not bound to the cgroup2 mount ${host.unifiedMount}, which has: ${host.unifiedControllers.join(' ') || 'none'})`,
      );
    }
    needed.add(c);
  }
  return [...needed];
}

// ---------------------------------------------------------------------------------------------
// cgroup v2 hosts.

function checkV2(r: LinuxResources, host: CgroupFacts): void {
  const m = r.memory;
  if (m) {
    if (m.kernel) throw fieldError('memory.kernel', 'kernel memory limits do not exist on cgroup v2 (kernel memory is counted in memory.max)');
    if (m.kernelTCP) throw fieldError('memory.kernelTCP', 'kernel TCP memory limits do not exist on cgroup v2 (it is counted in memory.max)');
    if (m.swappiness !== undefined) throw fieldError('memory.swappiness', 'cgroup v2 has no per-cgroup swappiness');
    if (m.disableOOMKiller) throw fieldError('memory.disableOOMKiller', 'the OOM killer cannot be disabled on cgroup v2');
    if (m.useHierarchy === false) throw fieldError('memory.useHierarchy', 'cgroup v2 memory accounting is always hierarchical');
    checkSwapV2(m.swap ?? 0, m.limit ?? 0);
  }
  if (r.cpu?.realtimeRuntime) throw fieldError('cpu.realtimeRuntime', 'realtime CPU limits are not supported on cgroup v2');
  if (r.cpu?.realtimePeriod) throw fieldError('cpu.realtimePeriod', 'realtime CPU limits are not supported on cgroup v2');
  if (r.blockIO?.leafWeight) throw fieldError('blockIO.leafWeight', 'leaf weights do not exist on cgroup v2');
  r.blockIO?.weightDevice?.forEach((d, i) => {
    if (d.leafWeight) throw fieldError(`blockIO.weightDevice[${i}].leafWeight`, 'leaf weights do not exist on cgroup v2');
  });
  if (r.network?.classID) throw fieldError('network.classID', 'net_cls does not exist on cgroup v2 (use an eBPF program or nftables cgroup matching)');
  if (r.network?.priorities?.length) throw fieldError('network.priorities', 'net_prio does not exist on cgroup v2');
  const w = r.blockIO?.weight;
  if (w && (w < 10 || w > 1000)) throw fieldError('blockIO.weight', `blkio weight ${w} is out of range (10-1000)`);
  r.blockIO?.weightDevice?.forEach((d, i) => {
    if (d.weight && (d.weight < 10 || d.weight > 1000)) throw fieldError(`blockIO.weightDevice[${i}].weight`, `blkio weight ${d.weight} is out of range (10-1000)`);
  });
  const missing = (controller: string) =>
    `the ${controller} controller is not available on this host (the cgroup2 root ${host.unifiedMount} has: ${host.unifiedControllers.join(' ') || 'none'})`;
  for (const field of requestedFields(r)) {
    const controller = controllerFor(field, true);
    if (!NO_EFFECT.has(field) && field !== 'unified' && !host.unifiedControllers.includes(controller)) throw fieldError(field, missing(controller));
  }
  for (const key of Object.keys(r.unified ?? {})) {
    const c = checkUnifiedKey(key);
    // Core files (cgroup.*) and those that exist without their controller (cpu.pressure) are fine.
    if (c !== 'cgroup' && !host.unifiedControllers.includes(c) && !host.rootFiles('').includes(key)) throw fieldError(`unified["${key}"]`, missing(c));
  }
}

/**
 * memory.swap is memory+swap in the OCI spec (v1's memsw); the combinations cgroup v2's
 * memory.swap.max cannot express are runc's errors. 0 is unset, -1 unlimited.
 */
function checkSwapV2(memorySwap: number, memory: number): void {
  if (memorySwap === -1 || memorySwap === 0 || memory === -1) return;
  if (memory === 0) throw fieldError('memory.swap', 'unable to set swap limit without memory limit');
  if (memory < 0) throw fieldError('memory.limit', `invalid memory value: ${memory}`);
  if (memorySwap < 0) throw fieldError('memory.swap', `invalid memory+swap value: ${memorySwap}`);
  if (memorySwap < memory) throw fieldError('memory.swap', 'memory+swap limit should be >= memory limit');
}

// ---------------------------------------------------------------------------------------------
// Both.

/** A `unified` key must be a file name of the form CONTROLLER.PARAMETER; returns the controller. */
function checkUnifiedKey(key: string): string {
  if (key.includes('/') || key === '' || key === '.' || key === '..') {
    throw fieldError(`unified["${key}"]`, 'unified resource must be a file name (no slashes)');
  }
  const controller = unifiedController(key);
  if (!controller) throw fieldError(`unified["${key}"]`, 'unified resource must be in the form CONTROLLER.PARAMETER');
  return controller;
}

function checkHugePageSizes(r: LinuxResources, host: CgroupFacts): void {
  const sizes = host.hugePageSizes;
  r.hugepageLimits!.forEach((l, i) => {
    if (!sizes.includes(l.pageSize)) {
      throw fieldError(
        `hugepageLimits[${i}].pageSize`,
        `${JSON.stringify(l.pageSize)} is not a huge page size of this host (${sizes.length ? sizes.join(', ') : 'it has no huge pages'})`,
      );
    }
  });
}

/**
 * Each rule's syntax, then the whole list (with runc's default rules) through the model of the
 * devices cgroup both drivers use: a rule that would punch a hole into a wildcard exception
 * cannot be represented, on v1 nor in the v2 filter. v1 hosts also need a devices hierarchy:
 * every container gets device rules (runc's defaults at least).
 */
function checkDeviceRules(rules: DeviceCgroup[] | undefined, host: CgroupFacts, linuxDevicePaths: readonly string[] = []): void {
  (rules ?? []).forEach((d, i) => {
    const field = `devices[${i}]`;
    if (!d.access) throw fieldError(`${field}.access`, 'device access cannot be empty');
    if (!/^[rwm]+$/.test(d.access)) throw fieldError(`${field}.access`, `invalid access ${JSON.stringify(d.access)} (only r, w, m)`);
    const type = d.type ?? 'a';
    if (type !== 'a' && type !== 'b' && type !== 'c') throw fieldError(`${field}.type`, `invalid cgroup device type ${JSON.stringify(type)}`);
    for (const key of ['major', 'minor'] as const) {
      const v = d[key];
      if (v !== undefined && v !== -1 && (!Number.isInteger(v) || v < 0 || v > 0xffffffff)) throw fieldError(`${field}.${key}`, `invalid device number ${v}`);
    }
  });
  if (host.mode !== 'v2' && !host.v1Controllers.includes('devices')) {
    throw fieldError('devices', 'cannot set devices limit: no devices cgroup hierarchy is mounted on this host');
  }
  try {
    DeviceState.fromRules(containerDeviceRules(rules, linuxDevicePaths));
  } catch (e) {
    if (e instanceof RuntimeError) throw fieldError('devices', e.message);
    throw e;
  }
}
