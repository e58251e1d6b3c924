// Unit tests for src/config/validate.ts and the generated validators: pure, no host access.
import t from 'tap';
import Ajv from 'ajv';
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { formatErrors, validateProcess as checkProcess, validateSpec as checkSpec } from '../../src/config/validate';
import { validateSpec as specSchema } from '../../src/generated/spec-validator';
import { validateProcess as processSchema } from '../../src/generated/process-validator';
import { validateState } from '../../src/generated/state-validator';

/** As load-bundle.ts and load-process.ts check: each document with its schema's validator. */
const validateSpec = (doc: unknown) => checkSpec(doc, specSchema);
const validateProcess = (doc: unknown) => checkProcess(doc, processSchema);

/** What `runc spec` writes (cgroup v2 host), plus a few optional sections. */
function runcSpec(): any {
  return {
    ociVersion: '1.2.1',
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        effective: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
        permitted: ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}

/** A fuller config: every section the schema knows, with sensible values. */
function fullSpec(): any {
  const s = runcSpec();
  s.ociVersion = '1.3.0';
  s.domainname = 'example.org';
  s.annotations = { 'org.example.key': 'value' };
  s.hooks = {
    prestart: [{ path: '/usr/bin/true' }],
    createRuntime: [{ path: '/usr/bin/hook', args: ['hook', 'create'], env: ['A=1'], timeout: 5 }],
    createContainer: [],
    startContainer: [{ path: '/bin/true' }],
    poststart: [{ path: '/bin/true' }],
    poststop: [{ path: '/bin/true', timeout: 1 }],
  };
  Object.assign(s.process, {
    consoleSize: { height: 25, width: 80 },
    oomScoreAdj: -500,
    apparmorProfile: 'docker-default',
    selinuxLabel: 'system_u:system_r:container_t:s0',
    scheduler: { policy: 'SCHED_OTHER', nice: 5 },
    ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
    execCPUAffinity: { initial: '0-3,7', final: '1' },
  });
  s.process.user = { uid: 1000, gid: 1000, umask: 18, additionalGids: [5, 6] };
  s.process.capabilities.inheritable = [];
  s.process.capabilities.ambient = ['CAP_KILL'];
  s.mounts.push({
    destination: '/data',
    type: 'none',
    source: '/srv/data',
    options: ['rbind', 'idmap'],
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
  });
  Object.assign(s.linux, {
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    timeOffsets: { monotonic: { secs: 3600, nanosecs: 0 }, boottime: { secs: -10 } },
    sysctl: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '65536', 'net/ipv4/conf/eth0.100/rp_filter': '0' },
    cgroupsPath: '/tsruntime/test',
    devices: [
      { type: 'c', path: '/dev/fuse', major: 10, minor: 229, fileMode: 438, uid: 0, gid: 0 },
      { type: 'p', path: '/dev/fifo' },
    ],
    netDevices: { eth1: { name: 'ctr0' }, ens4: {} },
    seccomp: {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      ],
    },
    rootfsPropagation: 'rslave',
    mountLabel: 'system_u:object_r:container_file_t:s0',
    intelRdt: { closID: 'guaranteed', l3CacheSchema: 'L3:0=7f0', memBwSchema: 'MB:0=20', enableMonitoring: true },
    personality: { domain: 'LINUX32', flags: [] },
    memoryPolicy: { mode: 'MPOL_BIND', nodes: '0-1', flags: ['MPOL_F_STATIC_NODES'] },
  });
  s.linux.namespaces.push({ type: 'user' }, { type: 'time' });
  s.linux.resources = {
    devices: [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
    ],
    memory: { limit: 536870912, reservation: -1, swap: -1, swappiness: 0, disableOOMKiller: false },
    cpu: { shares: 1024, quota: 100000, period: 100000, cpus: '0-3', mems: '0', idle: 0, burst: 1000 },
    blockIO: {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 300 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
    },
    hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
    network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
    pids: { limit: 32 },
    rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
    unified: { 'io.weight': '100' },
  };
  s.windows = { layerFolders: [] }; // other platforms: accepted as objects
  return s;
}

/** Validate runcSpec() changed by `edit`. */
function problems(edit: (s: any) => void): string[] {
  const s = runcSpec();
  edit(s);
  return validateSpec(s);
}

t.test('valid configurations', async (t) => {
  t.strictSame(validateSpec(runcSpec()), [], 'runc spec output');
  t.strictSame(validateSpec(fullSpec()), [], 'every section');
  t.strictSame(validateSpec({ ociVersion: '1.0.0', root: { path: 'rootfs' } }), [], 'minimal: no process');
  t.strictSame(problems((s) => (s.org_example_extension = { anything: true })), [], 'unknown top-level property');
  t.strictSame(problems((s) => (s.ociVersion = '1.0.2-dev')), [], 'SemVer pre-release');
  t.strictSame(problems((s) => (s.ociVersion = '0.5.0-dev')), [], '0.x, as in the spec example');
  t.strictSame(problems((s) => (s.mounts[0].destination = 'proc')), [], 'relative mount destination (runc accepts it)');
  t.strictSame(problems((s) => (s.linux.namespaces[1].path = '/var/run/netns/x')), [], 'joined namespace');
  t.strictSame(
    problems((s) => s.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' })),
    [],
    'joined user namespace needs no mappings',
  );
  t.strictSame(problems((s) => (s.process.rlimits[0].hard = 18446744073709551615)), [], 'uint64 max');
  t.strictSame(problems((s) => (s.linux.resources.pids = { limit: -1 })), [], 'pids limit -1');
});

t.test('schema errors give the JSON path and the rule', async (t) => {
  const cases: [string, (s: any) => void, string[]][] = [
    ['missing ociVersion', (s) => delete s.ociVersion, ["/: must have required property 'ociVersion'"]],
    ['missing root', (s) => delete s.root, ["/: must have required property 'root'"]],
    ['root without path', (s) => (s.root = { readonly: true }), ["/root: must have required property 'path'"]],
    ['empty root path', (s) => (s.root.path = ''), ['/root/path: must NOT have fewer than 1 characters']],
    ['ociVersion a number', (s) => (s.ociVersion = 1), ['/ociVersion: must be string']],
    ['empty args', (s) => (s.process.args = []), ['/process/args: must NOT have fewer than 1 items']],
    ['missing args', (s) => delete s.process.args, ["/process: must have required property 'args'"]],
    ['missing cwd', (s) => delete s.process.cwd, ["/process: must have required property 'cwd'"]],
    ['process not an object', (s) => (s.process = 'sh'), ['/process: must be object']],
    ['args not strings', (s) => (s.process.args = ['sh', 3]), ['/process/args/1: must be string']],
    [
      'unknown namespace type',
      (s) => (s.linux.namespaces[0].type = 'pids'),
      ['/linux/namespaces/0/type: must be equal to one of the allowed values (pid, network, mount, ipc, uts, user, cgroup, time)'],
    ],
    ['namespace without type', (s) => (s.linux.namespaces[2] = { path: '/x' }), ["/linux/namespaces/2: must have required property 'type'"]],
    ['rlimit type pattern', (s) => (s.process.rlimits[0].type = 'NOFILE'), ['/process/rlimits/0/type: must match pattern "^RLIMIT_[A-Z]+$"']],
    ['rlimit without soft', (s) => delete s.process.rlimits[0].soft, ["/process/rlimits/0: must have required property 'soft'"]],
    ['negative uid', (s) => (s.process.user.uid = -1), ['/process/user/uid: must be >= 0']],
    ['fractional gid', (s) => (s.process.user.gid = 1.5), ['/process/user/gid: must be integer']],
    ['uid above uint32', (s) => (s.process.user.uid = 4294967296), ['/process/user/uid: must be <= 4294967295']],
    ['user without uid', (s) => (s.process.user = { gid: 0 }), ["/process/user: must have required property 'uid'"]],
    ['additionalGids', (s) => (s.process.user.additionalGids = [5, 'wheel']), ['/process/user/additionalGids/1: must be integer']],
    ['mount without destination', (s) => delete s.mounts[2].destination, ["/mounts/2: must have required property 'destination'"]],
    ['mount options not an array', (s) => (s.mounts[1].options = 'nosuid'), ['/mounts/1/options: must be array']],
    ['unknown process property', (s) => (s.process.foo = 1), ["/process: must NOT have additional property 'foo'"]],
    ['misspelled root.readonly', (s) => (s.root.readOnly = true), ["/root: must NOT have additional property 'readOnly'"]],
    ['terminal not boolean', (s) => (s.process.terminal = 'yes'), ['/process/terminal: must be boolean']],
    [
      'capabilities as an array (pre-1.0)',
      (s) => (s.process.capabilities = ['CAP_KILL']),
      ['/process/capabilities: must be object'],
    ],
    ['hook timeout 0', (s) => (s.hooks = { poststop: [{ path: '/bin/true', timeout: 0 }] }), ['/hooks/poststop/0/timeout: must be >= 1']],
    ['hook without path', (s) => (s.hooks = { createRuntime: [{ args: [] }] }), ["/hooks/createRuntime/0: must have required property 'path'"]],
    ['unknown hook stage', (s) => (s.hooks = { prestop: [] }), ["/hooks: must NOT have additional property 'prestop'"]],
    [
      'char device without major/minor',
      (s) => (s.linux.devices = [{ type: 'c', path: '/dev/fuse' }]),
      ["/linux/devices/0: must have required property 'major'", "/linux/devices/0: must have required property 'minor'"],
    ],
    [
      'device type',
      (s) => (s.linux.devices = [{ type: 'x', path: '/dev/x' }]),
      ['/linux/devices/0/type: must be equal to one of the allowed values (c, b, u, p)'],
    ],
    [
      'seccomp default action',
      (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_DENY' }),
      [
        '/linux/seccomp/defaultAction: must be equal to one of the allowed values (SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY)',
      ],
    ],
    [
      'seccomp syscall without names',
      (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }),
      ['/linux/seccomp/syscalls/0/names: must NOT have fewer than 1 items'],
    ],
    ['memory limit as a string', (s) => (s.linux.resources.memory = { limit: '1g' }), ['/linux/resources/memory/limit: must be integer']],
    [
      'hugepage size',
      (s) => (s.linux.resources.hugepageLimits = [{ pageSize: '64kB', limit: 1 }]),
      ['/linux/resources/hugepageLimits/0/pageSize: must match pattern "^[1-9][0-9]*[KMG]B$"'],
    ],
    [
      'cgroup device type',
      (s) => (s.linux.resources.devices[0].type = 'x'),
      ['/linux/resources/devices/0/type: must be equal to one of the allowed values (a, b, c)'],
    ],
    ['rdma value', (s) => (s.linux.resources.rdma = { mlx5_1: { hcaHandles: 'many' } }), ['/linux/resources/rdma/mlx5_1/hcaHandles: must be integer']],
    [
      'rootfs propagation',
      (s) => (s.linux.rootfsPropagation = 'recursive'),
      [
        '/linux/rootfsPropagation: must be equal to one of the allowed values (private, shared, slave, unbindable, rprivate, rshared, rslave, runbindable)',
      ],
    ],
    ['annotation value', (s) => (s.annotations = { a: 1 }), ['/annotations/a: must be string']],
    ['empty annotation key', (s) => (s.annotations = { '': 'x' }), ["/annotations: property name '' must NOT have fewer than 1 characters"]],
    ['ioPriority level', (s) => (s.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 8 }), ['/process/ioPriority/priority: must be <= 7']],
    ['oomScoreAdj range', (s) => (s.process.oomScoreAdj = -1001), ['/process/oomScoreAdj: must be >= -1000']],
    ['scheduler without policy', (s) => (s.process.scheduler = { nice: 1 }), ["/process/scheduler: must have required property 'policy'"]],
    ['cpu list', (s) => (s.linux.resources.cpu = { cpus: 'all' }), ['/linux/resources/cpu/cpus: must match pattern "^[0-9, -]*$"']],
    ['linux not an object', (s) => (s.linux = []), ['/linux: must be object']],
    ['escaped pointer', (s) => (s.linux.sysctl = { 'net/ipv4/ip_forward': 1 }), ['/linux/sysctl/net~1ipv4~1ip_forward: must be string']],
  ];
  for (const [name, edit, expected] of cases) t.strictSame(problems(edit), expected, name);
  t.ok(cases.length >= 20);
});

t.test('the document itself', async (t) => {
  t.strictSame(validateSpec(42), ['/: must be object']);
  t.strictSame(validateSpec(null), ['/: must be object']);
  t.strictSame(validateSpec([]), ['/: must be object']);
  t.strictSame(validateSpec({}), ["/: must have required property 'ociVersion'", "/: must have required property 'root'"]);
});

t.test('several problems: one line each, schema ones first', async (t) => {
  t.strictSame(
    problems((s) => {
      s.process.args = [];
      s.process.cwd = 'work';
      s.linux.maskedPaths.push('proc/kcore');
      delete s.ociVersion;
    }),
    [
      "/: must have required property 'ociVersion'",
      '/process/args: must NOT have fewer than 1 items',
      '/process/cwd: must be an absolute path (got "work")',
      '/linux/maskedPaths/10: must be an absolute path (got "proc/kcore")',
    ],
  );
});

t.test('semantic rules', async (t) => {
  const cases: [string, (s: any) => void, string[]][] = [
    ['relative cwd', (s) => (s.process.cwd = 'tmp'), ['/process/cwd: must be an absolute path (got "tmp")']],
    ['relative namespace path', (s) => (s.linux.namespaces[1].path = 'netns/x'), ['/linux/namespaces/1/path: must be an absolute path (got "netns/x")']],
    ['relative masked path', (s) => (s.linux.maskedPaths = ['proc/kcore']), ['/linux/maskedPaths/0: must be an absolute path (got "proc/kcore")']],
    [
      'environment entries',
      (s) => s.process.env.push('FOO', '=bar'),
      [`/process/env/2: must have the form NAME=VALUE (no '=' in "FOO")`, '/process/env/3: must have the form NAME=VALUE (empty name in "=bar")'],
    ],
    ['empty program name', (s) => (s.process.args = ['']), ['/process/args/0: must not be empty (it names the program to run)']],
    ['NUL in an argument', (s) => (s.process.args = ['sh', 'a\0b']), ['/process/args/1: must not contain a NUL byte']],
    ['NUL in a mount option', (s) => s.mounts[1].options.push('size=1\0'), ['/mounts/1/options/4: must not contain a NUL byte']],
    ['relative hook path', (s) => (s.hooks = { poststop: [{ path: 'bin/cleanup' }] }), ['/hooks/poststop/0/path: must be an absolute path (got "bin/cleanup")']],
    ['intel RDT class name', (s) => (s.linux.intelRdt = { closID: '../x' }), ['/linux/intelRdt/closID: invalid class of service name "../x"']],
    ['ociVersion not SemVer', (s) => (s.ociVersion = '1.0'), ['/ociVersion: must be a SemVer 2.0.0 version such as "1.2.0" (got "1.0")']],
    [
      'ociVersion of a future major version',
      (s) => (s.ociVersion = '2.0.0'),
      ['/ociVersion: version 2.0.0 is not supported (this runtime implements runtime-spec 1.x)'],
    ],
  ];
  for (const [name, edit, expected] of cases) t.strictSame(problems(edit), expected, name);
});

t.test('rules relating fields to each other are the plan\'s, not checked here (create and exec both plan)', async (t) => {
  // Each is tested once, where it lives: test/unit/plan.test.ts and plan-fields.test.ts.
  const noNs = (type: string) => (s: any) => (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== type));
  const cases: [string, (s: any) => void][] = [
    ['duplicate namespace', (s) => s.linux.namespaces.push({ type: 'ipc' })],
    ['mappings without a user namespace', (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }])],
    ['new user namespace without mappings', (s) => s.linux.namespaces.push({ type: 'user' })],
    ['time offsets without a time namespace', (s) => (s.linux.timeOffsets = { monotonic: { secs: 1 } })],
    ['hostname without a uts namespace', noNs('uts')],
    ['masked paths without a mount namespace', noNs('mount')],
    ['sysctl outside the container namespaces', (s) => (s.linux.sysctl = { 'vm.swappiness': '10' })],
    ['memory policy without nodes', (s) => (s.linux.memoryPolicy = { mode: 'MPOL_BIND' })],
    ['seccomp notify as the default', (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_NOTIFY' })],
    ['network devices without a network namespace', (s) => (noNs('network')(s), (s.linux.netDevices = { eth0: {} }))],
    ['id-mapped mount that is not a bind mount', (s) => s.mounts.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] })],
    ['duplicate rlimit, soft above hard', (s) => s.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 })],
    ['scheduler fields for another policy', (s) => (s.process.scheduler = { policy: 'SCHED_OTHER', nice: 25, priority: 10, runtime: 1000 })],
  ];
  for (const [name, edit] of cases) t.strictSame(problems(edit), [], name);
});

t.test('validateProcess (exec --process)', async (t) => {
  const proc = () => runcSpec().process;
  t.strictSame(validateProcess(proc()), []);
  t.strictSame(validateProcess({ args: ['ls'], cwd: '/' }), [], 'minimal');
  const without = proc();
  delete without.args;
  t.strictSame(validateProcess(without), ["/: must have required property 'args'"]);
  t.strictSame(validateProcess({ ...proc(), cwd: 'x' }), ['/cwd: must be an absolute path (got "x")']);
  t.strictSame(validateProcess({ ...proc(), args: [] }), ['/args: must NOT have fewer than 1 items']);
  t.strictSame(validateProcess({ ...proc(), ociVersion: '1.0.0' }), ["/: must NOT have additional property 'ociVersion'"], 'a whole config.json is not a process');
  t.strictSame(validateProcess({ ...proc(), env: ['X'] }), [`/env/0: must have the form NAME=VALUE (no '=' in "X")`]);
  t.strictSame(validateProcess('ls'), ['/: must be object']);
});

t.test('validateState', async (t) => {
  const state = {
    ociVersion: '1.2.1',
    id: 'c1',
    status: 'running',
    pid: 4242,
    bundle: '/run/bundles/c1',
    rootfs: '/run/bundles/c1/rootfs',
    created: '2024-05-01T10:20:30.123456789Z',
    owner: '',
    annotations: { a: 'b' },
  };
  t.equal(validateState(state), true);
  t.equal(validateState({ ...state, status: 'paused' }), true, 'runc reports paused');
  t.equal(validateState({ ...state, status: 'frozen' }), false);
  t.strictSame(formatErrors(validateState.errors ?? []), [
    '/status: must be equal to one of the allowed values (creating, created, running, paused, stopped)',
  ]);
  t.equal(validateState({ ...state, created: 'yesterday' }), false);
  const { bundle: _b, ...noBundle } = state;
  t.equal(validateState(noBundle), false);
  t.strictSame(formatErrors(validateState.errors ?? []), ["/: must have required property 'bundle'"]);
});

t.test('formatErrors collapses anyOf/oneOf cascades', async (t) => {
  const ajv = new Ajv({ allErrors: true });
  const check = ajv.compile({
    type: 'object',
    properties: {
      hook: {
        anyOf: [
          { type: 'string' },
          { type: 'object', required: ['path'], properties: { path: { type: 'string' } } },
        ],
      },
      mode: { oneOf: [{ const: 'auto' }, { type: 'integer', minimum: 0 }] },
    },
  });
  const run = (doc: unknown) => (check(doc) ? [] : formatErrors(check.errors ?? []));
  t.strictSame(run({ hook: 'x', mode: 'auto' }), []);
  t.strictSame(run({ hook: 5 }), ['/hook: must be string or object'], 'no branch has the right type');
  t.strictSame(run({ hook: {} }), ["/hook: must have required property 'path'"], 'the object branch');
  t.strictSame(run({ hook: { path: 1 } }), ['/hook/path: must be string'], 'nested error of the object branch');
  t.strictSame(run({ mode: -1 }), ['/mode: must be >= 0'], 'oneOf: the integer branch');
  t.strictSame(run({ mode: 'manual' }), ['/mode: must be auto or integer']);
});

t.test('generated validators load without compiling anything, each module its own schema\'s only', async (t) => {
  const modules: Record<string, string[]> = { 'spec-validator': ['validateSpec'], 'process-validator': ['validateProcess'], 'state-validator': ['validateState'] };
  for (const [name, exports] of Object.entries(modules)) {
    const file = path.resolve(__dirname, `../../src/generated/${name}.js`);
    const probe = `
      const v = require(${JSON.stringify(file)});
      const compiler = Object.keys(require.cache).filter((f) => /ajv[\\\\/]dist[\\\\/](compile|core|ajv)/.test(f));
      const generated = Object.keys(require.cache).filter((f) => f.includes('generated'));
      console.log(JSON.stringify({ compiler, generated, exports: Object.keys(v).sort() }));`;
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    t.strictSame(out.exports, exports, `${name} exports ${exports.join(', ')}`);
    t.strictSame(out.compiler, [], `${name}: ajv compiler not loaded`);
    t.strictSame(out.generated, [file], `${name} loads no other generated module`);
  }
  const size = (name: string) => fs.statSync(path.resolve(__dirname, `../../src/generated/${name}.js`)).size;
  t.ok(size('process-validator') * 3 < size('spec-validator'), `exec's process validator (${size('process-validator')} bytes) is a fraction of config.json's (${size('spec-validator')})`);
});
