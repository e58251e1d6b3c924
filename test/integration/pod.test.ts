/**
 * A Kubernetes pod, as containerd's CRI plugin has its runc v2 shim drive the runtime
 * (../shared/CLIENTS.md): RunPodSandbox, CreateContainer and StartContainer twice, ExecSync,
 * StopContainer, RemoveContainer, StopPodSandbox, RemovePodSandbox, then the kubelet removes the
 * pod's cgroup. Every call has the shim's global flags and cwd (the bundle).
 *
 * The host side is made as the CRI plugin and kubelet make it: the pod's network namespace exists
 * before the sandbox, as a bind-mounted nsfs file (containerd's /var/run/netns/cni-<uuid>), here
 * in a directory of the test's; the sandbox ("pause", a busybox sleep) makes the pod's ipc and
 * uts namespaces, which are then kept as bind-mounted files too (CRI-O pins all three this way);
 * /dev/shm is a tmpfs on the host, bound read-only into the sandbox and read-write into each app
 * container. One app container joins the pinned files, the other /proc/<sandbox pid>/ns/* (what
 * containerd itself passes); each has its own pid, mount and cgroup namespace, and a cgroup under
 * the pod's.
 */
import t, { Test } from 'tap';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { Sandbox, NEEDS_ROOT, Result } from '../helpers/runtime';
import { fileInode, namespaceHolder, mountsUnder, nsInode, pinNamespace } from '../helpers/namespaces';
import { CGROUP_DRIVERS, CgroupDriver } from '../helpers/cgroup-drivers';
import { isRunning, until } from '../helpers/wait';
import { spawnSync } from 'child_process';

type Spec = Record<string, any>;

const SHARED = ['net', 'ipc', 'uts'];
const OWN = ['pid', 'mnt', 'cgroup'];
const NS_TYPE: Record<string, string> = { net: 'network', ipc: 'ipc', uts: 'uts' };
const HOSTNAME = 'tsr-pod';

const CAP_SYS_RESOURCE = 24;

/** Whether this process's bounding set has a capability. */
function hasCap(cap: number): boolean {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return ((BigInt(`0x${hex}`) >> BigInt(cap)) & 1n) === 1n;
}

/** The namespaces of a process, by /proc/PID/ns name, as inodes. */
function namespacesOf(pid: number, names: string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, nsInode(fs.readlinkSync(`/proc/${pid}/ns/${n}`))]));
}

/** What containerd's CRI plugin puts in every container's spec (sandbox or not) that matters here. */
function criSpec(s: Spec, driver: CgroupDriver, parent: string, id: string, type: 'sandbox' | 'container', sandboxId: string): void {
  s.linux.cgroupsPath = driver.cgroupsPath(parent, id);
  s.annotations = { 'io.kubernetes.cri.container-type': type, 'io.kubernetes.cri.sandbox-id': sandboxId };
  // containerd's default mounts, less /run; /dev/shm comes from the sandbox below.
  s.mounts = s.mounts.filter((m: { destination: string }) => m.destination !== '/dev/shm');
}

for (const driver of CGROUP_DRIVERS) {
  t.test(`a two-container pod as containerd's CRI plugin runs it (${driver.name} cgroup driver)`, { skip: NEEDS_ROOT || driver.skip() }, async (t) => {
    await runPod(t, driver);
  });
}

async function runPod(t: Test, driver: CgroupDriver): Promise<void> {
  // Teardown runs last-registered first: the pod dir goes after everything in it, the pod's
  // cgroup after the containers in it.
  const podDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsr-test-pod-'));
  t.teardown(() => fs.rmSync(podDir, { recursive: true, force: true }));
  const parent = driver.makePodCgroup(t, `${process.pid}-${Date.now()}`);
  const sb = new Sandbox(t);
  const ids = { sandbox: sb.id('pause'), c1: sb.id('app'), c2: sb.id('app') };
  const bundles: Record<string, string> = {};
  /** One runtime call as the shim makes it: its global flags, cwd the bundle. */
  const shim = (id: string, args: string[]): Result =>
    sb.tsr([...driver.flags, '--log', path.join(bundles[id], 'log.json'), '--log-format', 'json', ...args], { cwd: bundles[id] });
  t.teardown(() => {
    for (const id of Object.values(ids)) if (bundles[id]) shim(id, ['delete', '--force', id]);
  });
  /** A call the rest depends on: stop here when it fails (teardown still cleans up). */
  const ok = (what: string, r: Result): void => {
    t.equal(r.status, 0, `${what}${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
    if (r.status !== 0) throw new Error(`${what} failed`);
  };

  // --- RunPodSandbox: the host side first.
  const nsDir = path.join(podDir, 'ns');
  const sandboxDir = path.join(podDir, 'sandbox');
  const shm = path.join(sandboxDir, 'shm');
  fs.mkdirSync(nsDir);
  fs.mkdirSync(shm, { recursive: true });
  const netHolder = await namespaceHolder(t, ['--net'], 'net');
  const netFile = pinNamespace(t, `/proc/${netHolder}/ns/net`, path.join(nsDir, 'net'));
  process.kill(netHolder, 'SIGKILL'); // the pinned file alone holds it, as CNI's netns files do
  t.teardown(() => {
    spawnSync('umount', [shm]);
  });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'nosuid,nodev,noexec,mode=1777,size=65536k', 'shm', shm], { encoding: 'utf8' });
  t.equal(m.status, 0, `the sandbox's shm tmpfs ${m.stderr}`);
  fs.writeFileSync(path.join(sandboxDir, 'hostname'), `${HOSTNAME}\n`);
  fs.writeFileSync(path.join(sandboxDir, 'hosts'), '127.0.0.1 localhost\n');
  fs.writeFileSync(path.join(sandboxDir, 'resolv.conf'), 'nameserver 127.0.0.1\n');

  bundles[ids.sandbox] = sb.bundle(['sleep', '3600'], (s) => {
    criSpec(s, driver, parent, ids.sandbox, 'sandbox', ids.sandbox);
    s.hostname = HOSTNAME;
    s.root.readonly = true;
    // Lowering it needs CAP_SYS_RESOURCE, which some hosts' root lacks (runc fails there too).
    if (hasCap(CAP_SYS_RESOURCE)) s.process.oomScoreAdj = -998;
    s.linux.resources = { ...s.linux.resources, cpu: { shares: 2 } };
    s.linux.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network', path: netFile }, { type: 'cgroup' }];
    s.mounts.push(
      { destination: '/dev/shm', type: 'bind', source: shm, options: ['rbind', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: path.join(sandboxDir, 'resolv.conf'), options: ['rbind', 'ro'] },
    );
  }, true);
  const pidOf = (id: string): number => Number(fs.readFileSync(path.join(bundles[id], 'init.pid'), 'utf8'));
  const createAndStart = (id: string): void => {
    ok(`create ${id}`, shim(id, ['create', '--bundle', bundles[id], '--pid-file', path.join(bundles[id], 'init.pid'), id]));
    ok(`start ${id}`, shim(id, ['start', id]));
  };
  createAndStart(ids.sandbox);
  const sandboxPid = pidOf(ids.sandbox);
  // The pod's ipc and uts namespaces, made by the sandbox, kept as files.
  const pinned: Record<string, string> = { net: netFile };
  for (const n of ['ipc', 'uts']) pinned[n] = pinNamespace(t, `/proc/${sandboxPid}/ns/${n}`, path.join(nsDir, n));

  // --- CreateContainer + StartContainer, twice.
  const appSpec = (id: string, join: Record<string, string>) => (s: Spec) => {
    criSpec(s, driver, parent, id, 'container', ids.sandbox);
    delete s.hostname;
    s.process.env.push(`HOSTNAME=${HOSTNAME}`);
    s.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }, { type: 'cgroup' }, ...SHARED.map((n) => ({ type: NS_TYPE[n], path: join[n] }))];
    for (const [dest, source] of [['/etc/hostname', 'hostname'], ['/etc/hosts', 'hosts'], ['/etc/resolv.conf', 'resolv.conf']]) {
      s.mounts.push({ destination: dest, type: 'bind', source: path.join(sandboxDir, source), options: ['rbind', 'rprivate', 'rw'] });
    }
    s.mounts.push({ destination: '/dev/shm', type: 'bind', source: shm, options: ['rbind', 'rprivate', 'rw'] });
  };
  bundles[ids.c1] = sb.bundle(['sleep', '3600'], appSpec(ids.c1, pinned), true);
  bundles[ids.c2] = sb.bundle(['sleep', '3600'], appSpec(ids.c2, Object.fromEntries(SHARED.map((n) => [n, `/proc/${sandboxPid}/ns/${n}`]))), true);
  createAndStart(ids.c1);
  createAndStart(ids.c2);
  const pids = { sandbox: sandboxPid, c1: pidOf(ids.c1), c2: pidOf(ids.c2) };

  // --- ExecSync, in each app container: the shim's exec --process --detach --pid-file. The output
  // goes through /dev/shm, which is the check that the pod shares it.
  const exec = async (id: string, script: string, outFile: string): Promise<string> => {
    const spec = JSON.parse(fs.readFileSync(path.join(bundles[id], 'config.json'), 'utf8')) as Spec;
    const processFile = path.join(podDir, `process-${id}.json`);
    fs.writeFileSync(processFile, JSON.stringify({ ...spec.process, args: ['sh', '-c', `{ ${script}; } > /dev/shm/${outFile}.tmp && mv /dev/shm/${outFile}.tmp /dev/shm/${outFile}`] }));
    ok(`exec in ${id}`, shim(id, ['exec', '--process', processFile, '--detach', '--pid-file', path.join(bundles[id], 'exec.pid'), id]));
    const out = path.join(shm, outFile);
    t.ok(await until(() => fs.existsSync(out), 10_000), `the exec in ${id} wrote /dev/shm/${outFile}`);
    return fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
  };
  const report = 'for n in net ipc uts pid mnt cgroup; do echo "$n $(readlink /proc/self/ns/$n)"; done; echo "hostname $(hostname)"; sed "s/^/cgroup-line /" /proc/self/cgroup';
  const fromC1 = await exec(ids.c1, report, 'from-c1');
  const fromC2 = await exec(ids.c2, `${report}; echo "read $(head -1 /dev/shm/from-c1)"`, 'from-c2');

  // --- What a pod needs.
  const ns = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, namespacesOf(pid, [...SHARED, ...OWN])]));
  const ours = namespacesOf(process.pid, [...SHARED, ...OWN]);
  for (const n of SHARED) {
    t.equal(ns.c1[n], ns.sandbox[n], `${n}: the first app container is in the sandbox's`);
    t.equal(ns.c2[n], ns.sandbox[n], `${n}: the second app container is in the sandbox's`);
    t.equal(fileInode(pinned[n]), ns.sandbox[n], `${n}: the pod's namespace file holds it`);
    t.not(ns.sandbox[n], ours[n], `${n}: not the host's`);
  }
  for (const n of OWN) {
    t.equal(new Set([ns.sandbox[n], ns.c1[n], ns.c2[n], ours[n]]).size, 4, `${n}: each container has its own`);
  }
  for (const [who, out] of [['c1', fromC1], ['c2', fromC2]] as const) {
    const lines = out.split('\n');
    const field = (k: string) => lines.find((l) => l.startsWith(`${k} `))?.slice(k.length + 1);
    for (const n of [...SHARED, ...OWN]) t.equal(nsInode(field(n) ?? ''), ns[who][n], `${who}: exec joins the container's ${n} namespace`);
    t.equal(field('hostname'), HOSTNAME, `${who}: the pod's hostname`);
    const cgroupLines = lines.filter((l) => l.startsWith('cgroup-line '));
    t.ok(cgroupLines.length > 0 && cgroupLines.every((l) => l.endsWith(':/')), `${who}: its cgroup is the root of its cgroup namespace`);
  }
  t.equal(/^read (.*)$/m.exec(fromC2)?.[1], fromC1.split('\n')[0], "the second app container reads what the first wrote in /dev/shm");
  for (const [key, id] of Object.entries(ids)) {
    const pid = pids[key as keyof typeof pids];
    const dirs = driver.dirs(driver.cgroupsPath(parent, id));
    t.ok(dirs.every((d) => fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid))), `${key}: in its cgroup under the pod's`);
  }

  // --- StopContainer (SIGTERM, which a sleeping pid 1 ignores, then SIGKILL) and RemoveContainer.
  for (const id of [ids.c1, ids.c2]) {
    ok(`kill ${id} 15`, shim(id, ['kill', id, '15']));
    ok(`kill ${id} 9`, shim(id, ['kill', id, '9']));
    t.ok(sb.waitStatus(id, 'stopped'), `${id} stopped`);
    ok(`delete ${id}`, shim(id, ['delete', id]));
    ok(`delete --force ${id} again (the shim does)`, shim(id, ['delete', '--force', id]));
  }
  // --- StopPodSandbox: SIGKILL the sandbox, unmount its shm, remove the namespace files.
  ok('kill the sandbox', shim(ids.sandbox, ['kill', ids.sandbox, '9']));
  t.ok(sb.waitStatus(ids.sandbox, 'stopped'), 'sandbox stopped');
  t.equal(spawnSync('umount', [shm]).status, 0, "unmount the sandbox's shm");
  for (const file of Object.values(pinned)) {
    t.equal(spawnSync('umount', [file]).status, 0, `unmount ${file}`);
    fs.rmSync(file);
  }
  // --- RemovePodSandbox, then the kubelet removes the pod's cgroup.
  ok('delete the sandbox', shim(ids.sandbox, ['delete', ids.sandbox]));
  ok('delete --force the sandbox again', shim(ids.sandbox, ['delete', '--force', ids.sandbox]));
  t.doesNotThrow(() => driver.removePodCgroup(parent), "the pod's cgroup can be removed: nothing of the pod is left in it");

  // --- Nothing left behind.
  const left: string[] = [];
  for (const id of Object.values(ids)) {
    if (fs.existsSync(path.join(sb.root, id))) left.push(`state dir of ${id}`);
    left.push(...driver.dirs(driver.cgroupsPath(parent, id)).filter((d) => fs.existsSync(d)).map((d) => `cgroup ${d}`));
    left.push(...mountsUnder(bundles[id]).map((mp) => `mount ${mp}`));
  }
  left.push(...driver.dirs(parent).filter((d) => fs.existsSync(d)).map((d) => `pod cgroup ${d}`));
  left.push(...mountsUnder(podDir).map((mp) => `mount ${mp}`));
  left.push(...fs.readdirSync(nsDir).map((f) => `namespace file ${path.join(nsDir, f)}`));
  for (const [key, pid] of Object.entries(pids)) if (isRunning(pid)) left.push(`process ${pid} (${key})`);
  t.same(left, [], 'no state, cgroup, mount, namespace file or process of the pod is left');
  for (const id of Object.values(ids)) {
    const logFile = path.join(bundles[id], 'log.json');
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').filter(Boolean) : [];
    t.same(log.filter((l) => JSON.parse(l).level === 'error'), [], `${id}: no error in the shim's log.json`);
  }
}
