#!/bin/sh
# Installs (idempotently) the Debian packages kiln and its tests need on a Debian bookworm host.
# chromium + chromium-driver (+ a font for legible screenshots) run the fleet page's browser test;
# prometheus brings promtool, which checks /metrics; etcd-server + etcd-client run a real etcd
# cluster for the rollout's etcd gateway tests.
set -eu
packages="
  openjdk-17-jdk-headless maven
  mmdebstrap squashfs-tools e2fsprogs dosfstools mtools fdisk
  grub-pc-bin grub-efi-amd64-bin grub-common
  qemu-system-x86 qemu-utils ipxe-qemu ipxe ovmf
  systemd tar zstd xz-utils curl jq openssl ca-certificates
  diffoscope-minimal
  iproute2 dnsmasq-base iptables
  shellcheck git
  chromium chromium-driver fonts-dejavu-core prometheus
  ipmitool openipmi redfishtool python3-sushy
  etcd-server etcd-client
"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "ci/install-deps.sh: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "ci/install-deps.sh: all packages present"
