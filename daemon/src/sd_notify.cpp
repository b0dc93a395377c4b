// The sd_notify protocol, as sd_notify(3) and systemd's own src/libsystemd/sd-daemon describe it:
// one AF_UNIX datagram per notification to the socket in NOTIFY_SOCKET. A fresh socket per send
// (as libsystemd does) means no descriptor to keep, leak into children or re-open after a fork.
#include "berrykit/daemon/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace berrykit::daemon {
namespace {

// systemd reads a notification into a buffer of this size and ignores any that fill it.
constexpr std::size_t max_message_size = 4096;
// A status longer than this is cut (at a UTF-8 boundary: systemd drops a STATUS that is not UTF-8).
constexpr std::size_t max_status_size = 1024;

struct SocketAddress {
    sockaddr_un address{};
    socklen_t length = 0;
};

// The address NOTIFY_SOCKET names, or why it names none.
struct ParsedAddress {
    std::optional<SocketAddress> address;
    std::string problem;
};

ParsedAddress parse_address(const std::string& name) {
    SocketAddress result;
    result.address.sun_family = AF_UNIX;
    const std::size_t room = sizeof(result.address.sun_path);
    if (name.front() == '/') {
        if (name.size() >= room) {
            return {std::nullopt,
                    "it is too long for a socket path (at most " + std::to_string(room - 1) + " characters)"};
        }
        std::memcpy(result.address.sun_path, name.data(), name.size());
        result.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
        return {result, {}};
    }
    if (name.front() == '@') {
        // An abstract name: a NUL byte, then the name; its length is the address length, no NUL after.
        if (name.size() > room) {
            return {std::nullopt, "it is too long for an abstract socket name (at most " + std::to_string(room - 1) +
                                      " characters after the '@')"};
        }
        result.address.sun_path[0] = '\0';
        std::memcpy(result.address.sun_path + 1, name.data() + 1, name.size() - 1);
        result.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        return {result, {}};
    }
    return {std::nullopt,
            "it is neither an absolute path nor an abstract socket name starting with '@' (berrykitd understands "
            "only those two)"};
}

// A whole decimal number with no sign, spaces or suffix, as systemd writes these variables.
template <typename Number>
std::optional<Number> parse_decimal(std::string_view text) {
    Number value{};
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || text.front() == '-' || error != std::errc() || stop != end) return std::nullopt;
    return value;
}

std::string environment(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

void add_problem(std::string& problems, const std::string& problem) {
    if (!problems.empty()) problems += "; ";
    problems += problem;
}

// One line of text fit for STATUS=: no line break or NUL (either would let it end the field, or
// make systemd drop the whole datagram), at most max_status_size bytes.
std::string status_line(std::string_view text) {
    std::size_t end = std::min(text.size(), max_status_size);
    if (end < text.size()) {
        // A UTF-8 continuation byte (10xxxxxx) at the cut means it falls inside a character: cut
        // before that character instead.
        while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    }
    std::string line(text.substr(0, end));
    for (char& c : line) {
        if (c == '\n' || c == '\r' || c == '\0') c = ' ';
    }
    return line;
}

std::string with_status(std::string message, std::string_view status) {
    if (!status.empty()) message += "\nSTATUS=" + status_line(status);
    return message;
}

std::uint64_t monotonic_microseconds() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(now.tv_nsec) / 1'000u;
}

// A quoted, one-line form of a message for error text ("READY=1\nSTATUS=x" → 'READY=1 STATUS=x').
std::string quoted(std::string_view message) {
    std::string text(message.substr(0, 80));
    for (char& c : text) {
        if (c == '\n') c = ' ';
    }
    return "'" + text + (message.size() > 80 ? "…'" : "'");
}

}  // namespace

SystemdNotifier SystemdNotifier::from_environment() {
    SystemdNotifier notifier;
    notifier.socket_name_ = environment("NOTIFY_SOCKET");
    notifier.enabled_ = !notifier.socket_name_.empty();
    if (notifier.enabled_) {
        const ParsedAddress parsed = parse_address(notifier.socket_name_);
        if (!parsed.address)
            add_problem(notifier.problem_, "NOTIFY_SOCKET '" + notifier.socket_name_ + "': " + parsed.problem);
    }

    const std::string usec = environment("WATCHDOG_USEC");
    const std::string pid = environment("WATCHDOG_PID");
    if (!usec.empty()) {
        const auto interval = parse_decimal<std::int64_t>(usec);
        const auto watchdog_pid = pid.empty() ? std::optional<pid_t>(::getpid()) : parse_decimal<pid_t>(pid);
        if (!interval || *interval <= 0) {
            add_problem(notifier.problem_, "WATCHDOG_USEC '" + usec +
                                               "' is not a whole number of microseconds above 0: no watchdog pings");
        } else if (!watchdog_pid || *watchdog_pid <= 0) {
            add_problem(notifier.problem_, "WATCHDOG_PID '" + pid + "' is not a process id: no watchdog pings");
        } else if (*watchdog_pid == ::getpid()) {
            notifier.watchdog_interval_ = std::chrono::microseconds(*interval);
        }
        // Another process's WATCHDOG_PID: we inherited the variables from a watched parent. Not ours.
    }
    return notifier;
}

NotifyResult SystemdNotifier::ready(std::string_view status) const { return notify(with_status("READY=1", status)); }

NotifyResult SystemdNotifier::reloading(std::string_view status) const {
    return notify(with_status("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_microseconds()), status));
}

NotifyResult SystemdNotifier::stopping(std::string_view status) const {
    return notify(with_status("STOPPING=1", status));
}

NotifyResult SystemdNotifier::status(std::string_view text) const { return notify("STATUS=" + status_line(text)); }

NotifyResult SystemdNotifier::watchdog() const { return notify("WATCHDOG=1"); }

NotifyResult SystemdNotifier::notify(std::string_view message) const {
    if (!enabled_) return {NotifyResult::Outcome::not_under_systemd, {}};
    const auto failed = [&](const std::string& why) {
        return NotifyResult{NotifyResult::Outcome::failed, "could not tell systemd " + quoted(message) +
                                                               " through NOTIFY_SOCKET '" + socket_name_ + "': " + why};
    };
    const ParsedAddress target = parse_address(socket_name_);
    if (!target.address) return failed(target.problem);
    if (message.size() >= max_message_size) {
        return failed("the message is " + std::to_string(message.size()) + " bytes, systemd takes at most " +
                      std::to_string(max_message_size - 1));
    }

    // Non-blocking: a systemd too busy to read its socket must not stall the event loop.
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return failed(std::string("cannot make a socket: ") + std::strerror(errno));
    ssize_t sent = -1;
    do {
        sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                        reinterpret_cast<const sockaddr*>(&target.address->address), target.address->length);
    } while (sent < 0 && errno == EINTR);
    const int send_errno = errno;
    ::close(fd);
    if (sent < 0) {
        if (send_errno == EAGAIN || send_errno == EWOULDBLOCK) {
            return failed("the socket is full (systemd is not reading it); not waiting");
        }
        return failed(std::strerror(send_errno));
    }
    return {NotifyResult::Outcome::sent, {}};
}

}  // namespace berrykit::daemon
