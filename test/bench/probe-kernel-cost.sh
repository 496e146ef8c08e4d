#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# In-kernel cost per event of each probe program (kernel.bpf_stats_enabled run_time_ns/run_cnt),
# which is far steadier than wall-clock ratios on a shared machine.
#   usage: test/bench/probe-kernel-cost.sh      (root; after `make -C native-bridge all bench`)
set -euo pipefail
cd "$(dirname "$0")/../../native-bridge"
make -s all bench >/dev/null
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
