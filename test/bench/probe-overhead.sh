#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Workload overhead of the kernel probe and of the whole agent (issue 4 "Performance"): runs the
# C micro-benchmarks of native-bridge/bench/ without anything attached, with vigil-probe alone
# (the syscalls Falco's stable rules need), and with `vigil agent` running Falco's stable rules,
# interleaved in the same run, REPS times; prints medians and ratios.
#   usage: test/bench/probe-overhead.sh [REPS]    (root; after `make -C native-bridge bench`)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${1:-3}
OPENS=${OPENS:-2000000}
RW=${RW:-2000000}
FORKS=${FORKS:-2000}
B=native-bridge/build
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
make -s -C native-bridge all bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json

# the syscall set the agent derives from Falco's stable rules (plus what state needs)
SYSCALLS=$(node --input-type=module -e "
import { RuleEngine } from './dist/agent/engine/rule-engine.js';
import { syscallsFor } from './dist/agent/pipeline.js';
import { pino } from 'pino';
const e = new RuleEngine({ files: ['$RULES'], logger: pino({ level: 'silent' }) });
console.log(syscallsFor(e.load()).join(','));")

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run_all() { # label
  echo "$1 openclose $($B/bench-openclose "$OPENS")"
  echo "$1 rw1 $($B/bench-rw1 "$RW")"
  echo "$1 forkexec $($B/bench-forkexec "$FORKS")"
}

OUT=$(mktemp)
AGENT_LOG=$(mktemp)
for r in $(seq "$REPS"); do
  run_all base >>"$OUT"
  $B/vigil-probe --syscalls "$SYSCALLS" >/dev/null 2>&1 &
  P=$!; sleep 4
  run_all probe >>"$OUT"
  kill $P; wait $P 2>/dev/null || true
  node dist/agent/cli/main.js agent --rules "$RULES" --output json --no-containerd --stats-interval 1 \
    --no-embedded-collector --no-metrics >/dev/null 2>"$AGENT_LOG" &
  A=$!; sleep 8
  run_all agent >>"$OUT"
  kill -INT $A; wait $A 2>/dev/null || true
done

echo "syscalls: $SYSCALLS"
printf "%-10s %12s %12s %12s %8s %8s\n" workload "base ns/op" "probe ns/op" "agent ns/op" "probe x" "agent x"
for w in openclose rw1 forkexec; do
  b=$(awk -v w=$w '$1=="base" && $2==w {print $3}' "$OUT" | median)
  p=$(awk -v w=$w '$1=="probe" && $2==w {print $3}' "$OUT" | median)
  a=$(awk -v w=$w '$1=="agent" && $2==w {print $3}' "$OUT" | median)
  printf "%-10s %12s %12s %12s %8.2f %8.2f\n" "$w" "$b" "$p" "$a" "$(echo "$p/$b" | bc -l)" "$(echo "$a/$b" | bc -l)"
done
echo "last agent stats line (kernel drops, events):"
grep '"stats"' "$AGENT_LOG" | tail -1 | grep -oE '"kernel_(drops|events)":[0-9]+' | tr '\n' ' '; echo
rm -f "$OUT" "$AGENT_LOG"
