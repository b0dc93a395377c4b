#!/bin/sh
# berrykit VM tests — berrykitd end to end on the libgpiod backend, inside the test VM (busybox sh).
#
#   berrykitd_e2e.sh BERRYKITD BERRYKIT BOARD_FILE KEEP_BOARD_FILE
#
# berrykitd runs the classroom board (BOARD_FILE) on gpio-sim's chip A. `berrykit set red on` must
# light GPIO17 (sim_gpio17/value reads 1) and letting go must put it out; pulling GPIO21 down (the
# button, wired to ground with a pull-up: pressed) must reach `berrykit watch` as a press, and
# pulling it back up as a release.
# Then berrykitd runs KEEP_BOARD_FILE (tests/vm/keep_board.json) and is stopped with SIGTERM while
# programs hold its LEDs: every line must be left as the board says, a `keep` part as it was and
# every other part off, at its own off level. (The VM's gpio-sim keeps an output's level when it is
# let go, as Raspberry Pi OS's kernel does: scripts/vm-prepare.sh.)
# Exits 0 only if every step did what it should.
set -u
berrykitd=$1
berrykit=$2
board=$3
keep_board=$4
map=${BERRYKIT_GPIO_SIM:?BERRYKIT_GPIO_SIM names the gpio-sim map (tests/vm/init)}
work=/tmp/berrykitd-e2e
socket=$work/berrykit.sock
mkdir -p "$work"

failures=0
pids=""
fail() {
    echo "e2e: FAILED: $*"
    failures=$((failures + 1))
}
pass() { echo "e2e: ok: $*"; }
sim_dir() { awk -v name="$1" '$1 == name { print $4 }' "$map"; }
# wait_for SECONDS COMMAND...: true once COMMAND succeeds, false when the time is up.
wait_for() {
    tries=$(($1 * 10))
    shift
    while [ "$tries" -gt 0 ]; do
        "$@" && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}
value_is() { [ "$(cat "$1/value")" = "$2" ]; }
ended() { [ ! -e "/proc/$1" ] || [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" = Z ]; }  # a child, not yet waited for
stop() {  # stop PID NAME: SIGTERM, and its exit code must be 0
    kill "$1" 2>/dev/null
    wait "$1"
    code=$?
    [ "$code" = 0 ] && pass "$2 ended cleanly on SIGTERM" || fail "$2 exited with $code on SIGTERM"
}
show_logs() {
    for log in "$work"/*.log; do
        echo "---- $log"
        cat "$log"
    done
}

red=$(sim_dir GPIO17)
button=$(sim_dir GPIO21)
[ -n "$red" ] && [ -n "$button" ] || { echo "e2e: no GPIO17/GPIO21 in $map"; exit 1; }

"$berrykitd" --backend gpiod --board "$board" --socket "$socket" --log-level info >"$work/berrykitd.log" 2>&1 &
daemon=$!
if wait_for 60 test -S "$socket"; then
    pass "berrykitd serves $socket"
else
    fail "berrykitd did not open its socket within 60 s"
    show_logs
    kill "$daemon" 2>/dev/null
    exit 1
fi
wait_for 10 grep -q "(gpiod)" "$work/berrykitd.log" && pass "berrykitd runs the gpiod backend" ||
    fail "berrykitd does not say it runs the gpiod backend"

# ---- an LED: set red on, then let go ---------------------------------------------------------
value_is "$red" 0 && pass "GPIO17 is off before" || fail "GPIO17 is $(cat "$red/value") before anything set it"
: >"$work/set.log"
"$berrykit" --socket "$socket" set red on >"$work/set.log" 2>&1 &
setter=$!
if wait_for 30 grep -q "red is on" "$work/set.log"; then
    value_is "$red" 1 && pass "berrykit set red on: GPIO17 reads 1" || fail "berrykit set red on: GPIO17 reads $(cat "$red/value")"
    [ "$("$berrykit" --socket "$socket" get red 2>&1)" = "red: on" ] && pass "berrykit get red says on" ||
        fail "berrykit get red says: $("$berrykit" --socket "$socket" get red 2>&1)"
else
    fail "berrykit set red on did not say 'red is on' within 30 s"
fi
stop "$setter" "berrykit set"
wait_for 10 value_is "$red" 0 && pass "letting go of red puts GPIO17 back to 0" ||
    fail "GPIO17 still reads $(cat "$red/value") after berrykit set ended"

# ---- a button: press and release from outside -------------------------------------------------
value_is "$button" 1 && pass "GPIO21 rests high (the button's pull-up)" ||
    fail "GPIO21 reads $(cat "$button/value") at rest, not 1 (pull-up)"
: >"$work/watch.log"
"$berrykit" --socket "$socket" watch button >"$work/watch.log" 2>&1 &
watcher=$!
if wait_for 30 grep -q "watching" "$work/watch.log"; then
    echo pull-down >"$button/pull"
    wait_for 10 grep -q "button  *pressed" "$work/watch.log" && pass "pulling GPIO21 down: berrykit watch shows button pressed" ||
        fail "pulling GPIO21 down: no 'button pressed' at berrykit watch within 10 s"
    sleep 0.2  # past the button's 20 ms bounce time, so the release is its own edge
    echo pull-up >"$button/pull"
    wait_for 10 grep -q "button  *released" "$work/watch.log" && pass "pulling GPIO21 up: berrykit watch shows button released" ||
        fail "pulling GPIO21 up: no 'button released' at berrykit watch within 10 s"
else
    fail "berrykit watch did not start watching within 30 s"
fi
stop "$watcher" "berrykit watch"

# ---- a kernel-read sensor that is not there asks for the kit's overlay --------------------------
said=$("$berrykit" --socket "$socket" read temperature 2>&1)
echo "$said" | grep -q "not found.*dtoverlay=berrykit-classroom" &&
    pass "berrykit read temperature (no 1-Wire bus here) asks for the kit's overlay: $said" ||
    fail "berrykit read temperature does not ask for dtoverlay=berrykit-classroom: $said"

stop "$daemon" "berrykitd"

# ---- SIGTERM: each output is left as the board says -------------------------------------------
amber=$(sim_dir GPIO27)
green=$(sim_dir GPIO22)
buzzer=$(sim_dir GPIO18)
levels() { echo "red GPIO17=$(cat "$red/value") amber GPIO27=$(cat "$amber/value") green GPIO22=$(cat "$green/value") buzzer GPIO18=$(cat "$buzzer/value")"; }
rm -f "$socket"
"$berrykitd" --backend gpiod --board "$keep_board" --socket "$socket" --log-level info >"$work/berrykitd-keep.log" 2>&1 &
daemon=$!
if wait_for 60 test -S "$socket"; then
    pass "berrykitd serves the keep-test board"
    # At the start every output is off: green, wired to 3.3 V, is off with its line high.
    value_is "$red" 0 && value_is "$amber" 0 && value_is "$green" 1 && value_is "$buzzer" 0 &&
        pass "every output starts off ($(levels))" || fail "not every output starts off: $(levels)"
    # A kept part stays on when its program ends: `berrykit set` says so and ends at once.
    "$berrykit" --socket "$socket" set amber on >"$work/set-amber.log" 2>&1
    code=$?
    [ "$code" = 0 ] && value_is "$amber" 1 && pass "berrykit set amber on (keep) ends, and GPIO27 stays 1" ||
        fail "berrykit set amber on (keep) exited with $code, GPIO27 reads $(cat "$amber/value")"
    # Two programs hold red and green on when berrykitd is stopped.
    "$berrykit" --socket "$socket" set red on >"$work/set-red.log" 2>&1 &
    red_setter=$!
    "$berrykit" --socket "$socket" set green on >"$work/set-green.log" 2>&1 &
    green_setter=$!
    wait_for 30 grep -q "red is on" "$work/set-red.log" && wait_for 30 grep -q "green is on" "$work/set-green.log" &&
        value_is "$red" 1 && value_is "$green" 0 && pass "red and green are on, held by two programs ($(levels))" ||
        fail "red and green are not both on: $(levels)"
    stop "$daemon" "berrykitd (keep-test board)"
    value_is "$red" 0 && pass "after SIGTERM red (a program held it on) is off: GPIO17=0" ||
        fail "after SIGTERM red was left on: GPIO17=$(cat "$red/value")"
    value_is "$amber" 1 && pass "after SIGTERM amber (keep) is still on: GPIO27=1" ||
        fail "after SIGTERM amber (keep) was switched off: GPIO27=$(cat "$amber/value")"
    value_is "$green" 1 && pass "after SIGTERM green (wired to 3.3 V) is off: GPIO22=1" ||
        fail "after SIGTERM green was left at GPIO22=$(cat "$green/value"), on for an LED wired to 3.3 V"
    value_is "$buzzer" 0 && pass "after SIGTERM the buzzer (keep, never on) is still off: GPIO18=0" ||
        fail "after SIGTERM the buzzer reads GPIO18=$(cat "$buzzer/value")"
    # The programs that held red and green learn that berrykitd has gone, and end.
    for setter in "$red_setter" "$green_setter"; do
        if wait_for 10 ended "$setter"; then
            wait "$setter"
        else
            fail "a berrykit set was still running 10 s after berrykitd stopped"
            kill "$setter" 2>/dev/null
        fi
    done
    grep -q "berrykitd" "$work/set-red.log" && pass "berrykit set red says berrykitd went away: $(tail -n1 "$work/set-red.log")" ||
        fail "berrykit set red did not say why it ended: $(cat "$work/set-red.log")"
else
    fail "berrykitd did not open its socket within 60 s for the keep-test board"
    kill "$daemon" 2>/dev/null
fi
show_logs
echo "e2e: $failures failure(s)"
[ "$failures" = 0 ]
