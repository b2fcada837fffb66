#!/usr/bin/env bash
# The whole test suite (README: "Quick start"). It starts what the tests need first: dockerd
# and the AWS emulator image (ci/start-dockerd.sh, ci/moto-image.sh; both do nothing when
# already done). KILN_FAST=1 skips the tests tagged "vm" (real image builds and QEMU boots)
# and "aws" (AWS emulator in a container), leaving the ones that finish in about a minute.
# It ends with the run's total time and its ten slowest test classes (ci/test-summary.sh), so
# the suite's time budget is visible at every run.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(-B --no-transfer-progress verify)
if [ "${KILN_FAST:-0}" = 1 ]; then
    args+=(-Dkiln.fast)
else
    ci/start-dockerd.sh
    ci/moto-image.sh
fi
start=$SECONDS
rc=0
mvn "${args[@]}" "$@" || rc=$?
ci/test-summary.sh $((SECONDS - start)) || true
exit "$rc"
