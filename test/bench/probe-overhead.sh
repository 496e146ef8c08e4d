#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Workload overhead of the kernel probe and of the whole agent (issue 4 "Performance"): runs the
# C micro-benchmarks of native-bridge/bench/ with nothing attached, with vigil-probe alone (the
# syscalls Falco's stable rules need; without and with the rules' kernel filters), and with
# `vigil agent` running Falco's stable rules (kernel filters on, and with --no-kernel-filter),
# interleaved in the same run, REPS times; prints medians and ratios of wall-clock time per op
# and, when `perf` is there, of the benchmark's own CPU time per op (task-clock: steadier when
# other jobs share the machine).
#   usage: test/bench/probe-overhead.sh [REPS]    (root; after `make -C native-bridge bench`)
#   env: PROBE_EXTRA (more flags for the probe alone, e.g. --env); OPENS, RW, FORKS (operations per run); WORKLOADS (default "openclose rw1 forkexec") and
#        CONFIGS (default "probe probe+filter agent agent-nofilter"; also agent-start: a first start, measured
#        while its cold FIM baseline scan runs) pick what runs, e.g.
#        `WORKLOADS=forkexec CONFIGS=agent FORKS=500 test/bench/probe-overhead.sh 9` for many short
#        interleaved base/agent pairs of fork+exec, whose per-pair ratios are printed too.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
# the agent runs as deployed (scripts/run-agent.sh, daemonset.yaml); AGENT_NODE_FLAGS= for V8's defaults
AGENT_NODE_FLAGS=${AGENT_NODE_FLAGS---max-semi-space-size=2}
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX-2}
REPS=${1:-3}
OPENS=${OPENS:-2000000}
RW=${RW:-2000000}
FORKS=${FORKS:-2000}
B=native-bridge/build
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
make -s -C native-bridge all bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json

# the syscall set (as the agent asks the probe for it) and kernel filter lines the agent derives
# from Falco's stable rules
node test/bench/probe-set.mjs "$RULES" /tmp/vigil-bench-syscalls /tmp/vigil-bench-filters
SYSCALLS=$(cat /tmp/vigil-bench-syscalls)

HAVE_PERF=0
perf stat -x, -e task-clock true >/dev/null 2>&1 && HAVE_PERF=1
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# vigil-probe processes this script did not start (another agent on the machine attaches the same
# tracepoints and would be measured too): runs that saw one are left out of the medians
foreign() { local n; n=$(pgrep -xc vigil-probe || true); echo $(( n - OWN )); }
OWN=0
one() { # label workload binary n
  local f0; f0=$(foreign)
  if [ "$HAVE_PERF" = 1 ]; then
    local t; t=$(mktemp)
    local wall; wall=$(perf stat -x, -e task-clock -o "$t" "$3" "$4")
    local cpu; cpu=$(awk -F, -v n="$4" '$3=="task-clock" {printf "%.1f", $1*1e6/n}' "$t")
    rm -f "$t"
    echo "$1 $2 $wall $cpu $(( f0 + $(foreign) ))"
  else
    local wall; wall=$("$3" "$4")
    echo "$1 $2 $wall 0 $(( f0 + $(foreign) ))"
  fi
}
WORKLOADS=${WORKLOADS:-openclose rw1 forkexec}
CONFIGS=${CONFIGS:-probe probe+filter agent agent-nofilter}
has() { case " $1 " in *" $2 "*) return 0 ;; esac; return 1; }
run_all() { # label
  if has "$WORKLOADS" openclose; then one "$1" openclose $B/bench-openclose "$OPENS"; fi
  if has "$WORKLOADS" rw1; then one "$1" rw1 $B/bench-rw1 "$RW"; fi
  if has "$WORKLOADS" forkexec; then one "$1" forkexec $B/bench-forkexec "$FORKS"; fi
  return 0
}
probe_run() { # label filterfile|-
  local fifo; fifo=$(mktemp -u); mkfifo "$fifo"
  { if [ "$2" != - ]; then cat "$2"; fi; exec sleep 100000; } >"$fifo" &
  local feed=$!
  # shellcheck disable=SC2086 # PROBE_EXTRA: more vigil-probe flags, word-split on purpose (e.g. --env)
  $B/vigil-probe --syscalls "$SYSCALLS" ${PROBE_EXTRA:-} --control-stdin <"$fifo" >/dev/null 2>&1 &
  local p=$!; sleep 4
  OWN=1; run_all "$1" >>"$OUT"; OWN=0
  kill $p $feed; wait $p 2>/dev/null || true; rm -f "$fifo"
}
agent_run() { # label extra-flags...
  local label=$1; shift
  node $AGENT_NODE_FLAGS dist/agent/cli/main.js agent --rules "$RULES" --output json --no-containerd --stats-interval 1 \
    --no-embedded-collector --no-metrics "$@" >/dev/null 2>"$AGENT_LOG" &
  local a=$!; sleep 8
  # the FIM baseline scan at start hashes the host's watched trees: measure after it
  for _ in $(seq 240); do grep -q 'FIM baseline scan done' "$AGENT_LOG" && break; sleep 0.5; done
  OWN=1; run_all "$label" >>"$OUT"; OWN=0
  kill -INT $a; wait $a 2>/dev/null || true
  echo "$label $(grep '"stats"' "$AGENT_LOG" | tail -1 | grep -oE '"kernel_(drops|events|filtered)":[0-9]+' | tr '\n' ' ')" >>"$STATS"
}

# the agent as it first starts on a node: a fresh state directory, so the FIM baseline scan at start
# is a cold one (every watched file hashed, under the default budget, fim.baseline), measured from
# 1 s after "ready" while that scan runs (it takes minutes under the budget; the runs take seconds)
agent_start_run() { # label
  local data; data=$(mktemp -d)
  node $AGENT_NODE_FLAGS dist/agent/cli/main.js agent --rules "$RULES" --output json --no-containerd --stats-interval 1 \
    --no-embedded-collector --no-metrics --data "$data" >/dev/null 2>"$AGENT_LOG" &
  local a=$!
  for _ in $(seq 240); do grep -q '"vigil agent ready"' "$AGENT_LOG" && break; sleep 0.25; done
  sleep 1
  OWN=1; run_all "$1" >>"$OUT"; OWN=0
  if grep -q 'FIM baseline scan done' "$AGENT_LOG"; then echo "warning: $1: the FIM scan ended before the runs did" >&2; fi
  kill -INT $a; wait $a 2>/dev/null || true
  echo "$1 $(grep '"stats"' "$AGENT_LOG" | tail -1 | grep -oE '"(kernel_(drops|events|filtered)|scan_files_hashed|scan_files_reused)":[0-9]+' | tr '\n' ' ')" >>"$STATS"
  rm -rf "$data"
}

OUT=$(mktemp)
STATS=$(mktemp)
AGENT_LOG=$(mktemp)
for r in $(seq "$REPS"); do
  run_all base >>"$OUT"
  if has "$CONFIGS" probe; then probe_run probe -; fi
  if has "$CONFIGS" probe+filter; then probe_run probe+filter /tmp/vigil-bench-filters; fi
  if has "$CONFIGS" agent; then agent_run agent; fi
  if has "$CONFIGS" agent-nofilter; then agent_run agent-nofilter --no-kernel-filter; fi
  if has "$CONFIGS" agent-start; then agent_start_run agent-start; fi
done

# medians over the runs no foreign probe disturbed (all runs when there are none)
CLEAN=$(mktemp)
awk '$5==0' "$OUT" >"$CLEAN"
if [ "$(awk '$1=="base"' "$CLEAN" | wc -l)" -gt 0 ]; then
  echo "runs kept: $(wc -l <"$CLEAN") of $(wc -l <"$OUT") (the others ran beside another vigil-probe)"
  mv "$CLEAN" "$OUT"
else
  echo "warning: every run shared the machine with another vigil-probe; medians over all runs"
  rm -f "$CLEAN"
fi
echo "syscalls: $SYSCALLS"
echo "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
LABELS=$CONFIGS
for col in 3 4; do
  [ $col = 4 ] && [ "$HAVE_PERF" = 0 ] && continue
  [ $col = 3 ] && echo "== wall-clock ns/op (medians) and ratios to base" || echo "== CPU time of the benchmark (task-clock) ns/op (medians) and ratios to base"
  printf "%-10s %10s" workload base; for l in $LABELS; do printf " %14s" "$l"; done; echo
  for w in $WORKLOADS; do
    b=$(awk -v w=$w -v c=$col '$1=="base" && $2==w {print $c}' "$OUT" | median)
    printf "%-10s %10s" "$w" "$b"
    for l in $LABELS; do
      v=$(awk -v w=$w -v l=$l -v c=$col '$1==l && $2==w {print $c}' "$OUT" | median)
      if [ -z "$v" ] || [ -z "$b" ]; then printf " %14s" "-"; continue; fi
      printf " %7s x%5.2f" "$v" "$(echo "$v/$b" | bc -l)"
    done
    echo
  done
done
for w in $WORKLOADS; do
  echo "per-rep ratios, $w (wall): $(awk -v w=$w '$2==w {print $1, $3}' "$OUT" | awk '$1=="base"{b=$2} $1!="base" && b>0 {printf "%s=%.2f ", $1, $2/b}')"
  [ "$HAVE_PERF" = 1 ] && echo "per-rep ratios, $w (CPU): $(awk -v w=$w '$2==w {print $1, $4}' "$OUT" | awk '$1=="base"{b=$2} $1!="base" && b>0 {printf "%s=%.2f ", $1, $2/b}')"
done
echo "agent stats after each run:"; cat "$STATS"
rm -f "$OUT" "$AGENT_LOG" "$STATS"
