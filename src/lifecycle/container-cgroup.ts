/**
 * The cgroup of a recorded container, for the commands after create. A rootless container may
 * have none (create went without one: planCgroupUse in src/plan/rootless.ts): then the commands
 * that need a cgroup say so, and those that list or signal its processes use its pid namespace.
 */
import * as fs from 'fs';
import { UnsupportedError } from '../errors';
import { cgroupManager, CgroupManager } from '../cgroups';
import type { ContainerRecord } from '../state/store';
import { isAlive } from '../state/proc';

export function containerCgroup(rec: ContainerRecord): CgroupManager | undefined {
  if (rec.noCgroup) return undefined;
  return cgroupManager({ cgroupsPath: rec.cgroupsPath, id: rec.id });
}

/** The cgroup, or an error saying that `doing` needs one and why this container has none. */
export function requireCgroup(rec: ContainerRecord, doing: string): CgroupManager {
  const m = containerCgroup(rec);
  if (m) return m;
  throw new UnsupportedError(`${doing}: container ${rec.id} has no cgroup: it was created rootless without one (${rec.noCgroup}), and ${doing} needs one`);
}

function pidNamespace(pid: number | 'self'): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

/**
 * The processes of a container without a cgroup: every process in its pid namespace when it has
 * one of its own, else the init alone (runc can find no more either).
 */
export function namespacePids(rec: ContainerRecord): number[] {
  if (!isAlive(rec.pid, rec.startTime)) return [];
  const ns = pidNamespace(rec.pid);
  if (!ns || ns === pidNamespace('self')) return [rec.pid];
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (/^\d+$/.test(name) && pidNamespace(Number(name)) === ns) out.push(Number(name));
  }
  return out;
}

/** The container's processes: its cgroup's (with sub-cgroups), or those namespacePids finds. */
export function containerProcesses(rec: ContainerRecord): number[] {
  const m = containerCgroup(rec);
  return m ? m.pids(true) : namespacePids(rec);
}
