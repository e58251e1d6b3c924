/**
 * linux.sysctl → writes under /proc/sys, validated against the namespaces the container has,
 * as runc does: /proc/sys is not fully namespaced, so a key is accepted only when the namespace
 * that scopes it is the container's own (ipc keys with an ipc namespace, net.* with a network
 * namespace that is not the runtime's, kernel.domainname with a uts namespace, user.* with a
 * user namespace). Anything else would change the host and is an error.
 */
import { InvalidConfigError } from '../errors';
import { Op } from './ops';

const IPC_KEYS = new Set([
  'kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/**
 * sysctl(8) accepts "/" as the separator too ("net/ipv4/ip_forward"); then "." may appear in a
 * component ("net/ipv4/conf/eth0.100/rp_filter"). Returns the dotted form with such dots as "/".
 */
export function normalizeSysctlKey(key: string): string {
  const first = key.search(/[./]/);
  if (first < 0 || key[first] === '.') return key;
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

export interface SysctlNamespaces {
  /** Namespace types the container has (its own or joined). */
  types: Set<string>;
  /** The container's network namespace is the runtime's own (joined by a path to it). */
  netIsHost: boolean;
}

export function sysctlOps(sysctl: Record<string, string> | undefined, ns: SysctlNamespaces): Op[] {
  const ops: Op[] = [];
  for (const [key, value] of Object.entries(sysctl ?? {})) {
    const k = normalizeSysctlKey(key);
    if (IPC_KEYS.has(k) || k.startsWith('fs.mqueue.')) {
      if (!ns.types.has('ipc')) throw new InvalidConfigError(`linux.sysctl: sysctl "${key}" is not allowed in the host's ipc namespace`);
    } else if (k.startsWith('net.')) {
      if (!ns.types.has('network') || ns.netIsHost) throw new InvalidConfigError(`linux.sysctl: sysctl "${key}" is not allowed in the host's network namespace`);
    } else if (k === 'kernel.domainname' && ns.types.has('uts')) {
      // namespaced, and no OCI field of its own conflicts
    } else if (k === 'kernel.hostname' && ns.types.has('uts')) {
      throw new InvalidConfigError(`linux.sysctl: sysctl "${key}" is not allowed as it conflicts with the OCI "hostname" field`);
    } else if (k.startsWith('user.')) {
      if (!ns.types.has('user')) throw new InvalidConfigError(`linux.sysctl: setting ucounts without a user namespace is not allowed: "${key}"`);
    } else {
      throw new InvalidConfigError(`linux.sysctl: sysctl "${key}" is not in a separate kernel namespace`);
    }
    // The file name is the dotted key with "." as "/": a "/" kept in a component (eth0/100) is the
    // interface name's dot, so swap them back for the path.
    const parts = k.split('.').map((c) => c.replace(/\//g, '.'));
    // "net.//.kernel.x" would become net/../kernel/x: a way out of the namespaced subtree.
    if (parts.some((c) => c === '' || c === '.' || c === '..')) throw new InvalidConfigError(`linux.sysctl: invalid sysctl name "${key}"`);
    // Written through the /proc the init verified at start, not the container's /proc (init/procfs.c).
    ops.push({ op: 'WRITE_PROC', strs: [`sys/${parts.join('/')}`, value], what: `set sysctl ${key}=${value}` });
  }
  return ops;
}
