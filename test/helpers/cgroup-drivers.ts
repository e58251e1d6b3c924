/**
 * The cgroup side of a Kubernetes pod, per cgroup driver, for tests that drive the runtime the way
 * a kubelet and containerd's CRI plugin do: the kubelet makes the pod's cgroup before the sandbox
 * and removes it after; the CRI plugin derives each container's cgroupsPath from the pod's
 * cgroup parent. A driver the runtime gains (systemd) is one more entry in CGROUP_DRIVERS.
 */
import fs from 'fs';
import path from 'path';
import { execFileSync, spawnSync } from 'child_process';
import { expandSlice, parseSystemdCgroupsPath } from '../../src/cgroups/systemd-unit';
import { cgroupRoots, TapLike } from './runtime';
import { waitSync } from './wait';

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

function systemdIsPid1(): boolean {
  try {
    return fs.readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd' && fs.statSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}

/**
 * runc's systemd driver as containerd's SystemdCgroup uses it: the kubelet makes the pod a
 * transient slice, kubepods-besteffort-pod<uid>.slice (its parents are made implicitly), and a
 * container's cgroupsPath is "<pod slice>:cri-containerd:<id>".
 */
export const systemd: CgroupDriver = {
  name: 'systemd',
  skip: () => (systemdIsPid1() ? false : 'needs systemd as PID 1 (npm run test:systemd boots a guest where it is)'),
  flags: ['--systemd-cgroup'],
  makePodCgroup(t, podUid) {
    const slice = `kubepods-besteffort-pod${podUid.replace(/-/g, '_')}.slice`;
    t.teardown(() => void spawnSync('systemctl', ['stop', slice, 'kubepods-besteffort.slice', 'kubepods.slice']));
    execFileSync('busctl', [
      'call', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'StartTransientUnit', 'ssa(sv)a(sa(sv))',
      slice, 'replace', '2', 'Description', 's', 'tsruntime test pod', 'Wants', 'as', '1', 'kubepods-besteffort.slice', '0',
    ]);
    const active = () => execFileSync('systemctl', ['show', slice, '-p', 'ActiveState', '--value'], { encoding: 'utf8' }).trim() === 'active';
    if (!waitSync(active, 10_000)) throw new Error(`the pod slice ${slice} did not become active`);
    return slice;
  },
  cgroupsPath: (parent, id) => `${parent}:cri-containerd:${id}`,
  dirs(cgroup) {
    const rel = cgroup.includes(':') ? parseSystemdCgroupsPath(cgroup, '').cgroupPath : expandSlice(cgroup);
    return cgroupRoots().map((root) => path.join(root, rel));
  },
  removePodCgroup(parent) {
    // As the kubelet's rmdir would, refuse while a container's cgroup is still in the pod's.
    for (const dir of this.dirs(parent)) {
      if (fs.existsSync(dir) && fs.readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory())) throw new Error(`${dir} is not empty`);
    }
    execFileSync('systemctl', ['stop', parent]);
  },
};

export const CGROUP_DRIVERS: CgroupDriver[] = [cgroupfs, systemd];
