/**
 * HOME for the container process, as runc sets it: when the process env has no HOME, the home
 * directory of its uid from the container's /etc/passwd, or "/".
 *
 * The file is read from the host side of the rootfs, so it must not lead out of it: any symlink
 * on the way (which would resolve against the host's /) makes us fall back to "/".
 */
import * as fs from 'fs';
import * as path from 'path';

function readInsideRoot(root: string, rel: string): string | undefined {
  let cur = root;
  for (const part of rel.split('/').filter(Boolean)) {
    cur = path.join(cur, part);
    try {
      if (fs.lstatSync(cur).isSymbolicLink()) return undefined;
    } catch {
      return undefined;
    }
  }
  try {
    return fs.readFileSync(cur, 'utf8');
  } catch {
    return undefined;
  }
}

export function homeOf(root: string, uid: number): string {
  const passwd = readInsideRoot(root, 'etc/passwd') ?? '';
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
