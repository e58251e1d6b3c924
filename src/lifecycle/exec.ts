/**
 * exec: start another process inside a running container. It joins every namespace of the
 * container, its cgroup (or a sub-cgroup with --cgroup), and gets the container's or the given
 * process settings. In the foreground the runtime waits and returns the exit code (128+signal
 * when killed), forwarding signals; with --detach it returns once the process runs.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Process, Spec } from '../generated/config';
import { RuntimeError, errnoName } from '../errors';
import { StateStore, writeFileAtomic } from '../state/store';
import { computeStatus } from './status';
import { buildExecPlan, EXEC_JOIN_ORDER } from '../plan/build-exec-plan';
import { encodePlan, fdsUsedBy } from '../plan/ops';
import { NAMESPACE_PROC_NAME } from '../plan/linux-constants';
import { loadShim } from '../native/shim';
import { cgroupManager } from '../cgroups';
import { driveChannel } from '../launch/channel';
import { withHome } from './passwd';
import { checkPreservedFds } from './preserve-fds';
import { closeAll, isAlive } from '../state/proc';
import { checkExecLimits } from './exec-limits';
import { prepareSelfJoin } from '../launch/cgroup-join';
import { compileSeccomp, lastCap, lsmFacts } from '../launch/host-probe';
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
  args?: string[];
  tty?: boolean;
  cwd?: string;
  env?: string[];
  user?: string;
  additionalGids?: number[];
  caps?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
  consoleSocket?: string;
  detach?: boolean;
  pidFile?: string;
  preserveFds?: number;
  ignorePaused?: boolean;
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

export async function execInContainer(store: StateStore, o: ExecOptions, log: Logger): Promise<number> {
  checkPreservedFds(o.preserveFds ?? 0, '--preserve-fds');
  if (o.processFile && !o.process) {
    // Loaded only here: validate.ts pulls in the generated validators.
    const { loadProcessFile } = require('../config/load-process') as typeof import('../config/load-process');
    o = { ...o, process: loadProcessFile(o.processFile) };
  }
  const rec = store.load(o.id);
  const status = computeStatus(store, rec);
  if (status === 'stopped') throw new RuntimeError('cannot exec in a stopped container');
  if (status === 'paused' && !o.ignorePaused) throw new RuntimeError('cannot exec in a paused container (use --ignore-paused to override)');
  const spec = rec.config as Spec;
  const proc = execProcess(spec.process, o);
  proc.env = withHome(proc.env, `/proc/${rec.pid}/root`, proc.user?.uid ?? 0);
  checkExecLimits(proc.args ?? [], proc.env, proc.rlimits);
  if (proc.terminal && o.detach && !o.consoleSocket) {
    throw new RuntimeError('cannot allocate tty if tsruntime will detach without setting console socket (--console-socket)');
  }
  if (!proc.terminal && o.consoleSocket) {
    throw new RuntimeError('cannot use console socket if tsruntime will not allocate tty (add --tty or process.terminal)');
  }

  const cgroups = cgroupManager({ cgroupsPath: rec.cgroupsPath, id: o.id });
  const target = o.cgroup ? subCgroup(cgroups.cgroupsPath, o.cgroup) : undefined;

  const fds: number[] = [];
  const namespaceFds: Record<string, number> = {};
  let helper = 0;
  let pid = 0;
  let master: number | undefined;
  try {
    for (const type of EXEC_JOIN_ORDER) {
      const name = NAMESPACE_PROC_NAME[type];
      let ours: fs.Stats;
      try {
        ours = fs.statSync(`/proc/self/ns/${name}`);
      } catch {
        continue; // this kernel has no such namespace
      }
      let fd: number;
      try {
        fd = fs.openSync(`/proc/${rec.pid}/ns/${name}`, 'r');
      } catch {
        // Ours exists, theirs does not: the init is gone. Never fall back to the host's namespaces.
        throw new RuntimeError('cannot exec in a stopped container');
      }
      fds.push(fd);
      const theirs = fs.fstatSync(fd);
      // Joining our own namespace is an error for user, a no-op for the rest.
      if (theirs.dev === ours.dev && theirs.ino === ours.ino) continue;
      namespaceFds[type] = fd;
    }
    // The fds name the namespaces of whatever process had the pid when they were opened: it must
    // still be the container's init (not a pid recycled since the status check).
    if (!isAlive(rec.pid, rec.startTime)) throw new RuntimeError('cannot exec in a stopped container');
    const lateJoin = status === 'paused';
    const plan = buildExecPlan({
      process: proc, spec, namespaceFds, lastCap: lastCap(), preserveFds: o.preserveFds, lateCgroupJoin: lateJoin, lsm: lsmFacts(), compileSeccomp,
    });
    for (const w of plan.warnings) log.warn(w);
    const ops = plan.ops;
    const shim = loadShim();
    const joinTarget = target ?? cgroups;
    // The helper joins the cgroup itself, first thing (cgroup-join.ts), unless it must join
    // late (a frozen cgroup) or get its initial CPU affinity before it is inside the cpuset.
    const selfJoin = !lateJoin && !plan.initialAffinity ? prepareSelfJoin(joinTarget) : undefined;
    if (selfJoin) {
      fds.push(...selfJoin.fds);
      ops.unshift(...selfJoin.ops);
    }
    const [parentFd, childFd] = shim.socketpair();
    fds.push(parentFd);
    const spawned = shim.spawn(encodePlan(ops), 0, childFd, parentFd, selfJoin?.cgroupFd ?? -1, fdsUsedBy(ops));
    fs.closeSync(childFd);
    if (spawned < 0) throw new RuntimeError(`clone the exec process: ${errnoName(-spawned)}`);
    helper = spawned;
    if (plan.initialAffinity) {
      const rc = loadConfigShim().schedSetaffinity(helper, plan.initialAffinity);
      if (rc < 0) throw new RuntimeError(`process.execCPUAffinity.initial: sched_setaffinity: ${errnoName(-rc)}`);
    }
    if (!lateJoin && !selfJoin) joinTarget.join(helper);
    if (shim.writeByte(parentFd) < 0) throw new RuntimeError('exec process exited before setup');
    driveChannel(shim, parentFd, ops, 'exec', {
      pid(p) {
        pid = p;
        shim.waitSync(helper); // the helper exits right after the fork: reap it
        helper = 0;
      },
      fd(fd) {
        if (o.consoleSocket) {
          fds.push(fd);
          const sent = shim.sendConsole(path.resolve(o.consoleSocket), fd, '/dev/ptmx');
          if (sent < 0) throw new RuntimeError(`--console-socket ${o.consoleSocket}: ${errnoName(-sent)}`);
        } else master = fd;
      },
    });
    if (lateJoin) {
      joinTarget.join(pid); // frozen from here until the container is resumed
      if (shim.writeByte(parentFd) < 0) throw new RuntimeError('exec process exited before it could run');
    }
    if (o.pidFile) writeFileAtomic(path.resolve(o.pidFile), String(pid), 0o644);
  } catch (e) {
    if (helper > 0) loadShim().killAndReap(helper);
    if (pid > 0) loadShim().killAndReap(pid);
    if (master !== undefined) fs.closeSync(master);
    throw e;
  } finally {
    closeAll(fds);
  }
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
