#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Starts or stops a containerd for tests, beside any system instance: its own root, state, socket
# and config under DIR (default /run/vigil-containerd), the CRI plugin with
# restrict_oom_score_adj = true (root here lacks CAP_SYS_RESOURCE) and the locally built pause
# image as sandbox image. Idempotent: `start` on a running instance only prints its socket.
#
#   scripts/containerd.sh start [DIR]   # prints the socket path once it answers
#   scripts/containerd.sh stop  [DIR]   # stops containerd (containers' shims keep running)
#   scripts/containerd.sh status [DIR]  # exit 0 when it answers
set -euo pipefail

cmd="${1:-}"
dir="${2:-/run/vigil-containerd}"
sock="$dir/containerd.sock"
pidfile="$dir/containerd.pid"

answers() {
  [ -S "$sock" ] && timeout 5 ctr -a "$sock" version >/dev/null 2>&1
}

running_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # the pid must still be a containerd (pid reuse)
  grep -q containerd "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

write_config() {
  mkdir -p "$dir/root" "$dir/state"
  cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  sandbox_image = "registry.k8s.io/pause:3.6"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
TOML
}

case "$cmd" in
start)
  command -v containerd >/dev/null || { echo "containerd.sh: containerd is not installed" >&2; exit 1; }
  if running_pid >/dev/null && answers; then
    echo "$sock"
    exit 0
  fi
  if pid="$(running_pid)"; then
    # alive but not answering (still starting, or wedged): give it a moment, then replace it
    for _ in $(seq 1 50); do answers && { echo "$sock"; exit 0; }; sleep 0.1; done
    kill "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  write_config
  rm -f "$sock" "$sock.ttrpc"
  setsid containerd --config "$dir/config.toml" </dev/null >>"$dir/containerd.log" 2>&1 &
  echo $! >"$pidfile"
  started="$(cat "$pidfile")"
  for _ in $(seq 1 300); do
    if answers; then echo "$sock"; exit 0; fi
    # alive is enough here: right after the fork the child may not have exec'd containerd yet (its
    # cmdline is still this shell's), which running_pid's check would take for an exit
    if ! kill -0 "$started" 2>/dev/null; then
      echo "containerd.sh: containerd exited; last log lines:" >&2
      tail -n 20 "$dir/containerd.log" >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  echo "containerd.sh: containerd did not answer on $sock within 30 s" >&2
  exit 1
  ;;
stop)
  if pid="$(running_pid)"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  ;;
status)
  answers
  ;;
*)
  echo "usage: $0 start|stop|status [DIR]" >&2
  exit 2
  ;;
esac
