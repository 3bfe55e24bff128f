# Sourced by scripts/run.sh and .ci/run: puts Node.js >= 22 and the pinned pnpm on PATH.
#
# Node.js, in this order:
#  1. FLIGHTREC_NODE_DIR, a Node.js bin directory (CI uses it for Node.js 22 and 26);
#  2. the machine's own `node`, when it is 22 or newer;
#  3. Node.js 24 from the npm registry (tools/node/<platform>/, pinned by its
#     lock file), where a package exists for this platform: linux-x64,
#     linux-arm64, darwin-x64;
#  4. otherwise one line that says which Node.js to install, and a failure.
# pnpm is an npm package for every platform: tools/package.json pins it.
flightrec_root=$(cd "$(dirname -- "${BASH_SOURCE[0]:-$0}")/.." && pwd)
flightrec_tools="$flightrec_root/tools"

# Installs the npm project in directory $1 from its lock file, once (again when the lock changes).
flightrec_provision() {
  if [ ! -f "$1/node_modules/.package-lock.json" ] ||
    [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; then
    echo "flightrec: installing $2 into ${1#"$flightrec_root"/} (once)" >&2
    npm ci --prefix "$1" --no-audit --no-fund --loglevel=error >&2
  fi
}

# The major version of the `node` on PATH, or 0.
flightrec_node_major() {
  local version
  version=$(node --version 2>/dev/null) || {
    echo 0
    return
  }
  version=${version#v}
  echo "${version%%.*}"
}

flightrec_node_dir=${FLIGHTREC_NODE_DIR:-}
if [ -z "$flightrec_node_dir" ] && [ "$(flightrec_node_major)" -lt 22 ]; then
  case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) flightrec_platform=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) flightrec_platform=linux-arm64 ;;
  Darwin-x86_64) flightrec_platform=darwin-x64 ;;
  *) flightrec_platform= ;;
  esac
  if [ -z "$flightrec_platform" ]; then
    echo "flightrec: needs Node.js 22 or newer; this machine has $(node --version 2>/dev/null || echo none) and the npm registry has no Node.js 24 for $(uname -s) $(uname -m): install Node.js 24 from https://nodejs.org and run again" >&2
    return 1 2>/dev/null || exit 1
  fi
  flightrec_provision "$flightrec_tools/node/$flightrec_platform" "Node.js 24 for $flightrec_platform" ||
    return 1 2>/dev/null || exit 1
  flightrec_node_dir="$flightrec_tools/node/$flightrec_platform/node_modules/node/bin"
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "flightrec: needs npm (it comes with Node.js) to install pnpm" >&2
  return 1 2>/dev/null || exit 1
fi
flightrec_provision "$flightrec_tools" pnpm || return 1 2>/dev/null || exit 1
PATH="${flightrec_node_dir:+$flightrec_node_dir:}$flightrec_tools/node_modules/pnpm:$flightrec_root/node_modules/.bin:$PATH"
export PATH
