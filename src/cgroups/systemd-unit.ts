/**
 * Where the systemd cgroup driver puts a container: runc's reading of cgroupsPath as
 * "slice:prefix:name", the unit name (<prefix>-<name>.scope) and the cgroup path systemd gives it
 * (the slice expanded to its parents: a-b.slice lives in /a.slice/a-b.slice).
 *
 * Pure: no D-Bus, no filesystem, so every rule is unit-tested without root or systemd.
 */
import { RuntimeError } from '../errors';

/** The scope prefix when cgroupsPath is empty (runc uses its own name the same way). */
export const DEFAULT_SCOPE_PREFIX = 'tsruntime';
/** The slice when cgroupsPath names none (runc's default for root containers). */
export const DEFAULT_SLICE = 'system.slice';

export interface SystemdUnit {
  /** The parent slice unit, as systemd names it ("kubepods-besteffort-pod1.slice", "-.slice"). */
  slice: string;
  /** The container's scope unit ("cri-containerd-abc.scope"). */
  unit: string;
  /** Its cgroup, from the hierarchy root ("/kubepods.slice/kubepods-besteffort.slice/.../cri-containerd-abc.scope"). */
  cgroupPath: string;
}

const SLICE_SUFFIX = '.slice';
/** systemd's unit name alphabet (unit_name_is_valid), without '@' (templates are not ours to make). */
const UNIT_CHARS = /^[A-Za-z0-9:_.\\-]+$/;
const UNIT_NAME_MAX = 255;

/**
 * The cgroup path of a slice: every dash opens a sub-slice, so "a-b-c.slice" is
 * "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the root. runc's ExpandSlice rules and words.
 */
export function expandSlice(slice: string): string {
  const invalid = () => new RuntimeError(`invalid slice name: ${slice}`);
  if (slice.length <= SLICE_SUFFIX.length - 1 || !slice.endsWith(SLICE_SUFFIX) || slice.includes('/')) throw invalid();
  const name = slice.slice(0, -SLICE_SUFFIX.length);
  if (name === '-') return '/';
  let out = '';
  let prefix = '';
  for (const part of name.split('-')) {
    if (part === '') throw invalid(); // "a--b.slice", "-a.slice", "a-.slice", ".slice"
    out += `/${prefix}${part}${SLICE_SUFFIX}`;
    prefix += `${part}-`;
  }
  return out;
}

function checkUnitName(unit: string, cgroupsPath: string): void {
  if (unit.length > UNIT_NAME_MAX || !UNIT_CHARS.test(unit)) {
    throw new RuntimeError(`cgroupsPath ${JSON.stringify(cgroupsPath)}: ${JSON.stringify(unit)} is not a valid systemd unit name (letters, digits and ":-_.\\" only, at most ${UNIT_NAME_MAX} characters)`);
  }
}

/**
 * linux.cgroupsPath under --systemd-cgroup. Empty or absent: ":<DEFAULT_SCOPE_PREFIX>:<id>".
 * Otherwise exactly three colon-separated parts (runc's error otherwise); an empty slice is
 * system.slice. runc turns a name ending in ".slice" into a slice unit of its own; a container's
 * processes need a scope, so that is refused here rather than failing inside systemd.
 */
export function parseSystemdCgroupsPath(cgroupsPath: string | undefined, id: string): SystemdUnit {
  const raw = cgroupsPath || `:${DEFAULT_SCOPE_PREFIX}:${id}`;
  const parts = raw.split(':');
  if (parts.length !== 3) {
    throw new RuntimeError(`expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got ${JSON.stringify(raw)} instead`);
  }
  const [sliceText, prefix, name] = parts;
  if (name === '') throw new RuntimeError(`cgroupsPath ${JSON.stringify(raw)}: the name part (slice:prefix:name) cannot be empty`);
  if (name.endsWith(SLICE_SUFFIX)) {
    throw new RuntimeError(`cgroupsPath ${JSON.stringify(raw)}: ${name} is a slice; a container needs a scope (name it without ".slice")`);
  }
  const slice = sliceText || DEFAULT_SLICE;
  const expanded = expandSlice(slice);
  const unit = `${prefix}-${name}.scope`;
  checkUnitName(unit, raw);
  return { slice, unit, cgroupPath: expanded === '/' ? `/${unit}` : `${expanded}/${unit}` };
}

/**
 * The unit back from the cgroup path a container's state recorded ("/a.slice/a-b.slice/x-y.scope"):
 * later commands rebuild the manager from it. Throws when the path is not one this driver made.
 */
export function systemdUnitFromCgroupPath(cgroupPath: string): SystemdUnit {
  const parts = cgroupPath.split('/');
  const unit = parts[parts.length - 1];
  const parent = parts.slice(0, -1).join('/');
  const slice = parent === '' ? '-.slice' : parts[parts.length - 2];
  let ok = cgroupPath.startsWith('/') && unit.endsWith('.scope') && UNIT_CHARS.test(unit);
  if (ok) {
    try {
      ok = (expandSlice(slice) === '/' ? '' : expandSlice(slice)) === parent;
    } catch {
      ok = false;
    }
  }
  if (!ok) throw new RuntimeError(`the recorded cgroup ${JSON.stringify(cgroupPath)} is not a systemd scope under its slice (state written by another driver?)`);
  return { slice, unit, cgroupPath };
}

/** The slices a unit's cgroup path passes through, innermost first ("a-b.slice", "a.slice"). */
export function ancestorSlices(cgroupPath: string): string[] {
  return cgroupPath
    .split('/')
    .filter((p) => p.endsWith(SLICE_SUFFIX))
    .reverse();
}
