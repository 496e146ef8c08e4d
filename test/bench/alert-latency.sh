#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Syscall → alert latency (issue 22): the time from a rule-matching syscall to its alert line on
# the real agent's stdout.
#
# The agent runs as deployed (--max-semi-space-size=2, MALLOC_ARENA_MAX=2, Falco's stable rules, `--output json`),
# pinned to CPU $AGENT_CPU, its stdout read line by line by native-bridge/bench/alertlat.c, which
# takes for each alert of "Read sensitive file untrusted" (arrival on CLOCK_REALTIME) − (the
# alert's time: the kernel timestamp of the openat's exit, as the agent converts it to wall-clock
# time). native-bridge/bench/alertgen.c, pinned to CPU $GEN_CPU, opens /etc/shadow COUNT times at
# RATE per second with jittered gaps (uniform 0.2–1.8 × the mean gap).
#
# Phases: "quiet" (nothing generated for QUIET_SECS: vigil-probe's CPU and wake-ups per second),
# "idle" (the alerts alone), "load" (the alerts while native-bridge/build/bench-rate mix runs at
# LOAD_RATE events/s on CPU $GEN_CPU). Per phase: latency p50/p90/p99/max, vigil-probe's CPU and
# voluntary context switches per second (its wake-ups), kernel events and drops.
#
#   usage: test/bench/alert-latency.sh [COUNT] [RATE]        (root; defaults 2000 200)
#   env: RULES (default ../shared/corpus/falco/falco_rules.yaml), PROBE (a vigil-probe binary;
#        default this tree's; another build for an A/B), LOAD_RATE (200000), QUIET_SECS (10),
#        AGENT_CPU (1), GEN_CPU (0), PHASES (default "quiet idle load"), NICE (run the agent and its
#        probe at this nice value, e.g. -10: on a shared machine the tail is CPU contention)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
. test/bench/agent-ready.sh
COUNT=${1:-2000}
RATE=${2:-200}
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
LOAD_RATE=${LOAD_RATE:-200000}
QUIET_SECS=${QUIET_SECS:-10}
AGENT_CPU=${AGENT_CPU:-1}
GEN_CPU=${GEN_CPU:-0}
PHASES=${PHASES:-quiet idle load}
RULE="Read sensitive file untrusted"
make -s -C native-bridge all bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json
PROBE=${PROBE:-$PWD/native-bridge/build/vigil-probe}
[ -x "$PROBE" ] || { echo "PROBE=$PROBE: not an executable"; exit 1; }
[ -r "$RULES" ] || { echo "RULES=$RULES: not readable"; exit 1; }

DATA=$(mktemp -d)
LOG=$DATA/agent.log
mkfifo "$DATA/out"
native-bridge/build/bench-alertlat "$RULE" <"$DATA/out" >"$DATA/lat" &
READER=$!
nice -n "${NICE:-0}" taskset -c "$AGENT_CPU" env MALLOC_ARENA_MAX=2 node --max-semi-space-size=2 dist/agent/cli/main.js agent --rules "$RULES" --output json \
  --no-containerd --no-embedded-collector --no-metrics --no-fim-scan --stats-interval 1 --probe "$PROBE" \
  --data "$DATA" >"$DATA/out" 2>"$LOG" &
AGENT=$!
LOADPID=
cleanup() {
  [ -z "$LOADPID" ] || kill "$LOADPID" 2>/dev/null || true
  kill -INT "$AGENT" 2>/dev/null || true
  wait "$AGENT" 2>/dev/null || true
  wait "$READER" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

wait_agent_ready "$AGENT" "$LOG"
sleep 2

HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
vcs() { awk '/^voluntary_ctxt_switches/ {print $2}' "/proc/$1/status"; }
stat() { grep '"stats"' "$LOG" | tail -1 | grep -oE "\"$1\":[0-9]+" | head -1 | cut -d: -f2; }
t0=0 c0=0 w0=0 e0=0 d0=0
begin() { t0=$(date +%s.%N); c0=$(ticks "$PROBEPID"); w0=$(vcs "$PROBEPID"); e0=$(stat kernel_events); d0=$(stat kernel_drops); }
end() {
  sleep 1.2 # a stats line after the phase
  local t1 c1 w1 e1 d1
  t1=$(date +%s.%N); c1=$(ticks "$PROBEPID"); w1=$(vcs "$PROBEPID"); e1=$(stat kernel_events); d1=$(stat kernel_drops)
  awk -v p="$1" -v t="$(echo "$t1 - $t0" | bc -l)" -v c="$((c1 - c0))" -v w="$((w1 - w0))" -v hz="$HZ" \
    -v e="$((e1 - e0))" -v d="$((d1 - d0))" 'BEGIN {
    printf "%-6s %6.1f s  vigil-probe cpu %5.2f%%  wake-ups %7.0f/s  kernel events %9d  drops %d\n", p, t, 100 * c / hz / t, w / t, e, d }' \
    >>"$DATA/phases"
}

echo "probe=$PROBE rules=$RULES count=$COUNT rate=$RATE/s load_rate=$LOAD_RATE nice=${NICE:-0} agent_cpu=$AGENT_CPU gen_cpu=$GEN_CPU load=$(cut -d' ' -f1-3 /proc/loadavg)"
for phase in $PHASES; do
  case $phase in
  quiet)
    begin
    sleep "$QUIET_SECS"
    end quiet
    ;;
  idle)
    begin
    taskset -c "$GEN_CPU" native-bridge/build/bench-alertgen "$COUNT" "$RATE" idle >/dev/null
    end idle
    ;;
  load)
    secs=$((COUNT / RATE + 4))
    taskset -c "$GEN_CPU" native-bridge/build/bench-rate mix "$LOAD_RATE" "$secs" >"$DATA/rate" &
    LOADPID=$!
    sleep 1
    begin
    taskset -c "$GEN_CPU" native-bridge/build/bench-alertgen "$COUNT" "$RATE" load >/dev/null
    end load
    wait "$LOADPID" || true
    LOADPID=
    echo "load generator: $(cat "$DATA/rate")" >>"$DATA/phases"
    ;;
  *)
    echo "unknown phase $phase"
    exit 1
    ;;
  esac
done
kill -INT "$AGENT"
wait "$AGENT" || true
wait "$READER" || true
cat "$DATA/phases"
echo "syscall → alert latency (arrival − evt.time):"
sed 's/^/  /' "$DATA/lat"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
