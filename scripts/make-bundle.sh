#!/usr/bin/env bash
# make-bundle.sh DIR [ARGS...]
#
# Builds an OCI bundle from busybox-static, without needing tsruntime (or runc) to exist:
#   DIR/rootfs       bin/busybox + a symlink in bin/ for every applet (`busybox --list`),
#                    etc/{passwd,group,hostname}, and the dirs proc sys dev tmp etc root
#   DIR/config.json  the shape `runc spec` writes, with terminal false, hostname "tsruntime"
#                    and process.args = ARGS (default: sh)
#
# Idempotent: running it again over an existing DIR refreshes rootfs and rewrites config.json.
set -euo pipefail

usage() {
  echo "usage: $0 DIR [ARGS...]   (process.args defaults to: sh)" >&2
  exit 2
}

[ $# -ge 1 ] || usage
case "$1" in -h|--help) usage ;; esac
DIR=$1
shift
[ -n "$DIR" ] || usage

BUSYBOX=${BUSYBOX:-/bin/busybox}
if [ ! -x "$BUSYBOX" ]; then
  echo "make-bundle: $BUSYBOX not found; install it with: apt-get install busybox-static" >&2
  exit 1
fi
# A dynamically linked busybox (Debian package "busybox") would not run inside a rootfs without libc.
if LC_ALL=C head -c 4096 "$BUSYBOX" | grep -qaE 'ld-linux|ld-musl'; then
  echo "make-bundle: $BUSYBOX is dynamically linked; install the static one with: apt-get install busybox-static" >&2
  exit 1
fi
command -v node >/dev/null 2>&1 || { echo "make-bundle: node is required to write config.json" >&2; exit 1; }

ROOTFS=$DIR/rootfs
mkdir -p "$ROOTFS"
for d in bin proc sys dev tmp etc root; do
  mkdir -p "$ROOTFS/$d"
done
chmod 0755 "$ROOTFS" "$ROOTFS/bin" "$ROOTFS/etc"
chmod 0700 "$ROOTFS/root"
chmod 1777 "$ROOTFS/tmp"

# Copy via a temp name + rename so a re-run never writes into a busybox a running container is executing.
cp -f "$BUSYBOX" "$ROOTFS/bin/.busybox.tmp"
chmod 0755 "$ROOTFS/bin/.busybox.tmp"
mv -f "$ROOTFS/bin/.busybox.tmp" "$ROOTFS/bin/busybox"

for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] && continue
  ln -sfn busybox "$ROOTFS/bin/$applet"
done

cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
tty:x:5:
nogroup:x:65534:
EOF
echo tsruntime >"$ROOTFS/etc/hostname"

[ $# -ge 1 ] || set -- sh

# config.json: the `runc spec` (runc 1.1.5) default, kept in sync with src/spec/default-spec.ts
# (test/unit/default-spec.test.ts compares the two), with terminal false, our hostname and ARGS.
# ociVersion defaults to "1.0.2-dev" (what runc 1.1.5 writes) because crun 1.8.1 refuses anything
# outside 1.0.x/1.1.x ("unknown version specified"); override with OCI_VERSION=1.2.0.
OCI_VERSION=${OCI_VERSION:-1.0.2-dev} node - "$DIR/config.json" "$@" <<'EOF'
const fs = require('fs');
const [file, ...args] = process.argv.slice(2);
const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
const spec = {
  ociVersion: process.env.OCI_VERSION,
  process: {
    terminal: false,
    user: { uid: 0, gid: 0 },
    args,
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
    cwd: '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps, ambient: caps },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  },
  root: { path: 'rootfs', readonly: true },
  hostname: 'tsruntime',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ],
  linux: {
    resources: { devices: [{ allow: false, access: 'rwm' }] },
    namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
    maskedPaths: [
      '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
      '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
    ],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
  },
};
fs.writeFileSync(file + '.tmp', JSON.stringify(spec, null, '\t') + '\n');
fs.renameSync(file + '.tmp', file);
EOF
echo "make-bundle: bundle ready in $DIR (args: $*)"
