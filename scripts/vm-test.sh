#!/usr/bin/env bash
# Runs programs under a real Linux kernel with simulated GPIO chips: boots Debian's kernel in QEMU
# (TCG) with an initramfs holding busybox, the gpio-sim modules and the programs, runs each one
# there and reports its exit code. Exits non-zero if any program fails, the VM cannot set up the
# simulator, or the VM does not finish in time.
#
#   scripts/vm-test.sh [--timeout SECONDS] [--add FILE]... PROGRAM [ARGS...] [-- PROGRAM [ARGS...]]...
#
# --add copies a file the programs use (a program with its libraries, a board file) to the same
# path inside the VM; give the programs absolute paths to such files.
#
# Inside the VM (tests/vm/init): two gpio-sim chips, A with the lines GPIO0 … GPIO27 and B with
# SPARE0 … SPARE3; BERRYKIT_GPIO_SIM names a map file with one line per GPIO line,
# "<name> <gpiochipN> <offset> <sysfs folder of its sim_gpio pull/value>". Each program runs from
# /tmp with its own path, so a program built here runs there unchanged (its shared libraries and
# the dynamic loader are copied in, as ldd names them).
#
#   BERRYKIT_VM_CACHE   the kernel cache (scripts/vm-prepare.sh)
#   BERRYKIT_VM_KEEP=1  keep the work folder (initramfs, console log) and print where it is
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

usage="usage: scripts/vm-test.sh [--timeout SECONDS] [--add FILE]... PROGRAM [ARGS...] [-- PROGRAM [ARGS...]]..."
timeout=300
extras=()
while [ $# -gt 0 ]; do
  case $1 in
    --timeout) timeout=$2; shift 2 ;;
    --add) extras+=("$(readlink -f "$2")"); shift 2 ;;
    *) break ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "$usage" >&2
  exit 2
fi

now() { date +%s.%N; }
elapsed() { awk "BEGIN{printf \"%.1f\", $(now) - $1}"; }
say() { echo "vm-test: $*"; }

t0=$(now)
cache=$(bash "$here/vm-prepare.sh" | tail -n1)
say "kernel ready ($(elapsed "$t0") s): $cache"

work=$(mktemp -d /tmp/berrykit-vm.XXXXXX)
qemu_pid=
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [ "${BERRYKIT_VM_KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the initramfs -------------------------------------------------------------------------
t1=$(now)
fs="$work/root"
mkdir -p "$fs"/{bin,dev,proc,sys,tmp,run,berrykit/modules,berrykit/programs}
cp /bin/busybox "$fs/bin/busybox"
! ldd /bin/busybox >/dev/null 2>&1 || { say "/bin/busybox is not busybox-static"; exit 1; }
cp "$cache"/modules/*.ko "$fs/berrykit/modules/"
install -m 0755 "$root/tests/vm/init" "$fs/init"

# Copies a file to the same path inside the VM, once.
copy_in() {
  local path=$1
  [ -e "$fs$path" ] && return 0
  mkdir -p "$fs$(dirname "$path")"
  cp -L "$path" "$fs$path"
}
# A program and everything ldd says it loads (the loader included).
copy_program() {
  local program=$1 lib
  copy_in "$program"
  if ldd "$program" >/dev/null 2>&1; then
    while read -r lib; do
      copy_in "$lib"
    done < <(ldd "$program" | grep -o '/[^ ]*' | sort -u)
  fi
}

for extra in "${extras[@]}"; do
  [ -e "$extra" ] || { say "no such file to add: $extra"; exit 2; }
  copy_program "$extra"
done

n=0
names=()
while [ $# -gt 0 ]; do
  args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    args+=("$1")
    shift
  done
  [ $# -gt 0 ] && shift  # the --
  [ ${#args[@]} -gt 0 ] || continue
  program=$(readlink -f "$(command -v "${args[0]}" || echo "${args[0]}")")
  [ -x "$program" ] || { say "not a program: ${args[0]}"; exit 2; }
  copy_program "$program"
  n=$((n + 1))
  slot="$fs/berrykit/programs/$(printf %03d "$n")"
  mkdir -p "$slot"
  basename "$program" >"$slot/name"
  names+=("$(basename "$program")")
  { printf 'exec'; printf ' %q' "$program" "${args[@]:1}"; printf '\n'; } >"$slot/run"
done
[ "$n" -gt 0 ] || { say "no program given"; exit 2; }

(cd "$fs" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"
say "initramfs with $n program(s): $(du -h "$work/initrd.gz" | cut -f1) ($(elapsed "$t1") s)"

# ---- the boot ------------------------------------------------------------------------------
t2=$(now)
console="$work/console.log"
# Under timeout(1) as well, so a VM outlives this script by no more than that if it is killed.
timeout --kill-after=10 $((timeout + 30)) qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 -nographic -no-reboot \
  -kernel "$cache/vmlinuz" -initrd "$work/initrd.gz" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" \
  -nic none </dev/null >"$console" 2>&1 &
qemu_pid=$!
timed_out=0
deadline=$(($(date +%s) + timeout))
while kill -0 "$qemu_pid" 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    timed_out=1
    kill "$qemu_pid" 2>/dev/null || true
    break
  fi
  sleep 0.5
done
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
vm_seconds=$(elapsed "$t2")

# The serial console: strip escape codes and carriage returns.
clean="$work/console.txt"
sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/\r//g' "$console" >"$clean"

# ---- the results ---------------------------------------------------------------------------
status=0
echo "vm-test: ---- console of the VM ----"
cat "$clean"
echo "vm-test: ---- results ----"
if grep -q '^BERRYKIT-VM-SETUP-FAILED' "$clean"; then
  say "FAILED: the VM could not set up the GPIO simulator: $(grep '^BERRYKIT-VM-SETUP-FAILED' "$clean" | cut -d' ' -f2-)"
  status=1
fi
for i in $(seq 1 "$n"); do
  line=$(grep "^BERRYKIT-VM-RESULT $i " "$clean" | tail -n1 || true)
  name=${names[$((i - 1))]}
  if [ -z "$line" ]; then
    say "FAILED  $name: no result (the VM stopped before it finished)"
    status=1
    continue
  fi
  code=$(echo "$line" | sed -n 's/.* exit=\([0-9]*\).*/\1/p')
  seconds=$(echo "$line" | sed -n 's/.* seconds=\([0-9.]*\).*/\1/p')
  if [ "$code" = 0 ]; then
    say "passed  $name (${seconds} s in the VM)"
  elif [ "$code" = 77 ]; then
    # A skip inside the VM means the simulator was not there: that is the harness failing.
    say "FAILED  $name: skipped (exit 77) although the VM has gpio-sim chips"
    status=1
  else
    say "FAILED  $name: exit code $code"
    status=1
  fi
done
if [ "$timed_out" = 1 ]; then
  say "FAILED: the VM did not finish within $timeout s"
  status=1
elif ! grep -q '^BERRYKIT-VM-DONE' "$clean"; then
  say "FAILED: the VM stopped without finishing (a kernel panic or a QEMU error: see the console above)"
  status=1
fi
say "boot + programs ${vm_seconds} s, total $(elapsed "$t0") s"
exit "$status"
