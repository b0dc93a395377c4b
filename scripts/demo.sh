#!/usr/bin/env bash
# The main job: the simulated classroom. berrykitd runs the simulated board, and a lesson script
# (lessons/demo.py) drives it through the daemon, as kids' scripts do, drawn in the terminal.
# Installs what it needs and builds first. Pass a number of seconds to run for (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
echo "demo: building berrykit (first time: a few minutes)..."
if ! bash scripts/build.sh >"$log" 2>&1; then
  cat "$log"; rm -f "$log"; echo "demo: the build failed (above)" >&2; exit 1
fi
rm -f "$log"

run_dir=$(mktemp -d)
socket="$run_dir/berrykit.sock"
build/daemon/berrykitd --backend sim --socket "$socket" 2>"$run_dir/berrykitd.log" &
daemon=$!
stop_daemon() {
  kill -TERM "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  rm -rf "$run_dir"
}
trap stop_daemon EXIT
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.05; done
if [ ! -S "$socket" ]; then
  cat "$run_dir/berrykitd.log" >&2; echo "demo: berrykitd did not start (above)" >&2; exit 1
fi
echo "demo: berrykitd runs the simulated board on $socket"
BERRYKIT_SOCKET="$socket" /usr/bin/python3 lessons/demo.py "$@"
