/** The host's cgroup hierarchies as the planner's `type: cgroup` mounts need them. */
import * as fs from 'fs';
import * as path from 'path';
import type { CgroupHierarchy } from '../plan/build-init-plan';

export function hostCgroupHierarchies(mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): CgroupHierarchy[] {
  const out: CgroupHierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const [fstype, , superOpts] = line.slice(sep + 3).split(' ');
    const mountpoint = left[4];
    if (fstype === 'cgroup2') out.push({ mountpoint, name: path.basename(mountpoint) === 'cgroup' ? '' : path.basename(mountpoint), version: 2 });
    else if (fstype === 'cgroup') {
      void superOpts;
      out.push({ mountpoint, name: path.basename(mountpoint), version: 1 });
    }
  }
  // Pure v2: the one hierarchy is the whole /sys/fs/cgroup.
  if (out.length === 1 && out[0].version === 2) out[0].name = '';
  return out;
}
