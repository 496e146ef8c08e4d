#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Whole-agent throughput (issue 4): the highest rate of rule-relevant events that the real agent
# (probe loader, decode, state, rules) sustains with zero kernel drops on one core.
#
# The agent (`vigil agent`, its vigil-probe child included) runs pinned to CPU $AGENT_CPU; the load
# generator native-bridge/bench/rate.c runs pinned to CPU $GEN_CPU and issues rule-relevant
# syscalls at increasing target rates. For each rate it reads the agent's stats line
# (`--stats-interval 1`): kernel events and kernel drops, before and after; and the CPU time of the
# agent and its probe child from /proc (utime+stime), which gives the agent's CPU per event and so
# the rate one core would sustain (1 s / CPU per event).
#
#   usage: test/bench/agent-throughput.sh [MODE] [RATES...]     (root)
#     MODE   open | dup | mix (see rate.c; default mix)
#     RATES  target events/s (default: 50000 100000 200000 300000 400000 500000 0); 0 = flat out
#   env: RULES=<file> loads that rules file instead of the built-in packs (e.g. Falco's stable
#        rules, ../shared/corpus/falco/falco_rules.yaml); SECS (default 5) seconds per rate;
#        AGENT_CPU (1), GEN_CPU (0); AGENT_DIR=<tree> runs the agent built in another checkout (a
#        baseline: `git archive REV | tar -x -C DIR`, node_modules linked, `npx tsc -p DIR`) with
#        this tree's vigil-probe, so a run compares userspace only.
#        CPU_QUOTA=<percent> runs the agent (and its probe child) in a CPU cgroup capped at that
#        share of one core (cgroup v1 cpu.cfs_quota_us or v2 cpu.max). On a 2-core machine the
#        generator's core cannot issue enough events to saturate a whole agent core; capped at
#        50 %, a rate sustained with zero drops and no backlog shows twice that rate on one core
#        (the "1-core ev/s" column then reads delivered events/s / quota; 0 when it did not hold).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
MODE=${1:-mix}
shift || true
RATES=${*:-50000 100000 200000 300000 400000 500000 0}
SECS=${SECS:-5}
AGENT_CPU=${AGENT_CPU:-1}
GEN_CPU=${GEN_CPU:-0}
make -s -C native-bridge all bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json
GEN=native-bridge/build/bench-rate

DATA=$(mktemp -d)
LOG=$DATA/agent.log
RULE_ARGS=()
[ -n "${RULES:-}" ] && RULE_ARGS=(--rules "$RULES")
AGENT_DIR=${AGENT_DIR:-.}
# the agent runs as deployed (scripts/run-agent.sh, daemonset.yaml); AGENT_NODE_FLAGS= for V8's defaults
AGENT_NODE_FLAGS=${AGENT_NODE_FLAGS---max-semi-space-size=2}
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX-2}
# an older baseline may predate --no-fim-scan
FIM_ARGS=()
node "$AGENT_DIR/dist/agent/cli/main.js" agent --help | grep -q -- --no-fim-scan && FIM_ARGS=(--no-fim-scan)
CG=
QUOTA=${CPU_QUOTA:-100}
if [ -n "${CPU_QUOTA:-}" ]; then
  if [ -d /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    CG=/sys/fs/cgroup/cpu/vigil-bench-$$
    mkdir "$CG"
    echo 100000 >"$CG/cpu.cfs_period_us"
    echo $((CPU_QUOTA * 1000)) >"$CG/cpu.cfs_quota_us"
  elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
    CG=/sys/fs/cgroup/vigil-bench-$$
    mkdir "$CG"
    echo "$((CPU_QUOTA * 1000)) 100000" >"$CG/cpu.max"
  else
    echo "CPU_QUOTA: no cpu cgroup controller here"
    exit 1
  fi
fi
# the agent enters the cgroup before it starts (so its probe child is born inside), and the
# subshell becomes the agent (exec), so $! is the agent's pid
(
  [ -z "$CG" ] || echo "$BASHPID" >"$CG/cgroup.procs"
  exec taskset -c "$AGENT_CPU" node $AGENT_NODE_FLAGS "$AGENT_DIR/dist/agent/cli/main.js" agent "${RULE_ARGS[@]}" --probe "$PWD/native-bridge/build/vigil-probe" --output json --no-containerd \
  --no-embedded-collector --no-metrics "${FIM_ARGS[@]}" --stats-interval 1 --data "$DATA" >"$DATA/alerts.json" 2>"$LOG"
) &
AGENT=$!
trap 'kill -INT $AGENT 2>/dev/null || true; wait $AGENT 2>/dev/null || true; rm -rf "$DATA"; [ -z "$CG" ] || rmdir "$CG" 2>/dev/null || true' EXIT

# ready when the first stats line shows the probe's programs attached
for _ in $(seq 60); do
  grep -q '"probe_programs":[1-9]' "$LOG" 2>/dev/null && break
  sleep 0.5
done
PROBE=$(pgrep -P "$AGENT" -f vigil-probe | head -1)
[ -n "$PROBE" ] || { echo "vigil-probe child not found"; exit 1; }
sleep 2

# last value of a counter in the stats lines
stat() { grep '"stats"' "$LOG" | tail -1 | grep -oE "\"$1\":[0-9]+" | head -1 | cut -d: -f2; }
# CPU ticks (utime + stime) of a pid
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

echo "agent=$AGENT_DIR mode=$MODE rules=${RULES:-built-in} secs=$SECS agent_cpu=$AGENT_CPU gen_cpu=$GEN_CPU cpu_quota=$QUOTA% load=$(cut -d' ' -f1-3 /proc/loadavg)"
printf "%10s %10s %10s %8s %8s %9s %9s %12s %12s\n" target achieved events drops backlog agent% probe% "agent ns/ev" "1-core ev/s"
for rate in $RATES; do
  sleep 1.5
  e0=$(stat kernel_events); d0=$(stat kernel_drops)
  a0=$(ticks "$AGENT"); p0=$(ticks "$PROBE"); t0=$(date +%s.%N)
  out=$(taskset -c "$GEN_CPU" "$GEN" "$MODE" "$rate" "$SECS")
  sleep 2.5 # drain, and let a stats line be written
  e1=$(stat kernel_events); d1=$(stat kernel_drops); s1=$(stat state_events)
  a1=$(ticks "$AGENT"); p1=$(ticks "$PROBE"); t1=$(date +%s.%N)
  ev=$((e1 - e0)); dr=$((d1 - d0))
  achieved=$(echo "$out" | awk '{print $3}')
  # backlog: events the kernel produced that the agent had not processed 2.5 s after the burst
  bl=$((e1 - s1)); [ "$bl" -gt 0 ] || bl=0
  awk -v secs="$SECS" -v q="$QUOTA" -v bl="$bl" -v tgt="$rate" -v ach="$achieved" -v ev="$ev" -v dr="$dr" -v a="$((a1 - a0))" -v p="$((p1 - p0))" -v hz="$HZ" -v wall="$(echo "$t1 - $t0" | bc -l)" 'BEGIN {
    cpu = (a + p) / hz; nsev = (ev > 0) ? cpu * 1e9 / ev : 0; label = (tgt == 0) ? "max" : tgt;
    # uncapped: 1 s / CPU per event; capped: the sustained rate scaled to a whole core, only when it held (no drops, no backlog)
    # (the rate counted is the events that reached the agent, ev / secs: with a kernel filter fewer than the generator issued)
    cap = (q < 100) ? ((dr == 0 && bl == 0) ? ev / secs * 100 / q : 0) : ((nsev > 0) ? 1e9 / nsev : 0);
    printf "%10s %10.0f %10d %8d %8d %8.1f%% %8.1f%% %12.0f %12.0f\n", label, ach, ev, dr, bl, 100 * a / hz / wall, 100 * p / hz / wall, nsev, cap }'
done
echo "last stats: $(grep '"stats"' "$LOG" | tail -1 | grep -oE '"(kernel_drops|kernel_events|decode_events|state_events|alerts)":[0-9]+' | tr '\n' ' ')"
