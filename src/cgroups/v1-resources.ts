/**
 * linux.resources on cgroup v1 hierarchies (v1 and hybrid hosts), following runc's fs driver:
 * the same files, the same write orders (memory before or after memsw, cfs period/quota/burst
 * retried around EINVAL, rt period/runtime likewise), the same checks (cpu.shares read back,
 * devices.list compared with the target). On hybrid hosts the controllers bound to the cgroup2
 * mount (hugetlb on this project's VM) are driven there with the v2 files, and so are `unified`
 * keys.
 *
 * The resources have passed the plan's rules (src/plan/rules/resources.ts): every field has its
 * hierarchy and its files on this host. What fails here is what only the live cgroup can refuse.
 */
import path from 'path';
import { RuntimeError } from '../errors';
import type { LinuxResources } from '../generated/config';
import { ApplyOptions } from './common';
import { errCode, hasFile, readControl, writeCgroupFile, writeControl } from './cgroup-fs';
import { containerDeviceRules, DeviceState, ruleText } from './devices';
import { fieldError, intText, pidsMax, rdmaLine, deviceValue } from './resources';
import { applyHybridUnified } from './v2-resources';
import { parseCounter } from './stats';

export interface V1Context {
  /** Controller → directory (co-mounted controllers share one); "" is the hybrid cgroup2 directory. */
  paths: Readonly<Record<string, string>>;
  /** Hybrid hosts: the cgroup2 mount point (the container's directory there is paths[""]). */
  unifiedMount?: string;
  /** "cpuset." or "" (a noprefix mount). */
  cpusetPrefix: string;
  /** Enable these controllers in the cgroup2 directories above paths[""] (hybrid). */
  enableUnified(controllers: string[]): void;
}

export function applyV1(ctx: V1Context, r: LinuxResources, opts: ApplyOptions = {}): void {
  const p = ctx.paths;

  // cpuset
  const c = r.cpu;
  if (c?.cpus) writeControl(p.cpuset, `${ctx.cpusetPrefix}cpus`, c.cpus, 'cpu.cpus');
  if (c?.mems) writeControl(p.cpuset, `${ctx.cpusetPrefix}mems`, c.mems, 'cpu.mems');

  // devices
  if (!opts.update && !opts.skipDevices) applyDevicesV1(p.devices, r, opts);

  // memory
  if (r.memory) applyMemoryV1(p.memory, r);

  // cpu
  if (c) applyCpuV1(p.cpu, r);

  // pids
  if (r.pids?.limit !== undefined) writeControl(p.pids, 'pids.max', pidsMax(r.pids.limit), 'pids.limit');

  // blkio
  if (r.blockIO) applyBlkioV1(p.blkio, r);

  // hugetlb in a v1 hierarchy (a hybrid host's cgroup2 hugetlb is handled with unified below)
  if (r.hugepageLimits?.length && p.hugetlb) {
    let rsvd = true;
    r.hugepageLimits.forEach((l, i) => {
      const value = intText(l.limit);
      writeControl(p.hugetlb, `hugetlb.${l.pageSize}.limit_in_bytes`, value, `hugepageLimits[${i}]`);
      if (!rsvd) return;
      try {
        writeCgroupFile(path.join(p.hugetlb, `hugetlb.${l.pageSize}.rsvd.limit_in_bytes`), value);
      } catch (e) {
        if (errCode(e) === 'ENOENT') rsvd = false;
        else writeControl(p.hugetlb, `hugetlb.${l.pageSize}.rsvd.limit_in_bytes`, value, `hugepageLimits[${i}]`);
      }
    });
  }

  // net_cls, net_prio
  if (r.network?.classID) writeControl(p.net_cls, 'net_cls.classid', intText(r.network.classID), 'network.classID');
  r.network?.priorities?.forEach((prio, i) => writeControl(p.net_prio, 'net_prio.ifpriomap', `${prio.name} ${intText(prio.priority)}`, `network.priorities[${i}]`));

  // rdma
  for (const [device, limits] of Object.entries(r.rdma ?? {})) writeControl(p.rdma, 'rdma.max', rdmaLine(device, limits), `rdma["${device}"]`);

  // hybrid: controllers of the cgroup2 mount
  const unifiedHugetlb = Boolean(r.hugepageLimits?.length && !p.hugetlb);
  if (ctx.unifiedMount && p[''] && (unifiedHugetlb || Object.keys(r.unified ?? {}).length)) {
    applyHybridUnified(p[''], { hugepageLimits: unifiedHugetlb ? r.hugepageLimits : undefined, unified: r.unified }, (cs) => ctx.enableUnified(cs));
  }
}

function applyDevicesV1(dir: string, r: LinuxResources, opts: ApplyOptions): void {
  const target = DeviceState.fromRules(containerDeviceRules(r.devices, opts.linuxDevicePaths));
  const list = () => {
    const text = readControl(dir, 'devices.list');
    if (text === undefined) throw fieldError('devices', `cannot read devices.list in ${dir}`);
    return DeviceState.fromList(text);
  };
  for (const rule of list().transition(target)) {
    writeControl(dir, rule.allow ? 'devices.allow' : 'devices.deny', ruleText(rule), 'devices');
  }
  const after = list();
  if (!target.defaultAllow && !after.equals(target)) throw fieldError('devices', "resulting devices cgroup doesn't precisely match target");
  if (target.defaultAllow !== after.defaultAllow) throw fieldError('devices', "resulting devices cgroup doesn't match target mode");
}

function readUint(dir: string, file: string): bigint {
  const v = parseCounter(readControl(dir, file));
  if (v === undefined) throw new RuntimeError(`read ${path.join(dir, file)}: not a number`);
  return v;
}

function applyMemoryV1(dir: string, r: LinuxResources): void {
  const m = r.memory!;
  const limit = m.limit ?? 0;
  let swap = m.swap ?? 0;
  // "Unlimited memory" with swap unset means unlimited memory+swap too (when memsw exists).
  if (limit === -1 && swap === 0 && hasFile(dir, 'memory.memsw.limit_in_bytes')) swap = -1;

  const setMemory = () => {
    if (limit === 0) return;
    try {
      writeCgroupFile(path.join(dir, 'memory.limit_in_bytes'), intText(limit));
    } catch (e) {
      if (errCode(e) !== 'EBUSY') {
        writeControl(dir, 'memory.limit_in_bytes', intText(limit), 'memory.limit'); // throws the explained error
        return;
      }
      const usage = readControl(dir, 'memory.usage_in_bytes')?.trim();
      const peak = readControl(dir, 'memory.max_usage_in_bytes')?.trim();
      throw fieldError('memory.limit', `unable to set memory limit to ${limit} (current usage: ${usage}, peak usage: ${peak})`);
    }
  };
  const setSwap = () => {
    if (swap === 0) return;
    writeControl(dir, 'memory.memsw.limit_in_bytes', intText(swap), 'memory.swap');
  };
  // The kernel wants memory <= memsw at every moment: raising both must write memsw first.
  if (limit !== 0 && swap !== 0) {
    const current = readUint(dir, 'memory.limit_in_bytes');
    if (swap === -1 || current < BigInt(swap)) {
      setSwap();
      setMemory();
    } else {
      setMemory();
      setSwap();
    }
  } else {
    setMemory();
    setSwap();
  }

  if (m.kernel) writeControl(dir, 'memory.kmem.limit_in_bytes', intText(m.kernel), 'memory.kernel');
  if (m.kernelTCP) writeControl(dir, 'memory.kmem.tcp.limit_in_bytes', intText(m.kernelTCP), 'memory.kernelTCP');
  if (m.reservation) writeControl(dir, 'memory.soft_limit_in_bytes', intText(m.reservation), 'memory.reservation');
  if (m.disableOOMKiller) writeControl(dir, 'memory.oom_control', '1', 'memory.disableOOMKiller');
  if (m.swappiness !== undefined) writeControl(dir, 'memory.swappiness', intText(m.swappiness), 'memory.swappiness');
  if (m.useHierarchy !== undefined) writeControl(dir, 'memory.use_hierarchy', m.useHierarchy ? '1' : '0', 'memory.useHierarchy');
}

/**
 * cpu.shares (read back: the kernel clamps it), then the CFS period, burst and quota, then the
 * realtime period and runtime. A period (or burst) the kernel refuses with EINVAL while a quota
 * (runtime) is also being set is written again after it: which must go first depends on the
 * values already there.
 */
function applyCpuV1(dir: string, r: LinuxResources): void {
  const c = r.cpu!;
  if (c.shares) {
    writeControl(dir, 'cpu.shares', intText(c.shares), 'cpu.shares');
    const read = readUint(dir, 'cpu.shares');
    if (BigInt(c.shares) > read) throw fieldError('cpu.shares', `the maximum allowed cpu-shares is ${read}`);
    if (BigInt(c.shares) < read) throw fieldError('cpu.shares', `the minimum allowed cpu-shares is ${read}`);
  }
  const tolerant = (file: string, value: string, field: string, laterWrite: boolean): string | undefined => {
    try {
      writeCgroupFile(path.join(dir, file), value);
      return undefined;
    } catch (e) {
      if (errCode(e) === 'EINVAL' && laterWrite) return value; // retry after the other file
      writeControl(dir, file, value, field); // throws the explained error
      return undefined;
    }
  };
  const period = c.period ? tolerant('cpu.cfs_period_us', intText(c.period), 'cpu.period', Boolean(c.quota)) : undefined;
  let burst: string | undefined;
  // A burst of 0 asks for nothing a kernel without bursts (before 5.14) lacks.
  if (c.burst !== undefined && (c.burst !== 0 || hasFile(dir, 'cpu.cfs_burst_us'))) {
    burst = tolerant('cpu.cfs_burst_us', intText(c.burst), 'cpu.burst', Boolean(c.quota));
  }
  if (c.quota) {
    writeControl(dir, 'cpu.cfs_quota_us', intText(c.quota), 'cpu.quota');
    if (period !== undefined) writeControl(dir, 'cpu.cfs_period_us', period, 'cpu.period');
    if (burst !== undefined) writeControl(dir, 'cpu.cfs_burst_us', burst, 'cpu.burst');
  }
  if (c.idle !== undefined) writeControl(dir, 'cpu.idle', intText(c.idle), 'cpu.idle');
  // Realtime: runtime must fit the period and the parent's own runtime.
  const rtHint = ' (the parent cgroups need cpu.rt_runtime_us at least as large)';
  let rtPeriod: string | undefined;
  if (c.realtimePeriod) {
    try {
      writeCgroupFile(path.join(dir, 'cpu.rt_period_us'), intText(c.realtimePeriod));
    } catch (e) {
      if (errCode(e) === 'EINVAL' && c.realtimeRuntime) rtPeriod = intText(c.realtimePeriod);
      else writeControl(dir, 'cpu.rt_period_us', intText(c.realtimePeriod), 'cpu.realtimePeriod');
    }
  }
  if (c.realtimeRuntime) {
    try {
      writeControl(dir, 'cpu.rt_runtime_us', intText(c.realtimeRuntime), 'cpu.realtimeRuntime');
    } catch (e) {
      throw new RuntimeError((e as Error).message + (/EINVAL|EBUSY/.test((e as Error).message) ? rtHint : ''));
    }
    if (rtPeriod !== undefined) writeControl(dir, 'cpu.rt_period_us', rtPeriod, 'cpu.realtimePeriod');
  }
}

function applyBlkioV1(dir: string, r: LinuxResources): void {
  const b = r.blockIO!;
  // CFQ's blkio.weight, or BFQ's blkio.bfq.weight (runc picks whichever exists, preferring CFQ).
  const cfq = hasFile(dir, 'blkio.weight');
  const weightFile = cfq ? 'blkio.weight' : 'blkio.bfq.weight';
  const weightDeviceFile = cfq ? 'blkio.weight_device' : 'blkio.bfq.weight_device';
  if (b.weight) writeControl(dir, weightFile, intText(b.weight), 'blockIO.weight');
  if (b.leafWeight) writeControl(dir, 'blkio.leaf_weight', intText(b.leafWeight), 'blockIO.leafWeight');
  (b.weightDevice ?? []).forEach((d, i) => {
    if (d.weight) writeControl(dir, weightDeviceFile, deviceValue(d.major, d.minor, d.weight), `blockIO.weightDevice[${i}].weight`);
    if (d.leafWeight) writeControl(dir, 'blkio.leaf_weight_device', deviceValue(d.major, d.minor, d.leafWeight), `blockIO.weightDevice[${i}].leafWeight`);
  });
  const throttle: Array<[string, 'throttleReadBpsDevice' | 'throttleWriteBpsDevice' | 'throttleReadIOPSDevice' | 'throttleWriteIOPSDevice']> = [
    ['blkio.throttle.read_bps_device', 'throttleReadBpsDevice'],
    ['blkio.throttle.write_bps_device', 'throttleWriteBpsDevice'],
    ['blkio.throttle.read_iops_device', 'throttleReadIOPSDevice'],
    ['blkio.throttle.write_iops_device', 'throttleWriteIOPSDevice'],
  ];
  for (const [file, field] of throttle) {
    (b[field] ?? []).forEach((d, i) => writeControl(dir, file, deviceValue(d.major, d.minor, d.rate), `blockIO.${field}[${i}]`));
  }
}
