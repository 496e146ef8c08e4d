#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The long fuzz run (`npm run fuzz`): every property-based target in test/fuzz/ with FUZZ_RUNS
# cases scaled by the target's weight (at least a million cases in all by default), then the
# per-target counts and the outcome written to test/fuzz/RESULTS.md.
#   FUZZ_RUNS=N   scale (default 1000000); FUZZ_SEED=S  reproduce a run
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/node-env.sh
export FUZZ_RUNS="${FUZZ_RUNS:-1000000}"
log="$(mktemp -t vigil-fuzz.XXXXXX)"
start=$(date +%s)
set +e
npx vitest run test/fuzz --reporter=verbose "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
secs=$(( $(date +%s) - start ))
total=$(grep -o 'FUZZ [^ ]* cases=[0-9]*' "$log" | awk -F= '{s+=$2} END {print s+0}')
{
  echo "# Last long fuzz run"
  echo
  echo "\`FUZZ_RUNS=$FUZZ_RUNS npm run fuzz\` on $(date -u +%Y-%m-%d) at $(git rev-parse --short HEAD), $(nproc) cores, Node $(node --version): exit $rc, ${secs} s, ${total:-0} cases in all."
  echo
  echo "| target | cases | failures |"
  echo "| --- | ---: | ---: |"
  grep -o 'FUZZ [^ ]* cases=[0-9]* failures=[0-9]*' "$log" | sort -u | sed -E 's/FUZZ ([^ ]*) cases=([0-9]*) failures=([0-9]*)/| \1 | \2 | \3 |/'
  echo
  if [ "$rc" -ne 0 ]; then echo "The run FAILED; the counterexample is in the vitest output above the summary."; fi
} > test/fuzz/RESULTS.md
cat test/fuzz/RESULTS.md
exit "$rc"
