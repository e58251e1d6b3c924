/**
 * create: from a bundle to a container whose init waits on the exec fifo.
 *
 * Order matters for "nothing left behind": everything that can be checked without side effects
 * (the config, the rootfs, bind sources, the plan) is checked first; then the state directory
 * claims the id; from there every resource made is undone if a later step fails.
 *
 * And if create itself dies (kill -9) half-way, `delete --force` finishes the job: the id is
 * claimed with a record ("creating") and the container's lock, held until create is done; the
 * record names the cgroup before it is made and the init as soon as it is cloned.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Spec } from '../generated/config';
import { RuntimeError, errnoName } from '../errors';
import { loadBundle } from '../config/load-bundle';
import { buildInitPlan, InitPlan, PathKind } from '../plan/build-init-plan';
import { encodePlan, fdsUsedBy } from '../plan/ops';
import { loadShim } from '../native/shim';
import { compileSeccomp, hostFacts } from '../launch/host-probe';
import { openNamespace } from '../launch/namespaces';
import { hostIdOf, writeIdMaps } from '../launch/id-maps';
import { moveNetDevices } from '../launch/net-devices';
import { ContainerRecord, Lock, OCI_VERSION, StateStore, writeFileAtomic } from '../state/store';
import { readProcStat, selfIdentity } from '../state/proc';
import { cgroupManager, CgroupManager } from '../cgroups';
import { runHooks } from './hooks';
import { driveChannel } from '../launch/channel';
import { prepareNotify } from './notify-socket';
import { withHome } from './passwd';
import { checkPreservedFds } from './preserve-fds';
import { checkExecLimits } from './exec-limits';
import { closeAll } from '../state/proc';
import { prepareSelfJoin } from '../launch/cgroup-join';
import { destroyCgroup } from './delete';
import type { Logger } from '../log';

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
  systemdCgroup?: boolean;
  /** `run` in the foreground: with process.terminal the runtime itself proxies the pty. */
  foreground?: boolean;
}

export interface Created {
  record: ContainerRecord;
  spec: Spec;
  /** With process.terminal and no console socket: the pty master, for the caller to proxy. */
  terminalMaster?: number;
}

const O_PATH = 0o10000000;

export function createContainer(store: StateStore, opts: CreateOptions, log: Logger): Created {
  const { spec, bundle, rootfs } = loadBundle(opts.bundle);
  const proc = spec.process;
  if (!proc) throw new RuntimeError('config.json: process is required to create a container');
  const preserveFds = (opts.preserveFds ?? 0) + socketActivation(proc);
  checkPreservedFds(preserveFds, process.env.LISTEN_FDS ? '--preserve-fds and LISTEN_FDS' : '--preserve-fds');
  proc.env = withHome(proc.env, rootfs, proc.user?.uid ?? 0);
  checkExecLimits(proc.args ?? [], proc.env, proc.rlimits);
  if (proc.terminal && !opts.consoleSocket && !opts.foreground) {
    throw new RuntimeError('cannot allocate tty if tsruntime will detach without setting console socket (--console-socket)');
  }
  if (!proc.terminal && opts.consoleSocket) {
    throw new RuntimeError('cannot use console socket if tsruntime will not detach or allocate tty (process.terminal is false)');
  }
  let rootKind: PathKind = 'missing';
  try {
    rootKind = fs.statSync(rootfs).isDirectory() ? 'dir' : 'file';
  } catch {
    /* reported below */
  }
  if (rootKind !== 'dir') throw new RuntimeError(`root.path: rootfs ${rootfs} ${rootKind === 'missing' ? 'does not exist' : 'is not a directory'}`);

  const cgroups = cgroupManager({ cgroupsPath: spec.linux?.cgroupsPath, id: opts.id, systemd: opts.systemdCgroup });
  const host = hostFacts(cgroups.cgroupsPath);
  const hooks = spec.hooks ?? {};
  const hookSyncs = Boolean(hooks.prestart?.length || hooks.createRuntime?.length || hooks.createContainer?.length);
  const startHooks = { hooks: hooks.startContainer ?? [], state: { ociVersion: OCI_VERSION, id: opts.id, status: 'created', bundle, annotations: spec.annotations ?? {} } };
  const planFor = (fifoFd: number, namespaceFds: Record<string, number>): InitPlan =>
    buildInitPlan({ spec, rootfs, bundle, fifoFd, namespaceFds, noPivot: opts.noPivot, preserveFds, hookSyncs, host, compileSeccomp, startHooks });

  // Dry run with placeholder fds: every config error surfaces before anything is made.
  const placeholderFds = Object.fromEntries((spec.linux?.namespaces ?? []).filter((n) => n.path).map((n) => [n.type, -1]));
  for (const w of planFor(-1, placeholderFds).warnings) log.warn(w);

  const nsFds: Record<string, number> = {};
  const fdsToClose: number[] = [];
  let pid = 0;
  let terminalMaster: number | undefined;
  let lock: Lock | undefined;
  let cgroupMade = false;
  try {
    for (const ns of spec.linux?.namespaces ?? []) {
      if (!ns.path) continue;
      nsFds[ns.type] = openNamespace(ns.type, ns.path);
      fdsToClose.push(nsFds[ns.type]);
    }
    const record = newRecord(opts, spec, bundle, rootfs, cgroups.cgroupsPath);
    lock = store.claim(record);
    if (process.env.NOTIFY_SOCKET) prepareNotify(spec, store.dir(opts.id));

    const shim = loadShim();
    const fifo = store.fifoPath(opts.id);
    const rc = shim.mkfifo(fifo, 0o622);
    if (rc < 0) throw new RuntimeError(`mkfifo ${fifo}: ${errnoName(-rc)}`);
    fs.chmodSync(fifo, 0o622); // mkfifo applied our umask: a non-root container user must be able to write it
    const rootUid = hostIdOf(spec.linux?.uidMappings, 0);
    const rootGid = hostIdOf(spec.linux?.gidMappings, 0);
    if (rootUid !== 0 || rootGid !== 0) fs.chownSync(fifo, rootUid, rootGid);
    const fifoFd = fs.openSync(fifo, O_PATH);
    fdsToClose.push(fifoFd);

    const plan = planFor(fifoFd, nsFds);
    cgroups.create();
    cgroupMade = true;
    cgroups.applyResources(spec.linux?.resources ?? {}, { linuxDevicePaths: (spec.linux?.devices ?? []).map((d) => d.path) });

    // The init joins its cgroups before anything else it does (see cgroup-join.ts).
    const join = prepareSelfJoin(cgroups);
    fdsToClose.push(...join.fds);
    plan.ops.unshift(...join.ops);
    const [parentFd, childFd] = shim.socketpair();
    fdsToClose.push(parentFd);
    const spawned = shim.spawn(encodePlan(plan.ops), plan.cloneFlags, childFd, parentFd, join.cgroupFd, fdsUsedBy(plan.ops));
    fs.closeSync(childFd);
    if (spawned < 0) throw new RuntimeError(`clone the container init: ${errnoName(-spawned)}`);
    pid = spawned;
    recordInit(store, record, pid);
    log.debug(`container ${opts.id}: init cloned as pid ${pid}`);

    if (plan.userns && plan.idMapsAt !== 'sync') writeIdMaps(pid, spec);
    if (plan.netDevices.length) moveNetDevices(plan.netDevices, nsFds.network, pid);
    if (shim.writeByte(parentFd) < 0) throw new RuntimeError('container init exited before setup');

    // runtime.md: "created" once the environment exists (lifecycle step 2), which is before the
    // prestart, createRuntime and createContainer hooks (steps 3-5); crun does the same.
    const stateForHooks = () => ({ ociVersion: OCI_VERSION, id: opts.id, status: 'created', pid, bundle, annotations: spec.annotations ?? {} });
    driveChannel(shim, parentFd, plan.ops, 'container init', {
      sync(tag) {
        if (tag === 'userns') {
          writeIdMaps(pid, spec); // the init unshared its user namespace after joining others
        } else if (tag === 'createRuntime') {
          runHooks('prestart', hooks.prestart, stateForHooks());
          runHooks('createRuntime', hooks.createRuntime, stateForHooks());
        } else if (tag === 'createContainer') {
          runHooks('createContainer', hooks.createContainer, stateForHooks());
        }
      },
      pid(forked) {
        // A FORK op (pid namespace joined by path, new time namespace): the forked process is the
        // container's init; the one we cloned exits at once and is ours to reap.
        loadShim().waitSync(pid);
        pid = forked;
        recordInit(store, record, pid);
      },
      fd(fd) {
        fdsToClose.push(fd);
        if (opts.consoleSocket) {
          const sent = shim.sendConsole(path.resolve(opts.consoleSocket), fd, '/dev/ptmx');
          if (sent < 0) throw new RuntimeError(`--console-socket ${opts.consoleSocket}: ${errnoName(-sent)}`);
        } else {
          terminalMaster = fd;
          fdsToClose.pop(); // the caller proxies it and closes it
        }
      },
    });

    record.status = 'created';
    delete record.creator;
    store.save(record);
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(pid), 0o644);
    return { record, spec, terminalMaster };
  } catch (e) {
    if (terminalMaster !== undefined) closeAll([terminalMaster]);
    undoCreate(opts.id, pid, lock, cgroupMade ? cgroups : undefined);
    throw e;
  } finally {
    closeAll(fdsToClose);
    lock?.release(); // done, or (undone) already removed with the state dir
  }
}

/** The first record, written when the id is claimed: enough for delete to undo whatever follows. */
function newRecord(opts: CreateOptions, spec: Spec, bundle: string, rootfs: string, cgroupsPath: string): ContainerRecord {
  return {
    id: opts.id,
    pid: 0,
    startTime: '',
    bundle,
    rootfs,
    created: new Date().toISOString(),
    owner: '',
    annotations: spec.annotations,
    status: 'creating',
    creator: selfIdentity(),
    cgroupsPath,
    config: spec,
    systemdCgroup: opts.systemdCgroup,
    notify: Boolean(process.env.NOTIFY_SOCKET),
  };
}

/** Record the init (its pid and start time) the moment it exists. */
function recordInit(store: StateStore, record: ContainerRecord, pid: number): void {
  record.pid = pid;
  record.startTime = readProcStat(pid)?.startTime ?? '';
  store.save(record);
}

/**
 * systemd socket activation, as runc does it: with LISTEN_FDS=N in our environment the N fds
 * from 3 go to the container too, which sees LISTEN_FDS=N and LISTEN_PID=1 (its own pid).
 * Returns how many fds to keep; changes proc.env.
 */
function socketActivation(proc: NonNullable<Spec['process']>): number {
  const n = Number(process.env.LISTEN_FDS);
  if (!process.env.LISTEN_FDS || !Number.isInteger(n) || n <= 0) return 0;
  proc.env = [...(proc.env ?? []).filter((e) => !/^LISTEN_(FDS|PID)=/.test(e)), `LISTEN_FDS=${n}`, 'LISTEN_PID=1'];
  return n;
}

function undoCreate(id: string, pid: number, lock: Lock | undefined, cgroups: CgroupManager | undefined): void {
  if (pid > 0) loadShim().killAndReap(pid); // the init is our child
  if (cgroups) {
    try {
      destroyCgroup(cgroups, id);
    } catch {
      /* best effort: the error that made us undo is the one to report */
    }
  }
  lock?.removeDir();
}

