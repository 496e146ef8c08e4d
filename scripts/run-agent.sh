#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The newcomer's first command: set everything up, then run the agent on this host with the
# built-in rules; alerts print on the terminal. Extra arguments go to `vigil agent`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ -x scripts/containerd.sh ] && [ ! -S /run/containerd/containerd.sock ]; then
  # a container runtime for metadata enrichment; the agent also runs without one
  scripts/containerd.sh start /run/containerd >/dev/null 2>&1 || echo "setup: containerd did not start; container metadata will come from cgroups only" >&2
fi
exec node dist/agent/cli/main.js agent "$@"
