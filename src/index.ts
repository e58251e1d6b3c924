/**
 * tsruntime as a library:
 *
 *   import { create, start, state, kill, remove, ContainerNotFoundError } from 'tsruntime';
 *
 * Every operation of the CLI is a function here, over the same lifecycle code; each takes the
 * state root in its options (default /run/tsruntime) and fails with a RuntimeError subclass
 * whose message is what the CLI prints.
 */
export { create, start, state, kill, remove, remove as delete, run, exec, pause, resume, update, stats, events, list, ps, features } from './api/containers';
export type {
  CommonOptions,
  CreateOptions,
  RunOptions,
  KillOptions,
  DeleteOptions,
  ExecOptions,
  EventsOptions,
  Exited,
  ExecDetached,
  ContainerEvent,
  ContainerStats,
  ContainerListEntry,
  State,
  Status,
  Features,
  LogOptions,
  LinuxResources,
  Process,
  Spec,
} from './api/types';
export {
  RuntimeError,
  ContainerNotFoundError,
  ContainerExistsError,
  ContainerStateError,
  InvalidConfigError,
  InvalidArgumentError,
  LaunchError,
  UnsupportedError,
} from './errors';
export { OCI_VERSION } from './spec/version';
