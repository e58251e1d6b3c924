/** The host's cgroup hierarchies as the planner's `type: cgroup` mounts need them. */
import * as fs from 'fs';
import * as path from 'path';
import type { CgroupHierarchy } from '../plan/build-init-plan';
import { parseMountInfo } from '../cgroups/detect';

export function hostCgroupHierarchies(mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = parseMountInfo(mountinfo)
    .filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2')
    .map((m) => ({ mountpoint: m.mountPoint, name: path.basename(m.mountPoint), version: m.fsType === 'cgroup2' ? 2 : 1 }));
  // Pure v2: the one hierarchy is the whole /sys/fs/cgroup.
  if (out.length === 1 && out[0].version === 2) out[0].name = '';
  return out;
}
