#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The newcomer's first command: set everything up, then run the agent on this host with the
# built-in rules; alerts print on the terminal. Extra arguments go to `vigil agent`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/node-env.sh
if [ -x scripts/containerd.sh ] && [ ! -S /run/containerd/containerd.sock ]; then
  # a container runtime for metadata enrichment; the agent also runs without one
  scripts/containerd.sh start /run/containerd >/dev/null 2>&1 || echo "setup: containerd did not start; container metadata will come from cgroups only" >&2
fi
# V8's young generation capped at 2 x 2 MiB (default 2 x 16): about 28 MiB less RSS, and no
# slower (BENCHMARKS.md "Agent memory (issue 22, Dec 5)"); the DaemonSet sets the same through
# NODE_OPTIONS (the old generation's growth is memory.heap_growing_percent, set by the agent).
# glibc's malloc with 2 arenas instead of 8 per core for V8's worker threads: 5-8 MiB less RSS
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
exec node --max-semi-space-size=2 dist/agent/cli/main.js agent "$@"
