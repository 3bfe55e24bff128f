#!/usr/bin/env bash
# Runs a command with the pinned toolchain on PATH and the workspace installed.
# Usage: scripts/run.sh COMMAND [ARG ...]   (the root package.json scripts use it)
set -euo pipefail
. "$(dirname -- "$0")/env.sh"
cd "$flightrec_root"
if [ ! -f node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  pnpm install --frozen-lockfile --reporter=silent
fi
exec "$@"
