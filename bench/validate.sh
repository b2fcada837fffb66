#!/usr/bin/env bash
# Wall time of `kiln validate` for a 1 master + 2 worker debian-node cluster, end to end (network,
# kiln serve, boot, metadata, bootstrap, etcd, checks, report, teardown), per provider:
#   qemu-pxe   target 75 s on a 2-core machine without KVM
#   container  target 30 s
#   qemu-disk  (no target: disk.raw under UEFI, metadata as EC2 user data)
# The image is built first if the store lacks it (not timed). Prints each run's summary table
# and a line per provider with the wall time. Needs root (network namespaces), dockerd, dnsmasq.
# Usage: bench/validate.sh [STORE] [PROVIDERS...]   (defaults: ~/.local/share/kiln/images, all three)
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${1:-${KILN_STORE:-$HOME/.local/share/kiln/images}}
shift || true
PROVIDERS=("$@")
[ ${#PROVIDERS[@]} -gt 0 ] || PROVIDERS=(container qemu-pxe qemu-disk)
spec=image-specs/debian-node.yaml
ref="$(sed -n 's/^name: //p' "$spec"):$(sed -n 's/^version: //p' "$spec")"
./kiln --version >/dev/null   # build the jar outside the timings
ci/start-dockerd.sh >/dev/null
[ -f "$STORE/${ref%%:*}/${ref#*:}/manifest.json" ] || ./kiln build --store "$STORE" "$spec"

reports=$(mktemp -d /var/tmp/kiln-bench-validate.XXXXXX)
trap 'rm -rf "$reports"' EXIT
results=()
for p in "${PROVIDERS[@]}"; do
	echo "== kiln validate --provider $p $ref"
	start=$(date +%s.%N)
	rc=0
	./kiln validate --store "$STORE" --provider "$p" --masters 1 --workers 2 --report "$reports/$p" "$ref" || rc=$?
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
	results+=("$(printf '%-10s %6.1f s  exit %d' "$p" "$secs" "$rc")")
done
echo
echo "provider   wall time (1 master + 2 workers, including JVM start and teardown)"
printf '%s\n' "${results[@]}"
