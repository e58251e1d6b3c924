#!/usr/bin/env bash
# Prepares what scripts/vm.sh boots: Debian's own kernel (the one linux-image-amd64 depends on), its
# modules, and a small initramfs that mounts this host's / over 9p. Nothing is installed system-wide:
# the package is unpacked into a cache directory. Run it as root; running it again does nothing
# unless the kernel package named by linux-image-amd64 changed. Only the download needs the network.
#
#   bash scripts/vm-kernel.sh          # prepares /var/cache/tsruntime-vm (VM_CACHE overrides it)
#
# Needs: qemu-system-x86 (to boot it later), busybox-static (the initramfs's only program), apt,
# xz-utils and binutils (to unpack the kernel image so qemu can boot it without its decompressor).
set -euo pipefail

cache=${VM_CACHE:-/var/cache/tsruntime-vm}

say() { echo "vm-kernel: $*" >&2; }
die() { say "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it writes $cache), e.g.: sudo bash $0"
command -v qemu-system-x86_64 >/dev/null 2>&1 ||
  die "qemu-system-x86_64 not found: apt-get install --no-install-recommends qemu-system-x86"
busybox=/bin/busybox
# The initramfs has no libc: its busybox must be the static one.
if [ ! -x "$busybox" ] || readelf -l "$busybox" 2>/dev/null | grep -q 'Requesting program interpreter'; then
  die "a static $busybox is needed for the initramfs: apt-get install busybox-static"
fi

# The package name carries the kernel ABI (linux-image-6.1.0-NN-amd64): ask apt rather than guess.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
[ -n "$pkg" ] || die "apt does not know linux-image-amd64 (a Debian kernel package): run apt-get update, then this script again"
version=${pkg#linux-image-}

init_src="$(dirname "$0")/vm-initramfs-init"
[ -f "$init_src" ] || die "$init_src is missing"
# The stamp names the kernel and hashes this script and the initramfs's init: a change to any rebuilds.
stamp="$version $(cat "$0" "$init_src" | sha256sum | cut -c1-16)"
if [ -f "$cache/ready" ] && [ "$(cat "$cache/ready")" = "$stamp" ] &&
   [ -f "$cache/kernel" ] && [ -f "$cache/initramfs.gz" ] && [ -d "$cache/root/lib/modules/$version" ]; then
  say "kernel $version already prepared in $cache"
  exit 0
fi

# Guests may be running from this cache while it is rebuilt (after this script or the init changed):
# every file is replaced by a rename, and the unpacked package only when the kernel changed.
mkdir -p "$cache"
deb=$(ls "$cache/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
if [ -z "$deb" ]; then
  say "downloading $pkg"
  # apt's download sandbox user must be able to write there; the cache itself stays root's.
  tmp=$(mktemp -d "$cache/download.XXXXXX")
  chown _apt "$tmp" 2>/dev/null || true
  (cd "$tmp" && apt-get download -q "$pkg") || { rm -rf "$tmp"; die "apt-get download $pkg failed (network? apt-get update?)"; }
  rm -f "$cache"/linux-image-*.deb
  mv "$tmp"/*.deb "$cache/"
  rm -rf "$tmp"
  deb=$(ls "$cache/${pkg}"_*.deb | head -n1)
fi

moddir="$cache/root/lib/modules/$version"
if [ ! -f "$cache/root/.unpacked" ] || [ "$(cat "$cache/root/.unpacked")" != "$(basename "$deb")" ]; then
  say "unpacking $(basename "$deb")"
  rm -rf "$cache/root.new"
  dpkg-deb -x "$deb" "$cache/root.new"
  [ -f "$cache/root.new/boot/vmlinuz-$version" ] && [ -d "$cache/root.new/lib/modules/$version" ] ||
    die "$deb has no /boot/vmlinuz-$version or /lib/modules/$version"
  # kmod may be absent from the host; busybox's depmod writes what busybox's modprobe reads in the guest.
  "$busybox" depmod -b "$cache/root.new" "$version"
  basename "$deb" >"$cache/root.new/.unpacked"
  rm -rf "$cache/root.old"
  [ ! -d "$cache/root" ] || mv "$cache/root" "$cache/root.old"
  mv "$cache/root.new" "$cache/root"
  rm -rf "$cache/root.old"
fi

# The modules the initramfs loads before it can see the root filesystem: the virtio PCI transport,
# 9p over it, and overlayfs (the guest's / is a tmpfs overlay on the read-only 9p root). Their
# dependencies come from modules.dep, loaded first.
ordered=()
resolve() {
  local name=$1 line path dep
  line=$(grep -E "(^|/)$name\.ko:" "$moddir/modules.dep") || die "module $name is not in $version's modules.dep"
  path=${line%%:*}
  for m in "${ordered[@]}"; do [ "$m" = "$path" ] && return 0; done
  for dep in ${line#*:}; do
    dep=$(basename "$dep" .ko)
    resolve "$dep"
  done
  ordered+=("$path")
}
for m in virtio_pci 9pnet_virtio 9p overlay; do resolve "$m"; done

ird="$cache/initramfs"
rm -rf "$ird"
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lower,upper,m}
cp "$busybox" "$ird/bin/busybox"
: >"$ird/m/order"
for p in "${ordered[@]}"; do
  cp "$moddir/$p" "$ird/m/"
  basename "$p" >>"$ird/m/order"
done
cp "$init_src" "$ird/init"
chmod 755 "$ird/init"
(cd "$ird" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -9 >"$cache/initramfs.gz.new")
mv "$cache/initramfs.gz.new" "$cache/initramfs.gz"
rm -rf "$ird"

# qemu can enter an uncompressed vmlinux at its PVH entry point (an ELF note), which skips the BIOS's
# real-mode boot and the kernel's own decompression: about 4 s of a boot under TCG. The image is
# found the way the kernel's scripts/extract-vmlinux finds it: try each compressed stream's magic.
# XEN_ELFNOTE_PHYS32_ENTRY is note type 18; older binutils print it as an unknown type.
has_pvh() { readelf -n "$1" 2>/dev/null | grep -qE 'PHYS32_ENTRY|Unknown note type: \(0x00000012\)'; }
extract_vmlinux() {
  local img=$1 out=$2 magic tool off
  for pair in $'\xfd7zXZ xz' $'\x28\xb5\x2f\xfd zstd' $'\x1f\x8b\x08 gzip'; do
    magic=${pair% *} tool=${pair##* }
    command -v "$tool" >/dev/null 2>&1 || continue
    for off in $(LC_ALL=C grep -aboF "$magic" "$img" | cut -d: -f1); do
      # Trailing data after the stream makes the decompressor complain: the ELF header decides.
      tail -c +$((off + 1)) "$img" | "$tool" -dc >"$out" 2>/dev/null || true
      [ "$(head -c 4 "$out" | od -An -c | tr -d ' ')" = '177ELF' ] && has_pvh "$out" && return 0
    done
  done
  rm -f "$out"
  return 1
}
if extract_vmlinux "$cache/root/boot/vmlinuz-$version" "$cache/vmlinux.new"; then
  mv "$cache/vmlinux.new" "$cache/vmlinux"
  ln -sfn vmlinux "$cache/kernel.new"
else
  say "warning: no PVH vmlinux could be extracted (xz-utils and binutils installed?): booting the compressed image, slower"
  ln -sfn "root/boot/vmlinuz-$version" "$cache/kernel.new"
fi
mv -T "$cache/kernel.new" "$cache/kernel"
echo "$stamp" >"$cache/ready.new"
mv "$cache/ready.new" "$cache/ready"
say "kernel $version ready in $cache ($(du -sh "$cache" | cut -f1))"
