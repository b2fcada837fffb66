#!/bin/sh
# Builds the local image kiln-moto:1, the AWS emulator (moto in server mode) that the tests tagged
# "aws" run with testcontainers. Once per machine: does nothing if the image is there.
# No registry is reached: the root filesystem is Debian trixie's python3-moto (bookworm has no
# moto), made with mmdebstrap from the Debian mirror and imported with `docker import`.
# Needs a running dockerd (ci/start-dockerd.sh) and mmdebstrap (ci/install-deps.sh).
# Usage: ci/moto-image.sh [--force]      KILN_DEBIAN_MIRROR overrides the mirror.
set -eu
image=kiln-moto:1
mirror=${KILN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ "${1:-}" != --force ] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "ci/moto-image.sh: $image is there"
    exit 0
fi
command -v mmdebstrap >/dev/null || { echo "ci/moto-image.sh: mmdebstrap is missing (ci/install-deps.sh)" >&2; exit 1; }
work=$(mktemp -d /var/tmp/kiln-moto.XXXXXX)
trap 'rm -rf "$work"' EXIT
# python3-moto Depends on flask, cryptography, boto3, werkzeug...; its server mode also imports
# flask-cors, which it does not declare, and moto.ssm needs PyYAML, only a Recommends (and
# --variant=apt installs no Recommends). That covers s3, ebs, ec2, ssm, and iam/sts for auth.
packages=python3-moto,python3-flask,python3-flask-cors,python3-yaml
echo "ci/moto-image.sh: building the trixie root filesystem ($packages)"
# shellcheck disable=SC2016 # $1 is for mmdebstrap to expand: the hook's root directory
mmdebstrap --quiet --variant=apt --include="$packages" \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/usr/share/doc "$1"/usr/share/man "$1"/usr/share/locale' \
    trixie "$work/rootfs.tar" "$mirror"
old=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
docker import \
    --change 'ENV PYTHONUNBUFFERED=1' \
    --change 'EXPOSE 5000' \
    --change 'ENTRYPOINT ["python3", "-m", "moto.server", "--host", "0.0.0.0", "--port", "5000"]' \
    --message "moto (Debian trixie python3-moto) for kiln's aws tests" \
    "$work/rootfs.tar" "$image" >/dev/null
if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$image")" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true   # the image --force replaced, unless a container uses it
fi

# Check it serves on 0.0.0.0:5000 (reached through a published port from the host).
name=kiln-moto-check-$$
docker run -d --rm --name "$name" --label kiln.test=1 --label kiln.test.pid=$$ -p 127.0.0.1::5000 "$image" >/dev/null
cleanup_check() { docker rm -f "$name" >/dev/null 2>&1 || true; }
trap 'cleanup_check; rm -rf "$work"' EXIT
port=$(docker port "$name" 5000/tcp | head -n 1 | sed 's/.*://')
i=0
until curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then
        echo "ci/moto-image.sh: $image does not answer on port 5000; its log:" >&2
        docker logs "$name" >&2 || true
        docker image rm "$image" >/dev/null 2>&1 || true
        exit 1
    fi
    sleep 1
done
version=$(docker exec "$name" python3 -c 'import moto; print(moto.__version__)')
echo "ci/moto-image.sh: $image built (moto $version, $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MiB", $1/1048576}')), serving on 0.0.0.0:5000"
