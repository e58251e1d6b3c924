/**
 * Invalid configs and bundles: each one, through `create` (and some through `run`), must exit 1
 * with exactly one clear error line, and leave nothing behind: no state dir (nor any entry for the
 * id under --root), no mount, no cgroup, no process.
 */
import t, { Test } from 'tap';
import fs from 'fs';
import path from 'path';
import { Sandbox, leftovers, sharedBundleTemplate, NEEDS_ROOT } from '../helpers/runtime';

type Spec = Record<string, any>;

interface Case {
  name: string;
  /** Makes the bundle (and anything else the case needs); returns the bundle dir. */
  bundle(sb: Sandbox): string;
  /** The one error line (without the "tsruntime: " prefix); a function of the bundle path. */
  error: string | ((bundle: string) => string);
  /** Also run the case through `run`. */
  run?: boolean;
}

const edit = (args: string[], fn?: (s: Spec) => void, ownRootfs = false) => (sb: Sandbox) => sb.bundle(args, fn, ownRootfs);

/** A bundle directory holding config.json with exactly this text. */
const rawConfig = (text: string) => (sb: Sandbox) => {
  const dir = sb.bundle(['true']);
  fs.writeFileSync(path.join(dir, 'config.json'), text);
  return dir;
};

const real = (p: string) => fs.realpathSync(p);

const CASES: Case[] = [
  {
    name: 'bad JSON',
    bundle: rawConfig('{\n  "ociVersion": "1.0.0",\n  "root": {"path": "rootfs"},\n}\n'),
    error: 'config.json: invalid JSON at line 4, column 1: Expected double-quoted property name in JSON at position 57',
    run: true,
  },
  {
    name: 'config.json is missing',
    bundle: (sb) => {
      const dir = sb.bundle(['true']);
      fs.rmSync(path.join(dir, 'config.json'));
      return dir;
    },
    error: (b) => `config.json: no such file in bundle ${real(b)}`,
  },
  {
    name: 'bundle directory is missing',
    bundle: (sb) => path.join(sb.dir, 'no-such-bundle'),
    error: (b) => `bundle ${b}: no such directory`,
    run: true,
  },
  {
    name: 'root is missing',
    bundle: edit(['true'], (s) => delete s.root),
    error: "config.json: /: must have required property 'root'",
  },
  {
    name: 'rootfs directory is missing',
    bundle: edit(['true'], (s) => (s.root.path = 'no-such-rootfs')),
    error: (b) => `root.path: rootfs ${real(b)}/no-such-rootfs does not exist`,
    run: true,
  },
  {
    name: 'rootfs is a file',
    bundle: (sb) => {
      const dir = sb.bundle(['true'], (s) => (s.root.path = 'rootfs-file'));
      fs.writeFileSync(path.join(dir, 'rootfs-file'), 'not a directory');
      return dir;
    },
    error: (b) => `root.path: rootfs ${real(b)}/rootfs-file is not a directory`,
  },
  {
    name: 'empty process.args',
    bundle: edit([]),
    error: 'config.json: /process/args: must NOT have fewer than 1 items',
    run: true,
  },
  {
    name: 'process is missing',
    bundle: edit(['true'], (s) => delete s.process),
    error: 'config.json: process is required to create a container',
  },
  {
    name: 'bind mount of a missing source',
    bundle: edit(['true'], (s) => s.mounts.push({ destination: '/data', type: 'bind', source: '/no/such/source', options: ['rbind', 'ro'] })),
    error: 'mounts: /data: bind source /no/such/source does not exist',
  },
  {
    name: 'bind mount of a missing source relative to the bundle',
    bundle: edit(['true'], (s) => s.mounts.push({ destination: '/data', source: 'data', options: ['bind'] })),
    error: (b) => `mounts: /data: bind source ${real(b)}/data does not exist`,
  },
  {
    name: 'unknown namespace type',
    bundle: edit(['true'], (s) => s.linux.namespaces.push({ type: 'pids' })),
    error: 'config.json: /linux/namespaces/5/type: must be equal to one of the allowed values (pid, network, mount, ipc, uts, user, cgroup, time)',
  },
  {
    name: 'duplicate namespace',
    bundle: edit(['true'], (s) => s.linux.namespaces.push({ type: 'ipc' })),
    error: 'linux.namespaces: duplicated namespace "ipc"',
  },
  {
    name: 'namespace path that does not exist',
    bundle: edit(['true'], (s) => (s.linux.namespaces[1] = { type: 'network', path: '/run/netns/tsruntime-no-such-netns' })),
    error: 'linux.namespaces[1].path: /run/netns/tsruntime-no-such-netns does not exist',
  },
  {
    name: 'args[0] is not executable',
    bundle: (sb) => {
      const dir = sb.bundle(['/x'], undefined, true);
      fs.writeFileSync(path.join(dir, 'rootfs', 'x'), '#!/bin/sh\necho should not run\n', { mode: 0o644 });
      return dir;
    },
    error: 'container init: exec "/x": permission denied',
    run: true,
  },
  {
    name: 'args[0] is not in PATH',
    bundle: edit(['nope']),
    error: 'container init: exec "nope": executable file not found in $PATH',
    run: true,
  },
  {
    name: 'args[0] is an absolute path that does not exist',
    bundle: edit(['/no/such/program']),
    error: 'container init: exec "/no/such/program": no such file or directory',
  },
  {
    name: 'relative cwd',
    bundle: edit(['true'], (s) => (s.process.cwd = 'tmp')),
    error: 'config.json: /process/cwd: must be an absolute path (got "tmp")',
  },
  {
    name: 'unknown capability',
    bundle: edit(['true'], (s) => s.process.capabilities.bounding.push('CAP_NO_SUCH_THING')),
    error: 'process.capabilities.bounding: unknown capability "CAP_NO_SUCH_THING"',
  },
  {
    name: 'unknown rlimit',
    bundle: edit(['true'], (s) => s.process.rlimits.push({ type: 'RLIMIT_NOPE', soft: 1, hard: 1 })),
    error: 'process.rlimits: unknown rlimit type "RLIMIT_NOPE"',
  },
  {
    name: 'hostname without a uts namespace',
    bundle: edit(['true'], (s) => (s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'uts'))),
    error: 'hostname: unable to set hostname without a private UTS namespace',
  },
  {
    name: 'uidMappings without a user namespace',
    bundle: edit(['true'], (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }])),
    error: 'linux.uidMappings: user namespace mappings specified, but the user namespace is not enabled in the config',
  },
  {
    name: 'sysctl outside the container namespaces',
    bundle: edit(['true'], (s) => (s.linux.sysctl = { 'vm.swappiness': '10' })),
    error: 'linux.sysctl: sysctl "vm.swappiness" is not in a separate kernel namespace',
  },
  {
    name: 'time offsets without a time namespace',
    bundle: edit(['true'], (s) => (s.linux.timeOffsets = { monotonic: { secs: 1 } })),
    error: 'linux.timeOffsets: time namespace offsets specified, but the time namespace is not enabled in the config',
  },
  {
    name: 'SCMP_ACT_NOTIFY as the seccomp default action',
    bundle: edit(['true'], (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/agent.sock' })),
    error: 'linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action',
  },
  {
    name: 'a seccomp rule libseccomp refuses (errnoRet above 4095)',
    bundle: edit(['true'], (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 5000 }] })),
    error: 'linux.seccomp.syscalls[0]: libseccomp refused the rule for syscall mkdir: EINVAL (check its action, errnoRet and args)',
  },
  {
    name: 'seccomp architectures libseccomp cannot put in one filter',
    bundle: edit(['true'], (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_S390X'] })),
    error: 'linux.seccomp.architectures: libseccomp cannot add s390x to this filter: EDOM',
  },
  {
    name: 'id-mapped mount that is not a bind mount',
    bundle: edit(['true'], (s) => s.mounts.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] })),
    error: 'mounts: /mnt: id-mapped mounts are only supported for bind-mounts',
  },
  {
    name: 'mount of an unknown filesystem type (fails inside the init, after other mounts)',
    bundle: edit(['true'], (s) => s.mounts.push({ destination: '/mnt', type: 'tsruntimefs', source: 'none' })),
    error: 'container init: mount tsruntimefs on /mnt: ENODEV (no such device)',
  },
  {
    name: 'failing createRuntime hook',
    bundle: edit(['true'], (s) => {
      s.hooks = { createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', 'cat >/dev/null; echo no network for you >&2; exit 1'] }] };
    }),
    error: 'createRuntime hook #0 (/bin/sh): exit status 1: no network for you',
    run: true,
  },
  {
    name: 'failing createContainer hook',
    bundle: edit(['true'], (s) => {
      s.hooks = { createContainer: [{ path: '/bin/true' }, { path: '/bin/false' }] };
    }),
    error: 'createContainer hook #1 (/bin/false): exit status 1',
  },
];

/** Mounts of the host's mount table under dir (a leaked container mount would show up here). */
function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => {
      const mountpoint = line.split(' ')[4];
      return mountpoint !== undefined && (mountpoint === dir || mountpoint.startsWith(dir + '/'));
    });
}

function rootEntries(sb: Sandbox): string[] {
  try {
    return fs.readdirSync(sb.root);
  } catch {
    return [];
  }
}

function expectClean(t: Test, sb: Sandbox, id: string, bundle: string): void {
  t.same(leftovers(sb, id, bundle), [], 'no state dir, mount, cgroup or process left behind');
  t.same(rootEntries(sb).filter((e) => e.includes(id)), [], `no entry for the id under ${sb.root}`);
  t.same(mountsUnder(sharedBundleTemplate().rootfs), [], 'no mount left on the shared rootfs');
}

for (const c of CASES) {
  const commands = c.run ? ['create', 'run'] : ['create'];
  for (const cmd of commands) {
    t.test(`${cmd}: ${c.name}`, async (t) => {
      const sb = new Sandbox(t);
      const id = sb.id();
      const bundle = c.bundle(sb);
      const expected = typeof c.error === 'string' ? c.error : c.error(bundle);
      const r = sb.tsr([cmd, '--bundle', bundle, id]);
      t.equal(r.status, 1, 'exit status 1');
      t.equal(r.stderr, `tsruntime: ${expected}\n`, 'one clear error');
      t.equal(r.stdout, '', 'nothing on stdout');
      expectClean(t, sb, id, bundle);
      t.equal(sb.tsr(['state', id]).status, 1, 'state: the container does not exist');
    });
  }
}

t.test('invalid ids: nothing is made, not even outside --root', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['true']);
  const escape = `tsruntime-escape-${process.pid}`;
  for (const id of [`../${escape}`, 'a/b', 'with space', '..', '.']) {
    for (const cmd of ['create', 'run']) {
      const r = sb.tsr([cmd, '--bundle', bundle, id]);
      t.equal(r.status, 1, `${cmd} ${JSON.stringify(id)}: exit status 1`);
      t.equal(r.stderr, `tsruntime: invalid id format: ${id}\n`, `${cmd} ${JSON.stringify(id)}: one clear error`);
    }
  }
  t.notOk(fs.existsSync(path.join(path.dirname(sb.root), escape)), `nothing at ${path.join(path.dirname(sb.root), escape)}`);
  t.same(rootEntries(sb), [], '--root has no entry');
  t.same(mountsUnder(sharedBundleTemplate().rootfs), [], 'no mount left on the shared rootfs');
});

t.test('duplicate id: an error, and the first container is untouched', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle(['sh', '-c', 'echo started; sleep 300']);
  t.equal(sb.tsr(['create', '--bundle', bundle, id]).status, 0, 'first create');
  const before = sb.state(id);
  const files = fs.readdirSync(path.join(sb.root, id)).sort();

  for (const cmd of ['create', 'run']) {
    const other = sb.bundle(['true']);
    const r = sb.tsr([cmd, '--bundle', other, id]);
    t.equal(r.status, 1, `${cmd}: exit status 1`);
    t.equal(r.stderr, `tsruntime: container with id exists: ${id}\n`, `${cmd}: one clear error`);
  }

  const after = sb.state(id);
  t.same(after, before, 'state is unchanged');
  t.same(fs.readdirSync(path.join(sb.root, id)).sort(), files, 'the state dir still holds the same files (the exec fifo too)');
  t.ok(fs.existsSync(`/proc/${before.pid}`), 'the first init is alive');
  t.equal(sb.tsr(['start', id]).status, 0, 'the first container still starts');
  t.ok(sb.waitStatus(id, 'running'), 'and runs');
  t.equal(sb.tsr(['delete', '--force', id]).status, 0);
  t.same(leftovers(sb, id, bundle), []);
});

t.test('a mount destination through a symlink to a host path lands inside the rootfs', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const hostDir = `/tmp/tsruntime-symlink-target-${process.pid}`; // exists on the host, with a marker
  const hostMissing = `/tmp/tsruntime-symlink-missing-${process.pid}`; // does not exist on the host
  fs.mkdirSync(hostDir, { recursive: true });
  fs.writeFileSync(path.join(hostDir, 'marker'), 'host');
  t.teardown(() => {
    fs.rmSync(hostDir, { recursive: true, force: true });
    fs.rmSync(hostMissing, { recursive: true, force: true });
  });
  const bindSource = fs.mkdtempSync(path.join(sb.dir, 'bind-src-'));
  const bundle = sb.bundle(
    ['sh', '-c', 'echo inside > /abs/written; echo inside > /rel/written; echo inside > /bnd/written; ls /abs; cut -d" " -f5 /proc/self/mountinfo'],
    (s) => {
      s.root.readonly = false;
      s.mounts.push({ destination: '/abs', type: 'tmpfs', source: 'tmpfs' });
      s.mounts.push({ destination: '/rel', type: 'tmpfs', source: 'tmpfs' });
      s.mounts.push({ destination: '/bnd', type: 'bind', source: bindSource, options: ['bind'] });
    },
    true,
  );
  const rootfs = path.join(bundle, 'rootfs');
  fs.symlinkSync(hostDir, path.join(rootfs, 'abs')); // absolute: the host's dir, if it were followed on the host
  fs.symlinkSync(`../../../../../../..${hostMissing}`, path.join(rootfs, 'rel')); // relative, climbing out
  fs.symlinkSync(hostMissing, path.join(rootfs, 'bnd'));

  const r = sb.tsr(['run', '--bundle', bundle, id]);
  t.equal(r.status, 0, `run: ${r.stderr}`);
  const mountpoints = r.stdout.split('\n');
  t.ok(mountpoints.includes(hostDir), `the tmpfs for /abs is mounted at ${hostDir} of the container`);
  t.ok(mountpoints.includes(hostMissing), `the mounts for /rel and /bnd are at ${hostMissing} of the container`);
  t.notOk(r.stdout.includes('marker'), "the host dir's content is not what the container sees");

  t.same(fs.readdirSync(hostDir), ['marker'], 'the host dir is untouched');
  t.equal(fs.readFileSync(path.join(hostDir, 'marker'), 'utf8'), 'host');
  t.notOk(fs.existsSync(hostMissing), 'nothing was created at the missing host path');
  t.ok(fs.statSync(path.join(rootfs, hostDir)).isDirectory(), 'the mount point was created inside the rootfs');
  t.ok(fs.statSync(path.join(rootfs, hostMissing)).isDirectory(), 'so was the other one');
  t.same(fs.readdirSync(bindSource), ['written'], 'the bind mount worked (its source got the file)');
  t.same(mountsUnder(hostDir), [], 'no mount on the host dir');
  t.same(leftovers(sb, id, bundle), []);
});

t.test('hooks that exit without reading the state on stdin do not fail create (no EPIPE)', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const bundle = sb.bundle(['true'], (s) => {
    const quick = Array.from({ length: 5 }, () => ({ path: '/bin/true' }));
    s.hooks = { createRuntime: quick, createContainer: quick };
  });
  for (let i = 0; i < 3; i++) {
    const id = sb.id();
    const r = sb.tsr(['run', '--bundle', bundle, id]);
    t.equal(r.status, 0, `run ${i}: ${r.stderr}`);
    t.same(leftovers(sb, id, bundle), []);
  }
});

t.test('--log-format json: the error is one JSON object in the log file, as containerd and Podman read it', { skip: NEEDS_ROOT }, async (t) => {
  const sb = new Sandbox(t);
  const id = sb.id();
  const bundle = sb.bundle([]);
  const log = path.join(sb.dir, 'log.json');
  const r = sb.tsr(['--log', log, '--log-format', 'json', 'create', '--bundle', bundle, id]);
  t.equal(r.status, 1);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  const entry = JSON.parse(lines[0]);
  t.equal(entry.level, 'error');
  t.equal(entry.msg, 'config.json: /process/args: must NOT have fewer than 1 items');
  t.match(entry.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  t.same(leftovers(sb, id, bundle), []);
});
