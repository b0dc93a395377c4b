#!/usr/bin/env bash
# The main job: the simulated classroom.
#
#   - mosquitto, the MQTT broker, on a free port of this computer only (127.0.0.1);
#   - berrykitd on the simulated board, sending its readings to that broker (the cloud bridge),
#     with the red LED open to commands from the cloud;
#   - the function runner with lessons/functions/handler.py, the cloud function;
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
pids=()
stop_all() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$run_dir"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

fail() {
  echo "demo: $1 (its log follows)" >&2
  cat "$2" >&2
  exit 1
}
wait_for() {  # wait_for WHAT TEST...: up to 10 s
  local what=$1; shift
  for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done
  return 1
}

# 1. The broker, on loopback only.
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$run_dir/mosquitto.conf"
"$mosquitto" -c "$run_dir/mosquitto.conf" >"$run_dir/mosquitto.log" 2>&1 &
pids+=($!)
broker_up() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
wait_for broker broker_up || fail "mosquitto did not start" "$run_dir/mosquitto.log"
echo "demo: the MQTT broker (mosquitto) listens on 127.0.0.1:$port"

# 2. berrykitd, with the cloud bridge.
socket="$run_dir/berrykit.sock"
cat >"$run_dir/berrykit.json" <<EOF
{
  "device_id": "classroom-pi",
  "mqtt": {"url": "mqtt://127.0.0.1:$port", "reconnect": {"min": 0.2, "max": 2}},
  "outbox": {"file": "$run_dir/outbox.sqlite"},
  "sensors": {"temperature": {"period": 1}},
  "parts": {"red": {"remote": true}}
}
EOF
build/daemon/berrykitd --backend sim --socket "$socket" --config "$run_dir/berrykit.json" 2>"$run_dir/berrykitd.log" &
pids+=($!)
wait_for berrykitd test -S "$socket" || fail "berrykitd did not start" "$run_dir/berrykitd.log"
echo "demo: berrykitd runs the simulated board on $socket and sends its readings to the broker"

# 3. The cloud function.
/usr/bin/python3 -m berrykit.functions lessons/functions/handler.py --broker "mqtt://127.0.0.1:$port" \
  >"$run_dir/functions.log" 2>&1 &
pids+=($!)
wait_for "the function runner" grep -q "connected to" "$run_dir/functions.log" ||
  fail "the function runner did not connect" "$run_dir/functions.log"
echo "demo: the cloud function lessons/functions/handler.py waits for readings"

# 4. The lesson, then the cloud lesson.
export BERRYKIT_SOCKET="$socket"
/usr/bin/python3 lessons/demo.py "$seconds"
echo
/usr/bin/python3 lessons/functions/warm_room.py 2
echo
echo "demo: what the cloud function did (the last lines of its log):"
grep -E "→|returned|command" "$run_dir/functions.log" | tail -n 6 | sed 's/^/    /'
echo "demo: berrykitd's cloud bridge: $(build/daemon/berrykit --socket "$socket" status | sed -n 's/^ *cloud: *//p')"
