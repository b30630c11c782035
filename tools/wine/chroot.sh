#!/usr/bin/env bash
# A Debian 13 (trixie) chroot with Wine 10, for running the Windows bundle on this Linux machine
# (deno task test:windows). Debian 12's Wine 8 cannot run deno.exe 2.9.6 (no bcryptprimitives!ProcessPrng, no
# VirtualAlloc2 placeholders) and trixie's Wine needs a newer glibc than the host's, hence a chroot.
# Built once into $SIMCO_WINE_CHROOT (default /var/cache/simco-wine-chroot, outside the repository) and
# reused; a half-built chroot is never reused (it is built under a temporary name and renamed when done).
# Needs root, debootstrap (installed here from the host's apt when missing) and Debian's mirror.
set -euo pipefail
CHROOT=${SIMCO_WINE_CHROOT:-/var/cache/simco-wine-chroot}
MIRROR=${SIMCO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The marker is written only after Wine is installed. (Not `-x usr/bin/wine`: an absolute symlink into
# /etc/alternatives, which resolves against the host's root from out here.)
if [ -f "$CHROOT/.simco-wine-ready" ]; then
  echo "wine chroot: $CHROOT (cached)"
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
tmp="$CHROOT.building"
# Never delete through a mount (a bound /dev or /proc would be emptied on the host).
if grep -qE " ($CHROOT|$tmp)/" /proc/self/mountinfo; then
  echo "wine chroot: something is mounted under $CHROOT; unmount it first" >&2
  exit 1
fi
rm -rf "$tmp"
mkdir -p "$(dirname "$CHROOT")"
echo "wine chroot: debootstrap trixie into $tmp"
debootstrap --variant=minbase trixie "$tmp" "$MIRROR" >"$tmp.log" 2>&1 || { tail -20 "$tmp.log"; exit 1; }
cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
echo "wine chroot: apt-get install wine"
chroot "$tmp" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends wine wine64 >/dev/null' \
  >>"$tmp.log" 2>&1 || { tail -20 "$tmp.log"; exit 1; }
rm -f "$tmp.log"
touch "$tmp/.simco-wine-ready"
rm -rf "$CHROOT"
mv "$tmp" "$CHROOT"
echo "wine chroot: $CHROOT ready"
