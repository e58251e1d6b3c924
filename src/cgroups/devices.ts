/**
 * Device access rules (linux.resources.devices) as runc applies them, for both drivers.
 *
 * The rule list is the config's rules followed by runc's default allowed devices (always added,
 * so a config with no rules still gets a deny-all-but-the-basics cgroup). It is run through a
 * model of the v1 devices controller (the same semantics runc's emulator has): start from
 * "deny everything", an "a" rule switches the default and forgets every exception, other rules
 * add or remove exceptions, and a rule that would punch a hole into a wildcard exception is an
 * error. From the resulting state:
 *   - v1: the writes to devices.deny / devices.allow that take the cgroup's current state
 *     (read from devices.list) to the target, then a check that the kernel agrees;
 *   - v2: the minimal exception list the eBPF filter (ebpf.ts) is generated from.
 */
import { RuntimeError } from '../errors';
import type { DeviceCgroup } from '../generated/config';

export type DeviceType = 'a' | 'b' | 'c';

/** One rule, normalized: -1 stands for the "*" wildcard in major or minor. */
export interface DeviceRule {
  type: DeviceType;
  major: number;
  minor: number;
  /** Some of "rwm", in that order, no repeats. */
  access: string;
  allow: boolean;
}

/** Default device rules runc appends to every container's list (libcontainer/specconv AllowedDevices). */
export const DEFAULT_ALLOWED_DEVICES: ReadonlyArray<DeviceRule & { path?: string }> = [
  { type: 'c', major: -1, minor: -1, access: 'm', allow: true }, // mknod of any char device
  { type: 'b', major: -1, minor: -1, access: 'm', allow: true }, // mknod of any block device
  { path: '/dev/null', type: 'c', major: 1, minor: 3, access: 'rwm', allow: true },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, access: 'rwm', allow: true },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, access: 'rwm', allow: true },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, access: 'rwm', allow: true },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, access: 'rwm', allow: true },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, access: 'rwm', allow: true },
  { type: 'c', major: 136, minor: -1, access: 'rwm', allow: true }, // /dev/pts/*
  { type: 'c', major: 5, minor: 2, access: 'rwm', allow: true }, // /dev/ptmx
  { type: 'c', major: 10, minor: 200, access: 'rwm', allow: true }, // /dev/net/tun (kept by runc for compatibility)
];

/** Canonical "rwm" subset of an access string. */
export function normalizeAccess(access: string): string {
  return ['r', 'w', 'm'].filter((c) => access.includes(c)).join('');
}

function accessUnion(a: string, b: string): string {
  return normalizeAccess(a + b);
}
function accessMinus(a: string, b: string): string {
  return normalizeAccess([...a].filter((c) => !b.includes(c)).join(''));
}
function accessIntersects(a: string, b: string): boolean {
  return [...a].some((c) => b.includes(c));
}

/**
 * The config's rules plus the defaults, as runc builds them. linuxDevicePaths are the paths of
 * linux.devices: runc drops a default rule whose device the config lists itself. The config's
 * rules have passed the plan's checks (src/plan/rules/resources.ts): types, accesses, numbers.
 */
export function containerDeviceRules(configRules: DeviceCgroup[] | undefined, linuxDevicePaths: readonly string[] = []): DeviceRule[] {
  const out: DeviceRule[] = [];
  const num = (v: number | undefined): number => (v === undefined ? -1 : v);
  for (const d of configRules ?? []) {
    out.push({ type: (d.type ?? 'a') as DeviceType, major: num(d.major), minor: num(d.minor), access: normalizeAccess(d.access ?? ''), allow: d.allow });
  }
  for (const def of DEFAULT_ALLOWED_DEVICES) {
    if (def.path && linuxDevicePaths.includes(def.path)) continue;
    out.push({ type: def.type, major: def.major, minor: def.minor, access: def.access, allow: def.allow });
  }
  return out;
}

type Key = string; // "c:1:3" with -1 for "*"

function keyOf(type: 'b' | 'c', major: number, minor: number): Key {
  return `${type}:${major}:${minor}`;
}
function parseKey(key: Key): { type: 'b' | 'c'; major: number; minor: number } {
  const [type, major, minor] = key.split(':');
  return { type: type as 'b' | 'c', major: Number(major), minor: Number(minor) };
}
function numText(n: number): string {
  return n < 0 ? '*' : String(n);
}

/** The text the v1 devices.allow/deny files take: "c 1:3 rwm", "a *:* rwm". */
export function ruleText(rule: DeviceRule): string {
  if (rule.type === 'a') return `a *:* ${rule.access || 'rwm'}`;
  return `${rule.type} ${numText(rule.major)}:${numText(rule.minor)} ${rule.access}`;
}

/**
 * The state of a v1 devices cgroup: a default (allow or deny everything) and exceptions to it,
 * keyed by type:major:minor, each with the accesses it covers.
 */
export class DeviceState {
  defaultAllow = false;
  exceptions = new Map<Key, string>();

  static fromRules(rules: DeviceRule[]): DeviceState {
    const s = new DeviceState();
    for (const r of rules) s.apply(r);
    return s;
  }

  /**
   * Parse devices.list: "a *:* rwm" alone means allow-all; otherwise each line is an allowed
   * exception to deny-all (the kernel lists nothing else).
   */
  static fromList(text: string): DeviceState {
    const s = new DeviceState();
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const m = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line.trim());
      if (!m) throw new RuntimeError(`malformed devices.list line ${JSON.stringify(line)}`);
      const rule: DeviceRule = {
        type: m[1] as DeviceType,
        major: m[2] === '*' ? -1 : Number(m[2]),
        minor: m[3] === '*' ? -1 : Number(m[3]),
        access: normalizeAccess(m[4]),
        allow: true,
      };
      s.apply(rule);
    }
    return s;
  }

  apply(rule: DeviceRule): void {
    if (rule.type === 'a') {
      // An "a" rule resets everything, whatever its major/minor/access say (as the kernel does).
      this.defaultAllow = rule.allow;
      this.exceptions = new Map();
      return;
    }
    const key = keyOf(rule.type, rule.major, rule.minor);
    if (rule.allow === this.defaultAllow) {
      // Same direction as the default: take accesses out of an exception.
      for (const wider of [keyOf(rule.type, -1, rule.minor), keyOf(rule.type, rule.major, -1), keyOf(rule.type, -1, -1)]) {
        if (wider === key) continue;
        const perms = this.exceptions.get(wider);
        if (perms && accessIntersects(perms, rule.access)) {
          throw new RuntimeError(
            `device rule "${ruleText(rule)}" (${rule.allow ? 'allow' : 'deny'}) cannot be applied: it would punch a hole in the wildcard rule "${ruleText({ ...parseKey(wider), access: perms, allow: !rule.allow })}" (not supported by the devices cgroup)`,
          );
        }
      }
      const left = accessMinus(this.exceptions.get(key) ?? '', rule.access);
      if (left === '') this.exceptions.delete(key);
      else this.exceptions.set(key, left);
    } else {
      this.exceptions.set(key, accessUnion(this.exceptions.get(key) ?? '', rule.access));
    }
  }

  /** Exceptions sorted by major, minor, type (runc's order), wildcards (-1) first. */
  sortedExceptions(): Array<{ type: 'b' | 'c'; major: number; minor: number; access: string }> {
    return [...this.exceptions.entries()]
      .map(([k, access]) => ({ ...parseKey(k), access }))
      .sort((a, b) => a.major - b.major || a.minor - b.minor || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  }

  equals(other: DeviceState): boolean {
    if (this.defaultAllow !== other.defaultAllow || this.exceptions.size !== other.exceptions.size) return false;
    for (const [k, v] of this.exceptions) if (other.exceptions.get(k) !== v) return false;
    return true;
  }

  /**
   * The rules that take a cgroup in state `this` to `target` (runc's Transition): reset with an
   * "a" rule when the current state is allow-all or the default changes, then drop the accesses
   * the target no longer has, then add those it gains. Exceptions are written in the order the
   * config gave them (the Map keeps it): the kernel lists them in devices.list in the order they
   * were added, and runtime-tools checks that order, as crun passes it.
   */
  transition(target: DeviceState): DeviceRule[] {
    const out: DeviceRule[] = [];
    let old = this.exceptions;
    if (this.defaultAllow || this.defaultAllow !== target.defaultAllow) {
      out.push({ type: 'a', major: -1, minor: -1, access: 'rwm', allow: target.defaultAllow });
      old = new Map();
    }
    const inOrder = (m: Map<Key, string>) => [...m.entries()].map(([k, access]) => ({ key: k, ...parseKey(k), access }));
    for (const e of inOrder(old)) {
      const dropped = accessMinus(e.access, target.exceptions.get(e.key) ?? '');
      if (dropped) out.push({ type: e.type, major: e.major, minor: e.minor, access: dropped, allow: target.defaultAllow });
    }
    for (const e of inOrder(target.exceptions)) {
      const gained = accessMinus(e.access, old.get(e.key) ?? '');
      if (gained) out.push({ type: e.type, major: e.major, minor: e.minor, access: gained, allow: !target.defaultAllow });
    }
    return out;
  }
}
