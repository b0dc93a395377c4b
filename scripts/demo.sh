#!/usr/bin/env bash
# The main job, for now: a classroom lesson on the simulated board, drawn in the terminal.
# Installs what it needs and builds first. Pass a number of seconds to run for (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
echo "demo: building berrykit (first time: a few minutes)..."
if ! bash scripts/build.sh >"$log" 2>&1; then
  cat "$log"; rm -f "$log"; echo "demo: the build failed (above)" >&2; exit 1
fi
rm -f "$log"
BERRYKIT_BOARD=sim exec /usr/bin/python3 lessons/demo.py "$@"
