/**
 * The cgroup of a recorded container, for the commands after create. A rootless container may
 * have none (create went without one: planCgroupUse in src/plan/rootless.ts): then the commands
 * that need a cgroup say so, and those that list or signal its processes use its pid namespace.
 */
import fs from 'fs';
import path from 'path';
import { UnsupportedError } from '../errors';
import { cgroupManager, containerCgroupManager, CgroupManager, parseProcCgroup } from '../cgroups';
import type { ContainerRecord } from '../state/store';
import { isAlive } from '../state/proc';

export function containerCgroup(rec: ContainerRecord): CgroupManager | undefined {
  if (rec.noCgroup) return undefined;
  return containerCgroupManager(rec);
}

/**
 * The path to record for a cgroup found relative to the runtime's own (a rootless default): the
 * same directory as an absolute path when it is one in every hierarchy, so that delete and kill
 * find it from any cgroup; else as it was.
 */
export function recordedCgroupsPath(m: CgroupManager, mountpoints: readonly string[]): string {
  if (m.cgroupsPath.startsWith('/')) return m.cgroupsPath;
  const rels = new Set<string>();
  for (const dir of Object.values(m.paths)) {
    const mp = mountpoints.filter((p) => dir.startsWith(p + '/')).sort((a, b) => b.length - a.length)[0];
    if (!mp) return m.cgroupsPath;
    rels.add(dir.slice(mp.length));
  }
  return rels.size === 1 ? [...rels][0] : m.cgroupsPath;
}

/**
 * The cgroup a process exec'd into the container joins: the container's, unless on cgroup v2 it
 * now hands controllers down to sub-cgroups of its own (a systemd init moved itself into
 * init.scope and enabled them): the kernel refuses any process there (EBUSY, no internal
 * processes), so the process goes where the init is, as runc does.
 */
export function execCgroup(m: CgroupManager, initPid: number): CgroupManager {
  const dir = m.paths[''];
  if (m.mode !== 'v2' || !dir) return m;
  let delegated: boolean;
  let initPath: string | undefined;
  try {
    delegated = fs.readFileSync(path.join(dir, 'cgroup.subtree_control'), 'utf8').trim() !== '';
    initPath = delegated ? parseProcCgroup(fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8')).get('') : undefined;
  } catch {
    return m; // gone meanwhile: the join reports it
  }
  if (!initPath) return m;
  const init = cgroupManager({ cgroupsPath: initPath, id: 'exec' });
  // Only a cgroup below the container's own: anywhere else, the refusal is the right answer.
  return init.paths[''].startsWith(dir + '/') ? init : m;
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
