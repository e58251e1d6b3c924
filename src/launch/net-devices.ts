/** linux.netDevices: host interfaces moved into the container's network namespace. */
import fs from 'fs';
import { RuntimeError, errnoName } from '../errors';
import { loadConfigShim } from '../native/config-shim';

/** linux.netDevices: into the joined network namespace, or the one the init was cloned with. */
export function moveNetDevices(devices: Array<{ name: string; newName: string }>, joinedFd: number | undefined, pid: number): void {
  const fd = joinedFd ?? fs.openSync(`/proc/${pid}/ns/net`, 'r');
  try {
    for (const d of devices) {
      const rc = loadConfigShim().netdevMove(d.name, d.newName, fd);
      if (rc < 0) throw new RuntimeError(`linux.netDevices: move ${d.name}${d.newName ? ` as ${d.newName}` : ''} into the container: ${errnoName(-rc)}`);
    }
  } finally {
    if (joinedFd === undefined) fs.closeSync(fd);
  }
}
