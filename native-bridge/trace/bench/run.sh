#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Overhead of vigil-trace on the openat and exec micro-benchmarks (BENCHMARKS.md "Fargate tracer").
# Each case runs REPS times; the median is printed. Usage: run.sh [REPS] [OPENAT_N] [EXEC_N]
set -eu
B=$(cd "$(dirname "$0")/../../build" && pwd)
REPS=${1:-5}
ON=${2:-200000}
EN=${3:-2000}
SOCK=$(mktemp -u /tmp/vigil-bench-XXXXXX.sock)
"$B/bench-sink" "$SOCK" &
SINK=$!
trap 'kill $SINK 2>/dev/null || true' EXIT
sleep 0.2
TRACE="$B/vigil-trace --socket $SOCK"
FULL="execve,execveat,clone,clone3,fork,vfork,procexit,open,openat,openat2,creat,connect"
# traced stops cost tens of µs: fewer iterations keep the run short (per-op figures are comparable)
TN=$((ON / 10))
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { i=0; while [ $i -lt "$REPS" ]; do "$@"; i=$((i+1)); done | median; }

o_nat=$(run "$B/bench-openat" "$ON")
o_off=$(run $TRACE --syscalls execve,procexit -- "$B/bench-openat" "$ON")
o_on=$(run $TRACE --syscalls "$FULL" -- "$B/bench-openat" "$TN")
o_one=$(run taskset -c 0 $TRACE --syscalls "$FULL" -- "$B/bench-openat" "$TN")
e_nat=$(run "$B/bench-exec" "$EN")
e_off=$(run $TRACE --syscalls openat -- "$B/bench-exec" "$EN")
e_on=$(run $TRACE --syscalls "$FULL" -- "$B/bench-exec" "$EN")

echo "| benchmark | native | traced, syscall not in the filter | traced, frames sent | traced, tracer and workload on one CPU |"
echo "| --- | --- | --- | --- | --- |"
echo "| openat+close pair, ns (openat traced, close not) | $o_nat | $o_off | $o_on | $o_one |"
echo "| fork+exec+wait of /bin/true, µs | $e_nat | $e_off | $e_on | — |"
