/**
 * The example config.json that `tsruntime spec` writes: the same shape `runc spec` (runc 1.1.5) writes,
 * field for field and in the same key order, except `ociVersion`.
 *
 * ociVersion: runc writes the runtime-spec version it was built against (runc 1.1.5: "1.0.2-dev",
 * runc 1.2: "1.2.0"). tsruntime implements runtime-spec 1.2, so it writes "1.2.0" (OCI_VERSION, version.ts), like runc 1.2 does.
 * Note that crun 1.8.1 rejects any ociVersion outside 1.0.x/1.1.x ("unknown version specified"), so a
 * bundle meant for crun 1.8 too needs e.g. "1.0.2-dev" (scripts/make-bundle.sh writes that).
 *
 * Differences from newer runc versions we deliberately do NOT follow (we match runc 1.1.5):
 *  - runc >= 1.2 no longer puts an "ambient" capability set in the example;
 *  - runc >= 1.2 adds "/sys/devices/virtual/powercap" (1.2) and "/sys/devices/virtual/tpm" to maskedPaths;
 *  - runc >= 1.2 adds a cgroup namespace when the host is on cgroup v2 (unified mode).
 *
 * With `rootless`, applies runc's ToRootless(): no network namespace, a user namespace with the
 * caller's euid/egid mapped to 0 (size 1), /sys as a read-only rbind instead of sysfs, gid=/uid=
 * options dropped from mounts, and no linux.resources.
 */
import { OCI_VERSION } from './version';

export function defaultSpec(opts: { rootless?: boolean; args?: string[] } = {}): Record<string, unknown> {
  const caps = () => ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  const spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: opts.args ? [...opts.args] : ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: caps(),
        effective: caps(),
        permitted: caps(),
        ambient: caps(),
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
      },
      {
        destination: '/dev/shm',
        type: 'tmpfs',
        source: 'shm',
        options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
      },
      {
        destination: '/dev/mqueue',
        type: 'mqueue',
        source: 'mqueue',
        options: ['nosuid', 'noexec', 'nodev'],
      },
      {
        destination: '/sys',
        type: 'sysfs',
        source: 'sysfs',
        options: ['nosuid', 'noexec', 'nodev', 'ro'],
      },
      {
        destination: '/sys/fs/cgroup',
        type: 'cgroup',
        source: 'cgroup',
        options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
      },
    ] as Array<{ destination: string; type: string; source: string; options?: string[] }>,
    linux: {
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
      },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
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

  if (!opts.rootless) return spec;

  // runc's specconv.ToRootless(), reproducing its output (including key order) exactly.
  const uid = typeof process.geteuid === 'function' ? process.geteuid() : 0;
  const gid = typeof process.getegid === 'function' ? process.getegid() : 0;
  const mounts = spec.mounts.map((m) => {
    if (m.destination === '/sys') {
      return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    }
    if (!m.options) return m;
    return { ...m, options: m.options.filter((o) => !o.startsWith('gid=') && !o.startsWith('uid=')) };
  });
  return {
    ...spec,
    mounts,
    linux: {
      uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
      namespaces: [
        ...spec.linux.namespaces.filter((ns) => ns.type !== 'network' && ns.type !== 'user'),
        { type: 'user' },
      ],
      maskedPaths: spec.linux.maskedPaths,
      readonlyPaths: spec.linux.readonlyPaths,
    },
  };
}
