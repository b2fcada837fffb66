#!/bin/sh
# Prints the suite's closing summary: wall time, tests run, and the ten slowest test classes,
# read from Surefire's reports (every module's target/surefire-reports/TEST-*.xml).
# Usage: ci/test-summary.sh [ELAPSED_SECONDS]
set -eu
cd "$(dirname "$0")/.."
elapsed=${1:-}
reports=$(find . -path '*/target/surefire-reports/TEST-*.xml' 2>/dev/null | sort)
if [ -z "$reports" ]; then
    echo "kiln test summary: no Surefire reports found"
    exit 0
fi
# One line per class: seconds, tests, failures+errors, skipped, class (from the <testsuite> tag).
# shellcheck disable=SC2086
table=$(for f in $reports; do
    head -c 4096 "$f" | tr '\n' ' ' | sed -n 's/.*<testsuite \([^>]*\)>.*/\1/p' | awk '
        { name = ""; t = 0; n = 0; bad = 0; skip = 0
          while (match($0, /[a-z]+="[^"]*"/)) {
              kv = substr($0, RSTART, RLENGTH); $0 = substr($0, RSTART + RLENGTH)
              k = substr(kv, 1, index(kv, "=") - 1); v = substr(kv, index(kv, "\"") + 1); sub(/"$/, "", v)
              if (k == "name") name = v; else if (k == "time") t = v; else if (k == "tests") n = v
              else if (k == "failures" || k == "errors") bad += v; else if (k == "skipped") skip = v
          }
          gsub(/,/, "", t)
          printf "%.1f %d %d %d %s\n", t, n, bad, skip, name }'
done)
echo "$table" | awk -v elapsed="$elapsed" '
    { secs += $1; tests += $2; bad += $3; skip += $4 }
    END {
        printf "kiln test summary: %d tests, %d failed, %d skipped, in %d classes", tests, bad, skip, NR
        if (elapsed != "") printf "; wall time %d min %02d s", elapsed / 60, elapsed % 60
        printf " (test classes add up to %d min %02d s)\n", secs / 60, secs % 60
        printf "%d passed, %d failed, %d skipped\n", tests - bad - skip, bad, skip
    }'
echo "ten slowest test classes:"
echo "$table" | sort -rn | head -n 10 | awk '{ printf "  %7.1f s  %s\n", $1, $5 }'
