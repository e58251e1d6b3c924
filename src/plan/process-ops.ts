/**
 * The ops that turn a prepared environment into the configured process: rlimits, session and
 * terminal, user and capabilities, cwd, umask, no_new_privs, then the exec itself. Shared by
 * the container init (build-init-plan.ts) and by `exec` (build-exec-plan.ts).
 */
import type { Hook, Process } from '../generated/config';
import { InvalidConfigError } from '../errors';
import { FdSlot, Op } from './ops';
import { CAPABILITIES, PR, RLIMITS } from './linux-constants';
import path from 'path';

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function capabilityMask(names: readonly string[] | undefined, field: string, lastCap: number): bigint {
  let mask = 0n;
  for (const name of names ?? []) {
    const bit = (CAPABILITIES as readonly string[]).indexOf(name);
    if (bit < 0) throw new InvalidConfigError(`${field}: unknown capability "${name}"`);
    // A capability this kernel does not know is skipped, as runc does (it warns).
    if (bit <= lastCap) mask |= 1n << BigInt(bit);
  }
  return mask;
}

/** Where the process's args[0] may be: PATH lookup uses the container's PATH, as runc does. */
export function execCandidates(arg0: string, env: readonly string[] | undefined): string[] {
  if (arg0.includes('/')) return [arg0];
  const pathVar = (env ?? []).filter((e) => e.startsWith('PATH=')).pop()?.slice(5) ?? DEFAULT_PATH;
  return pathVar.split(':').map((dir) => path.posix.join(dir || '.', arg0));
}

export interface ProcessOpsOptions {
  lastCap: number;
  /** Create cwd when it is missing (the init does; exec does not). */
  createCwd: boolean;
  /** With process.terminal: bind the pty slave on /dev/console too (the init does). */
  consoleBind: boolean;
  /** setgroups(2) is allowed where the process runs (default true; see plan/rootless.ts). */
  setgroups?: boolean;
}

/** Everything from rlimits to no_new_privs, in the order the kernel's rules need. */
export function planProcessSetup(ops: Op[], proc: Process, o: ProcessOpsOptions): void {
  if (proc.oomScoreAdj !== undefined) {
    ops.push({ op: 'WRITE_PROC', strs: ['self/oom_score_adj', String(proc.oomScoreAdj)], what: `set oomScoreAdj ${proc.oomScoreAdj}` });
  }
  for (const rl of proc.rlimits ?? []) {
    const res = RLIMITS[rl.type];
    if (res === undefined) throw new InvalidConfigError(`process.rlimits: unknown rlimit type "${rl.type}"`);
    ops.push({ op: 'SETRLIMIT', a: [res, BigInt(rl.soft), BigInt(rl.hard)], what: `set ${rl.type} to soft ${rl.soft}, hard ${rl.hard}` });
  }
  // cwd is resolved inside the root now, before a seccomp filter (applied before the capability
  // drop without no_new_privs) may refuse openat2; CHDIR enters it by fd after the user switch.
  const cwd = proc.cwd || '/';
  if (o.createCwd) ops.push({ op: 'MKDIR_IN_ROOT', a: [0o755], strs: [cwd], what: `create cwd ${cwd}` });
  ops.push({ op: 'OPEN_CWD', strs: [cwd], what: `open cwd ${cwd}` });
  ops.push({ op: 'SETSID', what: 'start a new session' });
  // The pty comes from the container's devpts and must be set up while we are still root.
  if (proc.terminal) ops.push({ op: 'SETUP_PTY', a: [o.consoleBind ? 1 : 0], what: 'set up the terminal (/dev/ptmx)' });

  planUserAndCapabilities(ops, proc, o.lastCap, o.setgroups ?? true);

  ops.push({ op: 'CHDIR', strs: [cwd], what: `chdir to cwd ${cwd}` });
  ops.push({ op: 'UMASK', a: [proc.user?.umask ?? 0o022], what: 'set umask' });
  if (proc.noNewPrivileges) ops.push({ op: 'PRCTL', a: [PR.SET_NO_NEW_PRIVS, 1, 0, 0], what: 'set no_new_privs' });
}

/** Find the executable, report ready, optionally wait on the exec fifo, exec. */
export interface StartHooks {
  hooks: readonly Hook[];
  /** The state the hooks get on stdin; its pid is filled in by the init (its own pid). */
  state: Record<string, unknown>;
}

export function planExec(
  ops: Op[],
  proc: Process,
  o: { fifoFd?: number | FdSlot; preserveFds?: number; waitAfterReady?: boolean; startHooks?: StartHooks },
): void {
  const args = proc.args ?? [];
  const candidates = execCandidates(args[0], proc.env);
  ops.push({ op: 'FIND_EXEC', a: [candidates.length], strs: candidates, what: `exec "${args[0]}"`, program: args[0] });
  // After READY nobody reads the sync socket: a failure (no such program, not executable) is
  // told by the init's exit code, the shell's 127 and 126 as runc uses them, else 1.
  ops.push({ op: 'READY', a: [o.waitAfterReady ? 1 : 0, 127, 126, 1], what: 'report ready' });
  if (o.fifoFd !== undefined) ops.push({ op: 'WAIT_FIFO', a: [o.fifoFd], what: 'wait for start on the exec fifo' });
  for (const op of startHookOps(o.startHooks)) ops.push(op);
  const env = proc.env ?? [];
  ops.push({ op: 'EXEC', a: [args.length, env.length, o.preserveFds ?? 0], strs: [...args, ...env], what: `exec "${args[0]}"` });
}

/**
 * startContainer hooks run in the container after `start`, before the user process (runtime.md).
 * The state's pid is the init's own, which only the init knows: the JSON is split around it.
 */
export function startHookOps(sh: StartHooks | undefined): Op[] {
  if (!sh?.hooks.length) return [];
  const SENTINEL = -4242424242;
  const [before, after] = JSON.stringify({ ...sh.state, pid: SENTINEL }).split(String(SENTINEL));
  return sh.hooks.map((h, i) => {
    const argv = h.args?.length ? h.args : [h.path];
    const env = h.env ?? [];
    return { op: 'RUN_HOOK', a: [argv.length, env.length], strs: [h.path, ...argv, ...env, before, after], what: `startContainer hook #${i} (${h.path})` } as Op;
  });
}

function planUserAndCapabilities(ops: Op[], proc: Process, lastCap: number, setgroups: boolean): void {
  const caps = proc.capabilities ?? {};
  const bounding = capabilityMask(caps.bounding, 'process.capabilities.bounding', lastCap);
  const effective = capabilityMask(caps.effective, 'process.capabilities.effective', lastCap);
  const permitted = capabilityMask(caps.permitted, 'process.capabilities.permitted', lastCap);
  const inheritable = capabilityMask(caps.inheritable, 'process.capabilities.inheritable', lastCap);
  const ambient = capabilityMask(caps.ambient, 'process.capabilities.ambient', lastCap);

  ops.push({ op: 'CAP_BOUNDING', a: [bounding, lastCap], what: 'drop capabilities from the bounding set' });
  ops.push({ op: 'PRCTL', a: [PR.SET_KEEPCAPS, 1, 0, 0], what: 'keep capabilities across the user switch' });
  const user = proc.user ?? { uid: 0, gid: 0 };
  const groups = user.additionalGids ?? [];
  const gidBuf = Buffer.alloc(groups.length * 4);
  groups.forEach((g, i) => gidBuf.writeUInt32LE(g, i * 4));
  // Where setgroups is denied there are no additional groups to set (checkSetgroups): the
  // groups are left as they are, as runc does.
  if (setgroups) ops.push({ op: 'SETGROUPS', a: [groups.length], bytes: gidBuf, what: `set additional groups [${groups.join(', ')}]` });
  ops.push({ op: 'SETRESGID', a: [user.gid], what: `set gid ${user.gid}` });
  ops.push({ op: 'SETRESUID', a: [user.uid], what: `set uid ${user.uid}` });
  ops.push({ op: 'PRCTL', a: [PR.SET_KEEPCAPS, 0, 0, 0], what: 'clear keep-capabilities' });
  ops.push({ op: 'CAPSET', a: [effective, permitted, inheritable], what: 'set capabilities' });
  // The kernel raises an ambient capability only if it is permitted and inheritable; runc's
  // default spec lists ambient caps without inheritable ones and runc goes on without them.
  const raisable = ambient & permitted & inheritable;
  if (raisable) ops.push({ op: 'AMBIENT', a: [raisable], what: 'raise ambient capabilities' });
}
