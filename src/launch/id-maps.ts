/** User namespace id maps, written by the runtime for the init (uid_map, gid_map). */
import * as fs from 'fs';
import type { Spec } from '../generated/config';
import { RuntimeError } from '../errors';

export function hostIdOf(mappings: Array<{ containerID: number; hostID: number; size: number }> | undefined, id: number): number {
  for (const m of mappings ?? []) if (id >= m.containerID && id < m.containerID + m.size) return m.hostID + (id - m.containerID);
  return id;
}

export function writeIdMaps(pid: number, spec: Spec): void {
  const fmt = (maps: Array<{ containerID: number; hostID: number; size: number }> | undefined) =>
    (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
  const write = (file: string, text: string) => {
    try {
      fs.writeFileSync(`/proc/${pid}/${file}`, text);
    } catch (e) {
      throw new RuntimeError(`linux.${file === 'uid_map' ? 'uidMappings' : 'gidMappings'}: write /proc/${pid}/${file}: ${(e as NodeJS.ErrnoException).code}`);
    }
  };
  if (spec.linux?.uidMappings?.length) write('uid_map', fmt(spec.linux.uidMappings));
  if (spec.linux?.gidMappings?.length) write('gid_map', fmt(spec.linux.gidMappings));
}
