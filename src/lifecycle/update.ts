/**
 * update: change the resources of a created, running or paused container, as `runc update` does.
 *
 * The request (flags, or a linux.resources JSON document with --resources) is merged into the
 * resources recorded at create, the merged set goes through the rules create checks it with
 * (src/plan/rules/resources.ts) and is applied to the cgroup (everything is written again, like
 * runc's Set; devices are left alone, as runc's update never touches them), and the record is
 * updated so that `update` calls build on each other.
 *
 * runc's update handles memory, cpu, blockIO, pids and unified; the other sections
 * (devices, hugepageLimits, network, rdma) are errors here rather than silently dropped.
 */
import fs from 'fs';
import { ContainerStateError, InvalidArgumentError, RuntimeError, UnsupportedError } from '../errors';
import type { BlockIO, LinuxResources, Spec, ThrottleDevice, WeightDevice } from '../generated/config';
import { StateStore } from '../state/store';
import { OCI_VERSION } from '../spec/version';
import { checkResourceRules } from '../plan/rules/resources';
import { cgroupFacts } from '../launch/host-probe';
import { requireCgroup } from './container-cgroup';
import { computeStatus } from './status';

/** The command-line flags of `runc update` (strings as typed; undefined when absent). */
export interface UpdateFlags {
  resources?: string;
  blkioWeight?: number;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuBurst?: string;
  cpuShare?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuIdle?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  pidsLimit?: number;
  l3CacheSchema?: string;
  memBwSchema?: string;
}

/**
 * docker/go-units RAMInBytes: "64m", "1.5g", "512k", "1024" (binary multiples, optional i/b
 * suffix, case-insensitive), as runc parses --memory and friends.
 */
export function ramInBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text);
  if (!m) throw new Error(`invalid size: '${text}'`);
  const size = Number(m[1]);
  if (!Number.isFinite(size)) throw new Error(`invalid size: '${text}'`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[unit]!;
  return Math.trunc(size * mult);
}

function parseUint(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`invalid value for ${flag}: strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}
function parseInt64(flag: string, text: string): number {
  if (!/^-?\d+$/.test(text)) throw new InvalidArgumentError(`invalid value for ${flag}: strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}

/** The resources a set of flags asks for (runc's update.go, flag by flag). */
export function resourcesFromFlags(f: UpdateFlags): LinuxResources {
  const r: LinuxResources = { memory: {}, cpu: {}, blockIO: {}, pids: {} };
  if (f.blkioWeight) r.blockIO!.weight = f.blkioWeight;
  if (f.cpusetCpus) r.cpu!.cpus = f.cpusetCpus;
  if (f.cpusetMems) r.cpu!.mems = f.cpusetMems;
  if (f.cpuIdle) r.cpu!.idle = parseInt64('cpu-idle', f.cpuIdle);
  if (f.cpuBurst) r.cpu!.burst = parseUint('cpu-burst', f.cpuBurst);
  if (f.cpuPeriod) r.cpu!.period = parseUint('cpu-period', f.cpuPeriod);
  if (f.cpuRtPeriod) r.cpu!.realtimePeriod = parseUint('cpu-rt-period', f.cpuRtPeriod);
  if (f.cpuShare) r.cpu!.shares = parseUint('cpu-share', f.cpuShare);
  if (f.cpuQuota) r.cpu!.quota = parseInt64('cpu-quota', f.cpuQuota);
  if (f.cpuRtRuntime) r.cpu!.realtimeRuntime = parseInt64('cpu-rt-runtime', f.cpuRtRuntime);
  const mem: Array<[string, string | undefined, 'limit' | 'swap' | 'kernel' | 'kernelTCP' | 'reservation']> = [
    ['memory', f.memory, 'limit'],
    ['memory-swap', f.memorySwap, 'swap'],
    ['kernel-memory', f.kernelMemory, 'kernel'],
    ['kernel-memory-tcp', f.kernelMemoryTcp, 'kernelTCP'],
    ['memory-reservation', f.memoryReservation, 'reservation'],
  ];
  for (const [flag, text, key] of mem) {
    if (!text) continue;
    try {
      r.memory![key] = text === '-1' ? -1 : ramInBytes(text);
    } catch (e) {
      throw new InvalidArgumentError(`invalid value for ${flag}: ${(e as Error).message}`);
    }
  }
  if (f.pidsLimit !== undefined) r.pids!.limit = f.pidsLimit;
  return r;
}

/** A --resources document: a file, or "-" for standard input; checked against the schema. */
export function readResourcesDocument(source: string): LinuxResources {
  let text: string;
  try {
    text = source === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(source, 'utf8');
  } catch (e) {
    throw new RuntimeError(`open ${source}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`${source === '-' ? 'standard input' : source}: invalid JSON: ${(e as Error).message}`);
  }
  return checkResources(doc);
}

/** A linux.resources document (from --resources, or a library caller), checked against the schema. */
export function checkResources(doc: unknown): LinuxResources {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidArgumentError('the resources document must be a JSON object');
  const { validateSpec } = require('../config/validate') as typeof import('../config/validate');
  const { validateSpec: specSchema } = require('../generated/spec-validator') as typeof import('../generated/spec-validator');
  const problems = validateSpec({ ociVersion: OCI_VERSION, root: { path: '/' }, linux: { resources: doc } }, specSchema).filter((p) => p.startsWith('/linux/resources'));
  if (problems.length) throw new InvalidArgumentError(`invalid resources: ${problems.map((p) => p.replace(/^\/linux\/resources/, '') || '/').join('; ')}`);
  return doc as LinuxResources;
}

function upsert<T extends { major: number; minor: number }>(list: T[] | undefined, item: T, merge: (old: T, add: T) => T): T[] {
  const out = [...(list ?? [])];
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i].major === item.major && out[i].minor === item.minor) {
      out[i] = merge(out[i], item);
      return out;
    }
  }
  out.push(item);
  return out;
}

/**
 * stored ∪ request, with runc's rules: given values replace stored ones, per-device entries are
 * upserted by major:minor, "--memory -1" without a swap value resets swap (unlimited), a CPU
 * idle value without shares drops the shares, `unified` is replaced as a whole.
 */
export function mergeResources(stored: LinuxResources, req: LinuxResources): LinuxResources {
  for (const key of ['devices', 'hugepageLimits', 'network', 'rdma'] as const) {
    const v = req[key];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)) {
      throw new UnsupportedError(`linux.resources.${key} cannot be changed by update (only memory, cpu, blockIO, pids and unified can)`);
    }
  }
  const out: LinuxResources = JSON.parse(JSON.stringify(stored ?? {}));
  const mem = { ...(out.memory ?? {}) };
  const rm = req.memory ?? {};
  for (const k of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP', 'swappiness', 'disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate'] as const) {
    if (rm[k] !== undefined) (mem as Record<string, unknown>)[k] = rm[k];
  }
  if (rm.limit === -1 && rm.swap === undefined) mem.swap = 0;
  if (Object.keys(mem).length) out.memory = mem;

  const cpu = { ...(out.cpu ?? {}) };
  const rc = req.cpu ?? {};
  for (const k of ['shares', 'quota', 'burst', 'period', 'realtimeRuntime', 'realtimePeriod', 'cpus', 'mems', 'idle'] as const) {
    if (rc[k] !== undefined && rc[k] !== '') (cpu as Record<string, unknown>)[k] = rc[k];
  }
  if (rc.idle !== undefined && rc.shares === undefined) delete cpu.shares;
  if (Object.keys(cpu).length) out.cpu = cpu;

  const b: BlockIO = { ...(out.blockIO ?? {}) };
  const rb = req.blockIO ?? {};
  if (rb.weight !== undefined) b.weight = rb.weight;
  if (rb.leafWeight !== undefined) b.leafWeight = rb.leafWeight;
  for (const wd of rb.weightDevice ?? []) {
    b.weightDevice = upsert<WeightDevice>(b.weightDevice, wd, (old, add) => ({
      ...old,
      ...(add.weight !== undefined ? { weight: add.weight } : {}),
      ...(add.leafWeight !== undefined ? { leafWeight: add.leafWeight } : {}),
    }));
  }
  for (const k of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
    for (const td of rb[k] ?? []) b[k] = upsert<ThrottleDevice>(b[k], td, (old, add) => ({ ...old, rate: add.rate }));
  }
  if (Object.keys(b).length) out.blockIO = b;

  if (req.pids?.limit !== undefined) out.pids = { limit: req.pids.limit };
  if (req.unified !== undefined) out.unified = req.unified;
  return out;
}

export function updateContainer(store: StateStore, id: string, flags: UpdateFlags): void {
  if (flags.l3CacheSchema) throw new UnsupportedError('Intel RDT/CAT: l3 cache schema is not enabled');
  if (flags.memBwSchema) throw new UnsupportedError('Intel RDT/MBA: memory bandwidth schema is not enabled');
  const request = flags.resources ? readResourcesDocument(flags.resources) : resourcesFromFlags(flags);
  updateResources(store, id, request);
}

/** Merge `request` into the container's recorded resources, apply the result, and record it. */
export function updateResources(store: StateStore, id: string, request: LinuxResources): void {
  store.withLock(id, () => {
    const rec = store.load(id);
    if (computeStatus(store, rec) === 'stopped') throw new ContainerStateError('container not running', id, 'stopped');
    const spec = (rec.config ?? {}) as Spec;
    const merged = mergeResources(spec.linux?.resources ?? {}, request);
    const cgroups = requireCgroup(rec, 'update');
    checkResourceRules(merged, cgroupFacts(), { update: true });
    cgroups.applyResources(merged, { update: true });
    rec.config = { ...spec, linux: { ...(spec.linux ?? {}), resources: merged } };
    store.save(rec);
  });
}
