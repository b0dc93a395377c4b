#!/usr/bin/env bash
# Checks a systemd unit with `systemd-analyze verify` and fails on any complaint about it:
# verify itself exits 0 after an unknown key or a value it cannot parse (it only warns, and
# systemd would then run the service without that setting), so its output is read too.
#
#   verify-unit.sh UNIT WORK_DIR                        the unit must be clean
#   verify-unit.sh UNIT WORK_DIR LINE EXPECTED_TEXT     LINE added to [Service] must draw a
#                                                       complaint containing EXPECTED_TEXT
#                                                       (proves the check can fail)
#
# verify also insists that ExecStart's program exists, and on a build machine berrykitd is not
# installed where the unit says (/usr/local/sbin). The unit is checked as a copy in WORK_DIR whose
# ExecStart names a program that exists; every other line is checked as written.
set -euo pipefail
[ $# -eq 2 ] || [ $# -eq 4 ] || { echo "usage: $0 UNIT WORK_DIR [LINE EXPECTED_TEXT]" >&2; exit 2; }
unit=$1 work=$2 extra=${3:-} expected=${4:-}
name=$(basename "$unit")

rm -rf "$work"
mkdir -p "$work"
stand_in=$(command -v true)
sed -E "s|^ExecStart=[^ ]+|ExecStart=$stand_in|" "$unit" >"$work/$name"
grep -q "^ExecStart=$stand_in" "$work/$name" || { echo "verify-unit: $unit has no ExecStart= line" >&2; exit 1; }
if [ -n "$extra" ]; then
  sed -i "s|^\[Service\]\$|[Service]\n$extra|" "$work/$name"
fi

status=0
output=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$work/$name" 2>&1) || status=$?
[ -z "$output" ] || printf '%s\n' "$output"
# Lines about other units (verify loads what this one names) are shown but are not this unit's fault.
complaints=$(grep -F "$name" <<<"$output" || true)

if [ -n "$extra" ]; then
  if grep -qF "$expected" <<<"$complaints"; then
    echo "verify-unit: as it should, verify complained about '$extra'"
    exit 0
  fi
  echo "verify-unit: verify did not complain about '$extra' (expected '$expected'): the check is blind" >&2
  exit 1
fi
if [ "$status" -ne 0 ] || [ -n "$complaints" ]; then
  echo "verify-unit: $unit has problems (above; systemd-analyze exited $status)" >&2
  exit 1
fi
echo "verify-unit: $unit is clean ($(systemd-analyze --version | head -1))"
