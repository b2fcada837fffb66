#!/usr/bin/env bash
# Load on kiln serve, on this machine, over loopback only:
#   1. 200 nodes fetch their boot script (for their token)
#   2. 200 concurrent metadata fetches, 200 concurrent status reports (twice: cold JVM, then warm)
#   3. 20 concurrent full downloads of a 120 MiB rootfs.squashfs, with the JDK client and, when
#      installed, with curl (the JDK client saturates first; curl shows what the server can send)
# prints count, errors, p50/p99 latency and the aggregate download rate. The server is the real
# CLI (./kiln serve) in its own JVM; the load generator is ServeBench from fleet's test classes.
# Client and server share this machine's cores, so the figures are a floor, not a ceiling.
# Usage: bench/serve.sh [NODES] [DOWNLOADS] [ROOTFS_MIB]   (defaults: 200 20 120)
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-200} DOWNLOADS=${2:-20} ROOTFS_MIB=${3:-120}
./kiln --version >/dev/null   # build the jar outside the timings
mvn -q -o -B -pl fleet -am test-compile >/dev/null 2>&1 || mvn -q -B -pl fleet -am test-compile >&2
CP="cli/target/kiln.jar:fleet/target/test-classes"

work=$(mktemp -d /var/tmp/kiln-bench-serve.XXXXXX)
SERVER_PID=""
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

java -cp "$CP" dev.kiln.fleet.ServeBench prepare "$work" "$NODES" "$ROOTFS_MIB"
# Port 0: the kernel picks a free port; kiln serve prints the one it got.
# shellcheck disable=SC2086 # KILN_JAVA_OPTS holds several JVM options: split on purpose
java ${KILN_JAVA_OPTS:-} -jar cli/target/kiln.jar serve --inventory "$work/inventory.yaml" --store "$work/store" \
	--state "$work/state" --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.log" &
SERVER_PID=$!
PORT=""
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/^kiln serve: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/serve.out" 2>/dev/null || true)
	[ -n "$PORT" ] && break
	kill -0 "$SERVER_PID" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
	sleep 0.1
done
[ -n "$PORT" ] || { echo "kiln serve did not start; its log:" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "kiln serve on 127.0.0.1:$PORT: $NODES nodes, rootfs.squashfs $ROOTFS_MIB MiB, $(nproc) cores shared with the client"
java -cp "$CP" dev.kiln.fleet.ServeBench load "http://127.0.0.1:$PORT" "$NODES" "$DOWNLOADS"
# The JDK's HttpClient tops out below what the server sends; curl (when installed) shows the server's rate.
if command -v curl >/dev/null; then
	url="http://127.0.0.1:$PORT/images/bench-node/1.0.0/pxe/rootfs.squashfs"
	want=$(stat -c %s "$work/store/bench-node/1.0.0/pxe/rootfs.squashfs")
	t0=$(date +%s%N)
	pids=()
	for i in $(seq 1 "$DOWNLOADS"); do
		curl -sS -o /dev/null -w '%{http_code} %{size_download}\n' "$url" >"$work/curl.$i" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"   # not a bare wait: that would wait for the server too
	t1=$(date +%s%N)
	cat "$work"/curl.* | awk -v want="$want" -v n="$DOWNLOADS" -v s="$t0" -v e="$t1" '
		$1 == 200 && $2 == want { ok++; bytes += $2 }
		END { secs = (e - s) / 1e9; mib = bytes / 1048576
		      printf "%-36s %4d downloads, %3d errors, %.0f MiB in %.2f s = %.0f MiB/s aggregate (%.0f MiB/s each)\n",
		             "rootfs.squashfs with curl", n, n - ok, mib, secs, mib / secs, mib / secs / (ok ? ok : 1) }'
fi
echo "server log: $(wc -l <"$work/serve.log") lines, $(grep -c '\[ERROR\]' "$work/serve.log" || true) errors"
