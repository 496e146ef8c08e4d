#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CI guard of the agent's user-space throughput (issue 22): the event path of this tree against a
# baseline commit built beside it in the same job, measured alternately in fresh processes
# (test/bench/throughput-run.mjs: frames → decode → state → pipeline → Falco's stable rules), the
# median of each side compared. Fails when this tree is slower than MIN_RATIO × the baseline.
# A ratio, never an absolute time: both sides run on the same machine within the same minute.
#
#   usage: test/bench/throughput-guard.sh            (after `npx tsc -p tsconfig.json`)
#   env: BASELINE=<commit> (default: test/bench/throughput-guard.baseline), ROUNDS (5), MS (2000 per
#        run), MIN_RATIO (0.85), RULES (Falco's stable rules in ../shared/corpus), REQUIRE_BASELINE=1
#        to fail (not skip) when the baseline commit cannot be had (a shallow clone without its origin).
# The baseline is a fixed commit, not the parent: a slow drift over many commits is caught too. Move
# it forward (edit the .baseline file, say why in the commit) when a change makes the event path
# faster, so the guard protects the gain, or when the runner can no longer drive the old tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
BASELINE=${BASELINE:-$(tr -d ' \n' <test/bench/throughput-guard.baseline)}
ROUNDS=${ROUNDS:-5}
MS=${MS:-2000}
MIN_RATIO=${MIN_RATIO:-0.85}
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
[ -f dist/agent/pipeline.js ] || npx tsc -p tsconfig.json
if ! git cat-file -e "$BASELINE^{commit}" 2>/dev/null; then
  # a shallow clone: fetch the history from where the clone came from
  git fetch --quiet --unshallow 2>/dev/null || git fetch --quiet origin "$BASELINE" 2>/dev/null || true
fi
if ! git cat-file -e "$BASELINE^{commit}" 2>/dev/null; then
  echo "throughput guard: SKIPPED: baseline commit $BASELINE is not in this clone's history and could not be fetched" >&2
  exit "${REQUIRE_BASELINE:-0}"
fi
BASE=$(mktemp -d /tmp/vigil-throughput-base.XXXXXX)
trap 'rm -rf "$BASE"' EXIT
git archive "$BASELINE" | tar -x -C "$BASE"
ln -s "$PWD/node_modules" "$BASE/node_modules"
npx tsc -p "$BASE/tsconfig.json"

run() { node test/bench/throughput-run.mjs --tree "$1" --rules "$RULES" --ms "$MS" | awk '{print $2}'; }
now=()
base=()
for i in $(seq "$ROUNDS"); do
  # alternate which side goes first, so a trend in the machine's load hits both alike
  if [ $((i % 2)) -eq 1 ]; then
    now+=("$(run .)")
    base+=("$(run "$BASE")")
  else
    base+=("$(run "$BASE")")
    now+=("$(run .)")
  fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m_now=$(median "${now[@]}")
m_base=$(median "${base[@]}")
ratio=$(awk -v a="$m_now" -v b="$m_base" 'BEGIN {printf "%.3f", a / b}')
echo "throughput guard: this tree ${now[*]} events/s (median $m_now)"
echo "throughput guard: baseline ${BASELINE:0:12} ${base[*]} events/s (median $m_base)"
echo "throughput guard: ratio $ratio (minimum $MIN_RATIO), load $(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v r="$ratio" -v m="$MIN_RATIO" 'BEGIN {exit !(r < m)}'; then
  echo "throughput guard: FAILED: the event path is slower than ${MIN_RATIO} x the baseline" >&2
  exit 1
fi
