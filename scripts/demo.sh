#!/usr/bin/env bash
# The main job: the simulated classroom.
#
#   - `berrykit sim`, the teacher's command: mosquitto, the MQTT broker, on a free port of this
#     computer only (127.0.0.1); berrykitd on the simulated board, with its classroom page (the
#     board in a browser: the address is printed), sending its readings to that broker, with the
#     red LED open to commands from the cloud; the function runner with the cloud function
#     lessons/functions/handler.py;
#   - lessons/demo.py, a lesson driving the board through berrykitd, drawn in the terminal;
#   - lessons/functions/warm_room.py: the classroom warms up, and the cloud function turns the
#     red LED on above 25 °C.
#
# Installs what it needs and builds first. Pass a number of seconds for the lesson (default 20).
# Everything it starts, it stops at the end or on Ctrl+C.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
log=$(mktemp)
echo "demo: building berrykit (first time: a few minutes)..."
if ! bash scripts/build.sh >"$log" 2>&1; then
  cat "$log"; rm -f "$log"; echo "demo: the build failed (above)" >&2; exit 1
fi
rm -f "$log"

run_dir=$(mktemp -d)
sim_pid=
stop_all() {
  if [ -n "$sim_pid" ]; then kill -INT "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$run_dir"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# 1-3. The simulated classroom, as a teacher starts it: `berrykit sim` runs mosquitto on a free
# 127.0.0.1 port, berrykitd on the simulated board (with its page, and its readings going to the
# broker) and the function runner with lessons/functions/handler.py.
socket="$run_dir/berrykit.sock"
build/daemon/berrykit --socket "$socket" sim >"$run_dir/sim.out" 2>&1 &
sim_pid=$!
for _ in $(seq 400); do
  grep -q "Press Ctrl+C" "$run_dir/sim.out" && break
  if ! kill -0 "$sim_pid" 2>/dev/null; then
    cat "$run_dir/sim.out" >&2; echo "demo: the simulated classroom did not start (above)" >&2; exit 1
  fi
  sleep 0.05
done
grep -q "Press Ctrl+C" "$run_dir/sim.out" || { cat "$run_dir/sim.out" >&2; echo "demo: the classroom took too long to start" >&2; exit 1; }
sed -n '/the page:/,/logs:/p' "$run_dir/sim.out" | sed 's/^ */demo: /'
logs=$(sed -n 's/^ *logs: *\([^ ]*\).*/\1/p' "$run_dir/sim.out")

# 4. The lesson, then the cloud lesson.
export BERRYKIT_SOCKET="$socket"
/usr/bin/python3 lessons/demo.py "$seconds"
echo
/usr/bin/python3 lessons/functions/warm_room.py 2
echo
echo "demo: what the cloud function did (the last lines of its log):"
grep -E "→|returned|command" "$logs/functions.log" | tail -n 6 | sed 's/^/    /'
echo "demo: berrykitd's cloud bridge: $(build/daemon/berrykit --socket "$socket" status | sed -n 's/^ *cloud: *//p')"
