#!/usr/bin/env bash
# Prints build timings for image-specs/debian-node.yaml on this machine:
#   1. a static spec mistake: time until kiln refuses it (JVM start included)
#   2. a cold build to all three outputs (empty cache, empty store)
#   3. a rebuild after changing only one file (cached package layer)
#   4. what reproducibility costs: the mtime clamp step and the ext4 inode-time pass
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
echo "cold build, pxe + disk + rootfs-tar:  $(seconds "$t0" "$t1") s (target: 45 s)"
grep -E '^\[[0-9]+\] (done|FAILED)' "$work/cold.log" | sed 's/^/    /'

sed -e 's/^version: .*/version: 1.0.0-bench.2/' -e "s|^name: debian-node|name: debian-node\ntemplates: $PWD/templates|" \
    -e 's|template: debian-node/join-worker.sh|content: "#!/bin/sh\\nsystemctl start containerd.service\\n"|' \
    image-specs/debian-node.yaml > "$work/specs/changed.yaml"
t0=$(date +%s%N); ./kiln build "$work/specs/changed.yaml" > "$work/warm.log"; t1=$(date +%s%N)
echo "rebuild after changing one file:      $(seconds "$t0" "$t1") s (target: 10 s)"
grep -E '^\[[0-9]+\] (done|FAILED)' "$work/warm.log" | sed 's/^/    /'

# What reproducibility costs. Most of it is free (fixed ids and times are just options to the same
# tools); two passes are extra work: clamping the root's mtimes (its own build step) and resetting
# ctime/atime of every ext4 inode with debugfs (mke2fs 1.47.0 copies them from the host), timed
# here on the cold build's root, the way DiskImageWriter does it.
echo "reproducibility (SOURCE_DATE_EPOCH, clamped times, derived ids):"
grep -E '^\[[0-9]+\] done +clamp file times' "$work/cold.log" | sed 's/^\[[0-9]*\] done */    /'
# The one version the cold build made (a glob sorts; the store holds nothing else).
for dir in "$KILN_STORE"/debian-node/*/; do break; done
mkdir "$work/root"
tar --extract --file="$dir/rootfs.tar" --directory="$work/root" --numeric-owner --same-owner --xattrs --xattrs-include='*'
truncate -s 4G "$work/root.ext4"
t0=$(date +%s%N); mkfs.ext4 -q -F -E nodiscard -d "$work/root" "$work/root.ext4"; t1=$(date +%s%N)
(cd "$work/root" && find . | sed -e 's|^\.||' -e 's|^$|/|' -e 's|"|""|g' \
    -e 's|.*|sif "&" ctime @1700000000\nsif "&" atime @1700000000|') > "$work/debugfs.txt"
t2=$(date +%s%N); debugfs -w -f "$work/debugfs.txt" "$work/root.ext4" >/dev/null 2>&1; t3=$(date +%s%N)
echo "    ext4 inode times pass (debugfs):   $(seconds "$t2" "$t3") s for $(($(wc -l < "$work/debugfs.txt") / 2)) inodes" \
     "(mkfs.ext4 -d itself: $(seconds "$t0" "$t1") s)"
