/**
 * Namespaces kept as files, as `ip netns`, Podman, CNI and the Kubernetes CRI runtimes keep them:
 * a bind mount of /proc/PID/ns/X on an empty file, which holds the namespace alive after every
 * process in it has gone. Every helper undoes what it made at teardown (and never throws there:
 * a throwing teardown would skip the ones after it).
 */
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import type { TapLike } from './runtime';
import { until } from './wait';

/** The inode of a namespace link as readlink shows it: "net:[4026532378]" → 4026532378. */
export function nsInode(link: string): number {
  const m = /^\w+:\[(\d+)\]$/.exec(link.trim());
  if (!m) throw new Error(`not a namespace link: ${JSON.stringify(link)}`);
  return Number(m[1]);
}

/** The namespace inode of a file that holds one (a bind mount, or /proc/PID/ns/X). */
export function fileInode(file: string): number {
  return fs.statSync(file).ino;
}

/** Bind-mount the namespace nsFile (/proc/PID/ns/X) on `file`, made empty first; unmounted and removed at teardown. */
export function pinNamespace(t: TapLike, nsFile: string, file: string): string {
  fs.writeFileSync(file, '');
  t.teardown(() => {
    spawnSync('umount', [file]);
    fs.rmSync(file, { force: true });
  });
  const r = spawnSync('mount', ['--bind', nsFile, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mount --bind ${nsFile} ${file}: ${r.stderr}`);
  return file;
}

/** A network namespace made by `ip netns add` (/run/netns/<name>), deleted at teardown. */
export function ipNetns(t: TapLike, name: string): string {
  t.teardown(() => {
    spawnSync('ip', ['netns', 'delete', name]);
  });
  const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
  return `/run/netns/${name}`;
}

/**
 * A process (`unshare <flags> sleep`) in new namespaces, to pin them from; killed at teardown.
 * Resolves once its namespaces are the new ones (`first`, e.g. "ipc", differs from ours).
 */
export async function namespaceHolder(t: TapLike, flags: string[], first: string): Promise<number> {
  const child = spawn('unshare', [...flags, 'sleep', '600'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  const pid = child.pid!;
  const ours = fs.readlinkSync(`/proc/self/ns/${first}`);
  const ready = await until(() => {
    try {
      return fs.readlinkSync(`/proc/${pid}/ns/${first}`) !== ours;
    } catch {
      return false;
    }
  });
  if (!ready) throw new Error(`unshare ${flags.join(' ')}: no new ${first} namespace`);
  return pid;
}

/** Mount points at or under dir, from our mountinfo (for "nothing left behind"). */
export function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mp) => mp !== undefined && (mp === dir || mp.startsWith(`${dir}/`)));
}
