#!/bin/bash
# Run a command on a pure cgroup v2 host: boots Debian's user-mode-linux kernel (package
# user-mode-linux, /usr/bin/linux.uml) with this host's / as its root filesystem (hostfs, read-only),
# mounts cgroup2 on /sys/fs/cgroup with cpu, io, memory and pids enabled, runs the command as root
# in the project directory, then halts. Prints the command's output and exits with its exit code.
#
#   scripts/uml-cgroup2.sh                       # default: the cgroup and resource integration tests
#   scripts/uml-cgroup2.sh npx tap dist/test/integration/cgroups.test.js
#   scripts/uml-cgroup2.sh sh -c 'cat /proc/self/cgroup'
#
# Inside: PATH has node's directory first, HOME is a tmpfs directory, /tmp and /run are tmpfs, the
# project directory is mounted read-write over itself (hostfs), everything else is read-only.
# Build first (npm run build): the guest runs what is in dist/ and native/build/.
#
# Environment: UML (kernel binary), UML_MEM (default 1G), UML_TIMEOUT (seconds, default 900),
# UML_VERBOSE=1 (show the kernel console).
set -u

uml=${UML:-$(command -v linux.uml || echo /usr/bin/linux.uml)}
mem=${UML_MEM:-1G}
limit=${UML_TIMEOUT:-900}
project=$(cd "$(dirname "$0")/.." && pwd -P)

if [ ! -x "$uml" ]; then
  echo "uml-cgroup2: $uml not found (apt-get install user-mode-linux)" >&2
  exit 127
fi
node_bin=$(command -v node) || { echo "uml-cgroup2: node not found in PATH" >&2; exit 127; }
node_dir=$(dirname "$(readlink -f "$node_bin")")

if [ $# -eq 0 ]; then
  # The guest's PID 1 (the script below) reaps nothing: tsr-reaper reaps orphaned container inits.
  set -- native/build/tsr-reaper npx tap --timeout=600 dist/test/integration/cgroups.test.js dist/test/integration/resources.test.js
fi

share=$(mktemp -d /tmp/uml-cgroup2.XXXXXX) || exit 1
cleanup() { rm -rf "$share"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# The command, quoted for bash (printf %q).
{
  printf '#!/bin/bash\n'
  printf '%q ' "$@"
  printf '\n'
} >"$share/cmd"

# PID 1 of the guest. It sees the host's / (read-only) so it can read this file, then mounts the
# share directory read-write to report back.
cat >"$share/init" <<EOF
#!/bin/sh
export PATH='$node_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
export HOME=/tmp/home LANG=C.UTF-8 TERM=dumb CI=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
for c in cpu io memory pids; do echo "+\$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; done
mkdir -p /run/share "\$HOME"
mount -t hostfs hostfs /run/share -o '$share'
# A project under /tmp or /run (a CI checkout, say) is hidden by the tmpfs above: recreate its mount point.
mkdir -p '$project'
mount -t hostfs hostfs '$project' -o '$project'
echo booted >/run/share/booted
cd '$project' && bash /run/share/cmd >/run/share/output 2>&1 </dev/null
echo \$? >/run/share/rc
sync
halt -f
EOF
chmod 755 "$share/init" "$share/cmd"

start=$(date +%s%N)
# stdin from /dev/null: the console gets EOF, not the caller's terminal.
timeout --kill-after=10 "$limit" "$uml" mem="$mem" rootfstype=hostfs rootflags=/ ro \
  init="$share/init" con=null con0=fd:0,fd:1 quiet </dev/null >"$share/console" 2>&1
uml_rc=$?
end=$(date +%s%N)

if [ -s "$share/output" ]; then cat "$share/output"; fi
if [ "${UML_VERBOSE:-0}" = 1 ] || [ ! -f "$share/rc" ]; then
  echo "---- uml console ----" >&2
  tr -d '\r' <"$share/console" >&2
fi
ms=$(( (end - start) / 1000000 ))
printf 'uml-cgroup2: guest ran %d.%03d s (kernel %s)\n' $((ms / 1000)) $((ms % 1000)) "$("$uml" --version 2>/dev/null | head -n1)" >&2
if [ -f "$share/rc" ]; then
  exit "$(cat "$share/rc")"
fi
if [ ! -f "$share/booted" ] && grep -q 'ptrace set fp regs failed' "$share/console"; then
  # UML 6.1 cannot hold the FP state of CPUs with AMX (its ptrace buffer is too small): the guest
  # dies before its first instruction, whatever is tested. Nothing to test on such a machine.
  echo "uml-cgroup2: SKIPPED: user-mode-linux cannot run on this CPU (ptrace set fp regs failed: FP/AMX state too large for UML 6.1)" >&2
  exit 0
fi
if [ "$uml_rc" -eq 124 ] || [ "$uml_rc" -eq 137 ]; then
  echo "uml-cgroup2: timed out after ${limit}s" >&2
else
  echo "uml-cgroup2: the guest did not report an exit code (linux.uml exit $uml_rc)" >&2
fi
exit 125
