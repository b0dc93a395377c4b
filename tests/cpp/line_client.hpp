// berrykit tests — a program on berrykitd's socket, as scripts are: one JSON object per line each
// way, with a 5 s read timeout. `request` waits for its own reply; `pipeline` sends many at once.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace berrykit::test {

class LineClient {
public:
    explicit LineClient(const std::string& path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        timeval timeout{5, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    }
    ~LineClient() { close(); }
    LineClient(const LineClient&) = delete;
    LineClient& operator=(const LineClient&) = delete;
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    void send_raw(const std::string& text) {
        std::size_t sent = 0;
        while (sent < text.size()) {
            const ssize_t n = ::write(fd_, text.data() + sent, text.size() - sent);
            REQUIRE(n > 0);
            sent += std::size_t(n);
        }
    }
    // The next line from the daemon, or "" when it hung up.
    std::string line() {
        for (;;) {
            if (const auto nl = buffer_.find('\n'); nl != std::string::npos) {
                std::string out = buffer_.substr(0, nl);
                buffer_.erase(0, nl + 1);
                return out;
            }
            char chunk[4096];
            const ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n <= 0) return "";
            buffer_.append(chunk, std::size_t(n));
        }
    }
    nlohmann::json request(nlohmann::json message) {
        message["id"] = ++id_;
        send_raw(message.dump() + "\n");
        for (;;) {
            const std::string text = line();
            REQUIRE_FALSE(text.empty());
            const nlohmann::json reply = nlohmann::json::parse(text);
            if (reply.contains("id") && reply["id"] == id_) return reply;
        }
    }
    // Sends every request at once, without waiting, then takes every reply: how a program in a
    // tight loop looks to the daemon.
    std::vector<nlohmann::json> pipeline(std::vector<nlohmann::json> messages) {
        std::string text;
        for (nlohmann::json& message : messages) {
            message["id"] = ++id_;
            text += message.dump() + "\n";
        }
        send_raw(text);
        std::vector<nlohmann::json> replies;
        while (replies.size() < messages.size()) {
            const std::string reply = line();
            REQUIRE_FALSE(reply.empty());
            replies.push_back(nlohmann::json::parse(reply));
        }
        return replies;
    }

private:
    int fd_ = -1;
    int id_ = 0;
    std::string buffer_;
};

}  // namespace berrykit::test
