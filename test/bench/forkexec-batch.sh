#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fork+exec under the whole agent with the default drain interval (sources.ebpf.batch_us, 1000 µs)
# against another one (issue 22): REPS rounds of a baseline run, the agent with the default, the
# agent with ALT, a second baseline run; each agent a fresh start (Falco's stable rules,
# --no-fim-scan). Prints each round's ratios to the mean of its two baseline runs, wall and the
# benchmark's CPU time (perf task-clock), and their medians.
#   usage: test/bench/forkexec-batch.sh [REPS] [ALT_US]    (root; default 8 rounds, 4000 µs)
#   env:   FORKS (fork+exec per run, default 1000), RULES
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
REPS=${1:-8}
ALT=${2:-4000}
FORKS=${FORKS:-1000}
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
case "$REPS$ALT$FORKS" in *[!0-9]*) echo "forkexec-batch: REPS, ALT_US and FORKS must be integers" >&2; exit 2 ;; esac
perf stat -x, -e task-clock true >/dev/null 2>&1 || { echo "forkexec-batch: needs perf (apt-get install linux-perf)" >&2; exit 1; }
B=native-bridge/build
make -s -C native-bridge all bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json
TMP=$(mktemp -d)
A=
cleanup() {
  if [ -n "$A" ]; then kill -INT "$A" 2>/dev/null || true; wait "$A" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
one() { # "wall cpu" ns per fork+exec
  perf stat -x, -e task-clock -o "$TMP/pst" $B/bench-forkexec "$FORKS" >"$TMP/wall"
  echo "$(cat "$TMP/wall") $(awk -F, -v n="$FORKS" '$3=="task-clock" {printf "%.0f", $1*1e6/n}' "$TMP/pst")"
}
agent() { # batch_us: "wall cpu" into $TMP/r (not a command substitution: the agent stays this shell's child)
  VIGIL_SOURCES_EBPF_BATCH_US=$1 node --max-semi-space-size=2 dist/agent/cli/main.js agent --rules "$RULES" --output json \
    --no-containerd --stats-interval 1 --no-embedded-collector --no-metrics --no-fim-scan >/dev/null 2>"$TMP/log" &
  A=$!
  for _ in $(seq 240); do grep -qs '"vigil agent ready"' "$TMP/log" && break; sleep 0.25; done
  grep -qs '"vigil agent ready"' "$TMP/log" || { echo "forkexec-batch: the agent did not become ready" >&2; tail -5 "$TMP/log" >&2; exit 1; }
  sleep 2
  tr '\0' ' ' <"/proc/$(pgrep -P "$A" -x vigil-probe)/cmdline" | grep -q -- "--batch-us $1 " ||
    { echo "forkexec-batch: the probe does not run with --batch-us $1" >&2; exit 1; }
  one >"$TMP/r"
  kill -INT "$A"; wait "$A" 2>/dev/null || true; A=
}
for _ in $(seq "$REPS"); do
  b1=$(one); agent 1000; d=$(cat "$TMP/r"); agent "$ALT"; x=$(cat "$TMP/r"); b2=$(one)
  echo "$b1 $d $x $b2" | awk -v alt="$ALT" '{ bw = ($1 + $7) / 2; bc = ($2 + $8) / 2
    printf "round: 1000 us wall x %.3f CPU x %.3f   %s us wall x %.3f CPU x %.3f\n", $3 / bw, $4 / bc, alt, $5 / bw, $6 / bc }' | tee -a "$TMP/rounds"
done
median() { sort -n | awk '{a[NR]=$1} END {print (a[int((NR+1)/2)] + a[int(NR/2)+1]) / 2}'; }
echo "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); $FORKS fork+exec a run, $REPS rounds"
printf "medians: 1000 us wall x %.3f CPU x %.3f   %s us wall x %.3f CPU x %.3f\n" \
  "$(awk '{print $6}' "$TMP/rounds" | median)" "$(awk '{print $9}' "$TMP/rounds" | median)" "$ALT" \
  "$(awk '{print $14}' "$TMP/rounds" | median)" "$(awk '{print $17}' "$TMP/rounds" | median)"
