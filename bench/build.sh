#!/usr/bin/env bash
# Prints build timings for image-specs/debian-node.yaml on this machine:
#   1. a static spec mistake: time until kiln refuses it (JVM start included)
#   2. a cold build to all three outputs (empty cache, empty store)
#   3. a rebuild after changing only one file (cached package layer)
# Usage: bench/build.sh            (uses a temporary store and cache, removed afterwards)
set -euo pipefail
cd "$(dirname "$0")/.."
./kiln --version >/dev/null   # build the jar outside the timings
work=$(mktemp -d /var/tmp/kiln-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export KILN_STORE="$work/store" KILN_CACHE="$work/cache"
mkdir -p "$work/specs"
seconds() { local s=$1 e=$2; awk -v s="$s" -v e="$e" 'BEGIN { printf "%.1f", (e - s) / 1e9 }'; }

sed 's/^  suite: bookworm/  suite: bookworm\n  flavour: cloud/' image-specs/debian-node.yaml > "$work/specs/bad.yaml"
sed -i "s|^name: debian-node|name: debian-node\ntemplates: $PWD/templates|" "$work/specs/bad.yaml"
t0=$(date +%s%N); ./kiln build "$work/specs/bad.yaml" >/dev/null 2>&1 || true; t1=$(date +%s%N)
echo "static mistake refused in:            $(seconds "$t0" "$t1") s (including JVM start)"

t0=$(date +%s%N); ./kiln build image-specs/debian-node.yaml > "$work/cold.log"; t1=$(date +%s%N)
echo "cold build, pxe + disk + rootfs-tar:  $(seconds "$t0" "$t1") s (target: 180 s)"
grep -E '^\[[0-9]+\] (done|FAILED)' "$work/cold.log" | sed 's/^/    /'

sed -e 's/^version: .*/version: 1.0.0-bench.2/' -e "s|^name: debian-node|name: debian-node\ntemplates: $PWD/templates|" \
    -e 's|template: debian-node/join-worker.sh|content: "#!/bin/sh\\nsystemctl start containerd.service\\n"|' \
    image-specs/debian-node.yaml > "$work/specs/changed.yaml"
t0=$(date +%s%N); ./kiln build "$work/specs/changed.yaml" > "$work/warm.log"; t1=$(date +%s%N)
echo "rebuild after changing one file:      $(seconds "$t0" "$t1") s (target: 30 s)"
grep -E '^\[[0-9]+\] (done|FAILED)' "$work/warm.log" | sed 's/^/    /'
