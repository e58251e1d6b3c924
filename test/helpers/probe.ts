/**
 * Containers that run the conformance probe (conformance/probe.c, built to native/build/tsr-probe)
 * and hand back what it saw from the inside, for the integration and conformance tests.
 */
import fs from 'fs';
import path from 'path';
import { PROJECT, Result, Sandbox, sharedBundleTemplate } from './runtime';

export const PROBE = path.join(PROJECT, 'native', 'build', 'tsr-probe');
/** Where the probe sits inside every test rootfs. */
export const PROBE_IN_ROOTFS = '/tsr-probe';

export interface MountInfo {
  id: number;
  parent: number;
  dev: string;
  root: string;
  mountpoint: string;
  options: string;
  optional: string[];
  fstype: string;
  source: string;
  superOptions: string;
}

export interface StatInfo {
  error?: string;
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  major?: number;
  minor?: number;
  size?: number;
  target?: string;
}

type Rlimit = { soft: number | 'unlimited'; hard: number | 'unlimited' };

export interface Facts {
  pid: number;
  ppid: number;
  sid: number;
  pgid: number;
  uid: number[];
  gid: number[];
  groups: number[];
  caps: { inheritable: string; permitted: string; effective: string; bounding: string; ambient: string };
  noNewPrivs: number;
  seccomp: number;
  seccompFilters: number;
  umask: string;
  cpusAllowedList: string;
  cwd: string | null;
  hostname: string;
  domainname: string;
  oomScoreAdj: number;
  personality: number;
  ioprio: number;
  scheduler: { policy: number; resetOnFork: number; flags: number; nice: number; priority: number; runtime: number; deadline: number; period: number } | string;
  cpus: number[];
  mempolicy: { mode: number; nodes: number[] } | string;
  clocks: { monotonic: number; boottime: number };
  /** What clone3(NULL, 0) failed with: EINVAL from the kernel, or a seccomp filter's errno. */
  clone3: string;
  rlimits: Record<string, Rlimit>;
  namespaces: Record<string, string>;
  fds: Record<string, string>;
  mounts: MountInfo[];
  netdevs: string[];
  args: string[];
  env: string[];
  sysctl: Record<string, string | null>;
  stat: Record<string, StatInfo>;
  lstat: Record<string, StatInfo>;
  read: Record<string, string | { error: string }>;
  write: Record<string, string>;
}

/** Put the probe into the shared rootfs (once per test process). */
export function ensureProbe(): void {
  const { rootfs } = sharedBundleTemplate();
  const dest = path.join(rootfs, PROBE_IN_ROOTFS);
  if (fs.existsSync(dest)) return;
  if (!fs.existsSync(PROBE)) throw new Error(`${PROBE} is missing: run \`npm run build\``);
  fs.copyFileSync(PROBE, dest + '.tmp');
  fs.chmodSync(dest + '.tmp', 0o755);
  fs.renameSync(dest + '.tmp', dest);
}

/** A bundle whose process is the probe with `probeArgs`; `edit` may change the spec. */
export function probeBundle(sb: Sandbox, probeArgs: string[], edit?: (spec: Record<string, any>) => void, ownRootfs = false): string {
  ensureProbe();
  return sb.bundle([PROBE_IN_ROOTFS, ...probeArgs], edit, ownRootfs);
}

export interface ProbeRun {
  result: Result;
  /** What the probe printed, or undefined when the container did not run it (see result). */
  facts?: Facts;
}

/**
 * A user namespace mapping container 0..65535 to host `hostID`..: the spec gets the namespace
 * and the maps; the bundle gets its own rootfs owned by the mapped root (as Podman prepares
 * one), under directories the mapped root can traverse.
 */
export function withUserns(sb: Sandbox, hostID: number, edit?: (spec: Record<string, any>) => void): { edit: (spec: Record<string, any>) => void; after: (bundle: string) => void } {
  return {
    edit(spec) {
      edit?.(spec);
      spec.linux.namespaces.push({ type: 'user' });
      spec.linux.uidMappings = [{ containerID: 0, hostID, size: 65536 }];
      spec.linux.gidMappings = [{ containerID: 0, hostID, size: 65536 }];
    },
    after(bundle) {
      fs.chmodSync(sb.dir, 0o755);
      fs.chmodSync(bundle, 0o755);
      chownTree(path.join(bundle, 'rootfs'), hostID);
    },
  };
}

function chownTree(p: string, id: number): void {
  fs.lchownSync(p, id, id);
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), id);
}

/** `run` a probe container to completion and parse what it printed. */
export function runProbe(
  sb: Sandbox,
  edit?: (spec: Record<string, any>) => void,
  probeArgs: string[] = [],
  opts: { cliArgs?: string[]; ownRootfs?: boolean; userns?: number } = {},
): ProbeRun {
  let prepare: ((bundle: string) => void) | undefined;
  if (opts.userns !== undefined) {
    const u = withUserns(sb, opts.userns, edit);
    edit = u.edit;
    prepare = u.after;
  }
  const bundle = probeBundle(sb, probeArgs, edit, opts.ownRootfs || opts.userns !== undefined);
  prepare?.(bundle);
  const id = sb.id('probe');
  const result = sb.tsr(['run', ...(opts.cliArgs ?? []), '--bundle', bundle, id]);
  let facts: Facts | undefined;
  try {
    facts = JSON.parse(result.stdout) as Facts;
  } catch {
    facts = undefined;
  }
  return { result, facts };
}

/** The mount whose mount point is `mountpoint` (the top one when several are stacked). */
export function mountAt(facts: Facts, mountpoint: string): MountInfo | undefined {
  const all = facts.mounts.filter((m) => m.mountpoint === mountpoint);
  return all[all.length - 1];
}

/** Per-mount options ("rw,nosuid,...") as a set. */
export function mountOptions(m: MountInfo | undefined): Set<string> {
  return new Set((m?.options ?? '').split(','));
}

/** A capability hex mask from /proc/self/status as a bigint. */
export function capMask(hex: string): bigint {
  return BigInt('0x' + (hex || '0'));
}

/** Bit numbers set in a capability mask. */
export function capBits(hex: string): number[] {
  const m = capMask(hex);
  const out: number[] = [];
  for (let i = 0; i < 64; i++) if ((m >> BigInt(i)) & 1n) out.push(i);
  return out;
}
