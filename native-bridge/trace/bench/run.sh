#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Overhead of vigil-trace on the openat and exec micro-benchmarks (BENCHMARKS.md "Fargate tracer").
# The cases are interleaved (one run of each per round, REPS rounds) so load changes on a shared
# machine hit every case alike; the median per case is printed.
# Usage: run.sh [REPS] [OPENAT_N] [EXEC_N]
set -eu
B=$(cd "$(dirname "$0")/../../build" && pwd)
REPS=${1:-7}
ON=${2:-200000}
EN=${3:-2000}
# traced stops cost tens of µs: fewer iterations keep the run short (per-op figures are comparable)
TN=$((ON / 10))
SOCK=$(mktemp -u /tmp/vigil-bench-XXXXXX.sock)
OUT=$(mktemp -d /tmp/vigil-bench-XXXXXX)
"$B/bench-sink" "$SOCK" 2>/dev/null &
SINK=$!
trap 'kill $SINK 2>/dev/null || true; rm -rf "$OUT"' EXIT
sleep 0.2
FULL="execve,execveat,clone,clone3,fork,vfork,procexit,open,openat,openat2,creat,connect"
T="$B/vigil-trace --socket $SOCK"

r=0
while [ $r -lt "$REPS" ]; do
	"$B/bench-openat" "$ON" >>"$OUT/o_nat"
	$T --syscalls execve,procexit -- "$B/bench-openat" "$ON" >>"$OUT/o_off"
	$T --syscalls "$FULL" -- "$B/bench-openat" "$TN" >>"$OUT/o_on"
	taskset -c 1 $T --syscalls "$FULL" -- "$B/bench-openat" "$TN" >>"$OUT/o_one"
	"$B/bench-exec" "$EN" >>"$OUT/e_nat"
	$T --syscalls openat -- "$B/bench-exec" "$EN" >>"$OUT/e_off"
	$T --syscalls "$FULL" -- "$B/bench-exec" "$EN" >>"$OUT/e_on"
	taskset -c 1 $T --syscalls "$FULL" -- "$B/bench-exec" "$EN" >>"$OUT/e_one"
	r=$((r + 1))
done
med() { sort -n "$OUT/$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "| benchmark | native | traced, syscall not in the filter | traced, frames sent | traced, tracer and workload on one CPU |"
echo "| --- | --- | --- | --- | --- |"
echo "| openat+close pair, ns (openat traced, close not) | $(med o_nat) | $(med o_off) | $(med o_on) | $(med o_one) |"
echo "| fork+exec+wait of /bin/true, µs | $(med e_nat) | $(med e_off) | $(med e_on) | $(med e_one) |"
