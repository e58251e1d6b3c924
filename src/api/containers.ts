/**
 * The library API: one function per runtime operation, each a thin typed layer over the
 * lifecycle function the CLI command of the same name calls, so that both behave alike and
 * fail with the same errors (src/errors.ts: RuntimeError and its subclasses, whose messages are
 * what the CLI prints).
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Logger } from '../log';
import { StateStore, validateId } from '../state/store';
import { defaultRoot, prepareXdgRoot } from '../state/root';
import { containerState, listContainers } from '../lifecycle/state';
import { runtimeFeatures } from '../lifecycle/features';
import { startContainer } from '../lifecycle/start';
import { killContainer } from '../lifecycle/kill';
import { deleteContainer } from '../lifecycle/delete';
import { pauseContainer, resumeContainer } from '../lifecycle/pause';
import { checkResources, updateResources } from '../lifecycle/update';
import { runEvents } from '../lifecycle/events';
import { containerPids } from '../lifecycle/ps';
import { hasChildren, reapExited, settleChildren, trackChild } from './children';
import type {
  CommonOptions,
  ContainerEvent,
  ContainerListEntry,
  ContainerStats,
  CreateOptions,
  DeleteOptions,
  EventsOptions,
  ExecDetached,
  ExecOptions,
  Exited,
  Features,
  KillOptions,
  LinuxResources,
  RunOptions,
  State,
} from './types';

function storeOf(o: CommonOptions = {}): StateStore {
  reapExited();
  if (o.root !== undefined) return new StateStore(o.root);
  const byDefault = defaultRoot();
  if (byDefault.xdg) prepareXdgRoot(byDefault.root);
  return new StateStore(byDefault.root);
}

function loggerOf(o: CommonOptions = {}): Logger {
  return new Logger(o.log ?? {});
}

function createOptions(id: string, o: CreateOptions): import('../lifecycle/create').CreateOptions {
  return {
    id: validateId(id),
    bundle: o.bundle,
    pidFile: o.pidFile,
    consoleSocket: o.consoleSocket,
    noPivot: Boolean(o.noPivot),
    noNewKeyring: Boolean(o.noNewKeyring),
    preserveFds: o.preserveFds ?? 0,
    systemdCgroup: Boolean(o.systemdCgroup),
    rootless: o.rootless === undefined || o.rootless === 'auto' ? 'auto' : o.rootless ? 'true' : 'false',
  };
}

/** Create a container from a bundle; its process waits until `start`. Resolves to its state ("created"). */
export async function create(id: string, options: CreateOptions): Promise<State> {
  // Loaded on first use: create pulls in the planner, the validators and the native shim.
  const { createContainer } = require('../lifecycle/create') as typeof import('../lifecycle/create');
  const store = storeOf(options);
  const { record } = createContainer(store, createOptions(id, options), loggerOf(options));
  trackChild(record.pid, id);
  return containerState(store, id);
}

/** Start the user process of a created container. Resolves to its state ("running"). */
export async function start(id: string, options: CommonOptions = {}): Promise<State> {
  const store = storeOf(options);
  startContainer(store, id, loggerOf(options));
  return containerState(store, id);
}

/** The state of a container. */
export async function state(id: string, options: CommonOptions = {}): Promise<State> {
  return containerState(storeOf(options), id);
}

/** Send a signal (default SIGTERM) to the container's init, or with `all` to all its processes. */
export async function kill(id: string, options: KillOptions = {}): Promise<void> {
  const signal = options.signal === undefined ? undefined : String(options.signal);
  killContainer(storeOf(options), id, signal, Boolean(options.all));
}

/** Delete a stopped (or, with `force`, any) container and everything it holds. Exported as `delete` too. */
export async function remove(id: string, options: DeleteOptions = {}): Promise<void> {
  const store = storeOf(options);
  if (options.force && hasChildren(id)) {
    // Our own children in the container must be reaped for its init to finish dying: kill
    // everything, and reap, before delete waits for the init (synchronously).
    try {
      killContainer(store, id, 'KILL', true);
    } catch {
      /* gone already, or being created: delete says which */
    }
    await settleChildren(id);
  }
  deleteContainer(store, id, Boolean(options.force), loggerOf(options));
  reapExited();
}

/**
 * Create and start a container. Detached, resolves to its state once it runs; otherwise waits
 * for it (forwarding the signals this process gets), deletes it unless `keep`, and resolves to
 * its exit code.
 */
export async function run(id: string, options: RunOptions & { detach: true }): Promise<State>;
export async function run(id: string, options: RunOptions & { detach?: false }): Promise<Exited>;
export async function run(id: string, options: RunOptions): Promise<State | Exited>;
export async function run(id: string, options: RunOptions): Promise<State | Exited> {
  const { runContainer } = require('../lifecycle/run') as typeof import('../lifecycle/run');
  const store = storeOf(options);
  const exitCode = await runContainer(store, { ...createOptions(id, options), detach: Boolean(options.detach), keep: Boolean(options.keep) }, loggerOf(options));
  if (!options.detach) return { exitCode };
  const st = containerState(store, id);
  trackChild(st.pid, id);
  return st;
}

function userFlag(user: ExecOptions['user']): string | undefined {
  if (user === undefined) return undefined;
  if (typeof user === 'number') return String(user);
  return user.gid === undefined ? String(user.uid) : `${user.uid}:${user.gid}`;
}

/**
 * Run a process in a running container. It shares this process's stdin, stdout and stderr
 * (unless `tty` with a `consoleSocket`). Detached, resolves to its pid once it runs; otherwise
 * waits for it and resolves to its exit code.
 */
export async function exec(id: string, options: ExecOptions & { detach: true }): Promise<ExecDetached>;
export async function exec(id: string, options: ExecOptions & { detach?: false }): Promise<Exited>;
export async function exec(id: string, options: ExecOptions): Promise<ExecDetached | Exited>;
export async function exec(id: string, options: ExecOptions): Promise<ExecDetached | Exited> {
  const { execInContainer } = require('../lifecycle/exec') as typeof import('../lifecycle/exec');
  let pidFile = options.pidFile;
  let tmp: string | undefined;
  if (options.detach && !pidFile) {
    // The pid of a detached process reaches us the way it reaches a CLI user: through a pid file.
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsruntime-exec-'));
    pidFile = path.join(tmp, 'pid');
  }
  try {
    const code = await execInContainer(
      storeOf(options),
      {
        id,
        process: options.process,
        args: options.args ?? [],
        tty: Boolean(options.tty),
        cwd: options.cwd,
        env: options.env ?? [],
        user: userFlag(options.user),
        additionalGids: options.additionalGids ?? [],
        caps: options.caps ?? [],
        noNewPrivs: Boolean(options.noNewPrivs),
        apparmor: options.apparmor,
        processLabel: options.processLabel,
        consoleSocket: options.consoleSocket,
        detach: Boolean(options.detach),
        pidFile,
        preserveFds: options.preserveFds ?? 0,
        ignorePaused: Boolean(options.ignorePaused),
        cgroup: options.cgroup,
      },
      loggerOf(options),
    );
    if (!options.detach) return { exitCode: code };
    const pid = Number(fs.readFileSync(pidFile!, 'utf8'));
    trackChild(pid, id);
    return { pid };
  } finally {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Freeze every process of a running container. */
export async function pause(id: string, options: CommonOptions = {}): Promise<void> {
  pauseContainer(storeOf(options), id);
}

/** Thaw a paused container. */
export async function resume(id: string, options: CommonOptions = {}): Promise<void> {
  resumeContainer(storeOf(options), id);
}

/**
 * Change the resources of a created, running or paused container, as `update --resources`:
 * `resources` is merged into those recorded (memory, cpu, blockIO, pids and unified can change).
 */
export async function update(id: string, resources: LinuxResources, options: CommonOptions = {}): Promise<void> {
  updateResources(storeOf(options), id, checkResources(resources));
}

/** The container's resource usage, once (`events --stats`). */
export async function stats(id: string, options: CommonOptions = {}): Promise<ContainerStats> {
  let data: ContainerStats | undefined;
  await runEvents(storeOf(options), id, { stats: true, intervalMs: 1 }, (line) => (data = (JSON.parse(line) as { data: ContainerStats }).data), () => {});
  return data ?? {};
}

/**
 * The container's events until it stops: a stats event every `intervalMs` and an oom event for
 * each OOM kill in its cgroup. Breaking out of the loop, or aborting `signal`, ends the watch.
 * Problems reading stats go to the log as warnings, as with the CLI.
 */
export async function* events(id: string, options: EventsOptions = {}): AsyncGenerator<ContainerEvent, void, undefined> {
  const intervalMs = options.intervalMs ?? 5000;
  const log = loggerOf(options);
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort);
  const queue: ContainerEvent[] = [];
  let wake: (() => void) | undefined;
  let done = false;
  let failure: unknown;
  runEvents(storeOf(options), id, { stats: false, intervalMs, signal: stop.signal }, (line) => {
    queue.push(JSON.parse(line) as ContainerEvent);
    wake?.();
  }, (msg) => log.warn(msg)).then(
    () => {
      done = true;
      wake?.();
    },
    (e) => {
      done = true;
      failure = e ?? new Error('events failed');
      wake?.();
    },
  );
  try {
    for (;;) {
      while (queue.length) yield queue.shift()!;
      if (failure) throw failure;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stop.abort();
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Every container under the root, as state documents sorted by id. */
export async function list(options: CommonOptions = {}): Promise<ContainerListEntry[]> {
  return listContainers(storeOf(options));
}

/** The host pids of every process in the container (its cgroup and sub-cgroups). */
export async function ps(id: string, options: CommonOptions = {}): Promise<number[]> {
  return containerPids(storeOf(options), id);
}

/** What this runtime implements (runtime-spec features.md). */
export async function features(): Promise<Features> {
  return runtimeFeatures();
}
