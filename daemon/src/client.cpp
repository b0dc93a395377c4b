#include "berrykit/daemon/client.hpp"

#include "berrykit/error.hpp"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

namespace berrykit::daemon {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// errno from connect() in plain words: the one place it becomes an Error.
Error cannot_connect(const std::string& path, int error) {
    if (error == ENOENT || error == ECONNREFUSED || error == ENOTDIR) {
        // ECONNREFUSED: the socket file is there but nobody listens, a daemon that died.
        const std::string practise =
            path == default_socket_path ? "berrykitd --backend sim" : "berrykitd --backend sim --socket " + path;
        return Error(ErrorCode::unsupported, "berrykitd is not running (no " + path +
                                                 "): start it with `sudo systemctl start berrykitd`, or `" + practise +
                                                 "` to practise");
    }
    if (error == EACCES || error == EPERM) {
        return Error(ErrorCode::unsupported,
                     "you may not talk to berrykitd (" + path +
                         "): only members of the berrykit group may; ask your teacher to run `sudo adduser " +
                         "$USER berrykit`, then log out and in again");
    }
    return Error(ErrorCode::unsupported, "cannot reach berrykitd at " + path + ": " + std::strerror(error));
}

}  // namespace

std::string sim_socket_path() {
    if (const char* runtime = ::getenv("XDG_RUNTIME_DIR"); runtime && *runtime) {
        return std::string(runtime) + "/berrykit/berrykit.sock";
    }
    return "/tmp/berrykit-" + std::to_string(::getuid()) + "/berrykit.sock";
}

std::string choose_socket_path(std::string_view given) {
    if (!given.empty()) return std::string(given);
    if (const char* env = ::getenv("BERRYKIT_SOCKET"); env && *env) return env;
    if (const std::string sim = sim_socket_path(); ::access(sim.c_str(), F_OK) == 0) return sim;
    return default_socket_path;
}

Client::Client(std::string_view socket_path, std::chrono::milliseconds reply_timeout)
    : socket_path_(choose_socket_path(socket_path)), reply_timeout_(reply_timeout) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path_.size() >= sizeof address.sun_path) {
        throw Error(ErrorCode::unsupported, "the socket path " + socket_path_ + " is too long (at most " +
                                                std::to_string(sizeof address.sun_path - 1) + " characters)");
    }
    std::memcpy(address.sun_path, socket_path_.c_str(), socket_path_.size() + 1);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw cannot_connect(socket_path_, errno);
    int result;
    do {
        result = ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    } while (result < 0 && errno == EINTR);
    if (result < 0) {
        const int error = errno;
        close();
        throw cannot_connect(socket_path_, error);
    }
}

Client::~Client() { close(); }

Client::Client(Client&& other) noexcept
    : socket_path_(std::move(other.socket_path_)),
      reply_timeout_(other.reply_timeout_),
      fd_(std::exchange(other.fd_, -1)),
      last_id_(other.last_id_),
      buffer_(std::move(other.buffer_)),
      events_(std::move(other.events_)) {}

Client& Client::operator=(Client&& other) noexcept {
    if (this != &other) {
        close();
        socket_path_ = std::move(other.socket_path_);
        reply_timeout_ = other.reply_timeout_;
        fd_ = std::exchange(other.fd_, -1);
        last_id_ = other.last_id_;
        buffer_ = std::move(other.buffer_);
        events_ = std::move(other.events_);
    }
    return *this;
}

void Client::close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void Client::check_open() const {
    if (fd_ < 0) throw Error(ErrorCode::closed, "this connection to berrykitd (" + socket_path_ + ") is closed");
}

json Client::request(std::string_view op, const json& fields) {
    check_open();
    if (!fields.is_object()) {
        throw Error(ErrorCode::bad_value, "the fields of a \"" + std::string(op) + "\" request must be a JSON object");
    }
    json message = fields;
    const std::int64_t id = ++last_id_;
    message["id"] = id;
    message["op"] = op;
    const std::string line = message.dump() + "\n";
    for (std::size_t sent = 0; sent < line.size();) {
        // MSG_NOSIGNAL: a daemon that went away is an Error here, not a SIGPIPE that kills us.
        const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(ErrorCode::closed, "berrykitd (" + socket_path_ + ") hung up: " + std::strerror(errno));
        sent += static_cast<std::size_t>(n);
    }
    const auto deadline = Clock::now() + reply_timeout_;
    std::optional<json> reply;
    while (!reply) {
        if (!receive(deadline, id, &reply) && Clock::now() >= deadline) {
            throw Error(ErrorCode::closed, "berrykitd (" + socket_path_ + ") did not answer \"" + std::string(op) +
                                               "\" within " + std::to_string(reply_timeout_.count()) + " ms");
        }
    }
    return *reply;
}

std::optional<json> Client::next_event(std::chrono::milliseconds timeout) {
    check_open();
    const auto deadline = Clock::now() + timeout;
    while (events_.empty()) {
        if (!receive(deadline, std::nullopt, nullptr) && Clock::now() >= deadline) return std::nullopt;
    }
    json event = std::move(events_.front());
    events_.pop_front();
    return event;
}

bool Client::receive(Clock::time_point deadline, std::optional<std::int64_t> id, std::optional<json>* reply) {
    pollfd watched{fd_, POLLIN, 0};
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    const auto wait_ms = std::clamp<std::int64_t>(left.count(), 0, INT_MAX);
    const int ready = ::poll(&watched, 1, static_cast<int>(wait_ms));
    if (ready < 0 && errno == EINTR) return false;
    if (ready <= 0) return false;
    char chunk[16384];
    ssize_t n;
    do {
        n = ::read(fd_, chunk, sizeof chunk);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        const std::string why = n < 0 ? std::string(": ") + std::strerror(errno) : std::string();
        close();
        throw Error(ErrorCode::closed, "berrykitd (" + socket_path_ + ") hung up" + why);
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = buffer_.find('\n')) != std::string::npos;) {
        const std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        json message = json::parse(line, nullptr, false);
        if (!message.is_object()) continue;  // not from a berrykitd we understand: nothing to file it under
        if (message.contains("event")) {
            if (events_.size() == max_kept_events) events_.pop_front();
            events_.push_back(std::move(message));
        } else if (id && reply && message.value("id", json()) == *id) {
            *reply = std::move(message);
        }
        // Anything else answers a request we gave up waiting for.
    }
    return true;
}

}  // namespace berrykit::daemon
