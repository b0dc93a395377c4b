#!/usr/bin/env bash
# Runs berrykitd.service, exactly as shipped, under a real systemd: the one this machine has,
# started as PID 1 of a private PID and mount namespace. It shows what `systemd-analyze verify`
# cannot: that the hardening options still let the daemon start, reach READY, answer on its
# socket, keep the watchdog fed, reload, and stop cleanly.
#
#   run-under-systemd.sh BERRYKITD BERRYKIT_CLI UNIT BOARDS_DIR WORK_DIR
#   run-under-systemd.sh BERRYKITD BERRYKIT_CLI UNIT BOARDS_DIR WORK_DIR BREAKING_LINES
#       BREAKING_LINES (\n between lines) go to a drop-in's [Service]; the daemon must then fail to
#       start. This proves the run can fail: a hardening line that takes away what berrykitd needs
#       is caught.
#
# Nothing on the machine changes. Inside the namespace /etc, /var and /usr/local are overlays whose
# writes land in WORK_DIR (the berrykit and gpio groups, the unit, the config, the installed
# berrykitd, the journal), /tmp and /run are fresh tmpfs, and the units that would touch the
# kernel's global state (sysctl, binfmt, modules, udev, the clock, timers) are masked. Killing
# the namespace's PID 1 at the end stops every process it started.
#
# Needs root, unshare/nsenter (util-linux), overlayfs and /lib/systemd/systemd. Without them it
# exits 77, which CTest reports as skipped (not passed).
set -euo pipefail
[ $# -eq 5 ] || [ $# -eq 6 ] || { echo "usage: $0 BERRYKITD BERRYKIT_CLI UNIT BOARDS_DIR WORK_DIR [BREAKING_LINES]" >&2; exit 2; }
berrykitd=$(realpath "$1") cli=$(realpath "$2") unit=$(realpath "$3") boards=$(realpath "$4") work=$5 breaking=${6:-}
systemd_bin=/lib/systemd/systemd

skip() { echo "run-under-systemd: SKIPPED: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (it mounts overlays in a private namespace)"
command -v unshare >/dev/null && command -v nsenter >/dev/null || skip "needs unshare and nsenter (util-linux)"
[ -x "$systemd_bin" ] || skip "needs systemd ($systemd_bin; apt install systemd)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip "needs overlayfs"

rm -rf "$work"
mkdir -p "$work"
work=$(realpath "$work")
log() { echo "run-under-systemd: $*"; }
fail() {
  echo "run-under-systemd: FAILED: $*" >&2
  if [ -n "${ns_pid:-}" ]; then
    echo "--- systemctl status berrykitd ---" >&2
    ns systemctl status --no-pager berrykitd >&2 || true
    echo "--- journal of berrykitd ---" >&2
    ns journalctl --no-pager -u berrykitd >&2 || true
  fi
  exit 1
}

# The script that runs inside the new namespaces, then becomes systemd.
cat >"$work/inside.sh" <<'INSIDE'
#!/usr/bin/env bash
set -euo pipefail
work=$1 berrykitd=$2 unit=$3 boards=$4 cli=$5
for d in etc var usr/local; do
  name=${d//\//-}
  mkdir -p "$work/$name-upper" "$work/$name-work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/$name-upper,workdir=$work/$name-work" "/$d"
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run

# What scripts/install-pi.sh does on a Pi: the system user and group, the gpio group, the program,
# the boards, the unit. Plus a config for the simulated board (this machine has no GPIO chip).
getent group gpio >/dev/null || groupadd --system gpio
getent passwd berrykit >/dev/null || useradd --system --user-group --home-dir /var/lib/berrykit --no-create-home berrykit
getent passwd pupil >/dev/null || useradd --user-group --no-create-home --groups berrykit pupil
getent passwd stranger >/dev/null || useradd --user-group --no-create-home stranger
install -D -m 0755 "$berrykitd" /usr/local/sbin/berrykitd
install -D -m 0755 "$cli" /usr/local/bin/berrykit  # the build folder may be closed to other users
mkdir -p /usr/local/share/berrykit/boards
cp "$boards"/*.json /usr/local/share/berrykit/boards/
install -D -m 0644 "$unit" /etc/systemd/system/berrykitd.service
mkdir -p /etc/berrykit
printf '{"backend": "sim", "device_id": "systemd-test", "log_level": "debug"}\n' >/etc/berrykit/berrykit.json

# Units that would change the machine outside the namespace.
for u in systemd-sysctl.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
         systemd-modules-load.service kmod-static-nodes.service systemd-tmpfiles-setup-dev.service \
         systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service \
         systemd-timesyncd.service systemd-pstore.service systemd-random-seed.service \
         systemd-repart.service systemd-firstboot.service systemd-remount-fs.service \
         apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
         fstrim.timer man-db.timer; do
  ln -sf /dev/null "/etc/systemd/system/$u"
done
if [ -n "${BREAKING:-}" ]; then
  mkdir -p /etc/systemd/system/berrykitd.service.d
  printf '[Service]\n%b\n' "$BREAKING" >/etc/systemd/system/berrykitd.service.d/break.conf
fi
exec /lib/systemd/systemd --system --unit=basic.target --log-target=console --show-status=no
INSIDE

BREAKING=$breaking unshare --pid --fork --mount --propagation private --mount-proc \
  bash "$work/inside.sh" "$work" "$berrykitd" "$unit" "$boards" "$cli" >"$work/systemd.log" 2>&1 </dev/null &
unshare_pid=$!
ns_pid=
cleanup() {
  # Killing the namespace's PID 1 ends every process in it; unshare then reaps it and exits.
  if [ -n "$ns_pid" ]; then kill -KILL "$ns_pid" 2>/dev/null || true; fi
  for _ in $(seq 50); do kill -0 "$unshare_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$unshare_pid" 2>/dev/null || true
  wait "$unshare_pid" 2>/dev/null || true
}
trap cleanup EXIT

# The namespace's PID 1 is unshare's child; it becomes systemd once inside.sh has set up.
for _ in $(seq 100); do
  ns_pid=$(pgrep -P "$unshare_pid" || true)
  if [ -n "$ns_pid" ] && [ "$(cat /proc/"$ns_pid"/comm 2>/dev/null)" = systemd ]; then break; fi
  kill -0 "$unshare_pid" 2>/dev/null || { cat "$work/systemd.log" >&2; ns_pid=; fail "the namespace did not start"; }
  sleep 0.1
done
[ "$(cat /proc/"$ns_pid"/comm 2>/dev/null)" = systemd ] || { ns_pid=; fail "systemd did not start"; }
ns() { nsenter -t "$ns_pid" -m -p "$@"; }

state=
for _ in $(seq 300); do
  state=$(ns systemctl is-system-running 2>/dev/null || true)
  case $state in running | degraded) break ;; esac
  sleep 0.1
done
case $state in running | degraded) log "systemd $(ns systemctl --version | head -1 | cut -d' ' -f2) is up ($state)" ;;
  *) cat "$work/systemd.log" >&2; fail "systemd did not finish starting (state '$state')" ;; esac

show() { ns systemctl show -p "$1" --value berrykitd; }

if [ -n "$breaking" ]; then
  if timeout 60 nsenter -t "$ns_pid" -m -p systemctl start berrykitd 2>"$work/start.err"; then
    fail "berrykitd started although the unit has '$breaking'"
  fi
  log "as it should, berrykitd did not start with '$breaking':"
  ns journalctl --no-pager -o cat -u berrykitd | tail -n 3 | sed 's/^/    /'
  exit 0
fi

# 1. It starts: Type=notify means `start` returns once berrykitd sent READY=1.
timeout 60 nsenter -t "$ns_pid" -m -p systemctl start berrykitd || fail "systemctl start berrykitd failed"
[ "$(show ActiveState)/$(show SubState)" = active/running ] || fail "berrykitd is $(show ActiveState)/$(show SubState), not active/running"
main_pid=$(show MainPID)
log "berrykitd started and said READY (pid $main_pid in the namespace)"

# 2. It runs as berrykit, with the gpio group, no capabilities, no new privileges, a seccomp filter.
status=$(ns cat "/proc/$main_pid/status")
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' <<<"$status"; }
uid=$(ns id -u berrykit) gpio_gid=$(ns getent group gpio | cut -d: -f3)
[ "$(field Uid | awk '{print $2}')" = "$uid" ] || fail "berrykitd runs as uid $(field Uid), not berrykit ($uid)"
grep -qw "$gpio_gid" <<<"$(field Groups)" || fail "berrykitd is not in group gpio ($gpio_gid): groups $(field Groups)"
[ "$(field CapEff)" = 0000000000000000 ] || fail "berrykitd has capabilities: CapEff $(field CapEff)"
[ "$(field CapBnd)" = 0000000000000000 ] || fail "berrykitd's bounding set is not empty: $(field CapBnd)"
[ "$(field NoNewPrivs)" = 1 ] || fail "NoNewPrivs is $(field NoNewPrivs)"
[ "$(field Seccomp)" = 2 ] || fail "no seccomp filter (Seccomp $(field Seccomp))"
log "it runs as berrykit (uid $uid) with group gpio, no capabilities, NoNewPrivs, a seccomp filter"

# 3. ProtectSystem=strict holds inside the service: /usr is read-only to it (and writable to
#    the namespace's own root, so the check can tell the two apart).
ns touch /usr/local/berrykit-write-test || fail "the namespace's /usr/local is not writable: the check below would prove nothing"
if out=$(ns nsenter -t "$main_pid" -m touch /usr/local/berrykit-write-test-2 2>&1); then
  fail "the service's /usr is writable: ProtectSystem=strict is not in force"
fi
grep -qi "read-only" <<<"$out" || fail "writing /usr in the service failed, but not as read-only: $out"
log "its /usr is read-only (ProtectSystem=strict): $out"

# 4. The socket: /run/berrykit 0750 and the socket 0660, both group berrykit.
[ "$(ns stat -c '%a %U %G' /run/berrykit)" = "750 berrykit berrykit" ] || fail "/run/berrykit is $(ns stat -c '%a %U %G' /run/berrykit)"
[ "$(ns stat -c '%a %U %G' /run/berrykit/berrykit.sock)" = "660 berrykit berrykit" ] ||
  fail "the socket is $(ns stat -c '%a %U %G' /run/berrykit/berrykit.sock)"
log "socket /run/berrykit/berrykit.sock is 0660 berrykit:berrykit in a 0750 folder"

# 5. A pupil in group berrykit uses it; someone outside the group cannot. `berrykit set` holds
#    the LED until it is stopped (here by timeout's SIGTERM after 3 s), then red goes back to rest.
as() { local who=$1; shift; ns setpriv --reuid "$who" --regid "$who" --init-groups env -u BERRYKIT_SOCKET "$@"; }
as pupil timeout -s TERM 3 berrykit set red on >"$work/pupil.out" 2>&1 &
setter=$!
red=
for _ in $(seq 50); do
  red=$(as pupil berrykit get red 2>&1 || true)
  [ "$red" = "red: on" ] && break
  sleep 0.1
done
[ "$red" = "red: on" ] || { cat "$work/pupil.out" >&2; fail "a pupil in group berrykit could not turn red on (get red: $red)"; }
wait "$setter" || true
grep -q "red is on" "$work/pupil.out" || { cat "$work/pupil.out" >&2; fail "berrykit set did not say red is on"; }
[ "$(as pupil berrykit get red)" = "red: off" ] || fail "red did not go back to rest after the pupil's set ended: $(as pupil berrykit get red 2>&1)"
if as stranger berrykit status >"$work/stranger.out" 2>&1; then fail "someone outside group berrykit reached the socket"; fi
grep -qi "permission\|not allowed\|group" "$work/stranger.out" || { cat "$work/stranger.out" >&2; fail "the stranger's error does not say why"; }
log "a pupil in group berrykit turned red on, and off by letting go; a stranger was refused:"
sed 's/^/    /' "$work/stranger.out"

# 6. The watchdog is fed: with WatchdogSec=2 (a drop-in; the unit ships 30 s) it lives 6 s
#    without being restarted. A daemon that did not ping would be killed after 2 s.
mkdir_dropin='mkdir -p /run/systemd/system/berrykitd.service.d && printf "[Service]\nWatchdogSec=2\n" >/run/systemd/system/berrykitd.service.d/watchdog.conf'
ns sh -c "$mkdir_dropin"
ns systemctl daemon-reload
timeout 60 nsenter -t "$ns_pid" -m -p systemctl restart berrykitd || fail "restart with WatchdogSec=2 failed"
main_pid=$(show MainPID)
[ "$(show WatchdogUSec)" = 2s ] || fail "the drop-in did not take: WatchdogUSec $(show WatchdogUSec)"
sleep 6
[ "$(show MainPID)" = "$main_pid" ] && [ "$(show NRestarts)" = 0 ] && [ "$(show ActiveState)" = active ] ||
  fail "the watchdog killed berrykitd (pid $main_pid → $(show MainPID), restarts $(show NRestarts))"
log "with WatchdogSec=2 it ran 6 s with no restart: the watchdog is fed"

# 7. Reload (SIGHUP): same process, still active, and the journal says it reread the config.
ns systemctl reload berrykitd || fail "systemctl reload berrykitd failed"
[ "$(show MainPID)" = "$main_pid" ] && [ "$(show ActiveState)" = active ] || fail "reload did not keep the same running process"
log "reload kept pid $main_pid running"

# 8. Stop: clean exit, RuntimeDirectory removed, red back at rest (checked in the journal).
ns systemctl stop berrykitd || fail "systemctl stop berrykitd failed"
[ "$(show Result)" = success ] || fail "berrykitd stopped with result $(show Result), status $(show ExecMainStatus)"
[ "$(show ExecMainStatus)" = 0 ] || fail "berrykitd exited with status $(show ExecMainStatus)"
if ns test -e /run/berrykit; then fail "/run/berrykit is still there after stop"; fi
journal=$(ns journalctl --no-pager -o cat -u berrykitd)
for line in "serving the classroom board (sim) on /run/berrykit/berrykit.sock" "config read again" "berrykitd stopped"; do
  grep -qF "$line" <<<"$journal" || { printf '%s\n' "$journal" >&2; fail "berrykitd's journal has no line '$line'"; }
done
log "stopped with status 0 and result success; /run/berrykit is gone"
log "journal of berrykitd (last lines):"
tail -n 8 <<<"$journal" | sed 's/^/    /'
echo "run-under-systemd: berrykitd.service runs under systemd with all its hardening"
