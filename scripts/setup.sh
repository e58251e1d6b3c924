#!/usr/bin/env bash
# setup.sh — everything a fresh Debian 12 machine (root, Node 20 + npm) needs to build, demo, test and
# benchmark tsruntime, installed only when missing, so running it again is quick:
#   1. system packages (apt-get): busybox-static (test/demo rootfs), build-essential (cc and a static
#      libc for native/), musl-tools (tsr-init is linked with musl: it starts faster), libseccomp2
#      (seccomp profiles are compiled with it, through koffi), runc
#      and crun (compared against in tests and `npm run bench`), time (bench's RSS column),
#      qemu-system-x86, xz-utils, systemd and dbus (`npm run test:cgroup2` and `test:systemd` boot
#      qemu guests: pure cgroup v2, and systemd as PID 1; their kernel is prepared once by
#      scripts/vm-kernel.sh, which this script does not run), iproute2 (the netDevices test),
#      podman, conmon, containerd and docker.io (`npm run test:engines` runs each engine privately,
#      with tsruntime and runc; they are installed without starting their services, which the tests
#      do not use), uidmap (newuidmap/newgidmap: rootless containers with subordinate ids, rootless
#      Podman);
#   2. npm dependencies (`npm ci`, which also builds: its prepare script is scripts/build.js);
#   3. the build (`npm run build`) when a source file is newer than the last build.
# scripts/demo.sh and .ci/run call it. SETUP_QUIET=1 hides npm's and apt's progress output.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (containers need it), e.g.: sudo bash $0"
command -v node >/dev/null 2>&1 || die "Node.js 20 or newer is required (Debian 12's own nodejs is 18: use NodeSource or nodejs.org)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || die "Node.js 20 or newer is required, found $(node --version)"
command -v npm >/dev/null 2>&1 || die "npm is required (it comes with Node.js)"

PACKAGES=(busybox-static build-essential musl-tools libseccomp2 runc crun time iproute2 qemu-system-x86 xz-utils systemd dbus podman conmon containerd docker.io uidmap)
missing=()
for p in "${PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get (this script is for Debian 12)"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Installing docker.io, containerd or podman would start their services: a policy-rc.d that says
  # 101 prevents it for the install only (a machine's own policy-rc.d is left as it is).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  if [ "${SETUP_QUIET:-}" = 1 ]; then
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  if [ "$(trap -p EXIT)" ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
fi

stamp=dist/.setup-build-stamp
npm_flags=()
[ "${SETUP_QUIET:-}" = 1 ] && npm_flags=(--silent --no-audit --no-fund)
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies and building (npm ci)"
  npm ci "${npm_flags[@]}"
  touch "$stamp"
elif [ ! -f "$stamp" ] || [ -n "$(find package.json tsconfig.json src native schemas scripts test conformance \
    -newer "$stamp" -type f ! -path 'native/build/*' ! -path 'src/generated/*' -print -quit 2>/dev/null)" ]; then
  say "building (npm run build)"
  npm run build "${npm_flags[@]}"
  touch "$stamp"
fi
