#!/usr/bin/env bash
# Installs berrykit on a Raspberry Pi (Raspberry Pi OS Bookworm) and starts berrykitd, the daemon
# that owns the GPIO, as a systemd service. From the berrykit folder, on the Pi:
#
#     sudo scripts/install-pi.sh             # do it
#     scripts/install-pi.sh --dry-run        # print every step and what it would do; change nothing
#
# Safe to run again (after `git pull`, say): each step looks first and does only what is missing;
# berrykitd is restarted only when it or its unit changed. Your own /etc/berrykit/berrykit.json
# is never overwritten. The steps, in order (`--steps a,b` runs only those):
#
#   deps      the Debian packages berrykit needs (scripts/install-deps.sh)
#   build     build berrykit (scripts/build.sh), as the owner of this folder, not root
#   python    the berrykit Python package, where /usr/bin/python3 finds it (kids' scripts)
#   daemon    berrykitd to /usr/local/sbin
#   boards    the board files to /usr/local/share/berrykit/boards
#   user      the system user and group `berrykit` that berrykitd runs as
#   gpio      the group `gpio` that owns /dev/gpiochip* (Raspberry Pi OS has it)
#   members   the user who ran sudo joins group `berrykit`, so their scripts reach the daemon
#   unit      berrykitd.service to /etc/systemd/system
#   config    /etc/berrykit/berrykit.json ({}: the defaults), only if there is none
#   service   systemctl daemon-reload, enable --now berrykitd (skipped when systemd is not running)
#   overlays  the kit's overlay (berrykit-classroom.dtbo) to /boot/firmware/overlays; checks
#             config.txt loads it (or the Pi's own w1-gpio and dht11); prints what to add
#
# Environment:
#   BERRYKIT_INSTALL_ROOT  put every installed file under this folder instead of / (for tests);
#                          the system's users, groups and services are then left alone
#   BERRYKIT_BUILD_DIR     build folder (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$PWD

all_steps=(deps build python daemon boards user gpio members unit config service overlays)
prefix=/usr/local                         # the unit's ExecStart is $prefix/sbin/berrykitd
root=${BERRYKIT_INSTALL_ROOT:-}
root=${root%/}
build_dir=${BERRYKIT_BUILD_DIR:-build}
dry_run=0
steps=("${all_steps[@]}")
given_args=("$@")

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) dry_run=1 ;;
    --steps=*) IFS=, read -r -a steps <<<"${1#--steps=}" ;;
    --steps) shift; IFS=, read -r -a steps <<<"${1:-}" ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install-pi: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
for step in "${steps[@]}"; do
  case " ${all_steps[*]} " in
    *" $step "*) ;;
    *) echo "install-pi: there is no step '$step'; the steps are: ${all_steps[*]}" >&2; exit 2 ;;
  esac
done

if [ "$dry_run" = 0 ] && [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "install-pi: this installs a system service, so it needs root: sudo $0 ${given_args[*]}" >&2
  echo "install-pi: (scripts/install-pi.sh --dry-run shows what it would do, without root)" >&2
  exit 1
fi

# --- helpers -----------------------------------------------------------------------------------
say() { echo "install-pi: $*"; }
detail() { echo "    $*"; }
# Runs a command, or in a dry run says it would.
run() {
  local shown
  shown=$(printf '%q ' "$@")
  if [ "$dry_run" = 1 ]; then
    detail "would run: ${shown% }"
  else
    detail "running: ${shown% }"
    "$@"
  fi
}
wants() { case " ${steps[*]} " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
step_number=0
step() {
  step_number=$((step_number + 1))
  say "step $step_number/${#steps[@]} $1: $2"
}
# Steps that change the whole system (users, groups, services) are skipped under a fake root; a
# dry run still shows what they would do, since it changes nothing.
system_wide() {
  if [ -n "$root" ] && [ "$dry_run" = 0 ]; then
    detail "skipped: BERRYKIT_INSTALL_ROOT is set ($root), so the system's $1 are left alone"
    return 1
  elif [ -n "$root" ]; then
    detail "(a real run with BERRYKIT_INSTALL_ROOT skips this step; on this system it would:)"
  fi
}

# The user whose folder this is builds, and joins group berrykit: the one who ran sudo.
teacher=${SUDO_USER:-}
[ -z "$teacher" ] && [ "$(id -u)" -ne 0 ] && teacher=$(id -un)   # a dry run without sudo
[ "$teacher" = root ] && teacher=
checkout_owner=$(stat -c %U "$source_dir")
berrykitd_source=$source_dir/daemon/src/main_berrykitd.cpp
berrykitd_missing="berrykitd is not part of this version of berrykit yet (there is no daemon/src/main_berrykitd.cpp), so there is no daemon to install or start; the other steps still run. Update berrykit (git pull) and run this again."
problems=()
changed=0       # berrykitd or its unit changed: a running service is restarted
[ "$dry_run" = 1 ] && say "dry run: printing the plan; nothing is changed"
[ -n "$root" ] && say "installing under $root (BERRYKIT_INSTALL_ROOT) instead of /"

# cmake --install of one component into $prefix (under $root when set). Sets installed_new=1 when
# it copied a file that was missing or different.
installed_new=0
install_component() {
  local component=$1
  local -a command=(cmake --install "$build_dir" --component "$component" --prefix "$prefix")
  if [ "$dry_run" = 1 ]; then
    detail "would run: ${root:+DESTDIR=$root }${command[*]}"
    return 0
  fi
  if [ ! -f "$build_dir/cmake_install.cmake" ]; then
    echo "install-pi: there is no build in $build_dir: run the build step first (scripts/install-pi.sh --steps build)" >&2
    exit 1
  fi
  detail "running: ${root:+DESTDIR=$root }${command[*]}"
  local output
  output=$(DESTDIR=$root "${command[@]}")
  printf '%s\n' "$output" | sed 's/^/    /'
  if grep -q '^-- Installing:' <<<"$output"; then installed_new=1; fi
}

# --- the steps ---------------------------------------------------------------------------------
if wants deps; then
  step deps "install the Debian packages berrykit needs"
  run bash scripts/install-deps.sh
fi

if wants build; then
  step build "build berrykit in $build_dir"
  build=(env BERRYKIT_NO_INSTALL=1 BERRYKIT_BUILD_DIR="$build_dir" bash scripts/build.sh)
  if [ "$checkout_owner" != root ] && [ "$(id -u)" -eq 0 ]; then
    # As the folder's owner, so the build folder stays theirs and no compiler runs as root. sudo
    # left HOME at /root, where their ccache could not write.
    owner_home=$(getent passwd "$checkout_owner" | cut -d: -f6)
    run runuser -u "$checkout_owner" -- env HOME="$owner_home" "${build[@]}"
  else
    run "${build[@]}"
  fi
fi

if wants python; then
  step python "install the berrykit Python package for /usr/bin/python3"
  install_component python
fi

if wants daemon; then
  step daemon "install berrykitd to $prefix/sbin/berrykitd"
  if [ ! -f "$berrykitd_source" ]; then
    detail "NOT INSTALLED: $berrykitd_missing"
    problems+=("$berrykitd_missing")
  else
    installed_new=0
    install_component daemon
    [ "$installed_new" = 1 ] && changed=1
    if [ "$dry_run" = 0 ] && [ ! -x "$root$prefix/sbin/berrykitd" ]; then
      echo "install-pi: berrykitd was not installed to $root$prefix/sbin/berrykitd; is the build in $build_dir up to date?" >&2
      exit 1
    fi
  fi
fi

if wants boards; then
  step boards "install the board files to $prefix/share/berrykit/boards"
  detail "the boards: $(cd firmware/boards && echo *.json)"
  install_component firmware
fi

if wants user; then
  step user "create the system user and group 'berrykit' that berrykitd runs as"
  if system_wide "users and groups"; then
    if getent passwd berrykit >/dev/null; then
      detail "already there: $(id berrykit)"
    else
      run adduser --system --group --home /var/lib/berrykit --no-create-home --comment "berrykit daemon" berrykit
    fi
  fi
fi

if wants gpio; then
  step gpio "check the group 'gpio' (owner of /dev/gpiochip*) exists"
  if system_wide "groups"; then
    if getent group gpio >/dev/null; then
      detail "already there: group gpio"
    else
      # Raspberry Pi OS makes it and gives it /dev/gpiochip*; elsewhere the unit still needs the
      # group to exist to start at all.
      run addgroup --system gpio
      detail "this system had no group gpio (Raspberry Pi OS has one): for berrykitd to reach the pins,"
      detail "give it /dev/gpiochip* with a udev rule such as:"
      detail "  SUBSYSTEM==\"gpio\", KERNEL==\"gpiochip*\", GROUP=\"gpio\", MODE=\"0660\""
    fi
  fi
fi

if wants members; then
  step members "add ${teacher:-the user who ran sudo} to group 'berrykit', so their scripts can reach berrykitd"
  if system_wide "groups"; then
    if [ -z "$teacher" ]; then
      detail "skipped: not run through sudo by a user; add people with: sudo adduser NAME berrykit"
    elif id -nG "$teacher" 2>/dev/null | tr ' ' '\n' | grep -qx berrykit; then
      detail "already there: $teacher is in group berrykit"
    else
      run adduser "$teacher" berrykit
      detail "$teacher must log out and in again (or reboot) before the group counts"
    fi
    detail "pupils' accounts join the same way: sudo adduser NAME berrykit"
  fi
fi

if wants unit; then
  unit_target=$root/etc/systemd/system/berrykitd.service
  doc_target=$root$prefix/share/doc/berrykit/berrykitd.service.md
  step unit "install the systemd unit to $unit_target"
  if cmp -s daemon/systemd/berrykitd.service "$unit_target" && cmp -s daemon/systemd/README.md "$doc_target"; then
    detail "already up to date: $unit_target"
  else
    run install -D -m 0644 daemon/systemd/berrykitd.service "$unit_target"
    run install -D -m 0644 daemon/systemd/README.md "$doc_target"
    changed=1
  fi
fi

if wants config; then
  config=$root/etc/berrykit/berrykit.json
  step config "write $config if there is none"
  if [ -e "$config" ]; then
    detail "kept: $config is already there and stays as it is"
  else
    # 0600 to the daemon's user: the config will hold MQTT credentials, and group berrykit (the
    # pupils) must not read them.
    owner=(-o berrykit -g berrykit)
    [ -n "$root" ] && owner=()
    if [ "$dry_run" = 0 ] && [ -z "$root" ] && ! getent passwd berrykit >/dev/null; then
      echo "install-pi: there is no user berrykit to own $config yet: run the user step first (--steps user,config)" >&2
      exit 1
    fi
    run install -d -m 0755 "$root/etc/berrykit"
    if [ "$dry_run" = 1 ]; then
      detail "would write {} to $config (mode 0600${owner:+, owner berrykit})"
    else
      tmp=$(mktemp)
      echo '{}' >"$tmp"
      install -m 0600 "${owner[@]}" "$tmp" "$config"
      rm -f "$tmp"
      detail "wrote {} to $config: berrykitd runs on its documented defaults"
    fi
  fi
fi

if wants service; then
  step service "enable and start berrykitd (systemctl)"
  if system_wide "services"; then
    if [ ! -d /run/systemd/system ]; then
      # sd_booted(3)'s test: no /run/systemd/system means systemd is not PID 1 (a container, say).
      detail "skipped: systemd is not running this system (PID 1 is $(ps -p 1 -o comm= 2>/dev/null || echo unknown)),"
      detail "so there is no service manager to start berrykitd; start it by hand: $prefix/sbin/berrykitd"
    elif [ ! -f "$berrykitd_source" ]; then
      detail "skipped: $berrykitd_missing"
      run systemctl daemon-reload
    else
      was_active=0
      systemctl is-active --quiet berrykitd && was_active=1
      run systemctl daemon-reload
      if ! run systemctl enable --now berrykitd; then
        echo "install-pi: berrykitd did not start; its log says why: journalctl -u berrykitd -b" >&2
        exit 1
      fi
      if [ "$was_active" = 1 ] && [ "$changed" = 1 ]; then
        run systemctl restart berrykitd
      fi
      [ "$dry_run" = 1 ] || detail "$(systemctl is-active berrykitd || true): see systemctl status berrykitd, journalctl -u berrykitd"
    fi
  fi
fi

if wants overlays; then
  config_txt=$root/boot/firmware/config.txt
  [ -f "$config_txt" ] || [ ! -f "$root/boot/config.txt" ] || config_txt=$root/boot/config.txt   # before Bookworm
  boot_dir=$(dirname "$config_txt")
  overlay_name=berrykit-classroom
  overlay_built=$build_dir/firmware/overlays/$overlay_name.dtbo
  overlay_target=$boot_dir/overlays/$overlay_name.dtbo
  step overlays "install the kit's overlay to $boot_dir/overlays; check $config_txt loads it"
  # The overlay is generated from the classroom board file by the build (firmware/overlay/): it
  # starts the 1-Wire and dht11 drivers on the board's lines and names the header's lines.
  if [ ! -d "$boot_dir" ]; then
    detail "skipped the copy: there is no $boot_dir (not a Raspberry Pi?)"
  elif [ "$dry_run" = 0 ] && [ ! -f "$overlay_built" ]; then
    detail "NOT INSTALLED: the build in $build_dir has no $overlay_name.dtbo: install device-tree-compiler"
    detail "(scripts/install-deps.sh does) and run the build step again"
    problems+=("the kit's overlay was not built, so it is not in $boot_dir/overlays (step overlays, above)")
  elif cmp -s "$overlay_built" "$overlay_target"; then
    detail "already up to date: $overlay_target"
  else
    run install -D -m 0644 "$overlay_built" "$overlay_target"
    detail "it takes effect at the next reboot"
  fi
  # Which drivers the board needs comes from the board file itself (its ds18b20 and dht parts);
  # config.txt is only read, never edited: a wrong line there stops the Pi booting.
  if ! /usr/bin/python3 - "$source_dir/firmware/boards/classroom.json" "$config_txt" "$overlay_name" <<'PY'; then
import json, re, sys
board_file, config_txt, kit_overlay = sys.argv[1], sys.argv[2], sys.argv[3]
with open(board_file) as f:
    parts = json.load(f)["parts"]
# The Raspberry Pi's own overlays for the same drivers, which also work.
overlay_of = {"ds18b20": "w1-gpio", "dht11": "dht11", "dht22": "dht11"}
needed = []  # (overlay, gpio, part)
for name, part in parts.items():
    if part.get("type") in overlay_of:
        needed.append((overlay_of[part["type"]], int(part["line"].removeprefix("GPIO")), name))
try:
    with open("/proc/device-tree/model") as f:
        pi5 = "Raspberry Pi 5" in f.read()
except OSError:
    pi5 = False
kit_wanted = f"dtoverlay={kit_overlay}" + (",pi5" if pi5 else "")
try:
    with open(config_txt) as f:
        lines = [line.split("#")[0].strip() for line in f]
except FileNotFoundError:
    lines = None
def overlay_lines(name):
    for line in lines or []:
        m = re.fullmatch(r"dtoverlay=([\w-]+)((?:,[^,]*)*)", line)
        if m and m.group(1) == name:
            yield line, m.group(2)
kit = next(overlay_lines(kit_overlay), None)
stock = {}  # part -> (line, gpio) of the Pi's own overlay for it
for overlay, gpio, part in needed:
    for line, params in overlay_lines(overlay):
        pin = re.search(r",gpiopin=(\d+)", params)
        stock[part] = (line, int(pin.group(1)) if pin else 4)  # both overlays default to GPIO4
fixes = []  # what to do to config.txt, one line each
if lines is None:
    print(f"    there is no {config_txt} (not a Raspberry Pi?). On the Pi, it needs this line:")
    fixes = [f"add    {kit_wanted}"]
elif kit:
    sensors = ", ".join(f"'{part}' on GPIO{gpio}" for _, gpio, part in needed)
    print(f"    ok: '{kit[0]}' (the kit's overlay: {sensors})")
    if pi5 and ",pi5" not in kit[1]:
        fixes.append(f"change '{kit[0]}' to '{kit_wanted}' (a Raspberry Pi 5 needs it for 1-Wire)")
    for part, (line, gpio) in stock.items():
        # Two drivers cannot share one line: the second one fails to start.
        print(f"    TWICE: '{line}' starts a second driver for the '{part}' sensor")
        fixes.append(f"remove '{line}' ({kit_overlay} already does it)")
elif not stock:
    fixes.append(f"add    {kit_wanted}")
else:
    # The Pi's own overlays are there: they work too, so say what they lack.
    for overlay, gpio, part in needed:
        wanted = f"dtoverlay={overlay},gpiopin={gpio}"
        if part in stock and stock[part][1] == gpio:
            print(f"    ok: '{stock[part][0]}' (the '{part}' sensor on GPIO{gpio})")
        elif part in stock:
            line = stock[part][0]
            print(f"    WRONG PIN: '{line}' is GPIO{stock[part][1]}, but the '{part}' sensor is on GPIO{gpio}")
            fixes.append(f"change '{line}' to '{wanted}'")
        else:
            fixes.append(f"add    {wanted}")
    if fixes:
        fixes.append(f"(or, instead of all of them: {kit_wanted})")
if lines is not None and fixes:
    print(f"    {config_txt} needs these changes (at the end, under [all]), then a reboot:")
for fix in fixes:
    print(f"      {fix}")
if fixes:
    print("    (this script never edits config.txt; the temperature and climate sensors need these)")
    print("    after the reboot, check: gpioinfo | grep -w GPIO4, ls /sys/bus/w1/devices, ls /sys/bus/iio/devices")
    sys.exit(1)
PY
    problems+=("$config_txt does not load the sensors' drivers yet (step overlays, above)")
  fi
fi

# --- the end -----------------------------------------------------------------------------------
if [ "$dry_run" = 1 ]; then
  say "dry run done: run it with sudo to do these steps"
else
  say "done"
fi
if [ ${#problems[@]} -gt 0 ]; then
  say "but:"
  for p in "${problems[@]}"; do detail "- $p"; done
  # No daemon means nothing serves the scripts: a failure. Missing overlays only need a reboot.
  if [ "$dry_run" = 0 ] && wants daemon && [ ! -f "$berrykitd_source" ]; then exit 1; fi
fi
