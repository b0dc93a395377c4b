// SystemdNotifier against a real AF_UNIX datagram socket standing in for systemd's: a path in a
// temporary folder, and an abstract name. The environment variables systemd sets are set here with
// setenv and put back as they were after each test.
#include "berrykit/daemon/sd_notify.hpp"
#include "scoped_env.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using berrykit::daemon::NotifyResult;
using berrykit::daemon::SystemdNotifier;
using berrykit::test::ScopedEnv;
using berrykit::test::TempDir;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using std::chrono::microseconds;

namespace {

// The three variables systemd sets, all at once (nullopt: unset), restored afterwards.
struct SystemdEnvironment {
    ScopedEnv socket, usec, pid;
    explicit SystemdEnvironment(std::optional<std::string> notify_socket, std::optional<std::string> watchdog_usec = {},
                                std::optional<std::string> watchdog_pid = {})
        : socket("NOTIFY_SOCKET", std::move(notify_socket)),
          usec("WATCHDOG_USEC", std::move(watchdog_usec)),
          pid("WATCHDOG_PID", std::move(watchdog_pid)) {}
};

// A datagram socket bound where systemd's would be, reading what the daemon sends.
class FakeSystemd {
public:
    // `name` as NOTIFY_SOCKET would have it: "/path" or "@abstract".
    explicit FakeSystemd(const std::string& name) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        socklen_t length = 0;
        if (name.front() == '@') {
            std::memcpy(address.sun_path + 1, name.data() + 1, name.size() - 1);
            length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
        } else {
            std::memcpy(address.sun_path, name.data(), name.size());
            length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
        }
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
            throw std::runtime_error("bind " + name + ": " + std::strerror(errno));
        }
    }
    ~FakeSystemd() { ::close(fd_); }
    FakeSystemd(const FakeSystemd&) = delete;
    FakeSystemd& operator=(const FakeSystemd&) = delete;

    // Every datagram waiting, in order, without waiting for more.
    std::vector<std::string> received() const {
        std::vector<std::string> messages;
        char buffer[8192];
        for (;;) {
            const ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n < 0) break;
            messages.emplace_back(buffer, static_cast<std::size_t>(n));
        }
        return messages;
    }

private:
    int fd_ = -1;
};

// An abstract socket name no other test run uses at the same time.
std::string unique_abstract_name() {
    return "@berrykit-test-notify-" + std::to_string(::getpid()) + "-" + std::to_string(::time(nullptr));
}

std::uint64_t monotonic_microseconds() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(now.tv_nsec) / 1'000u;
}

bool sent(const NotifyResult& result) { return result.outcome == NotifyResult::Outcome::sent; }

}  // namespace

TEST_CASE("systemd's socket at a path receives exactly the notifications sent, in order") {
    TempDir dir;
    const std::string path = (dir.path() / "notify").string();
    FakeSystemd systemd(path);
    SystemdEnvironment env(path);

    const auto notifier = SystemdNotifier::from_environment();
    CHECK(notifier.enabled());
    CHECK(notifier.problem().empty());
    CHECK(notifier.socket_name() == path);

    CHECK(sent(notifier.ready()));
    CHECK(sent(notifier.status("serving 12 parts")));
    CHECK(sent(notifier.watchdog()));
    CHECK(sent(notifier.ready("serving 3 clients")));
    CHECK(sent(notifier.stopping()));
    CHECK(sent(notifier.stopping("stopping: leaving outputs as the board says")));

    CHECK(systemd.received() == std::vector<std::string>{
                                    "READY=1",
                                    "STATUS=serving 12 parts",
                                    "WATCHDOG=1",
                                    "READY=1\nSTATUS=serving 3 clients",
                                    "STOPPING=1",
                                    "STOPPING=1\nSTATUS=stopping: leaving outputs as the board says",
                                });
}

TEST_CASE("an abstract NOTIFY_SOCKET (starting with '@') is reached without a file") {
    const std::string name = unique_abstract_name();
    FakeSystemd systemd(name);
    SystemdEnvironment env(name);

    const auto notifier = SystemdNotifier::from_environment();
    CHECK(notifier.problem().empty());
    CHECK(sent(notifier.ready()));
    CHECK(sent(notifier.watchdog()));
    CHECK(systemd.received() == std::vector<std::string>{"READY=1", "WATCHDOG=1"});
}

TEST_CASE("RELOADING=1 carries MONOTONIC_USEC, the CLOCK_MONOTONIC time of the reload") {
    TempDir dir;
    const std::string path = (dir.path() / "notify").string();
    FakeSystemd systemd(path);
    SystemdEnvironment env(path);
    const auto notifier = SystemdNotifier::from_environment();

    const std::uint64_t before = monotonic_microseconds();
    CHECK(sent(notifier.reloading("reloading /etc/berrykit/berrykit.json")));
    const std::uint64_t after = monotonic_microseconds();
    CHECK(sent(notifier.ready()));

    const auto messages = systemd.received();
    REQUIRE(messages.size() == 2);
    const std::string& reload = messages[0];
    REQUIRE_THAT(reload, StartsWith("RELOADING=1\nMONOTONIC_USEC="));
    const std::string rest = reload.substr(std::string("RELOADING=1\nMONOTONIC_USEC=").size());
    const std::size_t line_end = rest.find('\n');
    const std::uint64_t usec = std::stoull(rest.substr(0, line_end));
    CHECK(usec >= before);
    CHECK(usec <= after);
    CHECK(rest.substr(line_end) == "\nSTATUS=reloading /etc/berrykit/berrykit.json");
    CHECK(messages[1] == "READY=1");
}

TEST_CASE("a status can never smuggle in another field or a NUL that makes systemd drop the datagram") {
    TempDir dir;
    const std::string path = (dir.path() / "notify").string();
    FakeSystemd systemd(path);
    SystemdEnvironment env(path);
    const auto notifier = SystemdNotifier::from_environment();

    CHECK(sent(notifier.status("part 'red'\nREADY=1\r\nend")));
    CHECK(sent(notifier.ready(std::string("a\0b", 3))));
    CHECK(systemd.received() == std::vector<std::string>{"STATUS=part 'red' READY=1  end", "READY=1\nSTATUS=a b"});
}

TEST_CASE("a very long status is cut between UTF-8 characters, so systemd still shows it") {
    TempDir dir;
    const std::string path = (dir.path() / "notify").string();
    FakeSystemd systemd(path);
    SystemdEnvironment env(path);
    const auto notifier = SystemdNotifier::from_environment();

    // "°" is two bytes (C2 B0); an odd start puts a character across every even cut.
    std::string status = "x";
    while (status.size() < 5000) status += "°";
    CHECK(sent(notifier.status(status)));

    const auto messages = systemd.received();
    REQUIRE(messages.size() == 1);
    const std::string text = messages[0].substr(std::string("STATUS=").size());
    CHECK(text.size() <= 1024);
    CHECK(text.size() >= 1000);
    CHECK(status.compare(0, text.size(), text) == 0);
    CHECK((static_cast<unsigned char>(text.back()) & 0xC0) == 0x80);          // ends on a whole "°"
    CHECK((static_cast<unsigned char>(status[text.size()]) & 0xC0) != 0x80);  // the cut is before a lead byte
}

TEST_CASE("without NOTIFY_SOCKET (not started by systemd) every call does nothing, quietly") {
    SystemdEnvironment env(std::nullopt, "30000000");
    const auto notifier = SystemdNotifier::from_environment();
    CHECK_FALSE(notifier.enabled());
    CHECK(notifier.problem().empty());
    for (const NotifyResult& result : {notifier.ready("x"), notifier.reloading(), notifier.stopping(),
                                       notifier.status("x"), notifier.watchdog(), notifier.notify("X=1")}) {
        CHECK(result.outcome == NotifyResult::Outcome::not_under_systemd);
        CHECK(static_cast<bool>(result));
        CHECK(result.message.empty());
    }
    SECTION("an empty NOTIFY_SOCKET is the same as none") {
        ScopedEnv empty("NOTIFY_SOCKET", "");
        const auto from_empty = SystemdNotifier::from_environment();
        CHECK_FALSE(from_empty.enabled());
        CHECK(from_empty.ready().outcome == NotifyResult::Outcome::not_under_systemd);
    }
}

TEST_CASE("a send that fails comes back as a result naming the socket and the reason, never an exception") {
    TempDir dir;
    const std::string path = (dir.path() / "nobody-listens-here").string();
    SystemdEnvironment env(path);
    const auto notifier = SystemdNotifier::from_environment();
    CHECK(notifier.enabled());
    CHECK(notifier.problem().empty());  // a path is a fine address; nothing is bound there yet

    NotifyResult result;
    CHECK_NOTHROW(result = notifier.ready());
    CHECK(result.outcome == NotifyResult::Outcome::failed);
    CHECK_FALSE(static_cast<bool>(result));
    CHECK_THAT(result.message, Contains("'READY=1'") && Contains(path) && Contains(std::strerror(ENOENT)));
}

TEST_CASE("an unusable NOTIFY_SOCKET is reported once by problem() and by every send") {
    const std::string relative = "run/notify";
    const std::string too_long = "/" + std::string(200, 'x');
    const std::string vsock = "vsock:2:1234";
    for (const std::string& name : {relative, too_long, vsock, "@" + std::string(200, 'y')}) {
        CAPTURE(name);
        SystemdEnvironment env(name);
        const auto notifier = SystemdNotifier::from_environment();
        CHECK(notifier.enabled());
        CHECK_THAT(notifier.problem(), Contains("NOTIFY_SOCKET '" + name + "'"));
        const NotifyResult result = notifier.ready();
        CHECK(result.outcome == NotifyResult::Outcome::failed);
        CHECK_THAT(result.message, Contains(name));
    }
}

TEST_CASE("a message too big for systemd's buffer is refused before sending") {
    TempDir dir;
    const std::string path = (dir.path() / "notify").string();
    FakeSystemd systemd(path);
    SystemdEnvironment env(path);
    const auto notifier = SystemdNotifier::from_environment();

    const NotifyResult result = notifier.notify("X=" + std::string(5000, 'a'));
    CHECK(result.outcome == NotifyResult::Outcome::failed);
    CHECK_THAT(result.message, Contains("at most 4095"));
    CHECK(systemd.received().empty());
}

TEST_CASE("a systemd that never reads its socket never blocks the daemon") {
    TempDir dir;
    const std::string path = (dir.path() / "notify").string();
    FakeSystemd systemd(path);  // bound, never read until the end
    SystemdEnvironment env(path);
    const auto notifier = SystemdNotifier::from_environment();

    // A blocking send would hang here once the socket's queue is full; the alarm's default action
    // then ends the test run, a failure. A non-blocking send fails with a message and goes on.
    ::alarm(10);
    std::optional<NotifyResult> refused;
    for (int i = 0; i < 100000 && !refused; ++i) {
        NotifyResult result = notifier.watchdog();
        if (!result) refused = std::move(result);
    }
    ::alarm(0);
    REQUIRE(refused);
    CHECK_THAT(refused->message, Contains("full") && Contains(path));
    CHECK_FALSE(systemd.received().empty());
}

TEST_CASE("WATCHDOG_USEC gives the watchdog interval when WATCHDOG_PID is unset or this process") {
    SECTION("unset WATCHDOG_PID") {
        SystemdEnvironment env("@unused", "30000000");
        const auto notifier = SystemdNotifier::from_environment();
        REQUIRE(notifier.watchdog_interval());
        CHECK(*notifier.watchdog_interval() == microseconds(30'000'000));
        CHECK(notifier.problem().empty());
    }
    SECTION("WATCHDOG_PID is our pid") {
        SystemdEnvironment env("@unused", "15500000", std::to_string(::getpid()));
        const auto notifier = SystemdNotifier::from_environment();
        REQUIRE(notifier.watchdog_interval());
        CHECK(*notifier.watchdog_interval() == microseconds(15'500'000));
    }
    SECTION("no WATCHDOG_USEC: no watchdog (WatchdogSec= not set)") {
        SystemdEnvironment env("@unused");
        const auto notifier = SystemdNotifier::from_environment();
        CHECK_FALSE(notifier.watchdog_interval());
        CHECK(notifier.problem().empty());
    }
}

TEST_CASE("a WATCHDOG_PID of another process means the watchdog is not ours") {
    // What a child of a watched service inherits: the parent's pid.
    SystemdEnvironment env("@unused", "30000000", std::to_string(::getppid()));
    const auto notifier = SystemdNotifier::from_environment();
    CHECK_FALSE(notifier.watchdog_interval());
    CHECK(notifier.problem().empty());
}

TEST_CASE("a WATCHDOG_USEC or WATCHDOG_PID that is not a number turns the watchdog off and says why") {
    struct Case {
        std::string usec, pid, named;
    };
    for (const Case& c : {Case{"0", "", "WATCHDOG_USEC '0'"}, Case{"-5", "", "WATCHDOG_USEC '-5'"},
                          Case{"30s", "", "WATCHDOG_USEC '30s'"}, Case{" 30", "", "WATCHDOG_USEC ' 30'"},
                          Case{"99999999999999999999999", "", "WATCHDOG_USEC '99999999999999999999999'"},
                          Case{"30000000", "abc", "WATCHDOG_PID 'abc'"}, Case{"30000000", "0", "WATCHDOG_PID '0'"}}) {
        CAPTURE(c.usec, c.pid);
        SystemdEnvironment env("@unused", c.usec, c.pid.empty() ? std::nullopt : std::optional<std::string>(c.pid));
        const auto notifier = SystemdNotifier::from_environment();
        CHECK_FALSE(notifier.watchdog_interval());
        CHECK_THAT(notifier.problem(), Contains(c.named));
    }
}

TEST_CASE("the environment is put back as it was after each test") {
    // Guards the guard: a test that leaked NOTIFY_SOCKET would make later tests send for real.
    const auto current = [](const char* name) {
        const char* value = std::getenv(name);
        return value ? std::optional<std::string>(value) : std::nullopt;
    };
    const auto before = std::vector{current("NOTIFY_SOCKET"), current("WATCHDOG_USEC"), current("WATCHDOG_PID")};
    {
        SystemdEnvironment env("/somewhere/else", "1", std::nullopt);
        CHECK(current("NOTIFY_SOCKET") == "/somewhere/else");
        CHECK_FALSE(current("WATCHDOG_PID"));
    }
    CHECK(std::vector{current("NOTIFY_SOCKET"), current("WATCHDOG_USEC"), current("WATCHDOG_PID")} == before);
}
