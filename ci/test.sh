#!/usr/bin/env bash
# The whole test suite (README: "Run the tests"). KILN_FAST=1 skips the tests tagged "vm" (real
# image builds and QEMU boots), leaving the ones that finish in about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(-B --no-transfer-progress verify)
if [ "${KILN_FAST:-0}" = 1 ]; then
    args+=(-Dkiln.fast)
fi
exec mvn "${args[@]}"
