#!/usr/bin/env bash
# Prints kiln publish figures against the AWS emulator (moto in the local image kiln-moto:1):
#   1. the EBS snapshot of disk.raw (--ami): bytes sent against the disk's size (what skipping
#      all-zero 512 KiB blocks saves), and throughput with 1 block worker and with N
#   2. the S3 upload of the whole version (--s3): throughput with 1 worker and with N
# Throughput is the upload step's own duration (kiln's step line), JVM start not included. moto
# is one Python process on this machine: the figures compare kiln's settings with each other,
# they do not predict AWS (where per-request latency, not the emulator, limits one worker).
# Usage: bench/publish.sh [NAME:VERSION]
#   The version comes from $KILN_STORE (default ~/.local/share/kiln/images): the one named, else
#   the newest with a disk; without one, a synthetic version (2 GiB sparse disk, ~25% data) is made.
#   KILN_BENCH_WORKERS=N (default 8).  Needs dockerd (ci/start-dockerd.sh) and ci/moto-image.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
workers=${KILN_BENCH_WORKERS:-8}
store=${KILN_STORE:-${XDG_DATA_HOME:-$HOME/.local/share}/kiln/images}
./kiln --version >/dev/null   # build the jar outside the timings
docker image inspect kiln-moto:1 >/dev/null 2>&1 || { echo "no kiln-moto:1 image: run ci/moto-image.sh" >&2; exit 1; }

work=$(mktemp -d /var/tmp/kiln-bench-publish.XXXXXX)
name=kiln-bench-moto-$$
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
# A private copy of the jar: the runs below must not rebuild it when sources change meanwhile.
cp cli/target/kiln.jar "$work/kiln.jar"
# shellcheck disable=SC2086 # KILN_JAVA_OPTS holds several options
kiln() { java ${KILN_JAVA_OPTS:-} -jar "$work/kiln.jar" "$@"; }

ref=${1:-}
if [ -z "$ref" ] && [ -d "$store" ]; then
    ref=$(python3 - "$store" <<'PY'
import json, os, sys
root = sys.argv[1]; best = None
for n in sorted(os.listdir(root)):
    if n.startswith('.') or not os.path.isdir(os.path.join(root, n)): continue
    for v in os.listdir(os.path.join(root, n)):
        d = os.path.join(root, n, v)
        if os.path.isfile(os.path.join(d, 'manifest.json')) and os.path.isfile(os.path.join(d, 'disk', 'disk.raw')):
            built = json.load(open(os.path.join(d, 'manifest.json'))).get('builtAt', '')
            if best is None or built > best[0]: best = (built, n + ':' + v)
print(best[1] if best else '')
PY
)
fi
mkdir -p "$work/store"
if [ -n "$ref" ]; then
    src="$store/${ref%%:*}/${ref#*:}"
    [ -f "$src/manifest.json" ] || { echo "no $ref in $store" >&2; exit 1; }
    mkdir -p "$work/store/${ref%%:*}"
    # Hard links: nothing is copied, and published.json is written only into this copy.
    cp -al "$src" "$work/store/${ref%%:*}/" 2>/dev/null || cp -a --sparse=always "$src" "$work/store/${ref%%:*}/"
    rm -f "$work/store/${ref%%:*}/${ref#*:}/published.json"
else
    ref=bench-node:1.0.0
    echo "no built image with a disk in $store: making a synthetic $ref (2 GiB sparse disk.raw)"
    python3 - "$work/store/bench-node/1.0.0" <<'PY'
import hashlib, json, os, random, sys
d = sys.argv[1]; os.makedirs(d + '/disk'); os.makedirs(d + '/pxe')
rnd = random.Random(1)
arts = {}
def put(rel, data):
    with open(os.path.join(d, rel), 'wb') as f: f.write(data)
put('pxe/vmlinuz', os.urandom(12 << 20)); put('pxe/initrd.img', os.urandom(14 << 20))
put('pxe/rootfs.squashfs', os.urandom(128 << 20)); put('pxe/boot.ipxe', b'#!ipxe\n')
with open(d + '/disk/disk.raw', 'wb') as f:   # like a fresh ext4 image: data in extents, holes between
    f.truncate(2 << 30)
    for _ in range(260):
        f.seek(rnd.randrange(0, (2 << 30) - (4 << 20)) & ~4095); f.write(os.urandom(rnd.randrange(4096, 4 << 20)))
for root, _, files in os.walk(d):
    for n in files:
        p = os.path.join(root, n); h = hashlib.sha256()
        with open(p, 'rb') as f:
            for b in iter(lambda: f.read(1 << 20), b''): h.update(b)
        arts[os.path.relpath(p, d)] = {'sha256': h.hexdigest(), 'size': os.path.getsize(p)}
json.dump({'schema': 1, 'name': 'bench-node', 'version': '1.0.0', 'specSha256': '0' * 64,
           'builtAt': '2026-01-01T00:00:00Z', 'kernel': {'packageName': 'linux-image-bench', 'version': '1',
           'release': '6.1.0-bench', 'cmdline': ''}, 'components': {}, 'outputs': ['pxe', 'disk'],
           'artifacts': arts}, open(d + '/manifest.json', 'w'), indent=2)
PY
fi
vdir="$work/store/${ref%%:*}/${ref#*:}"
disk="$vdir/disk/disk.raw"

docker run -d --rm --name "$name" --label kiln.test=1 --label kiln.test.pid=$$ -p 127.0.0.1::5000 kiln-moto:1 >/dev/null
port=$(docker port "$name" 5000/tcp | head -n 1 | sed 's/.*://')
endpoint="http://127.0.0.1:$port"
until curl -fs "$endpoint/moto-api/" >/dev/null; do sleep 0.5; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 KILN_STORE="$work/store"
reset() { curl -fs -X POST "$endpoint/moto-api/reset" >/dev/null; }
step_seconds() { grep -E "^\[[0-9]+\] done +$1" "$2" | sed -E 's/.*\(([0-9.]+)s\)$/\1/' | tail -n 1; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1048576 / s; else print "-" }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

disk_bytes=$(stat -c %s "$disk")
allocated=$(( $(stat -c %b "$disk") * $(stat -c %B "$disk") ))
echo "image $ref: disk.raw $(mib "$disk_bytes") MiB ($(mib "$allocated") MiB allocated on disk); moto at $endpoint"
echo
echo "EBS snapshot through the EBS direct APIs (--ami):"
for w in 1 "$workers"; do
    reset
    kiln publish "$ref" --ami --block-workers "$w" --ssm-parameter '' --endpoint-url "$endpoint" > "$work/ami-$w.log"
    secs=$(step_seconds "write disk.raw" "$work/ami-$w.log")
    blocks=$(sed -nE 's/^snapshot [^ ]+: ([0-9]+) blocks of 512 KiB written.*/\1/p' "$work/ami-$w.log")
    sent=$((blocks * 524288))
    printf '  %2d block worker(s): %6.1f s, %7s MiB/s sent\n' "$w" "$secs" "$(rate "$sent" "$secs")"
done
total_blocks=$(( (disk_bytes + 524287) / 524288 ))
printf '  blocks written: %d of %d (%s MiB sent for a %s MiB disk: %s%% of it; %s MiB of zero blocks skipped)\n' \
    "$blocks" "$total_blocks" "$(mib "$sent")" "$(mib "$disk_bytes")" \
    "$(awk -v a="$sent" -v b="$disk_bytes" 'BEGIN { printf "%.1f", 100 * a / b }')" "$(mib $((disk_bytes - sent)))"

echo
echo "S3 (--s3: every artifact, multipart in 16 MiB parts above 64 MiB, manifest last):"
total=$(python3 -c "import json,sys,os; m=json.load(open(sys.argv[1]+'/manifest.json')); print(sum(a['size'] for a in m['artifacts'].values()) + os.path.getsize(sys.argv[1]+'/manifest.json') + (os.path.getsize(sys.argv[1]+'/sbom.cdx.json') if os.path.exists(sys.argv[1]+'/sbom.cdx.json') else 0))" "$vdir")
for w in 1 "$workers"; do
    reset
    curl -fs -X PUT "$endpoint/kiln-bench" >/dev/null
    kiln publish "$ref" --s3 s3://kiln-bench/images --workers "$w" --endpoint-url "$endpoint" > "$work/s3-$w.log"
    secs=$(step_seconds "upload" "$work/s3-$w.log")
    printf '  %2d worker(s): %6.1f s for %s MiB, %7s MiB/s\n' "$w" "$secs" "$(mib "$total")" "$(rate "$total" "$secs")"
done
