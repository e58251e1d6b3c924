/**
 * events: a container's resource usage and OOM notifications as JSON lines, like `runc events`.
 *
 *   --stats            one {"type":"stats","id":...,"data":{...}} line, then exit
 *   (default)          a stats line every --interval (5s), an {"type":"oom","id":...} line for each
 *                      OOM kill in the container's cgroup, until the container stops
 *
 * OOM kills are noticed by polling the cgroup's oom_kill counter (memory.events on v2,
 * memory.oom_control on v1) a few times a second: cheap, and the same on every layout.
 */
import { ContainerStateError, InvalidArgumentError } from '../errors';
import { StateStore } from '../state/store';
import { isAlive } from '../state/proc';
import { requireCgroup } from './container-cgroup';
import { eventJSON } from '../cgroups/stats';
import { computeStatus } from './status';

/** Go's time.ParseDuration for the forms runc users pass: "5s", "100ms", "1m30s", "1.5h", "250us". */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  const sign = text.startsWith('-') ? -1 : 1;
  if (text.startsWith('-') || text.startsWith('+')) pos = 1;
  if (pos >= text.length) throw new InvalidArgumentError(`invalid duration "${text}"`);
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new InvalidArgumentError(`invalid duration "${text}"`);
    total += Number(m[1]) * units[m[2]];
    pos = re.lastIndex;
  }
  return sign * total;
}

export interface EventsOptions {
  stats: boolean;
  intervalMs: number;
  /** How often OOM counters and liveness are polled (ms). */
  pollMs?: number;
  /** Stop watching (at the next poll) once this is aborted. */
  signal?: AbortSignal;
}

export async function runEvents(store: StateStore, id: string, opts: EventsOptions, out: (line: string) => void, warn: (msg: string) => void): Promise<void> {
  if (!(opts.intervalMs > 0)) throw new InvalidArgumentError('duration interval must be greater than 0');
  const rec = store.load(id);
  if (computeStatus(store, rec) === 'stopped') throw new ContainerStateError(`container with id ${id} is not running`, id, 'stopped');
  const cgroups = requireCgroup(rec, 'events');
  if (opts.stats) {
    out(eventJSON('stats', id, cgroups.stats()));
    return;
  }
  const poll = Math.max(1, Math.min(opts.pollMs ?? 100, opts.intervalMs));
  let ooms = cgroups.oomKillCount() ?? 0;
  let nextStats = Date.now() + opts.intervalMs;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(poll, nextStats - Date.now()))));
    if (opts.signal?.aborted) return;
    const alive = isAlive(rec.pid, rec.startTime);
    let count: number | undefined;
    try {
      count = cgroups.oomKillCount();
    } catch {
      count = undefined; // the cgroup went away with the container
    }
    if (count !== undefined && count > ooms) {
      for (let i = ooms; i < count; i++) out(eventJSON('oom', id));
      ooms = count;
    }
    if (!alive) return;
    if (Date.now() >= nextStats) {
      nextStats += opts.intervalMs;
      if (nextStats < Date.now()) nextStats = Date.now() + opts.intervalMs;
      try {
        out(eventJSON('stats', id, cgroups.stats()));
      } catch (e) {
        if (!isAlive(rec.pid, rec.startTime)) return;
        warn(`events: ${(e as Error).message}`);
      }
    }
  }
}
