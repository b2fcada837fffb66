#!/bin/sh
# Starts Docker's daemon in the background if none answers (this kind of machine starts none);
# the tests tagged "aws" run their AWS emulator (ci/moto-image.sh) in a container.
# Idempotent: does nothing when `docker info` already works. Log: /var/log/dockerd.log.
set -eu
if docker info >/dev/null 2>&1; then
    echo "ci/start-dockerd.sh: docker is running"
    exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
    echo "ci/start-dockerd.sh: installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi
# setsid: the daemon outlives this script and is not in its process group (Ctrl-C of a caller
# does not reach it).
setsid dockerd > /var/log/dockerd.log 2>&1 < /dev/null &
i=0
until docker info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 60 ]; then
        echo "ci/start-dockerd.sh: dockerd did not answer within 60 s; last lines of /var/log/dockerd.log:" >&2
        tail -n 20 /var/log/dockerd.log >&2 || true
        exit 1
    fi
    sleep 1
done
echo "ci/start-dockerd.sh: dockerd started ($(docker version --format '{{.Server.Version}}'))"
