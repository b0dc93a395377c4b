#!/usr/bin/env bash
# The VM benchmark (issue 6): a pull on a real kernel's GPIO line (gpio-sim, in the test VM) → the
# event at a berrykitd client, median and p99, for the libgpiod 1.x build (build/) and, when it
# exists, the 2.x build (build-gpiod2/, scripts/build-gpiod2.sh). QEMU's TCG emulates every
# instruction, so these figures are far slower than a Raspberry Pi's.
set -euo pipefail
cd "$(dirname "$0")/.."
board=$PWD/firmware/boards/classroom.json
for build in build build-gpiod2; do
  [ -x "$build/bench/bench_vm_events" ] || { echo "bench-vm: no $build/bench/bench_vm_events (build it first)"; continue; }
  out=$(bash scripts/vm-test.sh --add "$PWD/$build/daemon/berrykitd" --add "$PWD/$build/bench/bench_vm_events" --add "$board" \
    "$PWD/tests/vm/bench_events.sh" "$PWD/$build/daemon/berrykitd" "$PWD/$build/bench/bench_vm_events" "$board" "${1:-200}")
  echo "$out" | grep -E "^libgpiod|vm-test: (passed|FAILED)|boot \+ programs"
done
