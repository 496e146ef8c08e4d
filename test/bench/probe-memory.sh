#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Agent + vigil-probe RSS at idle and after N short-lived processes (fork+exec of /bin/true), with
# Falco's stable rules; the process table must stay bounded and flat, and what a burst grew must
# come back once the node is quiet (memory.saver). Long runs of churn:
# test/bench/memory-churn.sh.
#   usage: test/bench/probe-memory.sh [N]     (root; after `make -C native-bridge all bench`)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
# the agent runs as deployed (scripts/run-agent.sh, daemonset.yaml); AGENT_NODE_FLAGS= for V8's defaults
AGENT_NODE_FLAGS=${AGENT_NODE_FLAGS---max-semi-space-size=2}
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX-2}
N=${1:-100000}
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
make -s -C native-bridge all bench >/dev/null
LOG=$(mktemp)
node $AGENT_NODE_FLAGS dist/agent/cli/main.js agent --rules "$RULES" --output json --no-containerd --stats-interval 5 \
  --no-embedded-collector --no-metrics >/dev/null 2>"$LOG" &
A=$!
for _ in $(seq 240); do grep -q '"vigil agent ready"' "$LOG" && break; sleep 0.5; done
sleep 3
P=$(pgrep -P $A -x vigil-probe | head -1)
kib() { awk -v k="$2:" '$1 == k {print $2}' /proc/$1/status; }
# agent + its vigil-probe loader (issue 22 counts both), then each with its RssAnon/RssFile split
# PSS too: it counts the probe's ring (mapped twice for wrap-around reads) once, as the kernel holds it
pss() { awk '$1 == "Pss:" {print $2}' /proc/$1/smaps_rollup; }
rss() {
  awk -v a="$(kib $A VmRSS)" -v p="$(kib "$P" VmRSS)" -v aa="$(kib $A RssAnon)" -v af="$(kib $A RssFile)" -v pa="$(kib "$P" RssAnon)" -v pf="$(kib "$P" RssFile)" \
    -v ap="$(pss $A)" -v pp="$(pss "$P")" \
    'BEGIN {printf "%.1f MiB (agent %.1f: anon %.1f file %.1f; probe %.1f: anon %.1f file %.1f); PSS %.1f MiB", (a + p) / 1024, a / 1024, aa / 1024, af / 1024, p / 1024, pa / 1024, pf / 1024, (ap + pp) / 1024}'
}
echo "ready: $(rss)"
# memory.saver (default auto) goes on after 10 quiet seconds
sleep 15
echo "idle (ready + 18 s): $(rss)"
native-bridge/build/bench-forkexec "$N" >/dev/null
echo "after $N processes: $(rss)"
sleep 10
echo "10 s later: $(rss)"
sleep 20
echo "30 s later: $(rss)"
grep '"stats"' "$LOG" | tail -1 | grep -oE '"(kernel_drops|state_processes|state_forks|state_exits)":[0-9]+' | tr '\n' ' '; echo
kill -INT $A; wait $A 2>/dev/null || true
rm -f "$LOG"
