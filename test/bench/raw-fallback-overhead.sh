#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Cost of the raw_syscalls/sys_exit fallback (FORMAT.md "Syscalls without a tracepoint") on the
# workload, robust to a shared machine: two vigil-probe processes stay loaded the whole run (one
# plain, one started with --raw-syscalls openat) and the syscall set is switched through their
# control channel between runs, so no load time is in the loop and every configuration runs
# interleaved with the others, REPS times. The set and kernel filters are the ones the agent
# derives from Falco's stable rules (as probe-overhead.sh). Configurations:
#   none      nothing attached
#   tp        the set without init_module/finit_module: every call by its tracepoint (what the probe
#             attached before the fallback existed, on a kernel without those tracepoints)
#   default   the whole set: init_module/finit_module through the fallback where this kernel has no
#             tracepoint for them, so raw_syscalls/sys_exit runs on every syscall
#   raw-open  the whole set with openat forced through the fallback as well
# Prints the medians of the benchmark's own CPU time per op (perf task-clock) and of the per-rep
# ratios to `none`.
#   usage: test/bench/raw-fallback-overhead.sh [REPS]   (root; env OPS_OPEN, OPS_RW)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
REPS=${1:-9}
OPS_OPEN=${OPS_OPEN:-200000}
OPS_RW=${OPS_RW:-500000}
B=native-bridge/build
RULES=${RULES:-../shared/corpus/falco/falco_rules.yaml}
make -s -C native-bridge all bench >/dev/null
[ -f dist/agent/cli/main.js ] || npx tsc -p tsconfig.json
node --input-type=module -e "
import { writeFileSync } from 'node:fs';
import { RuleEngine } from './dist/agent/engine/rule-engine.js';
import { stateOnlyClones, syscallsFor } from './dist/agent/pipeline.js';
import { probeSyscalls } from './dist/agent/sources/ebpf-source.js';
import { deriveKernelFilters } from './dist/rules/compile/pushdown.js';
import { kernelFilterLines } from './dist/agent/sources/kernel-filter.js';
import { pino } from 'pino';
const rs = new RuleEngine({ files: ['$RULES'], logger: pino({ level: 'silent' }) }).load();
writeFileSync('/tmp/vigil-rawbench-syscalls', probeSyscalls(syscallsFor(rs), stateOnlyClones(rs)).join(','));
writeFileSync('/tmp/vigil-rawbench-filters', kernelFilterLines(deriveKernelFilters(rs.rules)).join('\n') + '\n');"
ALL=$(cat /tmp/vigil-rawbench-syscalls)
TP=$(tr ',' '\n' </tmp/vigil-rawbench-syscalls | grep -vE '^(f?init_module)(:.*)?$' | paste -sd,)
W=$(mktemp -d)
trap 'kill $P1 $P2 2>/dev/null; exec 7>&- 8>&-; rm -rf "$W"' EXIT
mkfifo "$W/c1" "$W/c2"
exec 7<>"$W/c1" 8<>"$W/c2"
$B/vigil-probe --syscalls "" --control-stdin <"$W/c1" >/dev/null 2>"$W/e1" &
P1=$!
$B/vigil-probe --syscalls "" --raw-syscalls openat --control-stdin <"$W/c2" >/dev/null 2>"$W/e2" &
P2=$!
cat /tmp/vigil-rawbench-filters >&7
cat /tmp/vigil-rawbench-filters >&8
lines() { grep -c 'syscalls observed' "$1" || true; }
for _ in $(seq 600); do [ "$(lines "$W/e1")" -ge 1 ] && [ "$(lines "$W/e2")" -ge 1 ] && break; sleep 0.2; done
set_to() { # fd errfile list: waits for the probe's report of the new set
  local n; n=$(lines "$3")
  echo "syscalls $2" >&"$1"
  for _ in $(seq 100); do [ "$(lines "$3")" -gt "$n" ] && break; sleep 0.05; done
  tail -1 "$3" >>"$W/reports"
}
config() {
  case $1 in
  none) set_to 7 "" "$W/e1"; set_to 8 "" "$W/e2" ;;
  tp) set_to 8 "" "$W/e2"; set_to 7 "$TP" "$W/e1" ;;
  default) set_to 8 "" "$W/e2"; set_to 7 "$ALL" "$W/e1" ;;
  raw-open) set_to 7 "" "$W/e1"; set_to 8 "$ALL" "$W/e2" ;;
  esac
  sleep 0.3
}
cpu() { # binary ops -> ns of the benchmark's CPU per op
  local t; t=$(mktemp)
  perf stat -x, -e task-clock -o "$t" "$1" "$2" >/dev/null
  awk -F, -v n="$2" '$3=="task-clock" {printf "%.1f", $1*1e6/n}' "$t"; rm -f "$t"
}
CONFIGS="none tp default raw-open"
for r in $(seq "$REPS"); do
  for c in $CONFIGS; do
    config "$c"
    echo "$r $c openclose $(cpu $B/bench-openclose "$OPS_OPEN")" >>"$W/out"
    echo "$r $c rw1 $(cpu $B/bench-rw1 "$OPS_RW")" >>"$W/out"
  done
done
config none
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg); foreign vigil-probe processes now: $(( $(pgrep -xc vigil-probe || true) - 2 ))"
echo "reports seen:"; sort -u "$W/reports" | sed 's/^/  /'
echo "== benchmark CPU ns/op (task-clock), median of $REPS; ratio: median of per-rep ratios to none"
printf "%-10s" workload; for c in $CONFIGS; do printf " %18s" "$c"; done; echo
for w in openclose rw1; do
  printf "%-10s" "$w"
  for c in $CONFIGS; do
    v=$(awk -v w=$w -v c=$c '$2==c && $3==w {print $4}' "$W/out" | median)
    q=$(awk -v w=$w -v c=$c '$3==w && $2=="none" {b[$1]=$4} $3==w && $2==c {v[$1]=$4} END {for (r in v) if (b[r] > 0) printf "%.3f\n", v[r]/b[r]}' "$W/out" | median)
    printf " %9s x%7s" "$v" "$q"
  done
  echo
done
