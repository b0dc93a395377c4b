#!/usr/bin/env bash
# Checks the kit's device-tree overlays with fdtget, the way the Raspberry Pi's firmware will read
# them: which line each kernel driver is given, which nodes the fragments change, the line names.
#
#   check-overlay.sh classroom DTBO        the built berrykit-classroom.dtbo: DS18B20 on GPIO4,
#                                          DHT22 on GPIO25, the header named GPIO2 … GPIO27
#   check-overlay.sh starter DTBO          the built berrykit-starter.dtbo: no kernel sensors
#   check-overlay.sh moved GENERATOR WORK  a board with the sensors on other lines gives an overlay
#                                          with those lines (so the classroom check can fail)
#   check-overlay.sh applied DTBO WORK     berrykit-classroom.dtbo applied with fdtoverlay to a
#                                          stand-in for a Pi 4's tree: the drivers get its &gpio
#   check-overlay.sh refused GENERATOR WORK  a board with a line off the header is refused
set -euo pipefail
mode=$1
source_dir=$(cd "$(dirname "$0")/../.." && pwd)

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# get DTBO NODE PROPERTY [TYPE]: the property, or "(missing)".
get() { fdtget -t "${4:-s}" "$1" "$2" "$3" 2>/dev/null || echo "(missing)"; }
same() {  # same ACTUAL EXPECTED WHY
  [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

header_names="ID_SDA ID_SCL$(for n in $(seq 2 27); do printf ' GPIO%d' "$n"; done)"

# The parts every overlay has: the board's note, the header's names (fragment 1) and the switch
# that leaves the Pi's own names (keep_line_names turns fragment 1 off: <0>,"!1").
check_common() {  # DTBO BOARD
  local dtbo=$1 board=$2
  same "$(get "$dtbo" /fragment@0 target-path)" "/" "fragment 0 adds its nodes to the root"
  same "$(get "$dtbo" /fragment@0/__overlay__/berrykit board)" "$board" "the overlay names its board"
  same "$(get "$dtbo" /fragment@1/__overlay__ gpio-line-names)" "$header_names" \
    "fragment 1 names the header's lines as the board files do"
  grep -qw "/fragment@1:target:0" <<<"$(get "$dtbo" /__fixups__ gpio)" ||
    fail "fragment 1 does not target the GPIO controller (&gpio): its target is not in __fixups__/gpio"
  same "$(get "$dtbo" /__overrides__ keep_line_names bx)" "0 0 0 0 21 31 0" \
    "keep_line_names switches fragment 1 off (<0>,\"!1\")"
}

# A kernel-read sensor: its driver's node on the root, given the line through &gpio, and its pins
# node under &gpio (input, pull off) on the same line.
check_sensor() {  # DTBO NODE COMPATIBLE PINS_NODE GPIO WHAT
  local dtbo=$1 node=/fragment@0/__overlay__/$2 compatible=$3 pins=/fragment@2/__overlay__/$4 gpio=$5 what=$6
  same "$(get "$dtbo" "$node" compatible)" "$compatible" "$what: the node binds the $compatible driver"
  same "$(get "$dtbo" "$node" status)" "okay" "$what: the node is enabled"
  # <&gpio N 0>: the phandle (filled in by the firmware, see __fixups__), the line, the flags.
  local gpios
  read -r -a gpios <<<"$(get "$dtbo" "$node" gpios u)"
  same "${gpios[1]:-(missing)}" "$gpio" "$what: the driver's gpios is line $gpio"
  same "${gpios[2]:-(missing)}" "0" "$what: the line is active high"
  grep -qw "$node:gpios:0" <<<"$(get "$dtbo" /__fixups__ gpio)" ||
    fail "$what: gpios does not refer to the GPIO controller (&gpio): $node:gpios:0 is not in __fixups__/gpio"
  same "$(get "$dtbo" "$pins" brcm,pins u)" "$gpio" "$what: its pins node is line $gpio"
  same "$(get "$dtbo" "$pins" brcm,function u)" "0" "$what: its line is an input"
  same "$(get "$dtbo" "$pins" brcm,pull u)" "0" "$what: the Pi's pull is off (the kit has its own resistor)"
  same "$(get "$dtbo" "$node" pinctrl-0 u)" "$(get "$dtbo" "$pins" phandle u)" "$what: the driver uses its pins node"
  grep -qw "/fragment@2:target:0" <<<"$(get "$dtbo" /__fixups__ gpio)" ||
    fail "$what: fragment 2 (the pins) does not target &gpio"
}

# On a Pi 5, `pi5` switches on fragment N, which gives the 1-Wire node delay-needs-poll.
check_pi5() {  # DTBO FRAGMENT NODE
  local dtbo=$1 fragment=/fragment@$2 node=/fragment@0/__overlay__/$3
  same "$(get "$dtbo" "$fragment" target u)" "$(get "$dtbo" "$node" phandle u)" "fragment $2 targets $3"
  fdtget "$dtbo" "$fragment/__dormant__" raspberrypi,delay-needs-poll >/dev/null 2>&1 ||
    fail "fragment $2 is not a dormant delay-needs-poll"
  local byte
  byte=$(printf '%x' "'$2")
  same "$(get "$dtbo" /__overrides__ pi5 bx)" "0 0 0 0 2b $byte 0" "pi5 switches fragment $2 on (<0>,\"+$2\")"
}

build_overlay() {  # GENERATOR BOARD_JSON OUT_BASE: writes OUT_BASE.dts and OUT_BASE.dtbo
  /usr/bin/python3 "$1" "$2" "$3.dts" && dtc -Wno-unit_address_vs_reg -@ -I dts -O dtb -o "$3.dtbo" "$3.dts"
}

case $mode in
classroom)
  dtbo=$2
  check_common "$dtbo" classroom
  check_sensor "$dtbo" onewire-temperature w1-gpio berrykit-temperature-pins 4 "the DS18B20 'temperature'"
  check_sensor "$dtbo" dht11-climate dht11 berrykit-climate-pins 25 "the DHT22 'climate'"
  check_pi5 "$dtbo" 3 onewire-temperature
  parts=$(get "$dtbo" /fragment@0/__overlay__/berrykit parts)
  for listed in "red: GPIO17" "rgb.blue: GPIO13" "temperature: GPIO4" "climate: GPIO25" "distance.echo: GPIO24"; do
    grep -qF "$listed" <<<"$parts" || fail "the overlay's list of parts has no '$listed'"
  done
  # Every line the board file uses is a name the overlay gives (what libgpiod will show).
  names=" $(get "$dtbo" /fragment@1/__overlay__ gpio-line-names) "
  for line in $(grep -o '"GPIO[0-9]*"' "$source_dir/firmware/boards/classroom.json" | tr -d '"' | sort -u); do
    [[ $names == *" $line "* ]] || fail "classroom.json's $line is not among the overlay's line names"
  done
  ;;

starter)
  dtbo=$2
  check_common "$dtbo" starter
  nodes=$(fdtget -l "$dtbo" /fragment@0/__overlay__)
  same "$nodes" "berrykit" "a board without kernel sensors adds no driver nodes"
  fdtget "$dtbo" /fragment@2 target >/dev/null 2>&1 && fail "a board without kernel sensors has a pins fragment"
  same "$(get "$dtbo" /__overrides__ pi5 bx)" "(missing)" "a board without a DS18B20 has no pi5 switch"
  ;;

moved)
  generator=$2 work=$3
  rm -rf "$work" && mkdir -p "$work"
  # The classroom kit with the DS18B20 on GPIO19 and the DHT22 on GPIO12.
  sed -e 's/"type": "ds18b20", "line": "GPIO4"/"type": "ds18b20", "line": "GPIO19"/' \
      -e 's/"type": "dht22", "line": "GPIO25"/"type": "dht22", "line": "GPIO12"/' \
      -e 's/"name": "classroom"/"name": "moved"/' \
      "$source_dir/firmware/boards/classroom.json" >"$work/moved.json"
  grep -q '"GPIO19"' "$work/moved.json" && grep -q '"GPIO12"' "$work/moved.json" ||
    fail "the test could not move the sensors in its copy of classroom.json"
  build_overlay "$generator" "$work/moved.json" "$work/berrykit-moved" || fail "the moved board's overlay did not build"
  dtbo=$work/berrykit-moved.dtbo
  check_common "$dtbo" moved
  check_sensor "$dtbo" onewire-temperature w1-gpio berrykit-temperature-pins 19 "the moved DS18B20"
  check_sensor "$dtbo" dht11-climate dht11 berrykit-climate-pins 12 "the moved DHT22"
  grep -q "gpios = <&gpio 4 0>\|brcm,pins = <4>" "$work/berrykit-moved.dts" && fail "the moved board's overlay still uses GPIO4"
  # Two DS18B20s on two lines: two buses, each with its own pi5 fragment.
  sed -e 's/"light": *{"type": "light_sensor", "line": "GPIO26"/"light": {"type": "ds18b20", "line": "GPIO26"/' \
      -e 's/"name": "classroom"/"name": "two"/' \
      "$source_dir/firmware/boards/classroom.json" >"$work/two.json"
  build_overlay "$generator" "$work/two.json" "$work/berrykit-two" || fail "the two-DS18B20 board's overlay did not build"
  check_sensor "$work/berrykit-two.dtbo" onewire-light w1-gpio berrykit-light-pins 26 "the second DS18B20"
  same "$(get "$work/berrykit-two.dtbo" /__overrides__ pi5 bx)" "0 0 0 0 2b 33 2b 34 0" "pi5 switches on both buses' fragments"
  ;;

applied)
  # fdtoverlay (libfdt's overlay code, which the Pi's firmware and dtoverlay also build on) applies
  # the overlay to a stand-in for a Pi 4's base tree: a gpio node labelled `gpio` whose line names
  # are the Pi's own. The firmware's parameters (__overrides__, dormant fragments) are the
  # firmware's own and not tried here.
  dtbo=$2 work=$3
  rm -rf "$work" && mkdir -p "$work"
  cat >"$work/base.dts" <<'EOF'
/dts-v1/;
/ {
	compatible = "raspberrypi,4-model-b", "brcm,bcm2711";
	#address-cells = <2>;
	#size-cells = <1>;
	soc {
		compatible = "simple-bus";
		#address-cells = <1>;
		#size-cells = <1>;
		gpio: gpio@7e200000 {
			compatible = "brcm,bcm2711-gpio";
			reg = <0x7e200000 0xb4>;
			gpio-controller;
			#gpio-cells = <2>;
			gpio-line-names = "ID_SDA", "ID_SCL", "SDA1", "SCL1", "GPIO_GCLK";
		};
	};
};
EOF
  dtc -@ -I dts -O dtb -o "$work/base.dtb" "$work/base.dts"
  fdtoverlay -i "$work/base.dtb" -o "$work/applied.dtb" "$dtbo" || fail "fdtoverlay could not apply $dtbo"
  applied=$work/applied.dtb gpio_node=/soc/gpio@7e200000
  gpio_phandle=$(get "$applied" $gpio_node phandle u)
  for sensor in "onewire-temperature berrykit-temperature-pins 4" "dht11-climate berrykit-climate-pins 25"; do
    read -r node pins gpio <<<"$sensor"
    same "$(get "$applied" "/$node" gpios u)" "$gpio_phandle $gpio 0" "/$node's gpios is <&gpio $gpio 0> once applied"
    same "$(get "$applied" "$gpio_node/$pins" brcm,pins u)" "$gpio" "$pins is under the gpio node once applied"
    same "$(get "$applied" "/$node" pinctrl-0 u)" "$(get "$applied" "$gpio_node/$pins" phandle u)" \
      "/$node uses $pins once applied"
  done
  same "$(get "$applied" $gpio_node gpio-line-names)" "$header_names" "the Pi's own line names (GPIO_GCLK …) are replaced"
  same "$(get "$applied" /berrykit board)" "classroom" "the board's note is in the tree"
  fdtget "$applied" /onewire-temperature raspberrypi,delay-needs-poll >/dev/null 2>&1 &&
    fail "the dormant pi5 fragment was applied without pi5"
  # Without a gpio label in the base tree the overlay cannot apply: what it targets is &gpio.
  sed 's/gpio: gpio@/gpio@/' "$work/base.dts" >"$work/base-unlabelled.dts"
  dtc -@ -I dts -O dtb -o "$work/base-unlabelled.dtb" "$work/base-unlabelled.dts"
  if fdtoverlay -i "$work/base-unlabelled.dtb" -o "$work/unlabelled.dtb" "$dtbo" 2>/dev/null; then
    fail "the overlay applied to a tree without a gpio label"
  fi
  ;;

refused)
  generator=$2 work=$3
  rm -rf "$work" && mkdir -p "$work"
  sed 's/"type": "ds18b20", "line": "GPIO4"/"type": "ds18b20", "line": "GPIO40"/' \
    "$source_dir/firmware/boards/classroom.json" >"$work/bad.json"
  status=0
  out=$(/usr/bin/python3 "$generator" "$work/bad.json" "$work/bad.dts" 2>&1) || status=$?
  same "$status" 1 "a line off the header makes the generator fail"
  same "$out" "board_to_dts: bad.json: part 'temperature': field 'line': GPIO40 is not a line on the Raspberry Pi's header (use GPIO2 to GPIO27)" \
    "the message names the file, the part and the field"
  [ ! -e "$work/bad.dts" ] || fail "a refused board still left a .dts"
  ;;

*)
  echo "usage: $0 classroom|starter DTBO, $0 applied DTBO WORK_DIR, or $0 moved|refused GENERATOR WORK_DIR" >&2
  exit 2
  ;;
esac

if [ "$failures" -gt 0 ]; then
  echo "check-overlay $mode: $failures failures" >&2
  exit 1
fi
echo "check-overlay $mode: passed"
