/**
 * /proc must be procfs, and nothing but a few lxcfs-style files may be mounted inside it
 * (CVE-2019-16884, CVE-2023-27561, CVE-2025-52881 classes).
 *
 * The runtime writes into /proc after pivot_root: sysctls (/proc/sys/...), and it reopens its own
 * fds (the exec fifo) through /proc/self/fd. A bundle that puts something else there turns those
 * writes into writes of files it chose. Every target here is a file the test owns; the only real
 * kernel value an attack could reach is kernel.domainname of the container's own UTS namespace,
 * and the test checks the host's is unchanged.
 */
import t from 'tap';
import fs from 'fs';
import path from 'path';
import { leftovers, NEEDS_ROOT, Sandbox } from '../helpers/runtime';
import { waitSync } from '../helpers/wait';
import { runProbe } from '../helpers/probe';
import { hostMountsUnder, mountIn, oneLine, snapshot } from '../helpers/escape-checks';

const hostDomainname = (): string => fs.readFileSync('/proc/sys/kernel/domainname', 'utf8');

/** A fake procfs tree of regular files: what the runtime would write into, if it trusted it. */
function fakeProc(dir: string): string {
  const root = path.join(dir, 'fake-proc');
  const files: Record<string, string> = {
    'sys/kernel/domainname': 'fake-domainname\n',
    'sys/kernel/hostname': 'fake-hostname\n',
    'sys/net/ipv4/ip_forward': '0\n',
    'sys/net/core/somaxconn': '128\n',
  };
  // The exec fifo is reopened as /proc/self/fd/N: regular files there would stand in for it.
  for (let fd = 0; fd < 256; fd++) files[`self/fd/${fd}`] = '';
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
  return root;
}

/** The mounts of a spec without the one on `dest`. */
function withoutMount(spec: Record<string, any>, dest: string): any[] {
  return spec.mounts.filter((m: { destination: string }) => m.destination !== dest);
}

t.test('(a) a host directory bound onto /proc is refused, and no sysctl lands in it', { skip: NEEDS_ROOT }, async (t) => {
  // Two bundles: the default config, and one without masks, read-only paths or a read-only root
  // (which today hide the rest of the attack behind a failure after the sysctl was written).
  for (const variant of ['default masks and read-only paths', 'no masks, no read-only paths']) {
    await t.test(variant, async (t) => {
      const sb = new Sandbox(t);
      const fake = fakeProc(sb.dir);
      const before = snapshot(fake);
      const domainBefore = hostDomainname();
      const bundle = sb.bundle(['sh', '-c', 'echo ran-before-start > /proc/ran'], (s) => {
        s.mounts = [{ destination: '/proc', type: 'bind', source: fake, options: ['rbind'] }, ...withoutMount(s, '/proc')];
        t.ok(s.linux.namespaces.some((n: { type: string }) => n.type === 'uts'), 'the container has its own UTS namespace');
        s.linux.sysctl = { 'kernel.domainname': 'tsr-sysctl-escaped' };
        if (variant.startsWith('no masks')) {
          delete s.linux.maskedPaths;
          delete s.linux.readonlyPaths;
          s.root.readonly = false;
        }
      });
      const id = sb.id();
      const r = sb.tsr(['create', '--bundle', bundle, id]);
      t.not(r.status, 0, 'create refuses a bind mount on /proc');
      t.match(r.stderr, /\/proc.*(not of type proc|inside \/proc)/, 'the error names /proc and why');
      t.ok(oneLine(r.stderr), `one line: ${JSON.stringify(r.stderr)}`);
      if (r.status === 0) {
        // Accepted: the init writes "0" into what it takes for the exec fifo and runs the
        // user process now, before start. Give it a moment to show.
        const ran = waitSync(() => fs.existsSync(path.join(fake, 'ran')), 3000);
        t.notOk(ran, 'the user process did not run before start');
        sb.tsr(['delete', '--force', id]);
      }
      const after = snapshot(fake);
      t.equal(after['sys/kernel/domainname'], before['sys/kernel/domainname'], 'the sysctl was not written into the host directory');
      t.same(after, before, 'nothing in the host directory changed');
      t.equal(hostDomainname(), domainBefore, "the host's domainname is unchanged");
      t.same(leftovers(sb, id, bundle), [], 'nothing left behind (state dir, cgroup, mount, process)');
      t.same(hostMountsUnder(sb.dir), [], 'nothing mounted on the host under the test directory');
    });
  }
});

t.test('(b) a bind inside /proc/sys cannot turn a net sysctl into a write of another file', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  // Bound onto /proc/sys/net: "ipv4" leads to ../kernel (the container's /proc/sys/kernel), and
  // core/somaxconn is a plain file of ours.
  const fakeNet = path.join(sb.dir, 'fake-net');
  fs.mkdirSync(path.join(fakeNet, 'core'), { recursive: true });
  fs.writeFileSync(path.join(fakeNet, 'core', 'somaxconn'), '128\n');
  fs.symlinkSync('../kernel', path.join(fakeNet, 'ipv4'));
  const before = snapshot(fakeNet);
  const domainBefore = hostDomainname();
  const { result, facts } = runProbe(sb, (s) => {
    t.ok(s.linux.namespaces.some((n: { type: string }) => n.type === 'uts'), 'the container has its own UTS namespace');
    t.ok(s.linux.namespaces.some((n: { type: string }) => n.type === 'network'), 'and its own network namespace');
    s.mounts.push({ destination: '/proc/sys/net', type: 'bind', source: fakeNet, options: ['rbind'] });
    s.linux.sysctl = { 'net.ipv4.domainname': 'tsr-net-to-kernel', 'net.core.somaxconn': '4242' };
  });
  t.not(result.status, 0, 'a bind mount inside /proc is refused');
  t.match(result.stderr, /\/proc\/sys\/net.*inside \/proc/, 'the error names the mount');
  t.ok(oneLine(result.stderr), `one line: ${JSON.stringify(result.stderr)}`);
  if (facts) t.not(facts.domainname, 'tsr-net-to-kernel', 'net.ipv4.domainname did not write kernel.domainname');
  t.same(snapshot(fakeNet), before, 'net.core.somaxconn did not land in the host directory');
  t.equal(hostDomainname(), domainBefore, "the host's domainname is unchanged");
  t.same(hostMountsUnder(sb.dir), [], 'nothing mounted on the host under the test directory');
});

t.test('(c) proc itself and the lxcfs-style file binds inside /proc still work', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const files = ['cpuinfo', 'diskstats', 'loadavg', 'meminfo', 'stat', 'swaps', 'uptime'];
  const srcDir = path.join(sb.dir, 'lxcfs');
  fs.mkdirSync(srcDir);
  for (const f of files) fs.writeFileSync(path.join(srcDir, f), `tsr fake ${f}\n`);
  const { result, facts } = runProbe(
    sb,
    (s) => {
      for (const f of files) s.mounts.push({ destination: `/proc/${f}`, type: 'bind', source: path.join(srcDir, f), options: ['bind', 'ro'] });
    },
    files.flatMap((f) => ['--read', `/proc/${f}`]),
  );
  t.equal(result.status, 0, `the container ran ${result.stderr}`.trim());
  t.equal(mountIn(facts, '/proc')?.fstype, 'proc', '/proc is procfs');
  for (const f of files) {
    t.equal(facts?.read[`/proc/${f}`], `tsr fake ${f}\n`, `/proc/${f} shows the bound file`);
    t.ok(mountIn(facts, `/proc/${f}`), `/proc/${f} is a mount point`);
  }
});

t.test('(d) a tmpfs on /proc is refused', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['true'], (s) => {
    s.mounts = [{ destination: '/proc', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] }, ...withoutMount(s, '/proc')];
    delete s.linux.maskedPaths;
    delete s.linux.readonlyPaths;
    s.root.readonly = false;
  });
  const id = sb.id();
  const r = sb.tsr(['create', '--bundle', bundle, id]);
  t.not(r.status, 0, 'create refuses a tmpfs on /proc');
  t.match(r.stderr, /\/proc.*not of type proc/, 'the error names /proc and why');
  t.ok(oneLine(r.stderr), `one line: ${JSON.stringify(r.stderr)}`);
  if (r.status === 0) sb.tsr(['delete', '--force', id]);
  t.same(leftovers(sb, id, bundle), [], 'nothing left behind');
});
