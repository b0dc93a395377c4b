// berrykitd — telling systemd how the daemon is doing (the sd_notify protocol, without libsystemd).
//
// When systemd starts a Type=notify service it puts the address of a datagram socket in
// NOTIFY_SOCKET (a path, "/run/systemd/notify", or an abstract name, "@…"). The service sends it
// newline-separated KEY=value lines: READY=1 once it serves, RELOADING=1 while it reloads its
// config, STOPPING=1 when it begins to stop, STATUS=… for `systemctl status`, and WATCHDOG=1
// pings while WatchdogSec= is set (systemd then puts the interval in WATCHDOG_USEC and the
// service's pid in WATCHDOG_PID).
//
//     auto systemd = SystemdNotifier::from_environment();
//     if (!systemd.problem().empty()) log.warn(systemd.problem());
//     ...open the socket, claim the board...
//     if (auto sent = systemd.ready("serving 12 parts"); !sent) log.warn(sent.message);
//     if (auto interval = systemd.watchdog_interval())
//         ping every *interval / 2 from the event loop's scheduler: systemd.watchdog();
//
// Started any other way (a teacher's terminal, the tests) there is no NOTIFY_SOCKET and every
// call does nothing. Sends never block and never throw: a failure comes back as a result whose
// message names the socket and the reason, for the log. The daemon carries on either way (at worst
// systemd times out waiting for READY=1 and says so in `systemctl status`).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace berrykit::daemon {

// What became of one notification.
struct NotifyResult {
    enum class Outcome {
        sent,               // systemd's socket took the datagram
        not_under_systemd,  // no NOTIFY_SOCKET: nobody to tell, nothing done
        failed,             // `message` says why
    };
    Outcome outcome = Outcome::not_under_systemd;
    std::string message;  // empty unless failed

    // False only when the send failed; not being under systemd is fine.
    explicit operator bool() const noexcept { return outcome != Outcome::failed; }
};

class SystemdNotifier {
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once. Never throws: an unusable value
    // (a relative path, a name too long for a socket address, a WATCHDOG_USEC that is not a
    // positive number) is kept in problem(), and sends to an unusable address fail with it.
    static SystemdNotifier from_environment();

    // True when NOTIFY_SOCKET was set (usable or not): systemd expects to hear from us.
    bool enabled() const noexcept { return enabled_; }
    // What was wrong with the environment, in words for the log; empty when nothing was.
    const std::string& problem() const noexcept { return problem_; }
    // The NOTIFY_SOCKET value as given (empty when unset).
    const std::string& socket_name() const noexcept { return socket_name_; }

    // WatchdogSec= as systemd passed it: set when WATCHDOG_USEC is a positive number and
    // WATCHDOG_PID is unset or this process's pid (a WATCHDOG_PID of another process means the
    // variables were inherited from a parent and the watchdog is not ours). Ping at half of it.
    std::optional<std::chrono::microseconds> watchdog_interval() const noexcept { return watchdog_interval_; }

    // READY=1 (and STATUS=`status` in the same datagram when given): start-up is done, the
    // socket accepts clients. Also sent when a reload has finished.
    NotifyResult ready(std::string_view status = {}) const;
    // RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC now> (systemd 253+ wants both for
    // Type=notify-reload; older ones ignore the second). Send ready() when the reload is done.
    NotifyResult reloading(std::string_view status = {}) const;
    // STOPPING=1: shut-down has begun (SIGTERM, or the last step of main).
    NotifyResult stopping(std::string_view status = {}) const;
    // STATUS=`text`: one line for `systemctl status berrykitd`. Line breaks become spaces, so a
    // status can never carry another KEY=value.
    NotifyResult status(std::string_view text) const;
    // WATCHDOG=1: the event loop is alive. Call it from a timer of the loop itself, so a stuck
    // loop stops the pings and systemd restarts the daemon.
    NotifyResult watchdog() const;

    // Sends `message` (KEY=value lines) as it is. The named calls above are the usual way.
    NotifyResult notify(std::string_view message) const;

private:
    SystemdNotifier() = default;

    bool enabled_ = false;
    std::string socket_name_;
    std::string problem_;
    std::optional<std::chrono::microseconds> watchdog_interval_;
};

}  // namespace berrykit::daemon
