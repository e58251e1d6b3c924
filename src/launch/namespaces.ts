/**
 * Namespace files: the ones a config names by path, those of a running container for exec, and
 * whether one is the runtime's own (by device and inode).
 */
import * as fs from 'fs';
import { ContainerStateError, RuntimeError } from '../errors';
import { checkNamespaceLink } from '../plan/namespaces-plan';
import { NAMESPACE_PROC_NAME } from '../plan/linux-constants';
import { EXEC_JOIN_ORDER } from '../plan/build-exec-plan';
import type { ContainerRecord } from '../state/store';
import { isAlive } from '../state/proc';

/** The runtime's own namespace of a type, or undefined when this kernel has no such namespace. */
export function ourNamespace(type: string): fs.Stats | undefined {
  try {
    return fs.statSync(`/proc/self/ns/${NAMESPACE_PROC_NAME[type] ?? type}`);
  } catch {
    return undefined;
  }
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** Whether nsPath names the runtime's own namespace of that type. */
export function isRuntimeNamespace(type: string, nsPath: string): boolean {
  const ours = ourNamespace(type);
  try {
    return ours !== undefined && sameFile(fs.statSync(nsPath), ours);
  } catch {
    return false;
  }
}

const NSFS_MAGIC = 0x6e736673;

function isNsfs(fd: number): boolean {
  try {
    return fs.statfsSync(`/proc/self/fd/${fd}`).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

export function openNamespace(type: string, nsPath: string): number {
  try {
    const fd = fs.openSync(nsPath, 'r');
    let link = '';
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      /* checked below */
    }
    // A namespace kept as a bind mount (`ip netns add`, Podman's and CNI's /run/netns/*) reads
    // there as its own path, not "net:[4026532378]". It is a namespace if the file is on nsfs;
    // its type is then checked by the kernel: the init's setns(fd, <type>) refuses another type.
    if (!/^\w+:\[\d+\]$/.test(link) && isNsfs(fd)) return fd;
    const wrong = checkNamespaceLink(type, nsPath, link);
    if (wrong) {
      fs.closeSync(fd);
      throw new RuntimeError(wrong);
    }
    return fd;
  } catch (e) {
    if (e instanceof RuntimeError) throw e;
    // Node's message is "ENOENT: no such file or directory, open '<path>'".
    const code = (e as NodeJS.ErrnoException).code;
    const text = /^\w+: (.*?), \w+ '/.exec((e as Error).message)?.[1];
    const why = code ? `${code}${text ? ` (${text})` : ''}` : (e as Error).message;
    throw new RuntimeError(`linux.namespaces: ${type} namespace path ${nsPath}: ${why}`);
  }
}

/**
 * The container's namespaces to join, by type: those that differ from ours. The fds go into
 * `fds` for the caller to close.
 */
export function openContainerNamespaces(rec: ContainerRecord, fds: number[]): Record<string, number> {
  const namespaceFds: Record<string, number> = {};
  for (const type of EXEC_JOIN_ORDER) {
    const name = NAMESPACE_PROC_NAME[type];
    const ours = ourNamespace(type);
    if (!ours) continue; // this kernel has no such namespace
    let fd: number;
    try {
      fd = fs.openSync(`/proc/${rec.pid}/ns/${name}`, 'r');
    } catch {
      // Ours exists, theirs does not: the init is gone. Never fall back to the host's namespaces.
      throw new ContainerStateError('cannot exec in a stopped container', rec.id, 'stopped');
    }
    fds.push(fd);
    const theirs = fs.fstatSync(fd);
    // Joining our own namespace is an error for user, a no-op for the rest.
    if (sameFile(theirs, ours)) continue;
    namespaceFds[type] = fd;
  }
  // The fds name the namespaces of whatever process had the pid when they were opened: it must
  // still be the container's init (not a pid recycled since the status check).
  if (!isAlive(rec.pid, rec.startTime)) throw new ContainerStateError('cannot exec in a stopped container', rec.id, 'stopped');
  return namespaceFds;
}
