import type { Command } from '../command';
import { requireId } from '../command';
import { RuntimeError } from '../../errors';
import { updateContainer, UpdateFlags } from '../../lifecycle/update';

export const command: Command = {
  describe: 'update container resource constraints',
  args: '<container-id>',
  flags: {
    resources: {
      type: 'string',
      alias: ['r'],
      describe: "path to a JSON file with the linux.resources to update, or '-' for standard input (the other flags are then ignored)",
    },
    'blkio-weight': { type: 'number', describe: 'per cgroup block IO weight, 10 to 1000' },
    'cpu-period': { type: 'string', describe: 'CPU CFS period (µs), 0 for the system default' },
    'cpu-quota': { type: 'string', describe: 'CPU CFS quota (µs of CPU time per period)' },
    'cpu-burst': { type: 'string', describe: 'CPU CFS burst (µs)' },
    'cpu-share': { type: 'string', alias: ['cpu-shares'], describe: 'CPU shares (relative weight)' },
    'cpu-rt-period': { type: 'string', describe: 'CPU realtime period (µs)' },
    'cpu-rt-runtime': { type: 'string', describe: 'CPU realtime runtime (µs per period)' },
    'cpuset-cpus': { type: 'string', describe: 'CPUs to use (e.g. 0-3,7)' },
    'cpuset-mems': { type: 'string', describe: 'memory nodes to use' },
    'cpu-idle': { type: 'string', describe: 'SCHED_IDLE for the cgroup: 1, or 0 for the default' },
    'kernel-memory': { type: 'string', describe: '(obsolete) kernel memory limit' },
    'kernel-memory-tcp': { type: 'string', describe: '(obsolete) kernel TCP memory limit' },
    memory: { type: 'string', describe: 'memory limit (bytes, or with a unit: 64m, 1g); -1 for unlimited' },
    'memory-reservation': { type: 'string', describe: 'memory reservation (soft limit)' },
    'memory-swap': { type: 'string', describe: "total memory + swap limit; '-1' for unlimited swap" },
    'pids-limit': { type: 'number', describe: 'maximum number of processes; -1 for unlimited' },
    'l3-cache-schema': { type: 'string', describe: 'Intel RDT/CAT L3 cache schema (not supported)' },
    'mem-bw-schema': { type: 'string', describe: 'Intel RDT/MBA memory bandwidth schema (not supported)' },
  },
  run(g, p) {
    const id = requireId(p, 'update');
    if (p.positionals.length > 1) throw new RuntimeError(`"update" requires exactly 1 argument(s)`);
    const f = p.flags;
    const s = (name: string) => (f[name] === undefined ? undefined : String(f[name]));
    const flags: UpdateFlags = {
      resources: s('resources'),
      blkioWeight: f['blkio-weight'] as number | undefined,
      cpuPeriod: s('cpu-period'),
      cpuQuota: s('cpu-quota'),
      cpuBurst: s('cpu-burst'),
      cpuShare: s('cpu-share'),
      cpuRtPeriod: s('cpu-rt-period'),
      cpuRtRuntime: s('cpu-rt-runtime'),
      cpusetCpus: s('cpuset-cpus'),
      cpusetMems: s('cpuset-mems'),
      cpuIdle: s('cpu-idle'),
      kernelMemory: s('kernel-memory'),
      kernelMemoryTcp: s('kernel-memory-tcp'),
      memory: s('memory'),
      memoryReservation: s('memory-reservation'),
      memorySwap: s('memory-swap'),
      pidsLimit: f['pids-limit'] as number | undefined,
      l3CacheSchema: s('l3-cache-schema'),
      memBwSchema: s('mem-bw-schema'),
    };
    updateContainer(g.store(), id, flags);
    return 0;
  },
};
