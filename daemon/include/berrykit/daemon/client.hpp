// berrykit — a small blocking client for berrykitd's local API (daemon/PROTOCOL.md).
//
// One connection to the daemon: send a request, get its reply; events that arrive in between
// are kept, in order, for next_event(). The berrykit command is built on it.
//
//   berrykit::daemon::Client daemon;                       // BERRYKIT_SOCKET, else the default
//   daemon.request("claim", {{"part", "red"}});
//   daemon.request("set", {{"part", "red"}, {"value", 1}});  // red is on until we let go
//
// A Client is move-only: its socket is closed when it goes, and close() may be called any number
// of times. Using a closed Client throws Error(closed).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace berrykit::daemon {

inline constexpr const char* default_socket_path = "/run/berrykit/berrykit.sock";

// Where `berrykit sim` puts its berrykitd for this user: $XDG_RUNTIME_DIR/berrykit/berrykit.sock,
// else /tmp/berrykit-<uid>/berrykit.sock.
std::string sim_socket_path();

// The socket to use: `given` when it is not empty, else $BERRYKIT_SOCKET when set and not empty,
// else sim_socket_path() while it exists (a `berrykit sim` is running), else default_socket_path.
std::string choose_socket_path(std::string_view given = {});

class Client {
public:
    // Events kept while waiting for replies; past this many the oldest are dropped, so a program
    // that subscribes and never asks for events does not grow for ever.
    static constexpr std::size_t max_kept_events = 10000;

    // Connects to the socket chosen by choose_socket_path(socket_path). Throws Error(unsupported)
    // in plain words when it cannot: the daemon is not running (and how to start it), the user is
    // not in the berrykit group, or another reason, naming the socket's path.
    explicit Client(std::string_view socket_path = {},
                    std::chrono::milliseconds reply_timeout = std::chrono::seconds(10));
    ~Client();
    Client(Client&& other) noexcept;
    Client& operator=(Client&& other) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    const std::string& socket_path() const noexcept { return socket_path_; }

    // Sends {"id": <next id>, "op": op, ...fields} and returns the daemon's reply to it as it
    // came: {"ok": true, ...} or {"ok": false, "error": {"code", "message"}}. Throws Error(closed)
    // when the daemon hangs up or does not answer within the reply timeout, and
    // Error(bad_value) when `fields` is not a JSON object.
    nlohmann::json request(std::string_view op, const nlohmann::json& fields = nlohmann::json::object());

    // The next event (after `subscribe`), waiting up to `timeout` for one; std::nullopt when none
    // came in time. A timeout of zero only takes what has already arrived. Throws Error(closed)
    // when the daemon hangs up.
    std::optional<nlohmann::json> next_event(std::chrono::milliseconds timeout);

    // The socket's file descriptor, to wait for it together with other things (poll): when it is
    // readable, next_event(0ms) takes what came. -1 once closed.
    int native_handle() const noexcept { return fd_; }

    void close() noexcept;

private:
    // Reads what the socket has, waiting until `deadline` for at least one byte, and files every
    // whole line: events to events_, the reply to request `id` (if any) to *reply. False when the
    // deadline passed with nothing read.
    bool receive(std::chrono::steady_clock::time_point deadline, std::optional<std::int64_t> id,
                 std::optional<nlohmann::json>* reply);
    void check_open() const;

    std::string socket_path_;
    std::chrono::milliseconds reply_timeout_;
    int fd_ = -1;
    std::int64_t last_id_ = 0;
    std::string buffer_;
    std::deque<nlohmann::json> events_;
};

}  // namespace berrykit::daemon
