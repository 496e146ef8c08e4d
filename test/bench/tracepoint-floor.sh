#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What a syscall-exit tracepoint costs an openat+close loop before the probe does any work
# (issue 22): the loop with nothing attached; with an empty program on another syscall's exit
# tracepoint (any attached syscall tracepoint sends every syscall of every task through the
# kernel's traced path); with an empty program on sys_exit_openat itself; and with vigil-probe
# attached as the agent attaches it for RULES (its syscall set and kernel filters, which drop
# every open of the loop). Interleaved REPS times; medians of ns per pair, ratios to nothing, and
# exit_openat's own ns per run (kernel.bpf_stats_enabled, a separate run: the statistics cost
# time themselves).
#   usage: test/bench/tracepoint-floor.sh [REPS]    (root)
#   env:   OPENS (pairs per run, default 1000000), RULES (default Falco's stable rules)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
REPS=${1:-5}
OPENS=${OPENS:-1000000}
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
case "$REPS$OPENS" in *[!0-9]*) echo "tracepoint-floor: REPS and OPENS must be integers" >&2; exit 2 ;; esac
B=native-bridge/build
make -s -C native-bridge all bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json
[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing
if pgrep -x vigil-probe >/dev/null; then echo "tracepoint-floor: another vigil-probe is attached; stop it first" >&2; exit 1; fi
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sysctl -qw kernel.bpf_stats_enabled=0 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
node test/bench/probe-set.mjs "$RULES" "$TMP/syscalls" "$TMP/filters"

# a fifo $TMP/NAME fed with $TMP/NAME.in and then held open by a sleeping writer (stdin of a program held until off())
hold_fifo() { # name
  mkfifo "$TMP/$1"
  { cat "$TMP/$1.in" 2>/dev/null || true; exec sleep 100000; } >"$TMP/$1" &
  PIDS+=($!)
}
empty_on() { # syscall
  : >"$TMP/e.in"; hold_fifo e
  $B/bench-attach $B/bench-empty-exit.bpf.o "$1" <"$TMP/e" >"$TMP/e.out" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -qs attached "$TMP/e.out" && return 0; sleep 0.05; done
  echo "tracepoint-floor: the empty program did not attach to sys_exit_$1" >&2; exit 1
}
probe_on() {
  cp "$TMP/filters" "$TMP/p.in"; hold_fifo p
  $B/vigil-probe --syscalls "$(cat "$TMP/syscalls")" --control-stdin <"$TMP/p" >/dev/null 2>"$TMP/p.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -qs "syscalls observed" "$TMP/p.err" && break; sleep 0.05; done
  sleep 1 # the filter lines are applied after the attach
}
off() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  rm -f "$TMP/e" "$TMP/p"
}
run() { echo "$1 $($B/bench-openclose "$OPENS")" >>"$TMP/runs"; }
prog_stat() { # bpftool prog list output: "run_time_ns run_cnt" of exit_openat
  awk '/run_time_ns/ { n = ""; t = ""; c = ""; for (i = 1; i <= NF; i++) { if ($i == "name") n = $(i + 1); if ($i == "run_time_ns") t = $(i + 1); if ($i == "run_cnt") c = $(i + 1) }
       if (n == "exit_openat") print t, c }' "$1"
}
prog_ns() { # before after: ns per run of exit_openat between the two listings
  echo "$(prog_stat "$1") $(prog_stat "$2")" | awk 'NF == 4 && $4 > $2 { printf "%.1f\n", ($3 - $1) / ($4 - $2); next } { print "-" }'
}

for _ in $(seq "$REPS"); do
  run nothing
  empty_on getppid; run slow-path; off
  empty_on openat; run empty-openat; off
  probe_on; run probe
  sysctl -qw kernel.bpf_stats_enabled=1
  bpftool prog list >"$TMP/s0"
  $B/bench-openclose "$OPENS" >/dev/null
  bpftool prog list >"$TMP/s1"
  sysctl -qw kernel.bpf_stats_enabled=0
  off
  prog_ns "$TMP/s0" "$TMP/s1" | sed 's/^/prog /' >>"$TMP/runs"
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "openat+close, ns per pair (medians of $REPS, $OPENS pairs a run):"
base=$(awk '$1=="nothing" {print $2}' "$TMP/runs" | median)
for c in nothing slow-path empty-openat probe; do
  m=$(awk -v c="$c" '$1==c {print $2}' "$TMP/runs" | median)
  per=$(awk -v c="$c" -v b="$base" '$1==c {printf "%.2f ", $2/b}' "$TMP/runs")
  printf "  %-13s %8.1f  x %.2f  (+%.0f ns; per rep %s)\n" "$c" "$m" "$(echo "$m $base" | awk '{print $1/$2}')" "$(echo "$m $base" | awk '{print $1-$2}')" "$per"
done
echo "  exit_openat's own run time (bpf_stats, ns per run): $(awk '$1=="prog" {printf "%s ", $2}' "$TMP/runs")"
