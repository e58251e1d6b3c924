/**
 * User namespace id maps, written by the runtime for the init (uid_map, gid_map): by the runtime
 * itself, or through newuidmap/newgidmap when an unprivileged caller maps more than its own ids
 * (how, is the plan's: src/plan/rootless.ts planIdMapWrite).
 */
import fs from 'fs';
import type { spawnSync as SpawnSync } from 'child_process';
import type { IDMapping, Spec } from '../generated/config';
import { errnoText, LaunchError, RuntimeError } from '../errors';
import { formatMappings, IdMapWrite, PRIVILEGED_ID_MAPS } from '../plan/rootless';
import { findProgram } from './host-probe';

export function hostIdOf(mappings: readonly IDMapping[] | undefined, id: number): number {
  for (const m of mappings ?? []) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return id;
}

function writeProc(pid: number, file: string, text: string, field: string, how: IdMapWrite): void {
  try {
    fs.writeFileSync(`/proc/${pid}/${file}`, text);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const hint = how !== PRIVILEGED_ID_MAPS && (code === 'EPERM' || code === 'EACCES')
      ? `: an unprivileged user may write only a map of its own id; map the others through /etc/subuid and /etc/subgid (newuidmap, newgidmap)`
      : '';
    throw new LaunchError(`${field}: write ${JSON.stringify(text.trim())} to /proc/${pid}/${file}: ${errnoText(code)}${hint}`);
  }
}

/** newuidmap PID ns host count ...: the setuid helper checks the ranges against /etc/subuid. */
function runHelper(helper: 'newuidmap' | 'newgidmap', pid: number, maps: IDMapping[], field: string): void {
  const bin = findProgram(helper);
  const ranges = formatMappings(maps);
  if (!bin) throw new RuntimeError(`${field}: mapping ${ranges} needs ${helper}, which is not installed (Debian and Ubuntu: package uidmap)`);
  const args = [String(pid), ...maps.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
  // Required here: child_process costs some 9 ms to load, and only an unprivileged caller needs it.
  const { spawnSync } = require('child_process') as { spawnSync: typeof SpawnSync };
  const r = spawnSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status === 0) return;
  const said = (r.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? (r.error ? r.error.message : `exit status ${r.status ?? r.signal}`);
  const db = helper === 'newuidmap' ? '/etc/subuid' : '/etc/subgid';
  throw new LaunchError(`${field}: ${helper} refused to map ${ranges}: ${said}; the host ids must be the caller's own or its subordinate ids in ${db}`);
}

/** What a uid_map or gid_map file takes: "containerID hostID size" a line. */
export function idMapText(maps: readonly IDMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

export function writeIdMaps(pid: number, spec: Spec, how: IdMapWrite = PRIVILEGED_ID_MAPS): void {
  const uid = spec.linux?.uidMappings ?? [];
  const gid = spec.linux?.gidMappings ?? [];
  if (uid.length) {
    if (how.uid === 'helper') runHelper('newuidmap', pid, uid, 'linux.uidMappings');
    else writeProc(pid, 'uid_map', idMapText(uid), 'linux.uidMappings', how);
  }
  if (gid.length) {
    // The kernel takes an unprivileged gid_map only once setgroups(2) is off for good.
    if (how.denySetgroups) writeProc(pid, 'setgroups', 'deny', 'linux.gidMappings', how);
    if (how.gid === 'helper') runHelper('newgidmap', pid, gid, 'linux.gidMappings');
    else writeProc(pid, 'gid_map', idMapText(gid), 'linux.gidMappings', how);
  }
}
