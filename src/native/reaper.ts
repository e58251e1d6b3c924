/**
 * Child-subreaper control, for tools that run containers and must reap the inits reparented to
 * them (the benchmark, tests run without native/build/tsr-reaper): a host's PID 1 may never reap,
 * and an init that exits after its `create` returned would stay a zombie.
 */
import { libc } from './libc';

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;

/* eslint-disable @typescript-eslint/no-explicit-any */
let fns: { prctl: any; waitpid: any } | undefined;

function load(): { prctl: any; waitpid: any } {
  if (fns) return fns;
  const { lib } = libc();
  fns = {
    prctl: lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
    waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)'),
  };
  return fns;
}

/** Make this process a child subreaper (prctl PR_SET_CHILD_SUBREAPER); false when the kernel refused. */
export function becomeSubreaper(): boolean {
  return load().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0;
}

/** Reap pid if it has exited, without blocking; true when it was reaped now. */
export function reapIfExited(pid: number): boolean {
  return load().waitpid(pid, [0], WNOHANG) === pid;
}

/** Reap every child that has exited, without blocking; how many were reaped. */
export function reapExited(): number {
  const { waitpid } = load();
  let n = 0;
  while (waitpid(-1, [0], WNOHANG) > 0) n++;
  return n;
}
