/**
 * exec: start another process inside a running container. It joins every namespace of the
 * container, its cgroup (or a sub-cgroup with --cgroup), and gets the container's or the given
 * process settings. In the foreground the runtime waits and returns the exit code (128+signal
 * when killed), forwarding signals; with --detach it returns once the process runs.
 */
import fs from 'fs';
import path from 'path';
import type { Process, Spec } from '../generated/config';
import { ContainerStateError, RuntimeError, errnoName } from '../errors';
import { StateStore, writeFileAtomic } from '../state/store';
import { computeStatus } from './status';
import { buildExecPlan, ExecPlan } from '../plan/build-exec-plan';
import { openContainerNamespaces } from '../launch/namespaces';
import { planView, PlanView } from '../launch/plan-view';
import type { CgroupManager } from '../cgroups/common';
import { loadShim } from '../native/shim';
import { cgroupManager } from '../cgroups';
import { containerCgroup, execCgroup, requireCgroup } from './container-cgroup';
import { checkTerminal, launch, Launched, releaseAfterReady } from '../launch/spawn';
import { withHome } from './passwd';
import { checkPreservedFds } from './preserve-fds';
import { closeAll } from '../state/proc';
import { checkExecLimits } from './exec-limits';
import { v1JoinDirs } from '../launch/cgroup-join';
import { compileSeccomp, lastCap, lsmFacts, setgroupsAllowed } from '../launch/host-probe';
import { cachedSeccompCompiler } from '../launch/seccomp-cache';
import type { SeccompFilter } from '../plan/seccomp-plan';
import { loadConfigShim } from '../native/config-shim';
import { waitForeground } from './wait';
import { proxyTerminal } from './tty-proxy';
import type { Logger } from '../log';

export interface ExecOptions {
  id: string;
  /** The whole process (already validated); otherwise built from the flags. */
  process?: Process;
  /** --process: a file (or - for stdin) holding the whole process; read and validated here. */
  processFile?: string;
  /** The command and its arguments; the rest of the process comes from the container's config. */
  args?: string[];
  tty?: boolean;
  cwd?: string;
  /** Extra environment, "NAME=value". */
  env?: string[];
  /** uid[:gid] */
  user?: string;
  additionalGids?: number[];
  /** Capabilities to add ("CAP_NET_ADMIN"). */
  caps?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
  consoleSocket?: string;
  /** Return once the process runs instead of waiting for it. */
  detach?: boolean;
  pidFile?: string;
  preserveFds?: number;
  /** Allow exec in a paused container. */
  ignorePaused?: boolean;
  /** Run in a sub-cgroup of the container: [controller:]path. */
  cgroup?: string;
}

/** The process to run: --process as given, or the container's process adjusted by the flags (runc's rules). */
export function execProcess(base: Process | undefined, o: ExecOptions): Process {
  if (o.process) return o.process;
  if (!o.args || o.args.length === 0) throw new RuntimeError('exec: no command given (arguments after the container id, or --process)');
  const proc: Process = {
    terminal: Boolean(o.tty),
    user: base?.user ? { ...base.user } : { uid: 0, gid: 0 },
    args: o.args,
    env: [...(base?.env ?? []), ...(o.env ?? [])],
    cwd: o.cwd ?? base?.cwd ?? '/',
    capabilities: base?.capabilities ? JSON.parse(JSON.stringify(base.capabilities)) : undefined,
    rlimits: base?.rlimits,
    noNewPrivileges: o.noNewPrivs || base?.noNewPrivileges,
    apparmorProfile: o.apparmor ?? base?.apparmorProfile,
    selinuxLabel: o.processLabel ?? base?.selinuxLabel,
    oomScoreAdj: base?.oomScoreAdj,
  };
  if (o.user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(o.user);
    if (!m) throw new RuntimeError(`--user ${o.user}: expected uid[:gid] (numeric)`);
    proc.user = { uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : 0 };
  }
  if (o.additionalGids?.length) proc.user!.additionalGids = o.additionalGids;
  if (o.caps?.length) {
    const caps = (proc.capabilities ??= {});
    for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
      caps[set] = [...new Set([...(caps[set] ?? []), ...o.caps])];
    }
  }
  return proc;
}

interface PreparedExec {
  /** undefined: a rootless container without a cgroup. */
  joinTarget?: CgroupManager;
  rootless: boolean;
  lateJoin: boolean;
  selfJoin: boolean;
  plan: ExecPlan;
}

/**
 * Everything before the process is spawned: the process to run, the checks, the container's
 * namespaces (opened into fds, the caller's to close) and the plan. --dry-run stops here.
 * compile: linux.seccomp's compiler (an exec keeps its programs under --root, a dry run makes nothing).
 */
function prepareExec(store: StateStore, o: ExecOptions, log: Logger, fds: number[], compile: (filter: SeccompFilter) => Buffer): PreparedExec {
  checkPreservedFds(o.preserveFds ?? 0, '--preserve-fds');
  if (o.processFile && !o.process) {
    // Loaded only here: load-process.ts pulls in the generated process validator.
    const { loadProcessFile } = require('../config/load-process') as typeof import('../config/load-process');
    o = { ...o, process: loadProcessFile(o.processFile) };
  }
  const rec = store.load(o.id);
  const status = computeStatus(store, rec);
  if (status === 'stopped') throw new ContainerStateError('cannot exec in a stopped container', o.id, status);
  if (status === 'paused' && !o.ignorePaused) throw new ContainerStateError('cannot exec in a paused container (use --ignore-paused to override)', o.id, status);
  const spec = rec.config as Spec;
  const proc = execProcess(spec.process, o);
  proc.env = withHome(proc.env, `/proc/${rec.pid}/root`, proc.user?.uid ?? 0);
  checkExecLimits(proc.args ?? [], proc.env, proc.rlimits);
  checkTerminal(Boolean(proc.terminal), o.consoleSocket, Boolean(o.detach));

  const cgroups = o.cgroup ? requireCgroup(rec, 'exec --cgroup') : containerCgroup(rec);
  const joinTarget = cgroups && (o.cgroup ? subCgroup(cgroups.cgroupsPath, o.cgroup) : execCgroup(cgroups, rec.pid));
  const namespaceFds = openContainerNamespaces(rec, fds);
  // The process joins the cgroup itself, first thing (launch/cgroup-join.ts), unless it must
  // join late (a frozen cgroup: it would stall its own setup) or get its initial CPU affinity
  // before it is inside the cpuset.
  const lateJoin = status === 'paused';
  const selfJoin = joinTarget !== undefined && !lateJoin && !proc.execCPUAffinity?.initial;
  const plan = log.step('plan', () => buildExecPlan({
    process: proc, spec, namespaceFds, lastCap: lastCap(), preserveFds: o.preserveFds, lateCgroupJoin: lateJoin, lsm: lsmFacts(), compileSeccomp: compile,
    cgroupJoin: selfJoin ? v1JoinDirs(joinTarget!) : [], trace: log.tracing,
    // The process ends up in the init's user namespace (setgroups may be denied there).
    setgroups: setgroupsAllowed(rec.pid),
  }));
  for (const w of plan.warnings) log.warn(w);
  return { joinTarget, rootless: Boolean(rec.rootless), lateJoin, selfJoin, plan };
}

/** exec --dry-run: the plan of the process, with nothing spawned. */
export function planExecInContainer(store: StateStore, o: ExecOptions, log: Logger): PlanView {
  const fds: number[] = [];
  try {
    return planView({ ...prepareExec(store, o, log, fds, compileSeccomp).plan, cloneFlags: 0 });
  } finally {
    closeAll(fds);
  }
}

export async function execInContainer(store: StateStore, o: ExecOptions, log: Logger): Promise<number> {
  const fds: number[] = [];
  let launched: Launched | undefined;
  try {
    const { joinTarget, rootless, lateJoin, selfJoin, plan } = prepareExec(store, o, log, fds, cachedSeccompCompiler(store.root, log));
    launched = launch({
      what: 'exec',
      ops: plan.ops,
      cloneFlags: 0,
      join: selfJoin ? joinTarget : undefined,
      consoleSocket: o.consoleSocket,
      log,
      rootless,
      beforeGo(helper) {
        if (plan.initialAffinity) {
          const rc = loadConfigShim().schedSetaffinity(helper, plan.initialAffinity);
          if (rc < 0) throw new RuntimeError(`process.execCPUAffinity.initial: sched_setaffinity: ${errnoName(-rc)}`);
          if (!lateJoin) joinTarget?.join(helper);
        }
      },
    });
    fds.push(launched.syncFd);
    if (lateJoin) {
      joinTarget!.join(launched.pid); // frozen from here until the container is resumed
      releaseAfterReady(launched, 'exec process');
    }
    if (o.pidFile) writeFileAtomic(path.resolve(o.pidFile), String(launched.pid), 0o644);
  } catch (e) {
    if (launched) {
      loadShim().killAndReap(launched.pid);
      if (launched.terminalMaster !== undefined) fs.closeSync(launched.terminalMaster);
    }
    throw e;
  } finally {
    closeAll(fds);
  }
  const { pid, terminalMaster: master } = launched;
  log.debug(`exec in ${o.id}: pid ${pid}`);
  if (o.detach) {
    if (master !== undefined) fs.closeSync(master);
    return 0;
  }
  const proxy = master !== undefined ? proxyTerminal(master, loadShim()) : undefined;
  const code = await waitForeground(pid, { terminal: proxy !== undefined });
  await proxy?.finish();
  return code;
}

function subCgroup(parentPath: string, sub: string): ReturnType<typeof cgroupManager> {
  // runc's --cgroup takes "path" or "controller:path"; a sub-cgroup of the container's either way.
  const rel = sub.includes(':') ? sub.slice(sub.indexOf(':') + 1) : sub;
  if (rel.split('/').includes('..')) throw new RuntimeError(`--cgroup ${sub}: must stay inside the container's cgroup`);
  const m = cgroupManager({ cgroupsPath: path.posix.join(parentPath, rel), id: 'exec' });
  if (!m.exists()) throw new RuntimeError(`--cgroup ${sub}: no such sub-cgroup of the container`);
  return m;
}
