#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# In-kernel cost per event of each probe program (kernel.bpf_stats_enabled run_time_ns/run_cnt),
# which is far steadier than wall-clock ratios on a shared machine.
#   usage: test/bench/probe-kernel-cost.sh      (root; after `make -C native-bridge all bench`)
#   test/bench/probe-kernel-cost.sh openat [REPS] [PROBE...]: exit_openat alone, with the kernel
#     filter the agent derives from RULES (default Falco's stable rules), per open of OPEN_PATH
#     (default /etc/hostname, which that filter drops) over OPENS opens (default 300,000); several
#     vigil-probe binaries (e.g. an older build's) alternate REPS times. The program is found by
#     the probe's own descriptors (other probes on the machine do not count) and the ns per run
#     is the difference of its counters over the benchmark; `filtered` is the probe's drop count.
set -euo pipefail
cd "$(dirname "$0")/../../native-bridge"
make -s all bench >/dev/null

if [ "${1:-}" = openat ]; then
  REPS=${2:-3}
  shift $(( $# >= 2 ? 2 : 1 ))
  PROBES=("$@")
  [ ${#PROBES[@]} -gt 0 ] || PROBES=("$PWD/build/vigil-probe")
  RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
  FILTERS=$(mktemp)
  ( cd .. && . scripts/node-env.sh && { [ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json; } &&
    node test/bench/probe-set.mjs "$RULES" /dev/null "$FILTERS" )
  old=$(sysctl -n kernel.bpf_stats_enabled)
  trap 'sysctl -qw kernel.bpf_stats_enabled=$old; rm -f "$FILTERS"' EXIT
  # the id of program $2 among the bpf-prog descriptors of process $1
  progid() { local f id; for f in /proc/"$1"/fdinfo/*; do id=$(awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null); [ -n "$id" ] || continue; bpftool prog show id "$id" 2>/dev/null | grep -q "name $2 " && { echo "$id"; return; }; done; }
  mapid() { local f id; for f in /proc/"$1"/fdinfo/*; do id=$(awk '/^map_id:/ {print $2}' "$f" 2>/dev/null); [ -n "$id" ] || continue; bpftool map show id "$id" 2>/dev/null | grep -q "name $2 " && { echo "$id"; return; }; done; }
  runs() { bpftool prog show id "$1" 2>/dev/null | grep -oE "run_time_ns [0-9]* run_cnt [0-9]*" | awk '{print $2, $4}'; }
  filtered() { bpftool -j map dump id "$1" 2>/dev/null | python3 -c "
import json, sys
try: print(sum(v['value']['filtered'] for e in json.load(sys.stdin) for v in e['formatted']['values']))
except Exception: print(0)"; }
  printf "%-40s %8s %10s %10s %s\n" probe "ns/run" runs filtered load
  for _ in $(seq "$REPS"); do
    for P in "${PROBES[@]}"; do
      sysctl -qw kernel.bpf_stats_enabled=1
      fifo=$(mktemp -u); mkfifo "$fifo"
      { cat "$FILTERS"; exec sleep 100000; } >"$fifo" &
      feed=$!
      "$P" --syscalls openat --control-stdin <"$fifo" >/dev/null 2>&1 &
      p=$!
      id=
      for _ in $(seq 300); do
        cat /etc/hostname >/dev/null
        [ -n "$id" ] || id=$(progid $p exit_openat || true)
        [ -n "$id" ] && [ -n "$(runs "$id")" ] && break
        sleep 0.1
      done
      sleep 1 # the filter lines are applied
      m=$(mapid $p counters || true)
      f0=$(filtered "$m"); r0=$(runs "$id")
      ./build/bench-openclose "${OPENS:-300000}" "${OPEN_PATH:-/etc/hostname}" >/dev/null
      r1=$(runs "$id"); f1=$(filtered "$m")
      echo "$r0 $r1" | awk -v p="$P" -v f=$((f1 - f0)) -v l="$(cut -d' ' -f1-3 /proc/loadavg)" \
        '{ printf "%-40s %8.0f %10d %10d %s\n", p, ($3-$1)/($4-$2), $4-$2, f, l }'
      kill $p $feed; wait $p 2>/dev/null || true; rm -f "$fifo"
    done
  done
  exit 0
fi
old=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled=$old' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
# programs loaded by this run have ids above the current highest
FLOOR=$(bpftool prog show | awk -F: '/^[0-9]+:/ {id=$1} END {print id+0}')
./build/vigil-probe --syscalls openat,close,execve,clone,clone3,fork,vfork,procexit,connect,socket >/dev/null 2>&1 &
P=$!
runs() { bpftool prog show name "$1" 2>/dev/null | grep -oE "^[0-9]+:|run_cnt [0-9]*" | paste - - | awk -v f="$FLOOR" '$1+0 > f {print $3}'; }
# attached once our openat program starts counting
for _ in $(seq 240); do cat /etc/hostname >/dev/null; [ "$(runs exit_openat)" ] && [ "$(runs exit_openat)" -gt 0 ] && break; sleep 0.5; done
./build/bench-openclose 300000 >/dev/null
./build/bench-forkexec 500 >/dev/null
python3 -c "import socket
for _ in range(2000):
    s=socket.socket(); s.settimeout(0.01)
    try: s.connect(('127.0.0.1', 9))
    except Exception: pass
    s.close()"
printf "%-14s %10s %12s\n" program runs "ns/run"
for p in exit_openat exit_close exit_execve exit_clone exit_clone3 sched_exit exit_socket exit_connect; do
  bpftool prog show name $p 2>/dev/null | grep -oE "^[0-9]+:|run_time_ns [0-9]* run_cnt [0-9]*" | paste - - |
    awk -v p=$p -v f="$FLOOR" '{ id=$1+0; if (id > f && $5 > 0) printf "%-14s %10d %12.0f\n", p, $5, $3/$5 }'
done
kill $P; wait $P 2>/dev/null || true
