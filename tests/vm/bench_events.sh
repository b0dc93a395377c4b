#!/bin/sh
# berrykit VM benchmark — inside the test VM (busybox sh): berrykitd on the libgpiod backend with
# the classroom board on gpio-sim's chip A, and bench_vm_events flipping the button's pull and
# timing the event at a client (bench/bench_vm_events.cpp).
#
#   bench_events.sh BERRYKITD BENCH_VM_EVENTS BOARD_FILE [N]
set -u
berrykitd=$1
bench=$2
board=$3
n=${4:-200}
work=/tmp/berrykit-bench
socket=$work/berrykit.sock
mkdir -p "$work"
"$berrykitd" --backend gpiod --board "$board" --socket "$socket" --log-level warning &
daemon=$!
tries=100
while [ ! -S "$socket" ] && [ "$tries" -gt 0 ]; do sleep 0.1; tries=$((tries - 1)); done
if [ ! -S "$socket" ]; then
    echo "bench: berrykitd did not start"
    kill "$daemon" 2>/dev/null
    exit 1
fi
"$bench" "$socket" "$n"
status=$?
kill "$daemon"
wait "$daemon" || status=1
exit $status
