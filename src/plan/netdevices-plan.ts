/**
 * linux.netDevices → the interfaces the runtime moves into the container's network namespace,
 * validated as runc does (a network namespace is required; names must be valid interface names).
 * The move itself happens in the parent (native tsr_netdev_move): the interface keeps its
 * permanent global addresses and is set up; it is never moved back (runtime-spec).
 */
import { InvalidConfigError } from '../errors';

const IFNAMSIZ = 16;

/** As the kernel's dev_valid_name(): no '/', ':' or whitespace. */
function validName(name: string): boolean {
  return name.length > 0 && name.length < IFNAMSIZ && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

export function planNetDevices(
  devices: Record<string, { name?: string }> | undefined,
  hasNetns: boolean,
  netnsMadeLate: boolean,
): Array<{ name: string; newName: string }> {
  const entries = Object.entries(devices ?? {});
  if (!entries.length) return [];
  if (!hasNetns) throw new InvalidConfigError('linux.netDevices: unable to move network devices without a network namespace');
  if (netnsMadeLate) {
    throw new InvalidConfigError('linux.netDevices: not supported with a new network namespace next to a new user namespace and namespaces joined by path');
  }
  return entries.map(([name, d]) => {
    if (!validName(name)) throw new InvalidConfigError(`linux.netDevices: invalid network device name "${name}"`);
    if (d.name !== undefined && d.name !== '' && !validName(d.name)) throw new InvalidConfigError(`linux.netDevices: invalid network device name "${d.name}"`);
    return { name, newName: d.name ?? '' };
  });
}
