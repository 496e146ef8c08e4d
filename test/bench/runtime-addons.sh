#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The native-addon decision of issue 14 (BENCHMARKS.md "Runtime: Node 24 and native addons"):
# on the pinned Node, in one process, the collector's store ingest on better-sqlite3 (the store as
# it was before the move, from git) against node:sqlite (the store as it is), and rule evaluation
# with `regex` rules on re2 (native), re2js (pure JavaScript, what the rules use) and re2-wasm.
# The candidates that are no longer dependencies are installed once into a cache folder under
# $TMPDIR (the first run builds the native ones from source and prints how long that took).
#   usage: test/bench/runtime-addons.sh
#   env: OLD_STORE_REV (default: the parent of the commit that moved the store to node:sqlite)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/node-env.sh
[ -d node_modules ] || ./scripts/setup.sh

# the versions the lockfile held before the move
CANDIDATES=(better-sqlite3@12.11.1 re2@1.24.0 re2-wasm@1.0.2)
CAND="${TMPDIR:-/tmp}/vigil-runtime-addons-node$VIGIL_NODE_VERSION"
if [ ! -f "$CAND/done" ]; then
  rm -rf "$CAND"
  mkdir -p "$CAND"
  echo '{"name":"vigil-runtime-addons-candidates","private":true}' >"$CAND/package.json"
  t0=$(date +%s.%N)
  (cd "$CAND" && npm install --no-audit --no-fund --loglevel=error "${CANDIDATES[@]}")
  echo "npm install ${CANDIDATES[*]} (native builds from source): $(echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.1f') s"
  touch "$CAND/done"
fi

rev="${OLD_STORE_REV:-}"
if [ -z "$rev" ] && grep -q 'from "better-sqlite3"' collector/store.ts; then
  rev=HEAD
elif [ -z "$rev" ]; then
  moved=$(git log -1 --format=%H -S 'import Database from "better-sqlite3"' -- collector/store.ts)
  rev="$moved^"
fi
OLD_STORE="$CAND/old-store-$(git rev-parse --short "$rev").ts"
git show "$rev:collector/store.ts" >"$OLD_STORE"

echo "node $(node --version), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), store before: $(git rev-parse --short "$rev")"
exec node --import ./test/sinks/helpers/register-ts.mjs test/bench/runtime-addons.ts "$CAND" "$OLD_STORE"
