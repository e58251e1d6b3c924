/**
 * For the planner's unit tests (test/unit/plan*.test.ts): fake HostFacts, the smallest spec the
 * planner accepts, and ways to look at the ops it returns. Pure: no root, no host access.
 */
import type { Spec } from '../../src/generated/config';
import { buildInitPlan, CgroupHierarchy, HostFacts, InitPlan, InitPlanInput, PathKind } from '../../src/plan/build-init-plan';
import type { Op } from '../../src/plan/ops';
import { RuntimeError } from '../../src/errors';
import type { CgroupFacts } from '../../src/plan/rules/resources';

export const ROOTFS = '/bundles/b1/rootfs';
export const BUNDLE = '/bundles/b1';
export const FIFO_FD = 7;
export const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const HYBRID: CgroupHierarchy[] = [
  { mountpoint: '/sys/fs/cgroup/memory', name: 'memory', version: 1 },
  { mountpoint: '/sys/fs/cgroup/cpu,cpuacct', name: 'cpu,cpuacct', version: 1 },
  { mountpoint: '/sys/fs/cgroup/unified', name: 'unified', version: 2 },
];
export const PURE_V2: CgroupHierarchy[] = [{ mountpoint: '/sys/fs/cgroup', name: '', version: 2 }];

const V1_ROOT_FILES: Record<string, string[]> = {
  memory: ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.kmem.limit_in_bytes', 'memory.kmem.tcp.limit_in_bytes', 'memory.swappiness'],
  cpu: ['cpu.shares', 'cpu.cfs_period_us', 'cpu.cfs_quota_us', 'cpu.cfs_burst_us', 'cpu.rt_period_us', 'cpu.rt_runtime_us', 'cpu.idle'],
  blkio: ['blkio.throttle.read_bps_device', 'blkio.throttle.write_bps_device'],
};

/** Cgroup facts of a hybrid host like this project's VM: v1 controllers, hugetlb alone on cgroup2. */
export function hybridCgroups(over: Partial<CgroupFacts> = {}): CgroupFacts {
  return {
    mode: 'hybrid',
    v1Controllers: ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'],
    unifiedMount: '/sys/fs/cgroup/unified',
    unifiedControllers: ['hugetlb'],
    hugePageSizes: ['2MB', '1GB'],
    rootFiles: (c) => (c === '' ? ['cgroup.controllers', 'cgroup.max.depth', 'cpu.pressure'] : V1_ROOT_FILES[c] ?? []),
    ...over,
  };
}

/** A v1 host: the same hierarchies, no cgroup2 mount, and hugetlb as a v1 hierarchy. */
export function v1Cgroups(over: Partial<CgroupFacts> = {}): CgroupFacts {
  return hybridCgroups({ mode: 'v1', v1Controllers: [...hybridCgroups().v1Controllers, 'hugetlb'], unifiedMount: undefined, unifiedControllers: [], ...over });
}

/** A pure cgroup v2 host (what user-mode Linux offers: no cpuset, hugetlb or rdma). */
export function v2Cgroups(over: Partial<CgroupFacts> = {}): CgroupFacts {
  return {
    mode: 'v2',
    v1Controllers: [],
    unifiedMount: '/sys/fs/cgroup',
    unifiedControllers: ['cpu', 'io', 'memory', 'pids'],
    hugePageSizes: ['2MB'],
    rootFiles: (c) => (c === '' ? ['cgroup.controllers', 'cgroup.subtree_control', 'cpu.pressure', 'memory.pressure', 'io.pressure'] : []),
    ...over,
  };
}

/** A hybrid host with 41 capabilities where every path is missing unless `paths` says otherwise. */
export function host(over: Partial<HostFacts> = {}, paths: Record<string, PathKind> = {}): HostFacts {
  return {
    lastCap: 40,
    pathKind: (p) => paths[p] ?? 'missing',
    cgroupHierarchies: HYBRID,
    cgroupPath: '/tsruntime/c1',
    cgroup: hybridCgroups(),
    ...over,
  };
}

/** The smallest spec the planner accepts, in the shape `runc spec` makes. */
export function baseSpec(): Spec {
  return {
    ociVersion: '1.2.0',
    root: { path: 'rootfs' },
    process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 }, env: [`PATH=${PATH}`] },
    linux: { namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
  } as Spec;
}

/** The plan for baseSpec() changed by `edit`, on host() unless `input` says otherwise. */
export function plan(edit: (s: Spec) => void = () => {}, input: Partial<InitPlanInput> = {}): InitPlan {
  const spec = baseSpec();
  edit(spec);
  return buildInitPlan({ spec, rootfs: ROOTFS, bundle: BUNDLE, fifoFd: FIFO_FD, namespaceFds: {}, host: host(), ...input });
}

/** The planner's error message for that plan, or "(no error)". */
export function planError(edit: (s: Spec) => void, input: Partial<InitPlanInput> = {}): string {
  try {
    plan(edit, input);
  } catch (e) {
    if (e instanceof RuntimeError) return e.message;
    throw e;
  }
  return '(no error)';
}

/** Ops without their `what`, for compact comparisons. */
export const bare = (ops: Op[]) => ops.map(({ what: _what, ...rest }) => rest);
export const named = (p: InitPlan, name: Op['op']) => p.ops.filter((o) => o.op === name);
export const touching = (p: InitPlan, dest: string) => p.ops.filter((o) => o.strs?.some((s) => s === dest || s?.startsWith(dest + '/')));
export const indexOf = (p: InitPlan, name: Op['op']) => p.ops.findIndex((o) => o.op === name);
