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
import fs from 'fs';
import path from 'path';
import type { Spec } from '../generated/config';
import { InvalidConfigError, RuntimeError, errnoName } from '../errors';
import { loadBundle } from '../config/load-bundle';
import { buildInitPlan, InitPlan, PathKind } from '../plan/build-init-plan';
import { planView, PlanView } from '../launch/plan-view';
import { loadShim } from '../native/shim';
import { cgroupAccess, compileSeccomp, containerCgroupDirs, hostFacts } from '../launch/host-probe';
import { cachedSeccompCompiler } from '../launch/seccomp-cache';
import type { SeccompFilter } from '../plan/seccomp-plan';
import { caller } from '../launch/caller';
import { planCgroupUse } from '../plan/rootless';
import { rootlessCgroups, RootlessFlag } from '../plan/caller-rules';
import { openNamespace } from '../launch/namespaces';
import { hostIdOf, writeIdMaps } from '../launch/id-maps';
import { moveNetDevices } from '../launch/net-devices';
import { makeIdmapMounts } from '../launch/idmap-mounts';
import { ContainerRecord, Lock, OCI_VERSION, StateStore, writeFileAtomic } from '../state/store';
import { readProcStat, selfIdentity } from '../state/proc';
import { cgroupManager, CgroupManager } from '../cgroups';
import { runHooks } from './hooks';
import { checkTerminal, launch } from '../launch/spawn';
import { makeNotifyDir, notifyDir, withNotify } from './notify-socket';
import { withHome } from './passwd';
import { checkPreservedFds } from './preserve-fds';
import { checkExecLimits } from './exec-limits';
import { closeAll } from '../state/proc';
import { v1JoinDirs } from '../launch/cgroup-join';
import { destroyCgroup } from './delete';
import { recordedCgroupsPath } from './container-cgroup';
import { isoTime } from '../iso-time';
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
  /** --rootless: how cgroups the caller may not make are handled (default auto: see plan/rootless.ts). */
  rootless?: RootlessFlag;
}

export interface Created {
  record: ContainerRecord;
  spec: Spec;
  /** With process.terminal and no console socket: the pty master, for the caller to proxy. */
  terminalMaster?: number;
}

const O_PATH = 0o10000000;
const FIFO_SLOT = { slot: 'exec-fifo' };

interface Prepared {
  /** config.json as the user wrote it (what the state keeps). */
  config: Spec;
  /** The spec the container runs with: the config and the runtime's additions. */
  spec: Spec;
  bundle: string;
  rootfs: string;
  /** Recorded in the state: the cgroup's path, even when the container goes without one. */
  cgroupsPath: string;
  /** undefined: a rootless container without a cgroup (noCgroup says why). */
  cgroups?: CgroupManager;
  noCgroup?: string;
  /** The runtime lacks real root. */
  rootless: boolean;
  nsFds: Record<string, number>;
  plan: InitPlan;
}

/**
 * Everything before the id is claimed: load and check the bundle, open the namespaces it names
 * (into fds, the caller's to close), and plan. Nothing is made on the host: a config error
 * surfaces here, and --dry-run stops here. compile: linux.seccomp's compiler (a create keeps its
 * programs under --root, a dry run makes nothing).
 */
function prepareCreate(store: StateStore, opts: CreateOptions, log: Logger, fds: number[], compile: (filter: SeccompFilter) => Buffer): Prepared {
  const { spec: config, bundle, rootfs } = log.step('load and validate config.json', () => loadBundle(opts.bundle));
  if (!config.process) throw new InvalidConfigError('config.json: process is required to create a container');
  // What the container runs with: the config plus what the runtime adds (HOME, socket
  // activation, the sd_notify socket). The config itself is saved as the user wrote it.
  const spec = JSON.parse(JSON.stringify(config)) as Spec;
  const proc = spec.process!;
  const preserveFds = (opts.preserveFds ?? 0) + socketActivation(proc);
  checkPreservedFds(preserveFds, process.env.LISTEN_FDS ? '--preserve-fds and LISTEN_FDS' : '--preserve-fds');
  proc.env = withHome(proc.env, rootfs, proc.user?.uid ?? 0);
  checkExecLimits(proc.args ?? [], proc.env, proc.rlimits);
  checkTerminal(Boolean(proc.terminal), opts.consoleSocket, !opts.foreground);
  let rootKind: PathKind = 'missing';
  try {
    rootKind = fs.statSync(rootfs).isDirectory() ? 'dir' : 'file';
  } catch {
    /* reported below */
  }
  if (rootKind !== 'dir') throw new InvalidConfigError(`root.path: rootfs ${rootfs} ${rootKind === 'missing' ? 'does not exist' : 'is not a directory'}`);

  // Rootless cgroups: runc's default place, <id> under the runtime's own cgroup (where a
  // delegated subtree would be), used if the caller may write there; else none (planCgroupUse).
  const rootlessCg = rootlessCgroups(opts.rootless ?? 'auto', caller());
  const configPath = spec.linux?.cgroupsPath || undefined;
  const manager = cgroupManager({ cgroupsPath: configPath ?? (rootlessCg ? opts.id : undefined), id: opts.id, systemd: opts.systemdCgroup });
  const use = planCgroupUse({ rootless: rootlessCg, configPath, access: rootlessCg ? cgroupAccess(manager) : { writable: true }, resources: spec.linux?.resources });
  const cgroups = use.use ? manager : undefined;
  const hooks = spec.hooks ?? {};
  // Opening a namespace file makes nothing on the host: the plan can name the real fds.
  const nsFds: Record<string, number> = {};
  (spec.linux?.namespaces ?? []).forEach((ns, index) => {
    if (!ns.path) return;
    nsFds[ns.type] = openNamespace(index, ns.type, ns.path);
    fds.push(nsFds[ns.type]);
  });
  // The plan, once. The exec fifo and the cgroup's tasks files do not exist yet: the plan names
  // them by slot. The sd_notify socket's directory neither: the plan is told it will be one.
  const host = hostFacts(manager.cgroupsPath);
  host.cgroupHierarchies = containerCgroupDirs(host.cgroupHierarchies, cgroups);
  const pendingDirs: string[] = [];
  if (process.env.NOTIFY_SOCKET) {
    withNotify(spec, store.dir(opts.id));
    pendingDirs.push(notifyDir(store.dir(opts.id)));
  }
  const plan = log.step('plan', () => buildInitPlan({
    spec, rootfs, bundle, fifoFd: FIFO_SLOT, namespaceFds: nsFds, noPivot: opts.noPivot, preserveFds, host, compileSeccomp: compile, pendingDirs,
    hookSyncs: Boolean(hooks.prestart?.length || hooks.createRuntime?.length || hooks.createContainer?.length),
    startHooks: { hooks: hooks.startContainer ?? [], state: { ociVersion: OCI_VERSION, id: opts.id, status: 'created', bundle, annotations: spec.annotations ?? {} } },
    cgroupJoin: cgroups ? v1JoinDirs(cgroups) : [], trace: log.tracing,
  }));
  for (const w of plan.warnings) log.warn(w);
  if (!use.use) log.debug(`container ${opts.id}: no cgroup (rootless: ${use.reason})`);
  const noCgroup = use.use ? undefined : use.reason;
  // The rootless default is found from the runtime's own cgroup: record where it is.
  const cgroupsPath = cgroups && !configPath && rootlessCg ? recordedCgroupsPath(cgroups, host.cgroupHierarchies.map((h) => h.mountpoint)) : manager.cgroupsPath;
  return { config, spec, bundle, rootfs, cgroupsPath, cgroups, noCgroup, rootless: Boolean(host.rootless), nsFds, plan };
}

/** create --dry-run: the launch plan, with nothing made (no state, cgroup, mount or process). */
export function planCreate(store: StateStore, opts: CreateOptions, log: Logger): PlanView {
  const fds: number[] = [];
  try {
    return planView(prepareCreate(store, opts, log, fds, compileSeccomp).plan);
  } finally {
    closeAll(fds);
  }
}

export function createContainer(store: StateStore, opts: CreateOptions, log: Logger): Created {
  const fdsToClose: number[] = [];
  let pid = 0;
  /** The init once launch() returned: a failure before that is undone by launch() itself. */
  let launchedPid = 0;
  let terminalMaster: number | undefined;
  let lock: Lock | undefined;
  let cgroups: CgroupManager | undefined;
  try {
    const prepared = prepareCreate(store, opts, log, fdsToClose, cachedSeccompCompiler(store.root, log));
    const { config, spec, bundle, rootfs, nsFds, plan } = prepared;
    const hooks = spec.hooks ?? {};
    // Before the id is claimed: they are fds only (detached mounts), closed with the others.
    const idmapSlots = plan.idmapMounts.length ? log.step('make the id-mapped mounts', () => makeIdmapMounts(plan.idmapMounts, fdsToClose)) : {};
    const record = newRecord(opts, config, bundle, rootfs, prepared.cgroupsPath);
    if (prepared.rootless) record.rootless = true;
    if (prepared.noCgroup) record.noCgroup = prepared.noCgroup;
    lock = log.step('claim the id', () => store.claim(record));
    if (process.env.NOTIFY_SOCKET) makeNotifyDir(store.dir(opts.id));
    const fifoFd = makeExecFifo(store.fifoPath(opts.id), spec, prepared.rootless);
    fdsToClose.push(fifoFd);
    if (prepared.cgroups) {
      const made = prepared.cgroups;
      log.step('make the cgroup and apply linux.resources', () => {
        createCgroup(made, prepared.rootless);
        cgroups = made;
        made.applyResources(spec.linux?.resources ?? {}, { linuxDevicePaths: (spec.linux?.devices ?? []).map((d) => d.path), skipDevices: prepared.rootless });
      });
    }

    // runtime.md: "created" once the environment exists (lifecycle step 2), which is before the
    // prestart, createRuntime and createContainer hooks (steps 3-5); crun does the same.
    const stateForHooks = () => ({ ociVersion: OCI_VERSION, id: opts.id, status: 'created', pid, bundle, annotations: spec.annotations ?? {} });
    const launched = launch({
      what: 'container init',
      ops: plan.ops,
      cloneFlags: plan.cloneFlags,
      slots: { [FIFO_SLOT.slot]: fifoFd, ...idmapSlots },
      join: prepared.cgroups,
      consoleSocket: opts.consoleSocket,
      log,
      rootless: prepared.rootless,
      onProcess(p) {
        pid = p;
        recordInit(store, record, p);
        log.debug(`container ${opts.id}: init is pid ${p}`);
      },
      beforeGo(p) {
        if (plan.userns && plan.idMapsAt !== 'sync') writeIdMaps(p, spec, plan.idMapWrite);
        if (plan.netDevices.length) moveNetDevices(plan.netDevices, nsFds.network, p);
      },
      onSync(tag, p) {
        if (tag === 'userns') {
          writeIdMaps(p, spec, plan.idMapWrite); // the init unshared its user namespace after joining others
        } else if (tag === 'createRuntime') {
          log.step('prestart hooks', () => runHooks('prestart', hooks.prestart, stateForHooks()));
          log.step('createRuntime hooks', () => runHooks('createRuntime', hooks.createRuntime, stateForHooks()));
        } else if (tag === 'createContainer') {
          log.step('createContainer hooks', () => runHooks('createContainer', hooks.createContainer, stateForHooks()));
        }
      },
    });
    fdsToClose.push(launched.syncFd);
    terminalMaster = launched.terminalMaster;
    launchedPid = launched.pid;

    record.status = 'created';
    delete record.creator;
    // Known once the init is in its cgroup (a systemd scope is made with it).
    const freezer = prepared.cgroups?.freezer();
    if (freezer) record.freezer = freezer;
    const cgroupDirs = prepared.cgroups?.dirsToRemove();
    if (cgroupDirs) record.cgroupDirs = cgroupDirs;
    store.save(record);
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(pid), 0o644);
    return { record, spec, terminalMaster };
  } catch (e) {
    if (terminalMaster !== undefined) closeAll([terminalMaster]);
    // Not `pid`: a failed launch() has killed and reaped its process already, and that pid may
    // belong to another process by now.
    undoCreate(opts.id, launchedPid, lock, cgroups);
    throw e;
  } finally {
    closeAll(fdsToClose);
    lock?.release(); // done, or (undone) already removed with the state dir
  }
}

/** The exec fifo the init waits on until `start`, writable by the container's root; an O_PATH fd on it. */
function makeExecFifo(fifo: string, spec: Spec, rootless: boolean): number {
  const rc = loadShim().mkfifo(fifo, 0o622);
  if (rc < 0) throw new RuntimeError(`mkfifo ${fifo}: ${errnoName(-rc)}`);
  fs.chmodSync(fifo, 0o622); // mkfifo applied our umask: a non-root container user must be able to write it
  const rootUid = hostIdOf(spec.linux?.uidMappings, 0);
  const rootGid = hostIdOf(spec.linux?.gidMappings, 0);
  // Without real root the owner stays the caller's: the mode lets the container's root write it.
  if ((rootUid !== 0 || rootGid !== 0) && !rootless) fs.chownSync(fifo, rootUid, rootGid);
  return fs.openSync(fifo, O_PATH);
}

/** Make the cgroup; a refusal to a caller without real root says what to do about it. */
function createCgroup(m: CgroupManager, rootless: boolean): void {
  try {
    m.create();
  } catch (e) {
    if (!rootless || !(e instanceof RuntimeError) || !/EACCES|EPERM|EROFS/.test(e.message)) throw e;
    throw new RuntimeError(`${e.message}: tsruntime runs without root here; with --rootless auto (the default) or true a container the caller cannot make a cgroup for goes without one, or delegate that cgroup to this user`);
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
    created: isoTime(),
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
 * Returns how many fds to keep; changes proc.env (of the spec the container runs with).
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

