#!/usr/bin/env bash
# demo.sh — sets up whatever is missing (scripts/setup.sh: apt packages, npm ci, build; needs root), then
# builds ./demo-bundle (busybox) whose process prints its hostname, its pid (1, in its own pid namespace)
# and `ls /`, runs it in the foreground with tsruntime, then removes container and bundle.
# KEEP_BUNDLE=1 keeps ./demo-bundle. RUNTIME=runc (or crun) runs the same demo with another runtime.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNTIME=${RUNTIME:-bin/tsruntime}
if [ "$RUNTIME" = bin/tsruntime ]; then
  STATE_ROOT=${STATE_ROOT:-/run/tsruntime-demo}
else
  STATE_ROOT=${STATE_ROOT:-/run/tsruntime-demo-$(basename "$RUNTIME")}
fi
BUNDLE=demo-bundle
ID=demo

# On a fresh machine: apt packages, npm dependencies and the build, each only if missing or stale.
bash scripts/setup.sh

cleanup() {
  "$RUNTIME" --root "$STATE_ROOT" delete --force "$ID" >/dev/null 2>&1 || true
  rmdir "$STATE_ROOT" 2>/dev/null || true # the demo's own state root, once empty
  [ "${KEEP_BUNDLE:-}" = 1 ] || rm -rf "$BUNDLE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A container left over from an interrupted demo would make `run` fail with "already exists".
"$RUNTIME" --root "$STATE_ROOT" delete --force "$ID" >/dev/null 2>&1 || true

bash scripts/make-bundle.sh "$BUNDLE" sh -c 'hostname; echo pid $$; ls /' >/dev/null

echo "+ $RUNTIME --root $STATE_ROOT run --bundle $BUNDLE $ID"
status=0
"$RUNTIME" --root "$STATE_ROOT" run --bundle "$BUNDLE" "$ID" || status=$?
echo "+ exit status $status"
exit "$status"
