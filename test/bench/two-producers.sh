#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Two heavy producers on two cores (issue 22): the real agent, uncapped and unpinned, with Falco's
# stable rules, while two native-bridge/build/bench-rate generators run flat out, one per core
# (modes mix and open; rate.c), for SECS seconds. Prints the generators' rates, the kernel events
# and drops over the run (the probe's counters, from the agent's stats lines), the backlog left
# 2.5 s after (events the kernel produced that the agent had not processed), and the CPU share of
# the agent and of vigil-probe (of one core; the machine has `nproc` of them).
#
#   usage: test/bench/two-producers.sh [SECS]       (root; default 15)
#   env: RULES (default ../shared/corpus/falco/falco_rules.yaml); PROBE (a vigil-probe binary,
#        default this tree's; another build for an A/B); MODES (default "mix open": one generator
#        per word, on CPU 0, 1, ...); AGENT_ARGS (more agent flags)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
. test/bench/agent-ready.sh
SECS=${1:-15}
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
MODES=${MODES:-mix open}
make -s -C native-bridge all bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json
PROBE=${PROBE:-$PWD/native-bridge/build/vigil-probe}
[ -x "$PROBE" ] || { echo "PROBE=$PROBE: not an executable"; exit 1; }
[ -r "$RULES" ] || { echo "RULES=$RULES: not readable"; exit 1; }
GEN=native-bridge/build/bench-rate

DATA=$(mktemp -d)
LOG=$DATA/agent.log
# shellcheck disable=SC2086 # AGENT_ARGS: more flags, word-split on purpose
MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 dist/agent/cli/main.js agent --rules "$RULES" --output json --no-containerd \
  --no-embedded-collector --no-metrics --no-fim-scan --stats-interval 1 --probe "$PROBE" --data "$DATA" \
  ${AGENT_ARGS:-} >"$DATA/alerts.json" 2>"$LOG" &
AGENT=$!
GENS=()
cleanup() {
  for g in "${GENS[@]}"; do kill "$g" 2>/dev/null || true; done
  kill -INT "$AGENT" 2>/dev/null || true
  wait "$AGENT" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

wait_agent_ready "$AGENT" "$LOG"
sleep 3

stat() { grep '"stats"' "$LOG" | tail -1 | grep -oE "\"$1\":[0-9]+" | head -1 | cut -d: -f2; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
echo "probe=$PROBE rules=$RULES modes=$MODES secs=$SECS cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
e0=$(stat kernel_events); d0=$(stat kernel_drops)
a0=$(ticks "$AGENT"); p0=$(ticks "$PROBEPID"); t0=$(date +%s.%N)
cpu=0
for m in $MODES; do
  taskset -c "$cpu" "$GEN" "$m" 0 "$SECS" >"$DATA/gen-$cpu" &
  GENS+=($!)
  cpu=$((cpu + 1))
done
for g in "${GENS[@]}"; do wait "$g"; done
GENS=()
a1=$(ticks "$AGENT"); p1=$(ticks "$PROBEPID"); t1=$(date +%s.%N)
sleep 2.5 # drain, and let a stats line be written
e1=$(stat kernel_events); d1=$(stat kernel_drops); s1=$(stat state_events)
for f in "$DATA"/gen-*; do echo "generator cpu ${f##*-}: $(cat "$f")"; done
awk -v ev="$((e1 - e0))" -v dr="$((d1 - d0))" -v bl="$((e1 - s1))" -v a="$((a1 - a0))" -v p="$((p1 - p0))" -v hz="$HZ" \
  -v wall="$(echo "$t1 - $t0" | bc -l)" 'BEGIN {
  if (bl < 0) bl = 0
  printf "kernel events %d (%.0f/s)  kernel drops %d (%.2f%%)  backlog %d  agent cpu %.1f%%  vigil-probe cpu %.1f%% (of one core)\n",
    ev, ev / wall, dr, (ev + dr > 0) ? 100 * dr / (ev + dr) : 0, bl, 100 * a / hz / wall, 100 * p / hz / wall }'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
