/**
 * Last-resort cleanup for tests that make the runtime crash: whatever a half-made container left
 * (processes in its cgroup, the cgroup directories, its state dir) is removed here without the
 * runtime, so a test cleans up even when the runtime under test does not.
 */
import fs from 'fs';
import path from 'path';
import { cgroupRoots } from './runtime';

const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Kill every process in the default cgroup of `id` (every hierarchy), then remove the cgroup. */
export function removeContainerCgroups(id: string): void {
  const dirs = cgroupRoots()
    .map((base) => path.join(base, 'tsruntime', id))
    .filter((dir) => fs.existsSync(dir));
  for (const dir of dirs) {
    try {
      if (fs.existsSync(path.join(dir, 'freezer.state'))) fs.writeFileSync(path.join(dir, 'freezer.state'), 'THAWED');
    } catch {
      /* best effort */
    }
  }
  for (let round = 0; round < 100; round++) {
    let alive = 0;
    for (const dir of dirs) {
      for (const sub of walk(dir)) {
        let procs: string[] = [];
        try {
          procs = fs.readFileSync(path.join(sub, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
        } catch {
          /* gone */
        }
        for (const pid of procs) {
          alive++;
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
    }
    if (alive === 0) break;
    pause(10);
  }
  for (const dir of dirs) {
    for (const sub of walk(dir).reverse()) {
      for (let i = 0; i < 100; i++) {
        try {
          fs.rmdirSync(sub);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
          pause(10);
        }
      }
    }
  }
}

/** dir and its sub-directories, parents first. */
function walk(dir: string): string[] {
  const out = [dir];
  try {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...walk(path.join(dir, e.name)));
  } catch {
    /* gone */
  }
  return out;
}
