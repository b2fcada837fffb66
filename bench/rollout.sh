#!/usr/bin/env bash
# kiln rollout's throughput, two ways:
#   bench/rollout.sh lab                     the lab vm test (3 masters + 2 workers, real QEMU nodes
#                                            behind ipmi_sim/Redfish BMCs) rolls onto the security
#                                            kernel; prints each node's replacement split into drain,
#                                            power, boot, ready (bootstrap), checks, rejoin, and nodes
#                                            per hour (slow: ~15 min under TCG)
#   bench/rollout.sh journal FILE            the same split for any rollout's journal.jsonl
#                                            (kiln serve's state/rollouts/ID/journal.jsonl)
#   bench/rollout.sh simulate [NODES] [BOOT] SIMULATION: a real kiln serve with NODES simulated
#                                            machines (BMCs and agents inside serve, --simulate-machines)
#                                            booting in BOOT seconds (defaults 1000 20) rolls at a 10 %
#                                            budget; prints nodes per hour against the ideal
#                                            (budget x 3600 / boot time) and serve's CPU and memory
#   bench/rollout.sh faults [N] [FIRST_SEED] DETERMINISTIC SIMULATION: N seeded fault schedules
#                                            (default 1000, seeds from FIRST_SEED or a random one)
#                                            against the real controller on a virtual clock; prints
#                                            scenarios/s, faults by kind, invariants checked, and a
#                                            replay line per failing seed
#   bench/rollout.sh faults --seed S         replays seed S, telling what happened (exit 1 if it
#                                            breaks an invariant); -Dkiln.sim.logs=true in
#                                            KILN_JAVA_OPTS adds the engine's log
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-simulate}
./kiln --version >/dev/null   # build the jar outside the timings
mvn -q -o -B -pl rollout -am test-compile >/dev/null 2>&1 || mvn -q -B -pl rollout -am test-compile >&2
CP="cli/target/kiln.jar:rollout/target/test-classes:fleet/target/test-classes"

case "$MODE" in
lab)
	mvn -q -B -o -pl rollout verify -Dtest=RolloutLabTest -Dsurefire.failIfNoSpecifiedTests=false >&2
	java -cp "$CP" dev.kiln.rollout.RolloutBench split rollout/target/rollout-lab-journal.jsonl
	exit 0
	;;
journal)
	java -cp "$CP" dev.kiln.rollout.RolloutBench split "${2:?journal.jsonl}"
	exit 0
	;;
faults)
	shift
	# shellcheck disable=SC2086 # KILN_JAVA_OPTS holds several JVM options: split on purpose
	exec java ${KILN_JAVA_OPTS:-} -cp "$CP" dev.kiln.rollout.RolloutFaults "$@"
	;;
simulate) ;;
*)
	echo "usage: bench/rollout.sh lab | journal FILE | simulate [NODES] [BOOT_SECONDS] | faults [N] [SEED] | faults --seed S" >&2
	exit 2
	;;
esac

NODES=${2:-1000} BOOT=${3:-20}
work=$(mktemp -d /var/tmp/kiln-bench-rollout.XXXXXX)
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

echo "SIMULATION: $NODES simulated machines (3 masters), ${BOOT} s boots; nothing real is powered"
java -cp "$CP" dev.kiln.rollout.SimFleet prepare "$work" 3 $((NODES - 3))
# shellcheck disable=SC2086 # KILN_JAVA_OPTS holds several JVM options: split on purpose
java ${KILN_JAVA_OPTS:-} -jar cli/target/kiln.jar serve --inventory "$work/inventory.yaml" --store "$work/store" \
	--state "$work/state" --listen 127.0.0.1:0 --simulate-machines "$BOOT" >"$work/serve.out" 2>"$work/serve.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/^kiln serve: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/serve.out" 2>/dev/null || true)
	[ -n "$PORT" ] && URL="http://127.0.0.1:$PORT" && break
	sleep 0.2
done
[ -n "$URL" ] || { echo "kiln serve did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }
export KILN_SERVER="$URL"
KILN_TOKEN=$(cat "$work/state/operator-token")
export KILN_TOKEN

kiln() { java -jar cli/target/kiln.jar "$@"; }
echo "waiting for the simulated fleet to boot..."
for _ in $(seq 1 600); do
	kiln rollout plan --cluster sim --to sim-node:1.1.0 --max-unavailable 10% --allow-unvalidated \
		-o "$work/plan.json" >"$work/plan.out" 2>&1 && break
	sleep 1
done
grep -E '^(estimate|BLOCKED)' "$work/plan.out" || true

cpu() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
HZ=$(getconf CLK_TCK)
cpu0=$(cpu)
t0=$(date +%s.%N)
kiln rollout apply "$work/plan.json" --watch >"$work/watch.out"
t1=$(date +%s.%N)
cpu1=$(cpu)
rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
tail -n 1 "$work/watch.out"

# Status at scale: what a poll of GET /rollouts/ID costs once every node's events are journaled
# (target: p99 <= 50 ms at 1,000 nodes), 200 polls through curl on loopback.
ID=$(sed -n 's/^rollout \([^ ]*\) done$/\1/p' "$work/watch.out" | tail -n 1)
if [ -n "$ID" ]; then
	for _ in $(seq 1 200); do
		curl -s -o /dev/null -w '%{time_total} %{size_download}\n' -H "Authorization: Bearer $KILN_TOKEN" "$URL/rollouts/$ID"
	done | sort -n | awk '{ t[NR] = $1; b = $2 } END {
		printf "SIMULATION: GET /rollouts/ID (%d polls): p50 %.1f ms, p99 %.1f ms, %.0f KB per answer (target: p99 50 ms)\n",
			NR, 1000 * t[int(NR * 0.5)], 1000 * t[int(NR * 0.99)], b / 1024 }'
fi
# The plan's estimate against what the rollout took (target: within 30 %).
estimate=$(sed -n 's/^estimate: //p' "$work/plan.out" | head -n 1)

budget=$(( NODES / 10 ))
awk -v n="$NODES" -v t0="$t0" -v t1="$t1" -v boot="$BOOT" -v budget="$budget" \
	-v c0="$cpu0" -v c1="$cpu1" -v hz="$HZ" -v rss="$rss" 'BEGIN {
	secs = t1 - t0
	printf "SIMULATION: %d nodes replaced in %.0f s at a 10%% budget (%d): %.0f nodes per hour\n", n, secs, budget, n * 3600 / secs
	printf "SIMULATION: ideal budget x 3600 / boot time = %d x 3600 / %d = %.0f nodes per hour (%.0f%% of it)\n", budget, boot, budget * 3600 / boot, 100 * (n * 3600 / secs) / (budget * 3600 / boot)
	printf "SIMULATION: kiln serve used %.1f s of CPU (%.1f%% of one core), peak RSS %.0f MiB\n", (c1 - c0) / hz, 100 * (c1 - c0) / hz / secs, rss / 1024
}'
echo "SIMULATION: the plan estimated ${estimate:-?}; the rollout took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f s", b - a }') (target: within 30 %)"
