#!/usr/bin/env bash
# Runs scripts/install-pi.sh against a temporary root (BERRYKIT_INSTALL_ROOT), never the system:
# every command that could change the system (apt-get, cmake, adduser, systemctl, …) is replaced
# on PATH by a stub that only records its call.
#
#   test-install-pi.sh dry-run WORK_DIR   --dry-run names all twelve steps and changes nothing
#   test-install-pi.sh files WORK_DIR     the file steps (unit, config, overlays) write under the
#                                         root (the kit's overlay too), keep a teacher's config,
#                                         and are idempotent
set -euo pipefail
mode=$1 work=$2
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
script=$source_dir/scripts/install-pi.sh
unit=$source_dir/daemon/systemd/berrykitd.service

rm -rf "$work"
mkdir -p "$work/root" "$work/bin"
root=$work/root
calls=$work/calls.log
: >"$calls"
for command in apt-get dpkg cmake adduser addgroup usermod useradd groupadd systemctl runuser sudo chown; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$command" "$calls" >"$work/bin/$command"
  chmod +x "$work/bin/$command"
done

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect() {  # expect TEXT OUTPUT WHY
  grep -qF -- "$1" <<<"$2" || fail "$3: the output has no '$1'"
}
install_pi() {
  PATH="$work/bin:$PATH" BERRYKIT_INSTALL_ROOT=$root BERRYKIT_BUILD_DIR=$work/build bash "$script" "$@" 2>&1
}
# What the stubs recorded, leaving out read-only `systemctl is-active`.
changes() { grep -v '^systemctl is-active' "$calls" || true; }

case $mode in
dry-run)
  status=0
  plan=$(install_pi --dry-run) || status=$?
  printf '%s\n' "$plan"
  [ "$status" -eq 0 ] || fail "the dry run exited $status"
  expect "dry run: printing the plan; nothing is changed" "$plan" "it says it is a dry run"
  n=0
  for step in deps build python daemon boards user gpio members unit config service overlays; do
    n=$((n + 1))
    expect "step $n/12 $step:" "$plan" "step $step is in the plan, in its place"
  done
  # The daemon goes where the unit starts it from.
  exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")
  [ "$exec_start" = /usr/local/sbin/berrykitd ] || fail "the unit starts $exec_start, not /usr/local/sbin/berrykitd"
  expect "install berrykitd to $exec_start" "$plan" "berrykitd is installed where the unit starts it"
  if [ -f "$source_dir/daemon/src/main_berrykitd.cpp" ]; then
    expect "would run: DESTDIR=$root cmake --install $work/build --component daemon --prefix /usr/local" "$plan" \
      "berrykitd is installed with cmake into the root"
  else
    expect "NOT INSTALLED: berrykitd is not part of this version of berrykit yet" "$plan" \
      "a checkout without berrykitd says so plainly"
  fi
  expect "would run: bash scripts/install-deps.sh" "$plan" "the deps step runs install-deps.sh"
  expect "BERRYKIT_NO_INSTALL=1 BERRYKIT_BUILD_DIR=$work/build bash scripts/build.sh" "$plan" "the build step runs build.sh"
  expect "--component firmware --prefix /usr/local" "$plan" "the boards are installed with cmake"
  expect "would run: install -D -m 0644 daemon/systemd/berrykitd.service $root/etc/systemd/system/berrykitd.service" \
    "$plan" "the unit goes under the root"
  expect "would write {} to $root/etc/berrykit/berrykit.json" "$plan" "the config goes under the root"
  grep -qE "would run: adduser --system --group .*berrykit|already there: uid=[0-9]+\(berrykit\)" <<<"$plan" ||
    fail "the user step neither plans adduser --system --group nor finds the user"
  grep -qE "would run: systemctl enable --now berrykitd|skipped: systemd is not running" <<<"$plan" ||
    fail "the service step neither plans systemctl enable --now nor says why not"
  expect "add    dtoverlay=berrykit-classroom" "$plan" "the overlays step asks for the kit's overlay"
  expect "skipped the copy: there is no $root/boot/firmware (not a Raspberry Pi?)" "$plan" \
    "the overlay is not copied where there is no boot folder"
  # Nothing written, nothing run.
  [ -z "$(find "$root" -mindepth 1)" ] || fail "the dry run wrote into the root: $(find "$root" -mindepth 1)"
  [ ! -e "$work/build" ] || fail "the dry run made the build folder"
  [ -z "$(changes)" ] || fail "the dry run ran: $(changes)"
  # A step that does not exist is refused.
  status=0
  out=$(install_pi --dry-run --steps unit,nonsense) || status=$?
  [ "$status" -eq 2 ] || fail "an unknown step exited $status, not 2"
  expect "there is no step 'nonsense'" "$out" "an unknown step is named"
  ;;

files)
  mkdir -p "$root/boot/firmware"
  # A stand-in for the built overlay: the step copies bytes, whatever they are (tests/overlay
  # checks the real one).
  built_overlay=$work/build/firmware/overlays/berrykit-classroom.dtbo
  mkdir -p "$(dirname "$built_overlay")"
  echo "stand-in for berrykit-classroom.dtbo" >"$built_overlay"
  installed_overlay=$root/boot/firmware/overlays/berrykit-classroom.dtbo
  printf '[all]\ndtoverlay=w1-gpio\n# dtoverlay=dht11,gpiopin=25\n' >"$root/boot/firmware/config.txt"
  config_txt_before=$(cat "$root/boot/firmware/config.txt")

  out=$(install_pi --steps unit,config,overlays) || fail "the first run failed"
  printf '%s\n' "$out"
  cmp -s "$unit" "$root/etc/systemd/system/berrykitd.service" || fail "the unit was not copied as it is"
  [ "$(stat -c %a "$root/etc/systemd/system/berrykitd.service")" = 644 ] || fail "the unit is not mode 0644"
  [ -f "$root/usr/local/share/doc/berrykit/berrykitd.service.md" ] || fail "the unit's README was not installed"
  [ "$(cat "$root/etc/berrykit/berrykit.json" 2>/dev/null)" = "{}" ] || fail "berrykit.json is not {}"
  [ "$(stat -c %a "$root/etc/berrykit/berrykit.json")" = 600 ] || fail "berrykit.json is not mode 0600"
  expect "ok: 'dtoverlay=w1-gpio' (the 'temperature' sensor on GPIO4)" "$out" "w1-gpio with its default pin is enough"
  expect "$root/boot/firmware/config.txt needs these changes" "$out" "a missing overlay is asked for"
  expect "      add    dtoverlay=dht11,gpiopin=25" "$out" "the commented-out dht11 line does not count"
  if grep -q "dtoverlay=w1-gpio,gpiopin=4$" <<<"$out"; then fail "w1-gpio was asked for although it is there"; fi
  [ "$(cat "$root/boot/firmware/config.txt")" = "$config_txt_before" ] || fail "config.txt was edited"
  cmp -s "$built_overlay" "$installed_overlay" || fail "the kit's overlay was not copied to $installed_overlay"
  [ "$(stat -c %a "$installed_overlay" 2>/dev/null)" = 644 ] || fail "the installed overlay is not mode 0644"
  expect "(or, instead of all of them: dtoverlay=berrykit-classroom)" "$out" "the kit's overlay is offered instead"

  # A teacher's own config stays; a second run changes nothing.
  echo '{"board": "starter"}' >"$root/etc/berrykit/berrykit.json"
  touch -d '2020-01-01' "$root/etc/systemd/system/berrykitd.service"
  echo 'dtoverlay=dht11,gpiopin=17' >>"$root/boot/firmware/config.txt"
  out=$(install_pi --steps unit,config,overlays) || fail "the second run failed"
  printf '%s\n' "$out"
  [ "$(cat "$root/etc/berrykit/berrykit.json")" = '{"board": "starter"}' ] || fail "the teacher's berrykit.json was overwritten"
  expect "kept: $root/etc/berrykit/berrykit.json is already there" "$out" "an existing config is kept"
  expect "already up to date: $root/etc/systemd/system/berrykitd.service" "$out" "an unchanged unit is left alone"
  [ "$(stat -c %Y "$root/etc/systemd/system/berrykitd.service")" = "$(date -d 2020-01-01 +%s)" ] ||
    fail "the unchanged unit was written again"
  expect "WRONG PIN: 'dtoverlay=dht11,gpiopin=17' is GPIO17, but the 'climate' sensor is on GPIO25" "$out" \
    "an overlay on the wrong pin is pointed out"
  expect "change 'dtoverlay=dht11,gpiopin=17' to 'dtoverlay=dht11,gpiopin=25'" "$out" "the fix for a wrong pin is a change"

  expect "already up to date: $installed_overlay" "$out" "an unchanged overlay is left alone"

  # The kit's overlay in config.txt is enough; with the Pi's own overlay too, two drivers would
  # claim one line.
  printf '[all]\ndtoverlay=berrykit-classroom\n' >"$root/boot/firmware/config.txt"
  out=$(install_pi --steps overlays) || fail "the overlays run with the kit's overlay failed"
  printf '%s\n' "$out"
  expect "ok: 'dtoverlay=berrykit-classroom' (the kit's overlay: 'temperature' on GPIO4, 'climate' on GPIO25)" "$out" \
    "the kit's overlay counts for both sensors"
  if grep -q "needs these changes\|but:" <<<"$out"; then fail "the kit's overlay alone was not enough"; fi
  printf 'dtoverlay=berrykit-classroom\ndtoverlay=w1-gpio,gpiopin=4\n' >"$root/boot/firmware/config.txt"
  out=$(install_pi --steps overlays) || fail "the overlays run with two 1-Wire overlays failed"
  printf '%s\n' "$out"
  expect "TWICE: 'dtoverlay=w1-gpio,gpiopin=4' starts a second driver for the 'temperature' sensor" "$out" \
    "a second driver on the same line is pointed out"
  expect "remove 'dtoverlay=w1-gpio,gpiopin=4'" "$out" "the fix for two drivers is a removal"
  : >"$root/boot/firmware/config.txt"
  out=$(install_pi --steps overlays) || fail "the overlays run with an empty config.txt failed"
  expect "      add    dtoverlay=berrykit-classroom" "$out" "an empty config.txt is asked for the kit's overlay"

  # An overlay that changed in the build is copied again; one that was not built is reported.
  echo "rebuilt" >>"$built_overlay"
  out=$(install_pi --steps overlays) || fail "the overlays run after a rebuild failed"
  cmp -s "$built_overlay" "$installed_overlay" || fail "a rebuilt overlay was not copied again"
  rm "$built_overlay"
  out=$(install_pi --steps overlays) || fail "the overlays run without a built overlay failed"
  expect "NOT INSTALLED: the build in $work/build has no berrykit-classroom.dtbo" "$out" "a missing overlay is reported"
  expect "the kit's overlay was not built" "$out" "a missing overlay is among the problems"

  # An out-of-date unit is replaced.
  echo "# changed" >>"$root/etc/systemd/system/berrykitd.service"
  out=$(install_pi --steps unit) || fail "the third run failed"
  cmp -s "$unit" "$root/etc/systemd/system/berrykitd.service" || fail "an out-of-date unit was not replaced"

  # With every one of the Pi's own overlays right, nothing is asked for.
  echo "stand-in for berrykit-classroom.dtbo" >"$built_overlay"
  printf 'dtoverlay=w1-gpio,gpiopin=4\ndtoverlay=dht11,gpiopin=25\n' >"$root/boot/firmware/config.txt"
  out=$(install_pi --steps overlays) || fail "the overlays run failed"
  printf '%s\n' "$out"
  if grep -q "needs these changes\|but:" <<<"$out"; then fail "overlays that are all there were asked for"; fi

  [ -z "$(changes)" ] || fail "the file steps ran system commands: $(changes)"
  ;;
*)
  echo "usage: $0 dry-run|files WORK_DIR" >&2
  exit 2
  ;;
esac

if [ "$failures" -gt 0 ]; then
  echo "test-install-pi $mode: $failures failures" >&2
  exit 1
fi
echo "test-install-pi $mode: passed"
