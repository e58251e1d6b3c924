/**
 * The cgroup side of a Kubernetes pod, per cgroup driver, for tests that drive the runtime the way
 * a kubelet and containerd's CRI plugin do: the kubelet makes the pod's cgroup before the sandbox
 * and removes it after; the CRI plugin derives each container's cgroupsPath from the pod's
 * cgroup parent. A driver the runtime gains (systemd) is one more entry in CGROUP_DRIVERS.
 */
import * as fs from 'fs';
import * as path from 'path';
import { cgroupRoots, TapLike } from './runtime';

export interface CgroupDriver {
  name: string;
  /** Why this driver cannot be tested here, or false. */
  skip(): false | string;
  /** Global flags the runtime gets on every call with this driver. */
  flags: string[];
  /** The kubelet's part before RunPodSandbox: the pod's cgroup, as the CRI's cgroup_parent names it. Gone after teardown. */
  makePodCgroup(t: TapLike, podUid: string): string;
  /** containerd's cgroupsPath for a container (or the sandbox) of that pod. */
  cgroupsPath(parent: string, id: string): string;
  /** The host's directories of a cgroup (parent or cgroupsPath), one per hierarchy. */
  dirs(cgroup: string): string[];
  /** The kubelet's part after RemovePodSandbox: remove the pod's cgroup (throws when it cannot). */
  removePodCgroup(parent: string): void;
}

/** runc's cgroupfs driver: cgroupsPath is a path from each hierarchy's root; containerd joins parent and id. */
export const cgroupfs: CgroupDriver = {
  name: 'cgroupfs',
  skip: () => false,
  flags: [],
  makePodCgroup(t, podUid) {
    // A tree of our own, named after this process, standing for /kubepods/besteffort.
    const top = `/tsr-test-kubepods-${process.pid}`;
    const parent = `${top}/besteffort/pod${podUid}`;
    t.teardown(() => {
      for (const root of cgroupRoots()) {
        for (let dir = path.join(root, parent); dir.startsWith(path.join(root, top)); dir = path.dirname(dir)) {
          try {
            fs.rmdirSync(dir);
          } catch {
            /* gone already, or another pod of this process still uses it */
          }
        }
      }
    });
    for (const dir of this.dirs(parent)) fs.mkdirSync(dir, { recursive: true });
    return parent;
  },
  cgroupsPath: (parent, id) => `${parent}/${id}`,
  dirs: (cgroup) => cgroupRoots().map((root) => path.join(root, cgroup)),
  removePodCgroup(parent) {
    for (const dir of this.dirs(parent)) fs.rmdirSync(dir);
  },
};

export const CGROUP_DRIVERS: CgroupDriver[] = [cgroupfs];
