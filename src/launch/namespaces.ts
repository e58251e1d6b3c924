/**
 * Namespace files: the ones a config names by path, those of a running container for exec, and
 * whether one is the runtime's own (by device and inode).
 */
import fs from 'fs';
import { ContainerStateError, InvalidConfigError, RuntimeError } from '../errors';
import { namespaceFileProblem, NamespaceFile } from '../plan/namespaces-plan';
import { NAMESPACE_FLAG, NAMESPACE_PROC_NAME } from '../plan/linux-constants';
import { loadHostProcess } from '../native/host-process';
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

/** Whether the namespace open as fd is the runtime's own of that type (same device and inode). */
export function isRuntimeNamespace(type: string, fd: number): boolean {
  const ours = ourNamespace(type);
  try {
    return ours !== undefined && sameFile(fs.fstatSync(fd), ours);
  } catch {
    return false;
  }
}

const NSFS_MAGIC = 0x6e736673;
const O_PATH = 0o10000000;

function isNsfs(fd: number): boolean {
  try {
    return fs.statfsSync(`/proc/self/fd/${fd}`).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'regular file';
}

/** The runtime-spec type of the namespace open as fd, or undefined when the kernel cannot say. */
function namespaceType(fd: number): string | undefined {
  const flag = loadHostProcess().nsType(fd);
  if (flag < 0) return undefined;
  return Object.keys(NAMESPACE_FLAG).find((type) => NAMESPACE_FLAG[type] === flag);
}

/**
 * What an open file is, as a namespace: nsfs inodes are regular files to stat(), so only the
 * filesystem tells them apart, whatever path they were opened by (a bind mount reads as its own
 * path in /proc/self/fd, not as "net:[4026532378]").
 */
function namespaceFile(fd: number): NamespaceFile {
  const st = fs.fstatSync(fd);
  if (!st.isFile() || !isNsfs(fd)) return { kind: 'other', what: fileKind(st) };
  return { kind: 'namespace', type: namespaceType(fd) };
}

function unopenable(e: unknown): NamespaceFile {
  const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  // Node's message is "ENOENT: no such file or directory, open '<path>'".
  const text = /^\w+: (.*?), \w+ '/.exec((e as Error).message)?.[1];
  return { kind: 'unopenable', code, text };
}

/**
 * Opens linux.namespaces[index].path for the init to setns into, or throws saying why it cannot
 * be joined. The path is first opened O_PATH, which has no effect on whatever it names (a fifo
 * does not block, a device is not opened); only a namespace is reopened for reading, through
 * that very fd, so what was checked is what is joined.
 */
export function openNamespace(index: number, type: string, nsPath: string): number {
  let file: NamespaceFile;
  let fd: number | undefined;
  let pathFd: number | undefined;
  try {
    pathFd = fs.openSync(nsPath, O_PATH);
    file = namespaceFile(pathFd);
    if (file.kind === 'namespace') {
      fd = fs.openSync(`/proc/self/fd/${pathFd}`, 'r');
      file = namespaceFile(fd);
    }
  } catch (e) {
    file = unopenable(e);
  } finally {
    if (pathFd !== undefined) fs.closeSync(pathFd);
  }
  const problem = namespaceFileProblem(type, nsPath, file);
  if (problem === undefined && fd !== undefined) return fd;
  if (fd !== undefined) fs.closeSync(fd);
  throw new InvalidConfigError(`linux.namespaces[${index}].path: ${problem ?? `cannot open ${nsPath}`}`);
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
    // The same rules as for a config's paths: a /proc that is not procfs must not hand us
    // something else to join.
    const problem = namespaceFileProblem(type, `/proc/${rec.pid}/ns/${name}`, namespaceFile(fd));
    if (problem) throw new RuntimeError(`exec: join the container's ${type} namespace: ${problem}`);
    // Joining our own namespace is an error for user, a no-op for the rest.
    if (isRuntimeNamespace(type, fd)) continue;
    namespaceFds[type] = fd;
  }
  // The fds name the namespaces of whatever process had the pid when they were opened: it must
  // still be the container's init (not a pid recycled since the status check).
  if (!isAlive(rec.pid, rec.startTime)) throw new ContainerStateError('cannot exec in a stopped container', rec.id, 'stopped');
  return namespaceFds;
}
