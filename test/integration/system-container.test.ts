/**
 * A system container (LXC/LXD style): PID 1 is systemd, on a rootfs made of this host's /usr
 * (test/helpers/system-rootfs.ts). It boots to `running` or `degraded`, runs its enabled service,
 * takes `tsruntime exec` while systemd holds its cgroup subtree, and halts on SIGRTMIN+3 (what
 * `podman stop` sends it); delete then removes the sub-cgroups its systemd made.
 *
 * systemd needs a cgroup it may write: a cgroup namespace and a read-write `cgroup` mount. On
 * cgroup v2 it moves itself into /init.scope and enables controllers for its children, so the
 * container's own cgroup may hold no process after that (the kernel's no-internal-process rule):
 * an exec must then join the init's cgroup. On hybrid hosts it uses the name=systemd v1
 * hierarchy and the cgroup2 one at /sys/fs/cgroup/unified, both bound read-write.
 * With the cgroupfs driver everywhere; with the systemd driver (a scope with Delegate=yes, as
 * Podman makes on a systemd host) where PID 1 is systemd. `npm run test:systemd` runs both in its
 * guest, on unified cgroup v2, which is the case that needs the exec rule above.
 */
import t, { Test } from 'tap';
import fs from 'fs';
import path from 'path';
import { cgroupRoots, leftovers, NEEDS_ROOT, Sandbox } from '../helpers/runtime';
import { makeSystemBundle, SERVICE_MARKER, SERVICE_UNIT, systemRootfsMissing } from '../helpers/system-rootfs';
import { scaled, waitSync } from '../helpers/wait';
import { CGROUP_DRIVERS, CgroupDriver } from '../helpers/cgroup-drivers';

const skip = NEEDS_ROOT || systemRootfsMissing();
const CGROUP2_SUPER_MAGIC = 0x63677270;

/** The init's cgroup v2 path (the `0::` line of /proc/PID/cgroup), as the host sees it. */
function unifiedCgroupOf(pid: number): string | undefined {
  return /^0::(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];
}

for (const driver of CGROUP_DRIVERS) {
  t.test(`systemd as PID 1 boots, runs its service, takes exec and halts on SIGRTMIN+3 (${driver.name} cgroup driver)`, { skip: skip || driver.skip() }, async (t) => {
    await bootAndHalt(t, driver);
  });
}

async function bootAndHalt(t: Test, driver: CgroupDriver): Promise<void> {
  const sb = new Sandbox(t);
  const id = sb.id('sys');
  const tsr = (args: string[]) => sb.tsr([...driver.flags, ...args]);
  // With systemd's driver, a scope in machine.slice as Podman makes it; else the default cgroup.
  const bundle = makeSystemBundle(fs.mkdtempSync(path.join(sb.dir, 'system-')), (s) => {
    if (driver.name === 'systemd') s.linux.cgroupsPath = `machine.slice:tsr-test:${id}`;
  });
  const created = tsr(['create', '--bundle', bundle, id]);
  t.equal(created.status, 0, `create: ${created.stderr}`);
  const started = Date.now();
  t.equal(tsr(['start', id]).status, 0, 'start');
  const pid = sb.state(id).pid as number;

  // Polled with a deadline: a boot takes about a second here and a minute or more under emulation.
  // An exec the runtime itself refused ends the wait: it would fail the same way until the deadline.
  let booted = '';
  waitSync(() => {
    const r = tsr(['exec', id, 'systemctl', 'is-system-running']);
    booted = r.stdout.trim() || r.stderr.trim();
    return /^(running|degraded)$/.test(booted) || r.stderr.startsWith('tsruntime:');
  }, scaled(60_000), 200);
  t.match(booted, /^(running|degraded)$/, 'systemctl is-system-running');
  t.comment(`booted in ${((Date.now() - started) / 1000).toFixed(1)} s after start`);
  const failed = tsr(['exec', id, 'systemctl', 'list-units', '--failed', '--plain', '--no-legend', '--no-pager']);
  t.same([failed.status, failed.stdout.trim()], [0, ''], `no unit failed ${failed.stderr}`);

  t.equal(tsr(['exec', id, 'cat', SERVICE_MARKER]).stdout, 'ran\n', 'the enabled service ran');
  t.equal(tsr(['exec', id, 'systemctl', 'is-active', SERVICE_UNIT]).stdout.trim(), 'active', `${SERVICE_UNIT} is active`);
  t.equal(tsr(['exec', id, 'sh', '-c', 'tr "\\0" "\\n" </proc/1/environ | grep ^container=']).stdout, 'container=tsruntime\n',
    'systemd was told its container manager');
  const own = unifiedCgroupOf(pid);
  t.match(own, /\/init\.scope$/, 'systemd moved itself into init.scope of its cgroup namespace');
  // Where systemd enabled controllers for its children, its root cgroup may hold no process: exec
  // goes where the init is (runc does the same). Elsewhere (hybrid) the container's cgroup is fine.
  const v2 = fs.statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  t.equal(tsr(['exec', id, 'sh', '-c', 'grep ^0:: /proc/self/cgroup']).stdout, v2 ? '0::/init.scope\n' : '0::/\n',
    `an exec'd process lands in ${v2 ? "the init's cgroup" : "the container's cgroup"}, seen from the container's cgroup namespace`);

  t.equal(tsr(['kill', id, 'SIGRTMIN+3']).status, 0, 'kill SIGRTMIN+3');
  t.ok(sb.waitStatus(id, 'stopped', 60_000), 'stopped: systemd halted and its init exited');
  // The host's systemd removes a scope's cgroup, delegated subtree included, once it is empty; the
  // cgroupfs driver's subtree is the runtime's to remove.
  const ownDir = path.posix.dirname(own ?? '/');
  if (driver.name === 'cgroupfs') {
    const nested = driver.dirs(path.posix.join(ownDir, 'init.scope')).some((d) => fs.existsSync(d));
    t.ok(nested, 'the sub-cgroups systemd made are still there until delete');
  }
  const del = tsr(['delete', id]);
  t.equal(del.status, 0, `delete: ${del.stderr}`);
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
  t.same(cgroupRoots().map((root) => path.join(root, ownDir)).filter((d) => fs.existsSync(d)), [], 'no cgroup left, nested ones included');
}
