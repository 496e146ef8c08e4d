#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cost of the socket filter (issue 19, Stratum over write/writev; FORMAT.md "Socket filters") on a
# write-heavy workload: native-bridge/bench/rw1.c (1-byte write+read through a pipe) with nothing
# attached, with vigil-probe asked `write,read` (every call sent), `write` (every write sent) and
# `write:sock` (pipe writes dropped in the kernel before any frame) and `write:fail` (the program
# runs and drops every successful write at once: what the fd check adds is sock - fail),
# interleaved REPS times; prints
# the median ns per write+read (wall) and CPU ns per write+read of the benchmark (perf task-clock).
#   usage: test/bench/write-sock.sh [REPS]    (root; after `make -C native-bridge all bench`)
#   env: RW (operations per run, default 1000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPS=${1:-5}
RW=${RW:-1000000}
B=native-bridge/build
make -s -C native-bridge all bench >/dev/null
if [ "$(pgrep -xc vigil-probe || true)" != 0 ]; then
  # its programs run on rw1's write/read only if it attached sys_exit_write/read (an agent's does not without such rules)
  echo "warning: another vigil-probe is running: measured too if it observes write or read" >&2
fi
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
one() { # label
  local t; t=$(mktemp)
  local wall; wall=$(perf stat -x, -e task-clock -o "$t" $B/bench-rw1 "$RW")
  local cpu; cpu=$(awk -F, -v n="$RW" '$3=="task-clock" {printf "%.1f", $1*1e6/n}' "$t")
  rm -f "$t"
  echo "$1 $wall $cpu" >>"$OUT"
}
with_probe() { # label syscalls
  local err; err=$(mktemp)
  $B/vigil-probe --syscalls "$2" >/dev/null 2>"$err" &
  local p=$!
  # loading and verifying the programs takes seconds on a busy machine: measure once it is attached
  for _ in $(seq 300); do grep -q "syscalls observed" "$err" && break; sleep 0.1; done
  grep -q "syscalls observed" "$err" || { echo "vigil-probe not ready after 30 s" >&2; cat "$err" >&2; exit 1; }
  sleep 0.5
  one "$1"
  kill -INT "$p"
  wait "$p" || true
  rm -f "$err"
}
for _ in $(seq "$REPS"); do
  one none
  with_probe write,read write,read
  with_probe write write
  with_probe write:sock write:sock
  with_probe write:fail write:fail
done
printf "%-12s %10s %10s  (median of %s runs of %s write+read; then every run's wall / cpu)\n" config wall_ns cpu_ns "$REPS" "$RW"
for c in none write,read write write:sock write:fail; do
  w=$(awk -v c="$c" '$1==c {print $2}' "$OUT" | median)
  u=$(awk -v c="$c" '$1==c {print $3}' "$OUT" | median)
  printf "%-12s %10s %10s   %s\n" "$c" "$w" "$u" "$(awk -v c="$c" '$1==c {printf "%s/%s ", $2, $3}' "$OUT")"
done
