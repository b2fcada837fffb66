#!/usr/bin/env bash
# Dev smoke test for kiln's PXE/netroot initramfs (templates/initramfs/).
#
# Takes the mmdebstrap'ed base rootfs tarball, installs the kiln initramfs
# hook + boot script, regenerates the initramfs inside it, squashes the
# rootfs, serves it with a real HTTP server and boots it diskless in QEMU:
#   1. with the right sha256: expects the KILN-NETROOT-OK marker that a
#      systemd unit in the image prints once multi-user.target is reached;
#   2. with a wrong sha256: expects the initramfs to refuse to boot;
#   3. failure paths that must end in a clear message + panic, not a hang:
#      no kiln.root=, HTTP 404 (with retry), a server that never answers.
# panic=-1 on the kernel command line plus QEMU's -no-reboot turn an
# initramfs panic into a QEMU exit, so failures do not wait for a timeout.
# Slow on purpose (TCG).  Needs root (chroot, tar --numeric-owner), qemu,
# squashfs-tools and python3.
#
# Environment:
#   KILN_BASE_TAR      base rootfs tarball (/var/tmp/kiln-dev/base-rootfs.tar)
#   KILN_QEMU_ACCEL    QEMU accelerator (tcg; "kvm" where KVM really works)
#   KILN_QEMU_MEM      guest RAM in MiB (1536)
#   KILN_BOOT_TIMEOUT  seconds to wait for each boot (900)
#   KILN_KEEP=1        keep the work directory for inspection
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TEMPLATES="$REPO/templates/initramfs"
BASE_TAR="${KILN_BASE_TAR:-/var/tmp/kiln-dev/base-rootfs.tar}"
BASE_LOG="$(dirname "$BASE_TAR")/mmdebstrap.log"
ACCEL="${KILN_QEMU_ACCEL:-tcg}"
MEM="${KILN_QEMU_MEM:-1536}"
BOOT_TIMEOUT="${KILN_BOOT_TIMEOUT:-900}"
MARKER="KILN-NETROOT-OK"

log() { printf '[netroot-smoke %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (chroot, tar --numeric-owner)"
for t in qemu-system-x86_64 mksquashfs sha256sum tar chroot; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done
# Prefer the distribution python: a pyenv shim is a wrapper script.
PYTHON="$(command -v /usr/bin/python3 || command -v python3)" || die "missing python3"

WORK=""
HTTP_PID=""
STALL_PID=""
QEMU_PID=""

# stop_pid PID: TERM, then KILL if it is still there after 5s.  (A TERM
# that lands between fork and exec of a background job can get lost.)
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
	[ -n "$STALL_PID" ] && stop_pid "$STALL_PID"
	if [ -n "$WORK" ] && [ -d "$WORK" ]; then
		# Never rm -rf through a leftover mount into the host.
		if findmnt -rno TARGET | grep -q "^$WORK/"; then
			log "something is still mounted under $WORK, not removing it"
		elif [ "${KILN_KEEP:-0}" = 1 ]; then
			log "keeping $WORK"
		else
			rm -rf --one-file-system "$WORK"
		fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- base rootfs --------------------------------------------------------
if [ -f "$BASE_LOG" ]; then
	for _ in $(seq 1 180); do
		[ "$(tail -n 1 "$BASE_LOG")" = "done" ] && break
		log "waiting for mmdebstrap to finish ($BASE_LOG)"
		sleep 10
	done
	[ "$(tail -n 1 "$BASE_LOG")" = "done" ] || die "base rootfs not ready"
fi
[ -f "$BASE_TAR" ] || die "no base rootfs tarball at $BASE_TAR"

WORK="$(mktemp -d /var/tmp/kiln-netroot-smoke.XXXXXX)"
ROOT="$WORK/rootfs"
SRV="$WORK/srv"
mkdir -p "$ROOT" "$SRV"

log "extracting $BASE_TAR"
tar -xpf "$BASE_TAR" --numeric-owner -C "$ROOT"

# --- install what kiln installs -----------------------------------------
install -D -m 0755 "$TEMPLATES/scripts/kiln" "$ROOT/etc/initramfs-tools/scripts/kiln"
install -D -m 0755 "$TEMPLATES/hooks/kiln" "$ROOT/etc/initramfs-tools/hooks/kiln"

# Marker: printed on the console once multi-user.target is up, after some
# evidence that the kiln mounts survived switch_root.
install -D -m 0755 /dev/stdin "$ROOT/usr/local/sbin/kiln-smoke-marker" <<'EOF'
#!/bin/sh
{
	echo "kiln-smoke: / is $(findmnt -no FSTYPE,SOURCE /)"
	sed 's/^/kiln-smoke: netroot: /' /run/kiln/netroot
	sed 's/^/kiln-smoke: boot.log: /' /run/kiln/boot.log
	findmnt -rno TARGET,FSTYPE,SOURCE | grep '^/run/kiln/' | sed 's/^/kiln-smoke: mount: /'
	df -m /run/kiln/image /run/kiln/rw | sed 's/^/kiln-smoke: df: /'
	ls -ld /run/kiln/image /run/kiln/image/* | sed 's/^/kiln-smoke: image: /'
	systemctl --failed --no-legend --plain | sed 's/^/kiln-smoke: failed unit: /'
	echo "KILN-NETROOT-OK kernel=$(uname -r) uptime=$(cut -d ' ' -f 1 /proc/uptime)s"
} >/dev/console 2>&1
EOF
cat >"$ROOT/etc/systemd/system/kiln-smoke-marker.service" <<'EOF'
[Unit]
Description=kiln netroot smoke test marker
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/kiln-smoke-marker

[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
ln -sf ../kiln-smoke-marker.service "$ROOT/etc/systemd/system/multi-user.target.wants/"

# --- initramfs ----------------------------------------------------------
# mkinitramfs needs neither /proc nor /sys nor /dev here (MODULES=most).
log "regenerating the initramfs inside the rootfs"
chroot "$ROOT" update-initramfs -u -k all

KVER="$(find "$ROOT/lib/modules" -mindepth 1 -maxdepth 1 -printf "%f\n" | sort | tail -n 1)"
cp "$ROOT/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
cp "$ROOT/boot/initrd.img-$KVER" "$WORK/initrd.img"
chroot "$ROOT" lsinitramfs "/boot/initrd.img-$KVER" >"$WORK/initrd.list"
for f in scripts/kiln squashfs.ko overlay.ko loop.ko bin/wget bin/sha256sum bin/ipconfig; do
	grep -q "$f\$" "$WORK/initrd.list" || die "initramfs lacks $f"
done
mkdir "$WORK/initrd-x"
chroot "$ROOT" unmkinitramfs "/boot/initrd.img-$KVER" /tmp/initrd-x
INITRD_SIZE="$(stat -c %s "$WORK/initrd.img")"
INITRD_UNPACKED="$(du -sb "$ROOT/tmp/initrd-x" | cut -f 1)"
rm -rf "$ROOT/tmp/initrd-x"

# --- squashfs + HTTP ----------------------------------------------------
log "mksquashfs (zstd)"
mksquashfs "$ROOT" "$SRV/rootfs.squashfs" -comp zstd -noappend -quiet \
	-wildcards -e 'boot/*' 'tmp/*' 'var/cache/apt/*' >/dev/null
SQ_SIZE="$(stat -c %s "$SRV/rootfs.squashfs")"
SHA="$(sha256sum "$SRV/rootfs.squashfs" | cut -d ' ' -f 1)"
# Same length, last hex digit changed.
case "${SHA: -1}" in 0) BAD_SHA="${SHA%?}1" ;; *) BAD_SHA="${SHA%?}0" ;; esac

"$PYTHON" -u -m http.server 0 --bind 127.0.0.1 --directory "$SRV" >"$WORK/http.log" 2>&1 &
HTTP_PID=$!
PORT=""
for _ in $(seq 1 50); do
	PORT="$(sed -n 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p' "$WORK/http.log" 2>/dev/null || true)"
	[ -n "$PORT" ] && break
	sleep 0.2
done
[ -n "$PORT" ] || die "http.server did not start: $(cat "$WORK/http.log")"
log "serving $SRV on 127.0.0.1:$PORT (guest: 10.0.2.2:$PORT)"
URL="http://10.0.2.2:$PORT/rootfs.squashfs"

# A TCP server that accepts connections and never answers, for the stall case.
"$PYTHON" -u -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1])
held = []
while True:
    held.append(s.accept()[0])
' >"$WORK/stall.port" 2>"$WORK/stall.log" &
STALL_PID=$!
STALL_PORT=""
for _ in $(seq 1 50); do
	STALL_PORT="$(head -n 1 "$WORK/stall.port" 2>/dev/null || true)"
	[ -n "$STALL_PORT" ] && break
	sleep 0.2
done
[ -n "$STALL_PORT" ] || die "stall server did not start"

# --- boots ---------------------------------------------------------------
# boot NAME APPEND: runs QEMU until the marker shows up, QEMU exits (panic=-1
# plus -no-reboot turns an initramfs panic into a QEMU exit) or the timeout.
# Sets BOOT_RESULT (marker|exited|timeout) and BOOT_SECS.
declare -A SEEN
boot() {
	local name="$1" append="$2" out="$WORK/console-$1.log" t0 now
	log "boot '$name': $append"
	: >"$out"
	t0=$(date +%s.%N)
	qemu-system-x86_64 -accel "$ACCEL" -m "$MEM" -nographic -no-reboot \
		-kernel "$WORK/vmlinuz" -initrd "$WORK/initrd.img" -append "$append" \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
		</dev/null >"$out" 2>&1 &
	QEMU_PID=$!
	SEEN=()
	BOOT_RESULT=timeout
	while :; do
		now=$(date +%s.%N)
		for m in "kiln: netroot boot" "kiln: network" "kiln: fetching" "kiln: fetched" \
			 "kiln: sha256 ok" "kiln: sha256 MISMATCH" "kiln: root ready" \
			 "Reached target.*Multi-User" "$MARKER"; do
			[ -z "${SEEN[$m]:-}" ] && grep -q "$m" "$out" && \
				SEEN[$m]=$(echo "$now - $t0" | bc)
		done
		if grep -q "^$MARKER" "$out"; then BOOT_RESULT=marker; break; fi
		if ! kill -0 "$QEMU_PID" 2>/dev/null; then BOOT_RESULT=exited; break; fi
		if [ "$(echo "$now - $t0 > $BOOT_TIMEOUT" | bc)" = 1 ]; then break; fi
		sleep 0.5
	done
	BOOT_SECS=$(echo "$(date +%s.%N) - $t0" | bc)
	stop_pid "$QEMU_PID"
	QEMU_PID=""
	log "boot '$name': $BOOT_RESULT after ${BOOT_SECS%.*}s"
	for m in "kiln: netroot boot" "kiln: network" "kiln: fetching" "kiln: fetched" \
		 "kiln: sha256 ok" "kiln: sha256 MISMATCH" "kiln: root ready" \
		 "Reached target.*Multi-User" "$MARKER"; do
		[ -n "${SEEN[$m]:-}" ] && printf '    %6.1fs  %s\n' "${SEEN[$m]}" "$m" >&2
	done
	grep -a -E '^(kiln|kiln-smoke|KILN)' "$out" | tr -d '\r' | sed 's/^/    | /' >&2 || true
}

COMMON="boot=kiln ip=dhcp console=ttyS0 panic=-1"

# expect NAME REGEX: the console log of boot NAME must match REGEX.
expect() {
	grep -a -q -E "$2" "$WORK/console-$1.log" || die "boot '$1': console lacks /$2/"
}
# refused NAME: the boot ended in a panic (QEMU exit), never in the system.
refused() {
	[ "$BOOT_RESULT" = exited ] || die "boot '$1': expected a panic (QEMU exit), got $BOOT_RESULT"
	if grep -a -q "^$MARKER" "$WORK/console-$1.log"; then die "boot '$1': booted anyway"; fi
}

boot good "$COMMON kiln.root=$URL kiln.root.sha256=$SHA"
GOOD_SECS="$BOOT_SECS"
[ "$BOOT_RESULT" = marker ] || { tail -n 40 "$WORK/console-good.log" >&2; die "good boot: no $MARKER ($BOOT_RESULT)"; }
expect good "kiln: sha256 ok"
expect good "^kiln-smoke: / is overlay"
expect good "^kiln-smoke: netroot: KILN_ROOT_URL=$URL"
expect good "^kiln-smoke: mount: /run/kiln/image tmpfs"
expect good "^kiln-smoke: mount: /run/kiln/lower squashfs /dev/loop"
expect good "^kiln-smoke: mount: /run/kiln/rw tmpfs"

boot badsha "$COMMON kiln.root=$URL kiln.root.sha256=$BAD_SHA kiln.retries=2"
BAD_SECS="$BOOT_SECS"
refused badsha
expect badsha "kiln: sha256 MISMATCH"
expect badsha "kiln: attempt 1 failed, retrying"
expect badsha "kiln: refusing to boot"

boot noroot "$COMMON"
refused noroot
expect noroot "kiln: no kiln.root=URL"

boot notfound "$COMMON kiln.root=http://10.0.2.2:$PORT/missing.squashfs kiln.retries=2"
refused notfound
expect notfound "kiln: download of .* failed: .*404"
expect notfound "kiln: refusing to boot"

boot stall "$COMMON kiln.root=http://10.0.2.2:$STALL_PORT/rootfs.squashfs kiln.retries=1 kiln.timeout=5"
refused stall
expect stall "kiln: no progress for 5s"
expect stall "kiln: refusing to boot"

GETS="$(grep -c '"GET /rootfs.squashfs' "$WORK/http.log" || true)"
mib() { echo $(( ($1 + 1048575) / 1048576 )); }
log "PASS"
cat >&2 <<EOF
  kernel            $KVER (accel=$ACCEL, ${MEM} MiB)
  initrd.img        $(mib "$INITRD_SIZE") MiB compressed ($INITRD_SIZE bytes), $(mib "$INITRD_UNPACKED") MiB unpacked
  rootfs.squashfs   $(mib "$SQ_SIZE") MiB (zstd), sha256 $SHA
  good boot         ${GOOD_SECS%.*}s from QEMU start to $MARKER
  wrong sha256      refused, QEMU exited after ${BAD_SECS%.*}s
  HTTP GETs         $GETS of rootfs.squashfs (1 good + 2 with the wrong digest)
EOF
