#!/usr/bin/env bash
# Prepares what the VM tests boot, once, cached per kernel ABI: Debian's linux-image-amd64 kernel,
# its configfs.ko, and irq_sim.ko + gpio-sim.ko built out of tree (Debian's kernels do not build
# them) from linux-source-X.Y against the matching headers, with gpio-sim changed to leave an
# output at its level when it is let go, as a Raspberry Pi does. Prints the cache folder on stdout
# (last line); everything else goes to stderr.
#
#   BERRYKIT_VM_CACHE  the cache (default /var/cache/berrykit-vm); one folder per ABI inside
#
# What is cached, in $BERRYKIT_VM_CACHE/<abi>/: vmlinuz, modules/{configfs,irq_sim,gpio-sim}.ko,
# and the downloaded .debs (deleted once unpacked; the folder is complete when `ready` names this
# ABI and recipe). Folders of older ABIs are removed once a newer one is ready.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

say() { echo "vm-prepare: $*" >&2; }
started=$(date +%s.%N)

bash scripts/install-deps.sh --vm >&2

abi=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: linux-image-\(.*\)-amd64$/\1/p' | head -n1)
[ -n "$abi" ] || { say "cannot resolve the ABI of linux-image-amd64"; exit 1; }
cache_root=${BERRYKIT_VM_CACHE:-/var/cache/berrykit-vm}
cache="$cache_root/$abi"
mkdir -p "$cache_root"
# One preparation at a time per ABI: a second run waits, then finds it ready.
exec 9>"$cache_root/$abi.lock"
flock 9
# What `ready` holds: the ABI and the recipe. A cache made by an older recipe is made again.
recipe="$abi, gpio-sim keeps outputs"
if [ "$(cat "$cache/ready" 2>/dev/null)" = "$recipe" ]; then
  say "kernel $abi ready in $cache (cached)"
  echo "$cache"
  exit 0
fi

say "preparing kernel $abi in $cache"
work="$cache/work"
rm -rf "$work" "$cache/modules" "$cache/ready"
mkdir -p "$work/debs" "$cache/modules"
headers="/usr/src/linux-headers-${abi}-amd64"
[ -d "$headers" ] || { say "missing $headers (install-deps.sh --vm should have installed it)"; exit 1; }
series=$(echo "$abi" | cut -d. -f1,2)   # 6.1.0-56 -> 6.1

# The image and the source, as the archive has them now (the archive keeps only this ABI).
(cd "$work/debs" && apt-get download -q "linux-image-${abi}-amd64" "linux-source-${series}" >&2)
dpkg-deb -x "$work"/debs/linux-image-"${abi}"-amd64_*.deb "$work/image"
dpkg-deb -x "$work"/debs/linux-source-"${series}"_*.deb "$work/source"
cp "$work/image/boot/vmlinuz-${abi}-amd64" "$cache/vmlinuz"

configfs=$(find "$work/image/lib/modules" -name 'configfs.ko*' | head -n1)
[ -n "$configfs" ] || { say "no configfs module in linux-image-${abi}-amd64"; exit 1; }
case "$configfs" in
  *.xz) xz -dc "$configfs" >"$cache/modules/configfs.ko" ;;   # busybox insmod takes plain .ko
  *) cp "$configfs" "$cache/modules/configfs.ko" ;;
esac

# Only the three files the modules need come out of the 140 MB tarball.
tarball=$(find "$work/source/usr/src" -name "linux-source-${series}.tar.*" | head -n1)
top="linux-source-${series}"
tar -xf "$tarball" -C "$work" "$top/kernel/irq/irq_sim.c" "$top/drivers/gpio/gpio-sim.c" \
  "$top/drivers/gpio/gpiolib.h"

build="$work/build"
mkdir -p "$build"
cp "$work/$top/drivers/gpio/gpio-sim.c" "$work/$top/drivers/gpio/gpiolib.h" "$build/"
# irq_to_desc is not exported to modules on x86; generic_handle_irq does the same for one irq.
sed 's/handle_simple_irq(irq_to_desc(\([a-z_]*\)))/generic_handle_irq(\1)/' \
  "$work/$top/kernel/irq/irq_sim.c" >"$build/irq_sim.c"
grep -q 'generic_handle_irq(' "$build/irq_sim.c" || { say "irq_sim.c changed upstream: the irq_to_desc fix did not apply"; exit 1; }
grep -q MODULE_LICENSE "$build/irq_sim.c" || printf '\n#include <linux/module.h>\nMODULE_LICENSE("GPL");\n' >>"$build/irq_sim.c"
grep -q MODULE_LICENSE "$build/gpio-sim.c" || { say "gpio-sim.c has no MODULE_LICENSE"; exit 1; }
# When a program lets go of a line, gpio-sim puts its value back to the pull. Raspberry Pi OS's
# kernel does not: an output stays an output at the level it had (pinctrl-bcm2835 and -rp1 unless
# strict_gpiod is set), which is what a board's `keep` parts rely on after berrykitd stops. So
# here an output keeps its level when it is let go, and a line keeps reading its pull once it is
# made an input again (what a real pin does when it stops driving).
free_reset='__assign_bit(offset, chip->value_map, !!test_bit(offset, chip->pull_map));'
[ "$(grep -cF "$free_reset" "$build/gpio-sim.c")" = 1 ] &&
  grep -qF '__set_bit(offset, chip->direction_map);' "$build/gpio-sim.c" ||
  { say "gpio-sim.c changed upstream: the keep-outputs change did not apply"; exit 1; }
sed -i -e "s/^\(\s*\)__assign_bit(offset, chip->value_map, !!test_bit(offset, chip->pull_map));/\1if (test_bit(offset, chip->direction_map)) \/* an input *\/\n\1\t$free_reset/" \
  -e "s/^\(\s*\)__set_bit(offset, chip->direction_map);/&\n\1$free_reset/" "$build/gpio-sim.c"
[ "$(grep -cF "$free_reset" "$build/gpio-sim.c")" = 2 ] && grep -qF '/* an input */' "$build/gpio-sim.c" ||
  { say "the keep-outputs change to gpio-sim.c did not apply"; exit 1; }
echo 'obj-m := irq_sim.o gpio-sim.o' >"$build/Kbuild"
make -s -C "$headers" M="$build" -j2 modules >&2
cp "$build/irq_sim.ko" "$build/gpio-sim.ko" "$cache/modules/"

rm -rf "$work"
echo "$recipe" >"$cache/ready"
# Kernels the archive has moved on from are not booted again.
for old in "$cache_root"/*/; do
  [ "${old%/}" = "$cache" ] || rm -rf "${old%/}" "${old%/}.lock"
done
say "kernel $abi ready in $cache ($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $started}") s)"
echo "$cache"
