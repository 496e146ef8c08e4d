#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The newcomer's second command: set everything up, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
# formatter, lint rules, dependency rules, contract docs (package.json "lint")
npm run --silent lint
exec npx vitest run "$@"
