// berrykit tests — a program a test starts (a broker, a TLS server), and stops: stop() or, at the
// latest, the destructor ends it (SIGTERM, then SIGKILL) and reaps it. Its stdout and stderr go to
// a file the test can read.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace berrykit::test {

// A TCP port on 127.0.0.1 that nothing listens on just now.
inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        if (fd >= 0) ::close(fd);
        throw std::runtime_error("cannot find a free TCP port on 127.0.0.1");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

// Holds a TCP port on 127.0.0.1 without listening on it: connecting is refused, and no other
// program (another test's broker) can take the port until release().
class ReservedPort {
public:
    ReservedPort() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
            release();
            throw std::runtime_error("cannot reserve a TCP port on 127.0.0.1");
        }
        port_ = ntohs(address.sin_port);
    }
    ~ReservedPort() { release(); }
    ReservedPort(const ReservedPort&) = delete;
    ReservedPort& operator=(const ReservedPort&) = delete;

    int port() const noexcept { return port_; }
    void release() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
    int port_ = 0;
};

// True when something accepts TCP connections on 127.0.0.1:port.
inline bool port_open(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return open;
}

class ChildProcess {
public:
    // Starts argv[0] (looked up in PATH). With keep_stdin_open, its stdin is a pipe that stays open
    // until it stops (for programs that quit at the end of their input); else /dev/null.
    ChildProcess(std::vector<std::string> argv, std::filesystem::path output_file, bool keep_stdin_open = false)
        : argv_(std::move(argv)), output_file_(std::move(output_file)) {
        std::vector<char*> args;
        for (auto& arg : argv_) args.push_back(arg.data());
        args.push_back(nullptr);
        const int output = ::open(output_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (output < 0) throw std::runtime_error("cannot write " + output_file_.string());
        int input[2] = {-1, -1};
        if (keep_stdin_open) {
            if (::pipe2(input, O_CLOEXEC) != 0) throw std::runtime_error("cannot make a pipe");
        } else {
            input[0] = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        pid_ = ::fork();
        if (pid_ == 0) {  // only async-signal-safe calls from here to exec
            // Should the test itself crash or be killed, the program goes with it.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::dup2(input[0], STDIN_FILENO);
            ::dup2(output, STDOUT_FILENO);
            ::dup2(output, STDERR_FILENO);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::close(output);
        ::close(input[0]);
        stdin_ = input[1];
        if (pid_ < 0) throw std::runtime_error("cannot start " + argv_[0]);
    }
    ~ChildProcess() { stop(); }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const noexcept { return pid_; }

    // False once it has ended (and reaps it then).
    bool running() {
        if (pid_ <= 0) return false;
        if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
            pid_ = -1;
            close_stdin();
            return false;
        }
        return true;
    }

    // SIGTERM, up to `grace` to end, then SIGKILL. Idempotent.
    void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000)) {
        if (!running()) return;
        ::kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + grace;
        while (running() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        kill();
    }

    // SIGKILL at once.
    void kill() {
        if (!running()) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        pid_ = -1;
        close_stdin();
    }

    // Everything it has written so far.
    std::string output() const {
        std::ifstream in(output_file_, std::ios::binary);
        std::ostringstream text;
        text << in.rdbuf();
        return text.str();
    }

    // Waits until it accepts connections on 127.0.0.1:port; throws with its output if it ends or
    // takes longer than `timeout`.
    void wait_for_port(int port, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!port_open(port)) {
            if (!running()) throw std::runtime_error(argv_[0] + " ended before it listened:\n" + output());
            if (std::chrono::steady_clock::now() > deadline) {
                throw std::runtime_error(argv_[0] + " did not listen on port " + std::to_string(port) + ":\n" +
                                         output());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }

private:
    void close_stdin() {
        if (stdin_ >= 0) ::close(stdin_);
        stdin_ = -1;
    }

    std::vector<std::string> argv_;
    std::filesystem::path output_file_;
    pid_t pid_ = -1;
    int stdin_ = -1;
    int status_ = 0;
};

}  // namespace berrykit::test
