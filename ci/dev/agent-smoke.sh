#!/usr/bin/env bash
# Dev smoke test for the kiln node agent (templates/agent/kiln-agent, kiln-agent.service).
#
#   0. host: runs the agent against a fake image root (KILN_AGENT_ROOT) and
#      ci/dev/agent-server.py: exact rendering of values with / & \ quotes and
#      newlines, mode and owner kept, nothing rendered when a value is missing,
#      init-master waiting for peers, a failing bootstrap.  Seconds, no VM.
#   1. builds a test image from a copy of image-specs/debian-node.yaml (another
#      version, plus a kiln-smoke.service that prints the state of the units on
#      the console once the agent is done) into /var/tmp/agent-smoke/store;
#      then runs the image's etcd role scripts on the host with its own etcd
#      (init-master m1, then join-master m2 and m3 at once, on 127.0.0.11-13);
#   2. boots its PXE bundle diskless in QEMU (TCG) three times, the squashfs
#      from python3 -m http.server, metadata + status from agent-server.py:
#        m1   init-master, kiln.server= + kiln.token=, nodes="m1"   -> ready
#        w1   join-worker, metadata as EC2 user data (IMDSv2, kiln.imds=) -> ready
#        bad  metadata without etcdInitialCluster  -> failed naming the key,
#             containerd and etcd never started, /etc/default/etcd untouched.
# Slow on purpose (TCG): about a minute per boot plus the build.
#
# Environment:
#   KILN_AGENT_SMOKE_IMAGE  use this built image version directory instead of building one
#   KILN_AGENT_SMOKE_STORE  store for the test build (/var/tmp/agent-smoke/store)
#   KILN_QEMU_MEM           guest RAM in MiB (1024)
#   KILN_BOOT_TIMEOUT       seconds to wait for each boot (600)
#   KILN_KEEP=1             keep the work directory and the test image
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
AGENT="$REPO/templates/agent/kiln-agent"
SERVER_PY="$REPO/ci/dev/agent-server.py"
STORE="${KILN_AGENT_SMOKE_STORE:-/var/tmp/agent-smoke/store}"
MEM="${KILN_QEMU_MEM:-1024}"
BOOT_TIMEOUT="${KILN_BOOT_TIMEOUT:-600}"
MARKER="KILN-AGENT-SMOKE-DONE"

log() { printf '[agent-smoke %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (kiln build, chown in the host checks)"
for t in qemu-system-x86_64 jq curl awk sha256sum; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done
PYTHON="$(command -v /usr/bin/python3 || command -v python3)" || die "missing python3"

WORK=""
BUILT=""
QEMU_PID=""
HTTP_PID=""
META_PID=""

stop_pid() {
	local pid="$1"
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	[ -n "$QEMU_PID" ] && stop_pid "$QEMU_PID"
	[ -n "$HTTP_PID" ] && stop_pid "$HTTP_PID"
	[ -n "$META_PID" ] && stop_pid "$META_PID"
	if [ -n "$WORK" ]; then
		for f in "$WORK"/etcd/m*/etcd.pid; do [ -f "$f" ] && stop_pid "$(cat "$f")"; done
	fi
	if [ "${KILN_KEEP:-0}" = 1 ]; then
		[ -n "$WORK" ] && log "keeping $WORK"
		[ -n "$BUILT" ] && log "keeping the test image $BUILT"
	else
		[ -n "$WORK" ] && [ -d "$WORK" ] && rm -rf --one-file-system "$WORK"
		[ -n "$BUILT" ] && [ -d "$BUILT" ] && rm -rf --one-file-system "$BUILT"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORK="$(mktemp -d /var/tmp/agent-smoke.XXXXXX)"

# start_server NAME CMD...: runs CMD in the background, waits for its port.
# Sets SERVER_PID and SERVER_PORT.
start_server() {
	local name="$1"
	shift
	"$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	SERVER_PID=$!
	SERVER_PORT=""
	for _ in $(seq 1 50); do
		SERVER_PORT="$(sed -n -e 's/^listening on \([0-9]*\)$/\1/p' \
			-e 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p' "$WORK/$name.out" "$WORK/$name.err" 2>/dev/null | head -n 1)"
		[ -n "$SERVER_PORT" ] && return 0
		sleep 0.2
	done
	die "$name did not start: $(cat "$WORK/$name.out" "$WORK/$name.err")"
}

# ------------------------------------------------------------------------------
# 0. host checks: the agent against a fake image root
# ------------------------------------------------------------------------------
log "host checks (fake image root, no VM)"
H="$WORK/host"
R="$H/root"
mkdir -p "$R/etc/kiln" "$R/etc/default" "$R/usr/lib/kiln/bootstrap" \
	"$R/usr/lib/kiln/placeholder-files/etc/default" "$R/usr/lib/kiln/placeholder-files/usr/lib/kiln/bootstrap"
echo '{"name":"debian-node","version":"0.0.0-host","specSha256":"0","builtAt":"now","kernel":"x"}' >"$R/etc/kiln/image.json"
cat >"$R/etc/kiln/placeholders.json" <<'EOF'
{"placeholders":{"node_name":"name","weird":"weird","etcd_initial_cluster":"etcdInitialCluster"},"files":{"/etc/default/etcd":["node_name","weird","etcd_initial_cluster"],"/usr/lib/kiln/bootstrap/init-master":["node_name"]},"originals":"/usr/lib/kiln/placeholder-files"}
EOF
# No newline at the end, a token inside @...@, an unknown token.
printf 'NAME="@@node_name@@"\nW=@@weird@@|@@weird@@\nC=@@etcd_initial_cluster@@ @@other@@ @@@node_name@@@\nlast @@node_name@@' \
	>"$R/usr/lib/kiln/placeholder-files/etc/default/etcd"
printf '#!/bin/sh\necho "init for @@node_name@@ weird=[$KILN_META_weird]"\n[ -z "${FAIL_BOOTSTRAP:-}" ] || { echo boom; exit 7; }\n' \
	>"$R/usr/lib/kiln/placeholder-files/usr/lib/kiln/bootstrap/init-master"
install -m 0640 -o nobody -g nogroup "$R/usr/lib/kiln/placeholder-files/etc/default/etcd" "$R/etc/default/etcd"
install -m 0755 "$R/usr/lib/kiln/placeholder-files/usr/lib/kiln/bootstrap/init-master" "$R/usr/lib/kiln/bootstrap/init-master"
WEIRD=$'a/b&c\\d\'e"f\ng$(h)`i` %s &amp; \\1 ~\n'
jq -n --arg w "$WEIRD" '{nodes: {
	"t-ok":      {name: "m1", role: "init-master", nodes: "m1", etcdInitialCluster: "m1=http://x:2380", weird: $w, port: 2380},
	"t-missing": {name: "m1", role: "init-master", nodes: "m1", weird: $w},
	"t-wait":    {name: "m1", role: "init-master", nodes: "m1 w1 w2", waitTimeout: "6", etcdInitialCluster: "c", weird: "x"},
	"t-peerfail":{name: "m1", role: "init-master", nodes: "m1 w1", etcdInitialCluster: "c", weird: "x"}},
	peers: [{name: "w1", step: "bootstrap-started"}]}' >"$H/config.json"
start_server meta-host "$PYTHON" -u "$SERVER_PY" --config "$H/config.json" --log "$H/status.jsonl"
META_PID="$SERVER_PID"
HPORT="$SERVER_PORT"

# agent_host TOKEN [ENV...]: runs the agent on the host, output in $H/out, status in $H/rc.
agent_host() {
	local tok="$1"
	shift
	echo "quiet kiln.server=http://127.0.0.1:$HPORT kiln.token=$tok" >"$H/cmdline"
	set +e
	env KILN_AGENT_ROOT="$R" KILN_AGENT_CMDLINE="$H/cmdline" KILN_AGENT_STATE="$H/state" "$@" \
		sh "$AGENT" >"$H/out" 2>&1
	echo $? >"$H/rc"
	set -e
	sed 's/^/    | /' "$H/out" >&2
}
hexpect() { grep -q -F -- "$1" "$H/out" || die "host: agent output lacks '$1'"; }

# Missing value: nothing rendered, exit 1, the message names key, placeholder and file.
agent_host t-missing
[ "$(cat "$H/rc")" = 1 ] || die "host: missing value: exit $(cat "$H/rc"), expected 1"
hexpect 'kiln-agent: failed metadata has no "etcdInitialCluster" (placeholder @@etcd_initial_cluster@@ in /etc/default/etcd)'
cmp -s "$R/etc/default/etcd" "$R/usr/lib/kiln/placeholder-files/etc/default/etcd" || die "host: a file was rendered although a value was missing"
if grep -q 'bootstrap-started' "$H/out"; then die "host: bootstrap ran although a value was missing"; fi

# Complete metadata, twice (idempotent): exact values, mode and owner kept.
for run in 1 2; do
	agent_host t-ok
	[ "$(cat "$H/rc")" = 0 ] || die "host: complete metadata (run $run): exit $(cat "$H/rc")"
	hexpect "kiln-agent: ready init-master bootstrap done"
done
printf 'NAME="m1"\nW=%s|%s\nC=m1=http://x:2380 @@other@@ @m1@\nlast m1' "$WEIRD" "$WEIRD" >"$H/expected"
cmp "$R/etc/default/etcd" "$H/expected" || { diff <(cat -A "$H/expected") <(cat -A "$R/etc/default/etcd") >&2; die "host: /etc/default/etcd rendered wrong"; }
[ "$(stat -c '%a %U:%G' "$R/etc/default/etcd")" = "640 nobody:nogroup" ] || die "host: mode/owner not kept: $(stat -c '%a %U:%G' "$R/etc/default/etcd")"
[ "$(cat "$R/etc/hostname")" = m1 ] || die "host: /etc/hostname is not m1"
hexpect "kiln-bootstrap: init for m1 weird=[a/b&c\\d'e\"f"
[ "$(stat -c %a "$H/state/metadata.json")" = 600 ] || die "host: metadata.json is not 0600"

# init-master waits for its nodes, then fails naming those that are not ready.
agent_host t-wait
[ "$(cat "$H/rc")" = 1 ] || die "host: wait: exit $(cat "$H/rc"), expected 1"
hexpect "kiln-agent: failed waited 6s for all nodes to be ready; not ready: w1 (bootstrap-started), w2 (no report)"
jq '.peers = [{name: "w1", step: "failed"}]' "$H/config.json" >"$H/c.tmp" && mv "$H/c.tmp" "$H/config.json"
agent_host t-peerfail
hexpect "kiln-agent: failed node(s) w1 failed"

# A failing bootstrap: its exit code and last lines.
agent_host t-ok FAIL_BOOTSTRAP=1
[ "$(cat "$H/rc")" = 1 ] || die "host: failing bootstrap: exit $(cat "$H/rc"), expected 1"
hexpect "kiln-agent: failed bootstrap init-master exited with 7"
hexpect "boom"

# Every step reached the server, with the image identity.
jq -e -s 'map(select(.node == "m1")) | (map(.step) | index("ready")) != null
	and all(.[]; .image.version == "0.0.0-host" and (.kernel | length) > 0)' "$H/status.jsonl" >/dev/null ||
	die "host: status reports incomplete: $(cat "$H/status.jsonl")"
stop_pid "$META_PID"
META_PID=""
log "host checks passed"

# ------------------------------------------------------------------------------
# 1. the test image
# ------------------------------------------------------------------------------
if [ -n "${KILN_AGENT_SMOKE_IMAGE:-}" ]; then
	IMG="$KILN_AGENT_SMOKE_IMAGE"
	log "using the built image $IMG"
else
	VERSION="1.0.0-agentsmoke.$(date +%Y%m%d%H%M%S)"
	mkdir -p "$WORK/spec"
	# The smoke unit waits for the agent to finish and prints what a test needs to know.
	sed -e "s|^version: .*|version: $VERSION|" \
		-e "s|^name: debian-node\$|name: debian-node\ntemplates: $REPO/templates|" \
		-e 's|^    - containerd.service$|    - containerd.service\n    - kiln-smoke.service|' \
		"$REPO/image-specs/debian-node.yaml" >"$WORK/spec/base.yaml"
	{
		sed '/^files:$/q' "$WORK/spec/base.yaml"
		cat <<'EOF'
  - path: /usr/lib/systemd/system/kiln-smoke.service
    content: |
      [Unit]
      Description=agent smoke test: report unit states once the kiln agent is done
      After=kiln-agent.service
      [Service]
      Type=exec
      ExecStart=/usr/local/sbin/kiln-smoke
      StandardOutput=journal+console
      [Install]
      WantedBy=multi-user.target
  - path: /usr/local/sbin/kiln-smoke
    mode: "0755"
    content: |
      #!/bin/sh
      i=0
      while test "$i" -lt 600; do
        s="$(systemctl show -p SubState --value kiln-agent.service)"
        case "$s" in exited|failed|dead) break ;; esac
        sleep 1; i=$((i + 1))
      done
      echo "kiln-smoke: units agent=$(systemctl is-active kiln-agent.service) containerd=$(systemctl is-active containerd.service) etcd=$(systemctl is-active etcd.service)"
      echo "kiln-smoke: hostname=$(hostname) uptime=$(cut -d ' ' -f 1 /proc/uptime)"
      grep -E '^ETCD_(NAME|INITIAL_CLUSTER)=' /etc/default/etcd | sed 's/^/kiln-smoke: etcd.default: /'
      cat /run/kiln/etcd.env 2>/dev/null | sed 's/^/kiln-smoke: etcd.env: /'
      systemctl --failed --no-legend --plain | sed 's/^/kiln-smoke: failed unit: /'
      journalctl -b --no-pager -o cat -u containerd.service | tail -n 3 | sed 's/^/kiln-smoke: containerd journal: /'
      echo "KILN-AGENT-SMOKE-DONE"
EOF
		sed -n '/^files:$/,$p' "$WORK/spec/base.yaml" | tail -n +2
	} >"$WORK/spec/debian-node.yaml"
	log "building debian-node:$VERSION into $STORE"
	BUILT="$STORE/debian-node/$VERSION"
	t0=$(date +%s)
	# ./kiln rebuilds cli/target/kiln.jar whenever a source is newer; run a private copy so
	# that a rebuild by someone else during this build cannot pull classes from under it.
	(cd "$REPO" && ./kiln --help >/dev/null) || die "./kiln does not run"
	cp "$REPO/cli/target/kiln.jar" "$WORK/kiln.jar"
	"$PYTHON" -c 'import sys, zipfile; sys.exit(zipfile.ZipFile(sys.argv[1]).testzip() is not None)' "$WORK/kiln.jar" ||
		die "cli/target/kiln.jar is being rewritten; try again"
	(cd "$REPO" && java -jar "$WORK/kiln.jar" build --store "$STORE" "$WORK/spec/debian-node.yaml") >"$WORK/build.log" 2>&1 ||
		{ tail -n 30 "$WORK/build.log" >&2; die "kiln build failed"; }
	BUILD_SECS=$(($(date +%s) - t0))
	IMG="$BUILT"
	log "built in ${BUILD_SECS}s"
fi
for f in pxe/vmlinuz pxe/initrd.img pxe/rootfs.squashfs manifest.json; do
	[ -f "$IMG/$f" ] || die "$IMG has no $f"
done
IMG_VERSION="$(jq -r .version "$IMG/manifest.json")"
SHA="$(sha256sum "$IMG/pxe/rootfs.squashfs" | cut -d ' ' -f 1)"

# ------------------------------------------------------------------------------
# 1b. the etcd role scripts of the image, on the host with the image's own etcd:
#     init-master m1 (127.0.0.11), then join-masters m2 and m3 at the same time.
# ------------------------------------------------------------------------------
log "etcd role scripts on the host: init-master m1, then join-master m2 + m3 together"
E="$WORK/etcd"
mkdir -p "$E/bin" "$E/real"
tar -xf "$IMG/rootfs.tar" -C "$E" ./usr/bin/etcd ./usr/bin/etcdctl \
	./usr/lib/kiln/placeholder-files/usr/lib/kiln/bootstrap ./usr/lib/kiln/placeholder-files/etc/default/etcd
mv "$E/usr/bin/etcd" "$E/usr/bin/etcdctl" "$E/real/"
PF="$E/usr/lib/kiln/placeholder-files"
# Stand-ins: "systemctl start etcd.service" starts etcd as the unit would (/etc/default/etcd,
# then /run/kiln/etcd.env, ready once healthy); "etcdctl" takes 127.0.0.1 to mean this node
# (the nodes share the host's loopback, so each listens on its own address only).
cat >"$E/bin/systemctl" <<'EOF2'
#!/bin/sh
[ "$1" = start ] || exit 0
for u; do
	[ "$u" = etcd.service ] || continue
	set -a; . "$KT_DIR/etcd.default"; . /run/kiln/etcd.env; set +a
	export ETCD_DATA_DIR="$KT_DIR/data" ETCD_LISTEN_CLIENT_URLS="http://$KT_ADDR:2379"
	"$KT_REAL/etcd" >>"$KT_DIR/etcd.log" 2>&1 &
	echo $! >"$KT_DIR/etcd.pid"
	i=0
	until "$KT_REAL/etcdctl" --endpoints="http://$KT_ADDR:2379" endpoint health >/dev/null 2>&1; do
		i=$((i + 1)); [ "$i" -lt 90 ] || { echo "etcd did not become healthy" >&2; exit 1; }
		sleep 1
	done
done
EOF2
cat >"$E/bin/etcdctl" <<'EOF2'
#!/bin/sh
for a; do
	shift
	[ "$a" = --endpoints=http://127.0.0.1:2379 ] && a="--endpoints=http://$KT_ADDR:2379"
	set -- "$@" "$a"
done
exec "$KT_REAL/etcdctl" "$@"
EOF2
chmod +x "$E/bin/systemctl" "$E/bin/etcdctl"
# etcd_node NAME ADDR ROLE: renders the image's files for the node, runs its role script in a
# private /run (each node has its own /run/kiln/etcd.env).
etcd_node() {
	local n="$1" a="$2" role="$3" d="$E/$1"
	mkdir -p "$d"
	for f in etc/default/etcd:etcd.default "usr/lib/kiln/bootstrap/$role:script"; do
		sed -e "s/@@node_name@@/$n/g" -e "s/@@node_address@@/$a/g" -e "s/@@first_master@@/127.0.0.11/g" \
			-e "s/@@cluster_name@@/smoke/g" -e "s|@@etcd_initial_cluster@@|m1=http://127.0.0.11:2380|g" \
			"$PF/${f%%:*}" >"$d/${f##*:}"
	done
	chmod +x "$d/script"
	env PATH="$E/bin:$PATH" KT_DIR="$d" KT_ADDR="$a" KT_REAL="$E/real" ETCDCTL_API=3 \
		KILN_META_etcdInitialCluster="m1=http://127.0.0.11:2380,m2=http://127.0.0.12:2380,m3=http://127.0.0.13:2380" \
		timeout 180 unshare --mount --propagation private sh -c 'mount -t tmpfs kiln-test /run && exec "$@"' sh "$d/script" \
		>"$d/out" 2>&1
}
etcd_cleanup() {
	local f
	for f in "$E"/m*/etcd.pid; do [ -f "$f" ] && stop_pid "$(cat "$f")"; done
	return 0
}
if ss -ltn 2>/dev/null | grep -q -E '127\.0\.0\.1[123]:(2379|2380) |\*:(2379|2380) |0\.0\.0\.0:(2379|2380) '; then
	log "SKIP: ports 2379/2380 are in use on this host"
else
	t0=$(date +%s)
	etcd_node m1 127.0.0.11 init-master || { cat "$E/m1/out" "$E/m1/etcd.log" >&2; etcd_cleanup; die "init-master failed"; }
	etcd_node m2 127.0.0.12 join-master & p2=$!
	etcd_node m3 127.0.0.13 join-master & p3=$!
	r2=0; wait "$p2" || r2=$?
	r3=0; wait "$p3" || r3=$?
	for n in m1 m2 m3; do sed "s/^/    | $n: /" "$E/$n/out" >&2; done
	[ "$r2" = 0 ] && [ "$r3" = 0 ] || { tail -n 20 "$E/m2/etcd.log" "$E/m3/etcd.log" >&2; etcd_cleanup; die "join-master failed (m2: $r2, m3: $r3)"; }
	members="$(ETCDCTL_API=3 "$E/real/etcdctl" --endpoints=http://127.0.0.11:2379 member list)"
	sed 's/^/    | member: /' <<<"$members" >&2
	ETCDCTL_API=3 "$E/real/etcdctl" --endpoints=http://127.0.0.11:2379,http://127.0.0.12:2379,http://127.0.0.13:2379 \
		endpoint health 2>&1 | sed 's/^/    | /' >&2
	etcd_cleanup
	[ "$(grep -c ', started, m[123], ' <<<"$members")" = 3 ] || die "etcd: expected 3 started members m1 m2 m3"
	ETCD_SECS=$(($(date +%s) - t0))
	log "etcd: 3 members formed in ${ETCD_SECS}s"
fi

# ------------------------------------------------------------------------------
# 2. boots
# ------------------------------------------------------------------------------
start_server http "$PYTHON" -u -m http.server 0 --bind 127.0.0.1 --directory "$IMG/pxe"
HTTP_PID="$SERVER_PID"
HPORT="$SERVER_PORT"
ROOT_URL="http://10.0.2.2:$HPORT/rootfs.squashfs"

# The guest is 10.0.2.15 in QEMU's user network, the host 10.0.2.2.
jq -n '{
	nodes: {
		"tok-m1":  {name: "m1", domain: "smoke.test", fqdn: "m1.smoke.test", role: "init-master",
			    address: "10.0.2.15", cluster: "smoke", masterAddr: "10.0.2.15", nodes: "m1",
			    nodeAddresses: "10.0.2.15", masters: "m1", etcdInitialCluster: "m1=http://10.0.2.15:2380",
			    image: "debian-node", waitTimeout: "120"},
		"tok-w1":  {name: "w1"},
		"tok-bad": {name: "bad", role: "join-worker", address: "10.0.2.15", cluster: "smoke",
			    masterAddr: "10.0.2.15", nodes: "m1 bad"}},
	userData: {name: "w1", domain: "smoke.test", fqdn: "w1.smoke.test", role: "join-worker",
		   address: "10.0.2.15", cluster: "smoke", masterAddr: "10.0.2.16", nodes: "m1 w1",
		   etcdInitialCluster: "m1=http://10.0.2.16:2380", image: "debian-node", token: "tok-w1"}
	}' >"$WORK/meta.json"
start_server meta "$PYTHON" -u "$SERVER_PY" --config "$WORK/meta.json" --log "$WORK/status.jsonl"
META_PID="$SERVER_PID"
MPORT="$SERVER_PORT"
# user data names its server, as on EC2
jq --arg s "http://10.0.2.2:$MPORT" '.userData.server = $s' "$WORK/meta.json" >"$WORK/m.tmp" && mv "$WORK/m.tmp" "$WORK/meta.json"
log "squashfs on :$HPORT, metadata/status/IMDS on :$MPORT (guest: 10.0.2.2)"

COMMON="boot=kiln ip=dhcp panic=-1 kiln.root=$ROOT_URL kiln.root.sha256=$SHA console=ttyS0,115200n8"
MILESTONES=("kiln: root ready" "kiln-agent: booted" "kiln-agent: metadata-fetched" "kiln-agent: placeholders-rendered"
	"kiln-agent: bootstrap-started" "kiln-agent: ready" "kiln-agent: failed" "$MARKER")
declare -A SEEN
SUMMARY=""

# boot NAME APPEND: QEMU until the marker, a QEMU exit or the timeout; BOOT_RESULT, BOOT_SECS.
boot() {
	local name="$1" append="$2" out="$WORK/console-$1.log" t0 now m
	log "boot '$name': ... $(echo "$append" | grep -o 'kiln\.\(server\|token\|imds\)=[^ ]*' | tr '\n' ' ')"
	: >"$out"
	t0=$(date +%s.%N)
	qemu-system-x86_64 -machine pc,accel=tcg -m "$MEM" -no-reboot \
		-kernel "$IMG/pxe/vmlinuz" -initrd "$IMG/pxe/initrd.img" -append "$append" \
		-nic user,model=virtio-net-pci -serial "file:$out" -display none -monitor none \
		</dev/null >"$WORK/qemu-$name.log" 2>&1 &
	QEMU_PID=$!
	SEEN=()
	BOOT_RESULT=timeout
	while :; do
		now=$(date +%s.%N)
		for m in "${MILESTONES[@]}"; do
			[ -z "${SEEN[$m]:-}" ] && grep -a -q "$m" "$out" && SEEN[$m]=$(echo "$now - $t0" | bc)
		done
		if grep -a -q -E "(^|\]: )$MARKER" "$out"; then BOOT_RESULT=marker; break; fi
		if ! kill -0 "$QEMU_PID" 2>/dev/null; then BOOT_RESULT=exited; break; fi
		if [ "$(echo "$now - $t0 > $BOOT_TIMEOUT" | bc)" = 1 ]; then break; fi
		sleep 0.5
	done
	BOOT_SECS=$(echo "$(date +%s.%N) - $t0" | bc)
	stop_pid "$QEMU_PID"
	QEMU_PID=""
	log "boot '$name': $BOOT_RESULT after ${BOOT_SECS%.*}s"
	SUMMARY+="  $name:"
	for m in "${MILESTONES[@]}"; do
		if [ -n "${SEEN[$m]:-}" ]; then
			printf '    %6.1fs  %s\n' "${SEEN[$m]}" "$m" >&2
			SUMMARY+="$(printf ' %s %.0fs,' "${m#kiln-agent: }" "${SEEN[$m]}")"
		fi
	done
	SUMMARY+=$'\n'
	grep -a -E '(^|\]: )(kiln: |kiln-agent|kiln-bootstrap|kiln-smoke|kiln-image)' "$out" | tr -d '\r' | sed 's/^/    | /' >&2 || true
	[ "$BOOT_RESULT" = marker ] || { tail -n 40 "$out" | tr -d '\r' >&2; die "boot '$name': no $MARKER ($BOOT_RESULT)"; }
}
# Service output reaches the console through journald as "[  12.345] unit[pid]: LINE";
# patterns starting with "^" match LINE either at the start or after that prefix.
expect() {
	local re="$2"
	[ "${re:0:1}" = "^" ] && re="(^|\]: )${re:1}"
	grep -a -q -E -- "$re" "$WORK/console-$1.log" || die "boot '$1': console lacks /$2/"
}
reported() {  # reported NODE STEP [DETAIL-REGEX]
	jq -e -s --arg n "$1" --arg s "$2" --arg d "${3:-}" --arg v "$IMG_VERSION" \
		'any(.[]; .node == $n and .step == $s and (.detail | test($d)) and .image.version == $v and (.kernel | length) > 0)' \
		"$WORK/status.jsonl" >/dev/null || die "node $1 did not report $2 ${3:+/$3/ }to the server: $(jq -c -s --arg n "$1" 'map(select(.node == $n) | [.step, .detail])' "$WORK/status.jsonl")"
}

# (a) init-master alone: ready, etcd and containerd running.
boot m1 "$COMMON kiln.server=http://10.0.2.2:$MPORT kiln.token=tok-m1"
expect m1 '^kiln-agent: ready init-master bootstrap done in [0-9]+s; no other nodes to wait for'
expect m1 '^kiln-smoke: units agent=active containerd=active etcd=active'
expect m1 '^kiln-smoke: hostname=m1 '
expect m1 '^kiln-smoke: etcd.default: ETCD_INITIAL_CLUSTER="m1=http://10.0.2.15:2380"'
expect m1 '^kiln-bootstrap: .*is healthy'
for s in booted metadata-fetched placeholders-rendered bootstrap-started ready; do reported m1 "$s"; done

# (a) join-worker with EC2-style user data over IMDSv2: ready, containerd only.
boot w1 "$COMMON kiln.imds=http://10.0.2.2:$MPORT"
expect w1 '^kiln-agent: metadata-fetched w1, role join-worker, .* from EC2 user data \(IMDSv2'
expect w1 '^kiln-agent: ready join-worker bootstrap done'
expect w1 '^kiln-smoke: units agent=active containerd=active etcd=inactive'
expect w1 '^kiln-smoke: hostname=w1 '
for s in booted metadata-fetched placeholders-rendered bootstrap-started ready; do reported w1 "$s"; done

# (b) metadata without etcdInitialCluster: failed, nothing rendered, nothing started.
boot bad "$COMMON kiln.server=http://10.0.2.2:$MPORT kiln.token=tok-bad"
expect bad '^kiln-agent: failed metadata has no "etcdInitialCluster" \(placeholder @@etcd_initial_cluster@@ in /etc/default/etcd\)'
expect bad '^kiln-smoke: units agent=failed containerd=inactive etcd=inactive'
expect bad '^kiln-smoke: etcd.default: ETCD_NAME="@@node_name@@"'
expect bad '^kiln-smoke: failed unit: kiln-agent.service'
expect bad '^kiln-smoke: containerd journal: Dependency failed for containerd'
if grep -a -q 'kiln-agent: bootstrap-started' "$WORK/console-bad.log"; then die "boot 'bad': the bootstrap ran"; fi
reported bad failed 'metadata has no "etcdInitialCluster" \(placeholder @@etcd_initial_cluster@@ in /etc/default/etcd\)'

log "PASS"
{
	echo "  image debian-node:$IMG_VERSION${BUILD_SECS:+ (built in ${BUILD_SECS}s)}, ${MEM} MiB, TCG"
	[ -z "${ETCD_SECS:-}" ] || echo "  etcd role scripts on the host: m1 + m2 + m3 formed in ${ETCD_SECS}s"
	echo "  seconds from QEMU start:"
	printf '%s' "$SUMMARY"
} >&2
