#!/usr/bin/env bash
# Runs a command as root in a qemu guest, for what this host cannot offer: a pure cgroup v2 kernel,
# or systemd as PID 1. The guest boots the Debian kernel scripts/vm-kernel.sh prepared, with this
# host's / (read-only, over 9p) under a tmpfs overlay as its root, so it runs the host's node, npm
# and the project's build; nothing it writes reaches the host but the project directory, which is
# mounted read-write over itself. Prints the command's output and exits with its exit code.
#
#   scripts/vm.sh sh -c 'cat /proc/self/cgroup'                # pure cgroup v2, a shell script as PID 1
#   scripts/vm.sh native/build/tsr-reaper tap dist/test/integration/cgroups.test.js
#   scripts/vm.sh --systemd systemctl status                    # PID 1 is systemd, on cgroup v2
#
# Plain mode: the guest's init mounts cgroup2 on /sys/fs/cgroup and enables every controller
# there (cpu, cpuset, io, memory, pids, ...) in the root's subtree; it reaps nothing, so run
# container tests under native/build/tsr-reaper. --systemd: systemd 252 boots with its unified
# hierarchy (systemd.unified_cgroup_hierarchy=1) and D-Bus, and runs the command as a service
# (system.slice/tsr-vm.service) once the boot is done.
# Both: PATH starts with node's directory and the project's node_modules/.bin (as in npm scripts:
# npx costs seconds under emulation), TSR_TEST_SLOW=10 scales the test harness's timeouts,
# HOME is a tmpfs directory, /tmp and /run are tmpfs,
# the guest kernel's modules are on /lib/modules (modprobe is busybox's when the host has none).
# Build first (npm run build): the guest runs what is in dist/ and native/build/.
#
# Environment: VM_CACHE (default /var/cache/tsruntime-vm), VM_MEM (default 2G), VM_CPUS (default 2),
# VM_TIMEOUT (seconds, default 3600), VM_VERBOSE=1 (show the guest's console as it boots),
# VM_APPEND (more kernel command line, e.g. systemd.log_level=debug).
# No KVM: nested KVM hangs in early boot on the machines this was written on, so qemu emulates the
# CPU (TCG): a boot takes seconds, and node in the guest starts 10 to 30 times slower than here.
set -u

systemd=0
while [ $# -gt 0 ]; do
  case $1 in
    --systemd) systemd=1; shift ;;
    --) shift; break ;;
    -*) echo "vm: unknown option $1 (usage: scripts/vm.sh [--systemd] [--] command...)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: scripts/vm.sh [--systemd] [--] command..." >&2; exit 2; }

cache=${VM_CACHE:-/var/cache/tsruntime-vm}
mem=${VM_MEM:-2G}
cpus=${VM_CPUS:-2}
limit=${VM_TIMEOUT:-3600}
verbose=${VM_VERBOSE:-0}
project=$(cd "$(dirname "$0")/.." && pwd -P)
qemu=qemu-system-x86_64

fail() { echo "vm: $*" >&2; exit 125; }
[ "$(id -u)" = 0 ] || fail "run as root (qemu shares the host's / with the guest as root's)"
command -v "$qemu" >/dev/null 2>&1 ||
  fail "$qemu not found: apt-get install --no-install-recommends qemu-system-x86, then bash scripts/vm-kernel.sh"
[ -f "$cache/ready" ] && [ -e "$cache/kernel" ] && [ -f "$cache/initramfs.gz" ] ||
  fail "no guest kernel in $cache: prepare it with bash scripts/vm-kernel.sh (once; it downloads Debian's kernel package)"
kver=$(cut -d' ' -f1 "$cache/ready")
node_bin=$(command -v node) || fail "node not found in PATH"
node_dir=$(dirname "$(readlink -f "$node_bin")")
if [ "$systemd" = 1 ] && [ ! -x /lib/systemd/systemd ]; then
  fail "--systemd needs systemd installed on this host (the guest boots the host's /lib/systemd/systemd): apt-get install systemd dbus"
fi

share=$(mktemp -d /tmp/tsr-vm.XXXXXX) || exit 1
qemu_pid=
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null
  rm -rf "$share"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The command, quoted for bash.
{
  printf '#!/bin/bash\n'
  printf '%q ' "$@"
  printf '\n'
} >"$share/cmd"

# Paths as they go into the guest's shell scripts.
q_project=$(printf %q "$project")
q_modules=$(printf %q "$cache/root/lib/modules")
path="$node_dir:$project/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What both modes mount before the command runs. 9p with cache=loose for the project: only the
# guest writes there while it runs, and node reads thousands of files from it; the share is
# uncached so the host sees the output as it is written.
common_mounts=$(cat <<EOF
mkdir -p /run/share
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 share /run/share
# A project under /tmp or /run (a CI checkout, say) is hidden by the tmpfs there: mount it again.
mkdir -p $q_project
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose project $q_project
# The guest kernel's modules (overlay, veth, bridge...) for modprobe and the kernel's own requests.
mkdir -p /lib/modules
mount --bind $q_modules /lib/modules
for t in modprobe insmod rmmod lsmod; do [ -e /sbin/\$t ] || ln -s /bin/busybox /sbin/\$t; done
EOF
)
# Runs the command; its exit code is written last, so a missing rc means it never finished.
cat >"$share/run" <<EOF
#!/bin/sh
# TSR_TEST_SLOW: the test harness multiplies its timeouts by it (node starts 10-30x slower here).
export PATH=$(printf %q "$path") HOME=/tmp/home LANG=C.UTF-8 TERM=dumb CI=1 TSR_TEST_SLOW=10
mkdir -p "\$HOME"
echo booted >/run/share/booted
cd $q_project && bash /run/share/cmd >/run/share/output 2>&1 </dev/null
echo \$? >/run/share/rc
sync
EOF

masked="systemd-timesyncd.service systemd-pstore.service systemd-journal-flush.service \
systemd-random-seed.service systemd-update-utmp.service systemd-sysusers.service systemd-remount-fs.service \
systemd-modules-load.service modprobe@configfs.service modprobe@dm_mod.service modprobe@efi_pstore.service \
modprobe@fuse.service modprobe@loop.service modprobe@drm.service sys-kernel-debug.mount sys-kernel-tracing.mount \
sys-kernel-config.mount sys-fs-fuse-connections.mount proc-sys-fs-binfmt_misc.automount \
systemd-ask-password-console.path systemd-ask-password-wall.path timers.target docker.socket podman.socket"

if [ "$systemd" = 0 ]; then
  cat >"$share/init" <<EOF
#!/bin/sh
export PATH=$(printf %q "$path")
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o mode=620,ptmxmode=666,gid=5 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in \$(cat /sys/fs/cgroup/cgroup.controllers); do echo "+\$c" >/sys/fs/cgroup/cgroup.subtree_control; done
$common_mounts
/bin/busybox hostname tsr-vm
/bin/busybox ip link set lo up
sh /run/share/run
umount $q_project
/bin/busybox poweroff -f
EOF
  append="tsrinit=$share/init"
else
  cat >"$share/init" <<EOF
#!/bin/sh
export PATH=$(printf %q "$path")
mount -t proc proc /proc
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
$common_mounts
mkdir -p /run/systemd/system
cat >/run/systemd/system/tsr-vm.service <<'UNIT'
[Unit]
Description=the command scripts/vm.sh was given
Requires=dbus.socket
After=dbus.socket
# Whatever the command's exit code (it is in /run/share/rc), the guest powers off after it.
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
# exec, not oneshot: the boot completes as the command starts, so the command sees a system that is
# "running", as on a host, rather than one still starting.
Type=exec
ExecStart=/bin/sh /run/share/run
UNIT
cat >/run/systemd/system/tsr-vm.target <<'UNIT'
[Unit]
Description=boot for scripts/vm.sh
Requires=tsr-vm.service
# A boot that never reaches the command ends the guest, rather than waiting for VM_TIMEOUT.
JobTimeoutSec=600
JobTimeoutAction=poweroff-force
UNIT
echo tsr-vm >/etc/hostname
# Boot time under TCG is mostly processes started and files read over 9p: no generators (this guest
# has no fstab, disks, SysV scripts or getty to find), and the units that prepare a persistent
# machine, run the host's own services, or would fire its timers are masked. What a systemd host's
# containers need stays: journald, sysctl, tmpfiles, D-Bus, slices and scopes.
rm -f /lib/systemd/system-generators/* /usr/local/lib/systemd/system-generators/* 2>/dev/null
for u in $masked; do ln -sf /dev/null "/run/systemd/system/\$u"; done
# The host may itself be a container: systemd would take its marker file for its own, and then
# ignore the kernel command line (systemd.unit=, the cgroup hierarchy) as a container's manager does.
rm -f /.dockerenv /run/.containerenv
exec /lib/systemd/systemd
EOF
  show=0
  [ "$verbose" = 1 ] && show=1
  append="tsrinit=$share/init systemd.unit=tsr-vm.target systemd.unified_cgroup_hierarchy=1 systemd.show_status=$show"
fi
chmod 755 "$share/init" "$share/run" "$share/cmd"

fsdev() { # id, host path, mount tag, extra options
  printf -- '-fsdev local,id=%s,path=%s,security_model=passthrough,multidevs=remap%s -device virtio-9p-pci,fsdev=%s,mount_tag=%s ' \
    "$1" "$2" "$4" "$1" "$3"
}
# mitigations=off: page-table isolation makes every syscall a TLB flush, which costs much under TCG.
# panic=-1 with -no-reboot: a guest that panics (its init exited) ends qemu instead of hanging.
quiet=quiet
[ "$verbose" = 1 ] && quiet=
# shellcheck disable=SC2046
set -- -accel tcg -cpu max -m "$mem" -smp "$cpus" -nodefaults -no-user-config -display none -no-reboot \
  -serial stdio -kernel "$cache/kernel" -initrd "$cache/initramfs.gz" \
  -append "console=ttyS0 $quiet panic=-1 mitigations=off $append ${VM_APPEND:-}" \
  $(fsdev root / hostroot ,readonly=on) $(fsdev share "$share" share '') $(fsdev project "$project" project '')

start=$(date +%s%N)
# stdin is /dev/null so the guest never reads the caller's terminal; the console goes to a file,
# shown as it is written with VM_VERBOSE=1, or after the run when the command did not finish.
timeout --kill-after=10 "$limit" "$qemu" "$@" </dev/null >"$share/console" 2>&1 &
qemu_pid=$!
tails=()
if [ "$verbose" = 1 ]; then
  tail -n +1 -s 0.5 --pid="$qemu_pid" -f "$share/console" | tr -d '\r' >&2 &
  tails+=($!)
fi
# The command's output, as the guest writes it (tail exits once qemu has, after a last read).
touch "$share/output"
tail -n +1 -s 0.5 --pid="$qemu_pid" -f "$share/output" &
tails+=($!)
wait "$qemu_pid"
qemu_rc=$?
qemu_pid=
wait "${tails[@]}"
end=$(date +%s%N)

ms=$(( (end - start) / 1000000 ))
mode=cgroup2
[ "$systemd" = 1 ] && mode=systemd
if [ ! -f "$share/rc" ] && [ "$verbose" != 1 ]; then
  echo "---- guest console ----" >&2
  tr -d '\r' <"$share/console" >&2
fi
printf 'vm: %s guest (kernel %s) ran %d.%03d s\n' "$mode" "$kver" $((ms / 1000)) $((ms % 1000)) >&2
if [ -f "$share/rc" ]; then
  exit "$(cat "$share/rc")"
fi
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
  fail "timed out after ${limit}s (VM_TIMEOUT)"
elif [ -f "$share/booted" ]; then
  fail "the command did not finish: the guest stopped before it wrote an exit code (qemu exit $qemu_rc)"
fi
fail "the guest did not boot (qemu exit $qemu_rc; VM_VERBOSE=1 shows its console)"
