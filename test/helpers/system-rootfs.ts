/**
 * A system container's bundle (LXC/LXD style: PID 1 is systemd), built from this host's own
 * `/usr`, bound read-only, with the merged-/usr links and a small writable `/etc` of the test's:
 * os-release, machine-id, passwd/group, `multi-user.target` as the default target, one test
 * service enabled for it, and the login units masked. The config is what Podman's
 * `--systemd=always` makes: `/sbin/init` with `container=<manager>`, Podman's capabilities, tmpfs
 * on /run, /run/lock, /tmp and /var/log/journal, a cgroup namespace and a read-write `cgroup` mount.
 */
import crypto from 'crypto';
import fs from 'fs';
import path from 'path';
import { sharedBundleTemplate } from './runtime';

/** What the test service writes when it has run (a path inside the container). */
export const SERVICE_MARKER = '/run/tsr-test-service.done';
export const SERVICE_UNIT = 'tsr-test.service';

/**
 * None is needed for a clean boot: systemd 252 skips by itself what cannot work in a container
 * (udev, gettys on ttys, kernel module loading, remounting /: ConditionVirtualization=!container,
 * ConditionPathIsReadWrite=/sys and the like), which a boot with nothing masked shows (`running`,
 * no failed unit). These are masked because nobody logs into this container: fewer units to start
 * keeps the boot short under emulation.
 */
const MASKED = ['getty.target', 'systemd-logind.service', 'systemd-user-sessions.service', 'systemd-update-utmp.service'];

/** Podman's default capabilities (containers.conf): systemd needs no more to boot. */
const CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP', 'CAP_SETGID',
  'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];

/** Why this host cannot give a system container, or false: /sbin/init must be systemd, /usr merged. */
export function systemRootfsMissing(): false | string {
  let init = '';
  try {
    init = fs.realpathSync('/usr/sbin/init');
  } catch {
    /* no init at all */
  }
  if (!init.endsWith('/systemd')) return 'this host\'s /sbin/init is not systemd (apt-get install systemd-sysv): its /usr is the system container\'s';
  for (const d of ['bin', 'sbin', 'lib']) {
    let target = '';
    try {
      target = fs.readlinkSync(`/${d}`);
    } catch {
      /* a directory: /usr is not merged */
    }
    if (target !== `usr/${d}`) return `/${d} is not a link to usr/${d}: binding /usr alone would not give a working system`;
  }
  return false;
}

function write(file: string, text: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
}

/** Makes the bundle in dir (dir/rootfs and dir/config.json); `edit` may change the spec. Returns dir. */
export function makeSystemBundle(dir: string, edit?: (spec: Record<string, any>) => void): string {
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['usr', 'etc', 'proc', 'sys', 'dev', 'run', 'tmp', 'var/lib', 'var/log/journal', 'var/tmp', 'var/cache', 'root', 'home', 'srv', 'mnt', 'opt']) {
    fs.mkdirSync(path.join(rootfs, d), { recursive: true, mode: 0o755 });
  }
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.chmodSync(path.join(rootfs, 'var/tmp'), 0o1777);
  fs.chmodSync(path.join(rootfs, 'root'), 0o700);
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) {
    if (fs.existsSync(`/usr/${d}`)) fs.symlinkSync(`usr/${d}`, path.join(rootfs, d));
  }
  const etc = path.join(rootfs, 'etc');
  fs.symlinkSync('../usr/lib/os-release', path.join(etc, 'os-release'));
  // A machine id of its own: systemd would otherwise make a transient one and warn.
  write(path.join(etc, 'machine-id'), crypto.randomBytes(16).toString('hex') + '\n', 0o444);
  write(path.join(etc, 'hostname'), 'tsr-system\n');
  write(path.join(etc, 'passwd'), [
    'root:x:0:0:root:/root:/bin/sh',
    'messagebus:x:100:101::/nonexistent:/usr/sbin/nologin',
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  ].join('\n') + '\n');
  write(path.join(etc, 'group'), ['root:x:0:', 'tty:x:5:', 'messagebus:x:101:', 'systemd-journal:x:102:', 'nogroup:x:65534:'].join('\n') + '\n');
  write(path.join(etc, 'shadow'), 'root:*:19000:0:99999:7:::\n', 0o640);
  write(path.join(etc, 'fstab'), '');
  const units = path.join(etc, 'systemd', 'system');
  fs.mkdirSync(path.join(units, 'multi-user.target.wants'), { recursive: true });
  fs.symlinkSync('/usr/lib/systemd/system/multi-user.target', path.join(units, 'default.target'));
  for (const u of MASKED) fs.symlinkSync('/dev/null', path.join(units, u));
  write(path.join(units, SERVICE_UNIT), [
    '[Unit]',
    'Description=the system container test service',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    `ExecStart=/bin/sh -c 'echo ran >${SERVICE_MARKER}'`,
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n'));
  fs.symlinkSync(`../${SERVICE_UNIT}`, path.join(units, 'multi-user.target.wants', SERVICE_UNIT));

  const { spec } = sharedBundleTemplate();
  spec.root = { path: 'rootfs', readonly: false };
  spec.hostname = 'tsr-system';
  spec.process = {
    terminal: false,
    user: { uid: 0, gid: 0 },
    args: ['/sbin/init'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'container=tsruntime'],
    cwd: '/',
    capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
    // Not above the template's: raising a hard limit needs CAP_SYS_RESOURCE, which not every host's root has.
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: false,
  };
  const tmpfs = (destination: string, options: string[]) => ({ destination, type: 'tmpfs', source: 'tmpfs', options });
  spec.mounts = [
    ...spec.mounts.filter((m: { destination: string }) => m.destination !== '/sys/fs/cgroup'),
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'rw'] },
    { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro', 'nosuid', 'nodev'] },
    tmpfs('/run', ['nosuid', 'nodev', 'mode=755']),
    tmpfs('/run/lock', ['nosuid', 'nodev', 'noexec', 'mode=1777']),
    tmpfs('/tmp', ['nosuid', 'nodev', 'mode=1777']),
    tmpfs('/var/log/journal', ['nosuid', 'nodev', 'mode=2755']),
  ];
  spec.linux.namespaces = [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  // SIGRTMIN+3 is systemd's halt: what `podman stop` sends a systemd container.
  spec.annotations = { 'org.opencontainers.image.stopSignal': 'SIGRTMIN+3' };
  edit?.(spec);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}
