/** Namespace files: the ones a config names by path, and those of a running container for exec. */
import * as fs from 'fs';
import { RuntimeError } from '../errors';
import { checkNamespaceLink } from '../plan/namespaces-plan';

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
