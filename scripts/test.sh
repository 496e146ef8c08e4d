#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The newcomer's second command: set everything up, then run the whole test suite.
# With arguments, they go to vitest as they are (one file, a filter) and nothing else runs.
set -euo pipefail
cd "$(dirname "$0")/.."
# Node.js as pinned in .node-version, first on PATH (setup fetches it the first time)
. scripts/node-env.sh
./scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
# formatter, lint rules, dependency rules, contract docs (package.json "lint")
npm run --silent lint
if [ "$#" -gt 0 ]; then exec npx vitest run "$@"; fi
# The attack tests assert /healthz latency and peak RSS under load: they run after the rest, one
# file at a time, so the other test files' work on the two cores does not count against them.
QUIET=(test/load test/collector/transport-hardening.test.ts test/collector/data-hardening.test.ts)
npx vitest run --exclude 'test/load/**' --exclude 'test/collector/transport-hardening.test.ts' --exclude 'test/collector/data-hardening.test.ts'
exec npx vitest run --no-file-parallelism "${QUIET[@]}"
