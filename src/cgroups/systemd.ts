/**
 * The systemd cgroup driver (--systemd-cgroup), as runc and crun do it: the container's cgroup is
 * a transient scope unit that systemd starts with the init's pid in it (StartTransientUnit with
 * PIDs, Slice, Delegate=yes and the resources systemd has properties for), in the slice that
 * cgroupsPath names ("slice:prefix:name", systemd-unit.ts). Everything else goes through the
 * cgroupfs manager of the same path (v2, or v1 on legacy and hybrid hosts, where it also makes
 * the scope's directory in the hierarchies systemd leaves alone): every resource written to the
 * files too (systemd has no property for some), pause/resume, pids, kill, stats.
 *
 * A scope cannot exist before its first process, so a new container's init is not born in its
 * cgroup: launch clones it where the runtime is and calls join(pid), which starts the unit.
 *
 * D-Bus (sd-bus.ts) is connected only when a unit is started, changed or stopped: state, ps,
 * pause, kill and events read and write files, as with the cgroupfs driver.
 */
import fs from 'fs';
import { RuntimeError } from '../errors';
import type { LinuxResources } from '../generated/config';
import type { DBusError, DBusValue, SdBus } from '../native/sd-bus';
import type { ApplyOptions, CgroupManager } from './common';
import { subdirs } from './cgroup-fs';
import type { Stats } from './stats';
import type { FreezerFile } from './frozen';
import { ancestorSlices, SystemdUnit } from './systemd-unit';
import { parseSystemdVersion, resourceProperties, scopeProperties, UnitProperty } from './systemd-properties';

const SYSTEMD = 'org.freedesktop.systemd1';
const SYSTEMD_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const UNIT_IFACE = 'org.freedesktop.systemd1.Unit';
/** How long a start or stop job may take (runc waits as long). */
const JOB_TIMEOUT_MS = 30_000;
/** Slices systemd itself provides: never stopped by a container's delete. */
const SYSTEM_SLICES = new Set(['-.slice', 'system.slice', 'user.slice', 'machine.slice']);

const DEFAULT_BUS = 'unix:path=/run/dbus/system_bus_socket';

function rmdirQuiet(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    /* gone (systemd removed it), or not empty */
  }
}

/** Where sd-bus connects for the system bus, as a path when it is one (for messages). */
function systemBusAddress(): string {
  const address = process.env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_BUS;
  const m = /^unix:path=([^,;]+)/.exec(address);
  return m ? m[1] : address;
}

function isDBusError(e: unknown, name: string): boolean {
  return (e as DBusError)?.dbusName === name;
}

export class SystemdManager implements CgroupManager {
  private bus?: SdBus;
  private version?: number;
  /** Resources given before the unit exists: the unit starts with them. */
  private pending?: { resources: LinuxResources; opts?: ApplyOptions };
  /** This manager started the unit (or, for an existing container, the unit is the container's). */
  private owned: boolean;

  /**
   * unit: where the container's scope is; files: the cgroupfs manager of unit.cgroupPath.
   * fresh: a container being created (the unit is to be started by join); otherwise the
   * container exists and so does its unit.
   */
  constructor(
    readonly unit: SystemdUnit,
    private readonly files: CgroupManager,
    private readonly fresh: boolean,
  ) {
    this.owned = !fresh;
  }

  get cgroupsPath(): string {
    return this.files.cgroupsPath;
  }
  get driver(): 'v1' | 'v2' {
    return this.files.driver;
  }
  get mode(): CgroupManager['mode'] {
    return this.files.mode;
  }
  get paths(): Readonly<Record<string, string>> {
    return this.files.paths;
  }
  /** Until the unit is started, a process cannot be put in its cgroup but by starting it. */
  get selfJoin(): boolean {
    return !this.fresh || this.owned;
  }

  // --- D-Bus ------------------------------------------------------------------------------

  private connect(): SdBus {
    if (this.bus) return this.bus;
    const { SdBus: Bus } = require('../native/sd-bus') as typeof import('../native/sd-bus');
    try {
      this.bus = Bus.openSystem();
    } catch (e) {
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(`systemd cgroup driver: cannot connect to the system bus at ${systemBusAddress()}: ${(e as Error).message} (is systemd running?)`);
    }
    return this.bus;
  }

  private call(member: string, sig: string, args: DBusValue[], replySig = '', path = SYSTEMD_PATH, iface = MANAGER): DBusValue[] {
    try {
      return this.connect().call(SYSTEMD, path, iface, member, sig, args, replySig);
    } catch (e) {
      if (isDBusError(e, 'org.freedesktop.DBus.Error.ServiceUnknown') || isDBusError(e, 'org.freedesktop.DBus.Error.NameHasNoOwner')) {
        throw new RuntimeError(`systemd cgroup driver: systemd is not on the system bus at ${systemBusAddress()} (is systemd running as PID 1?)`);
      }
      throw e;
    }
  }

  private systemdVersion(): number {
    if (this.version === undefined) {
      const [v] = this.call('Get', 'ss', [MANAGER, 'Version'], 'v', SYSTEMD_PATH, 'org.freedesktop.DBus.Properties');
      this.version = parseSystemdVersion(String((v as { value: DBusValue }).value));
    }
    return this.version;
  }

  /** A property of a loaded unit; undefined when the unit is not loaded. */
  private unitProperty(unit: string, iface: string, name: string): DBusValue | undefined {
    let path: string;
    try {
      [path] = this.call('GetUnit', 's', [unit], 'o') as string[];
    } catch (e) {
      if (isDBusError(e, 'org.freedesktop.systemd1.NoSuchUnit')) return undefined;
      throw e;
    }
    const [v] = this.call('Get', 'ss', [iface, name], 'v', path, 'org.freedesktop.DBus.Properties');
    return (v as { value: DBusValue }).value;
  }

  /**
   * Run a job-returning method and wait for its JobRemoved signal: the job's result ("done",
   * "failed", "timeout", "dependency", "canceled", ...), or a RuntimeError after JOB_TIMEOUT_MS.
   */
  private runJob(what: string, member: string, sig: string, args: DBusValue[]): string {
    const bus = this.connect();
    bus.addMatch(`type='signal',sender='${SYSTEMD}',path='${SYSTEMD_PATH}',interface='${MANAGER}',member='JobRemoved'`);
    const [job] = this.call(member, sig, args, 'o') as string[];
    const body = bus.waitSignal(MANAGER, 'JobRemoved', 'uoss', (b) => b[1] === job, JOB_TIMEOUT_MS);
    if (!body) throw new RuntimeError(`systemd cgroup driver: timed out after ${JOB_TIMEOUT_MS / 1000} s waiting for systemd to ${what}`);
    return String(body[3]);
  }

  private resetFailed(): void {
    try {
      this.call('ResetFailedUnit', 's', [this.unit.unit]);
    } catch {
      /* not failed, or gone: nothing to reset */
    }
  }

  private asDBus(props: UnitProperty[]): DBusValue[] {
    return props.map((p) => [p.name, { sig: p.sig, value: p.value }]);
  }

  // --- the manager -------------------------------------------------------------------------

  /**
   * Nothing is made before the init exists (a scope needs its pid). Connect now, so that a host
   * without systemd fails before anything is cloned, and refuse a unit that is already running:
   * it belongs to another container. A failed leftover of the same name is reset (as runc does).
   */
  create(): void {
    if (!this.fresh) return;
    const state = this.unitProperty(this.unit.unit, UNIT_IFACE, 'ActiveState');
    if (state === undefined || state === 'inactive') return;
    if (state === 'failed') return this.resetFailed();
    throw new RuntimeError(`systemd cgroup driver: unit ${this.unit.unit} already exists (${state}): is another container using its cgroupsPath?`);
  }

  join(pid: number): void {
    if (this.selfJoin) return this.files.join(pid);
    this.start(pid);
  }

  private start(pid: number): void {
    const { resources, opts } = this.pending ?? { resources: {} };
    const cgroup = this.driver;
    const systemdVersion = this.systemdVersion();
    const translated = resourceProperties(resources, { cgroup, systemdVersion, linuxDevicePaths: opts?.linuxDevicePaths });
    const props = [
      ...scopeProperties({ unit: this.unit.unit, slice: this.unit.slice, pid, description: `tsruntime container ${this.unit.unit}`, cgroup, systemdVersion, oomGroup: resources.unified?.['memory.oom.group'] }),
      ...translated.properties,
    ];
    let result: string;
    try {
      result = this.runJob(`start ${this.unit.unit}`, 'StartTransientUnit', 'ssa(sv)a(sa(sv))', [this.unit.unit, 'replace', this.asDBus(props), []]);
    } catch (e) {
      if (isDBusError(e, 'org.freedesktop.systemd1.UnitExists')) {
        throw new RuntimeError(`systemd cgroup driver: unit ${this.unit.unit} already exists: is another container using its cgroupsPath?`);
      }
      if (e instanceof RuntimeError) throw e;
      throw new RuntimeError(`systemd cgroup driver: start unit ${this.unit.unit}: ${(e as Error).message}`);
    }
    this.owned = true; // from here on, undoing the create stops it
    if (result !== 'done') {
      this.resetFailed();
      throw new RuntimeError(`systemd cgroup driver: the job starting unit ${this.unit.unit} ended with result "${result}" (see journalctl -u ${this.unit.unit})`);
    }
    // v1: the scope's directory in the hierarchies systemd does not manage (cpuset, freezer,
    // ...), with the init in it; v2: controllers enabled down to the scope. Then every resource.
    this.files.create();
    if (this.driver === 'v1') this.files.join(pid);
    this.files.applyResources(translated.resources, opts);
    this.close();
  }

  applyResources(resources: LinuxResources, opts?: ApplyOptions): void {
    if (!this.selfJoin) {
      // Translated now for its errors; applied when the unit starts.
      resourceProperties(resources, { cgroup: this.driver, systemdVersion: Number.MAX_SAFE_INTEGER, linuxDevicePaths: opts?.linuxDevicePaths });
      this.pending = { resources, opts };
      return;
    }
    const translated = resourceProperties(resources, { cgroup: this.driver, systemdVersion: this.systemdVersion(), update: opts?.update, linuxDevicePaths: opts?.linuxDevicePaths });
    if (translated.properties.length > 0) {
      try {
        this.call('SetUnitProperties', 'sba(sv)', [this.unit.unit, true, this.asDBus(translated.properties)]);
      } catch (e) {
        if (e instanceof RuntimeError) throw e;
        throw new RuntimeError(`systemd cgroup driver: set properties of unit ${this.unit.unit}: ${(e as Error).message}`);
      } finally {
        this.close();
      }
    }
    this.files.applyResources(translated.resources, opts);
  }

  /**
   * Stop the unit (if it is this container's) and wait; remove what systemd leaves (sub-cgroups
   * the container made, v1 hierarchies systemd does not manage); then stop the slices above it
   * that only exist because a unit named them and are now empty.
   */
  destroy(budgetMs?: number): void {
    // Not started by us: the cgroup, if any, is another container's.
    if (!this.owned) return this.close();
    let result = 'done';
    try {
      result = this.runJob(`stop ${this.unit.unit}`, 'StopUnit', 'ss', [this.unit.unit, 'replace']);
    } catch (e) {
      // No such unit: systemd stops an empty scope itself (the container's processes are gone).
      if (!isDBusError(e, 'org.freedesktop.systemd1.NoSuchUnit')) {
        if (e instanceof RuntimeError) throw e;
        throw new RuntimeError(`systemd cgroup driver: stop unit ${this.unit.unit}: ${(e as Error).message}`);
      }
    }
    this.resetFailed();
    if (result !== 'done' && result !== 'canceled') {
      throw new RuntimeError(`systemd cgroup driver: the job stopping unit ${this.unit.unit} ended with result "${result}"`);
    }
    this.files.destroy(budgetMs);
    this.stopImplicitSlices();
    this.close();
  }

  /**
   * A Slice= that names a slice with no unit file makes systemd load and start it, and it stays
   * after the scope is gone. Stop those left empty: no unit file, not made by someone's
   * StartTransientUnit (kubelet makes its pod slices so, and removes them itself), not systemd's
   * own. On v1 their directories in the hierarchies systemd does not manage (cpuset, freezer...)
   * were made by create: removed too.
   */
  private stopImplicitSlices(): void {
    for (const slice of ancestorSlices(this.cgroupsPath)) {
      if (SYSTEM_SLICES.has(slice)) return;
      try {
        const fragment = this.unitProperty(slice, UNIT_IFACE, 'FragmentPath');
        if (fragment === undefined) continue;
        if (fragment !== '' || this.unitProperty(slice, UNIT_IFACE, 'Transient') === true) return;
        const dirs = this.sliceDirs(slice);
        if (dirs.some((d) => subdirs(d).length > 0)) return; // other units still in it
        this.runJob(`stop ${slice}`, 'StopUnit', 'ss', [slice, 'replace']);
        for (const d of dirs) rmdirQuiet(d);
      } catch {
        return; // best effort: the container itself is gone
      }
    }
  }

  /** The slice's directory in each hierarchy the container's cgroup is in. */
  private sliceDirs(slice: string): string[] {
    const out = new Set<string>();
    for (const dir of Object.values(this.paths)) {
      const i = dir.lastIndexOf(`/${slice}/`);
      if (i >= 0) out.add(dir.slice(0, i + slice.length + 1));
    }
    return [...out];
  }

  pids(recursive?: boolean): number[] {
    return this.files.pids(recursive);
  }
  killAll(signal: NodeJS.Signals | number): void {
    this.files.killAll(signal);
  }
  freeze(): void {
    this.files.freeze();
  }
  thaw(): void {
    this.files.thaw();
  }
  isFrozen(): boolean {
    return this.files.isFrozen();
  }
  freezer(): FreezerFile | undefined {
    return this.files.freezer();
  }
  dirsToRemove(): undefined {
    return undefined; // the unit is stopped first
  }
  exists(): boolean {
    return this.files.exists();
  }
  stats(): Stats {
    return this.files.stats();
  }
  oomKillCount(): number | undefined {
    return this.files.oomKillCount();
  }

  /** Close the bus connection (a short-lived CLI would just exit; the library keeps running). */
  close(): void {
    this.bus?.close();
    this.bus = undefined;
  }
}
