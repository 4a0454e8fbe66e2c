#!/usr/bin/env bash
# The one-command start (README "Quick start"): Node 22 from the npm registry if the
# machine's Node is older, the dependencies (compiled on install), then `akc daemon`,
# which creates the vault through its prompts on the first run and serves it.
#   bash scripts/start.sh [akc daemon options…]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node22.sh
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "start.sh: installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
elif [ ! -f dist/src/cli/main.js ]; then
  npm run --silent build:ts >&2
fi
exec node bin/akc.js daemon "$@"
