#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Resident memory of the agent and its vigil-probe loader over a long run of moderate churn, with
# Falco's stable rules (issue 22: "flat over an hour of churn"). Every second: FORKS_PER_S fork+exec
# of /bin/true, OPENS_PER_S events of opens and dup2 (bench-rate mix), CONNECTS_PER_S refused TCP
# connects to 127.0.0.1:1; every INTERVAL seconds one line with the RSS of both processes.
#   usage: test/bench/memory-churn.sh [MINUTES]   (root; default 60; after `make -C native-bridge all bench`)
#   env:   INTERVAL (s, default 60), FORKS_PER_S (100), OPENS_PER_S (2000), CONNECTS_PER_S (50),
#          RULES, AGENT_NODE_FLAGS (default: the flags scripts/run-agent.sh and the DaemonSet use)
# Output: "min agent_rss probe_rss total (RssAnon/RssFile) processes drops" per line, in MiB.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
MINUTES=${1:-60}
INTERVAL=${INTERVAL:-60}
FORKS_PER_S=${FORKS_PER_S:-100}
OPENS_PER_S=${OPENS_PER_S:-2000}
CONNECTS_PER_S=${CONNECTS_PER_S:-50}
AGENT_NODE_FLAGS=${AGENT_NODE_FLAGS---max-semi-space-size=2}
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX-2}
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
case "$MINUTES$INTERVAL$FORKS_PER_S$OPENS_PER_S$CONNECTS_PER_S" in *[!0-9]*) echo "memory-churn: MINUTES and the rates must be integers" >&2; exit 2 ;; esac
make -s -C native-bridge all bench >/dev/null
LOG=$(mktemp)
node $AGENT_NODE_FLAGS dist/agent/cli/main.js agent --rules "$RULES" --output json --no-containerd --stats-interval 10 \
  --no-embedded-collector --no-metrics --no-fim-scan >/dev/null 2>"$LOG" &
A=$!
LOAD=()
cleanup() {
  for p in "${LOAD[@]}"; do kill "$p" 2>/dev/null || true; done
  kill -INT $A 2>/dev/null || true
  wait $A 2>/dev/null || true
  rm -f "$LOG"
}
trap cleanup EXIT
for _ in $(seq 240); do grep -q '"vigil agent ready"' "$LOG" && break; sleep 0.5; done
grep -q '"vigil agent ready"' "$LOG" || { echo "memory-churn: the agent did not become ready" >&2; tail -5 "$LOG" >&2; exit 1; }
P=$(pgrep -P $A -x vigil-probe | head -1)
mib() { awk -v k="$2" '$1 == k":" {printf "%.1f", $2/1024}' /proc/$1/status; }
sample() {
  local a p s
  a=$(mib $A VmRSS); p=$(mib "$P" VmRSS)
  s=$(grep '"stats"' "$LOG" | tail -1 | grep -oE '"(kernel_drops|state_processes)":[0-9]+' | tr '\n' ' ' || true)
  printf '%4s %7s %7s %7s  (agent %s/%s, probe %s/%s)  %s\n' "$1" "$a" "$p" "$(awk -v a="$a" -v p="$p" 'BEGIN {printf "%.1f", a + p}')" \
    "$(mib $A RssAnon)" "$(mib $A RssFile)" "$(mib "$P" RssAnon)" "$(mib "$P" RssFile)" "$s"
}
echo "# memory-churn: $MINUTES min, every ${INTERVAL} s; per second $FORKS_PER_S fork+exec, $OPENS_PER_S open/dup events, $CONNECTS_PER_S connects; node $AGENT_NODE_FLAGS"
echo "# min agent_MiB probe_MiB total_MiB"
sample 0
# the open/dup load runs for the whole period in one process (paced by bench-rate itself)
native-bridge/build/bench-rate mix "$OPENS_PER_S" $((MINUTES * 60 + 5)) >/dev/null &
LOAD+=($!)
(
  while :; do
    native-bridge/build/bench-forkexec "$FORKS_PER_S" >/dev/null
    for _ in $(seq "$CONNECTS_PER_S"); do : 2>/dev/null 3<>/dev/tcp/127.0.0.1/1 || true; done
    sleep 1
  done
) &
LOAD+=($!)
T0=$SECONDS
END=$((SECONDS + MINUTES * 60))
NEXT=$((SECONDS + INTERVAL))
while [ $SECONDS -lt $END ]; do
  sleep 1
  kill -0 $A 2>/dev/null || { echo "memory-churn: the agent exited" >&2; tail -5 "$LOG" >&2; exit 1; }
  if [ $SECONDS -ge $NEXT ]; then
    sample $(((SECONDS - T0 + 30) / 60))
    NEXT=$((NEXT + INTERVAL))
  fi
done
