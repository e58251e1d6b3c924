/**
 * HOME for the container process, as runc sets it: when the process env has no HOME, the home
 * directory of its uid from the container's /etc/passwd, or "/".
 *
 * The file is the image's (create reads it in the bundle rootfs) or the running container's
 * (exec reads it through /proc/<pid>/root, while the container may be changing it). It is read
 * with every path component resolved inside that root (openat2 RESOLVE_IN_ROOT): an absolute
 * symlink, or "..", means the container's /, as it does inside the container, never the host's.
 */
import { loadHostProcess } from '../native/host-process';

export function homeOf(root: string, uid: number): string {
  const passwd = loadHostProcess().readInRoot(root, '/etc/passwd')?.toString('utf8') ?? '';
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f.length >= 7 && Number(f[2]) === uid && f[2] !== '') return f[5] || '/';
  }
  return '/';
}

/** env with HOME added when it has none. */
export function withHome(env: string[] | undefined, root: string, uid: number): string[] {
  const list = env ?? [];
  if (list.some((e) => e.startsWith('HOME='))) return list;
  return [...list, `HOME=${homeOf(root, uid)}`];
}
