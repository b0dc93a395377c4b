// berrykitd's log lines (daemon/include/berrykit/daemon/log.hpp): level prefixes and filtering.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "berrykit/daemon/log.hpp"

using namespace berrykit::daemon;

namespace {
// Runs `work` with stderr sent to a pipe and returns what it wrote.
template <typename Work>
std::string captured_stderr(Work&& work) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const int saved = ::dup(STDERR_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    work();
    ::dup2(saved, STDERR_FILENO);
    ::close(saved);
    ::close(fds[1]);
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, std::size_t(n));
    ::close(fds[0]);
    return out;
}
}  // namespace

TEST_CASE("log lines carry the syslog level journald reads") {
    set_log_level(LogLevel::debug);
    const std::string out = captured_stderr([] {
        log_error("red is broken");
        log_warning("careful");
        log_info("ready");
        log_debug("details");
    });
    CHECK(out == "<3>red is broken\n<4>careful\n<6>ready\n<7>details\n");
}

TEST_CASE("lines below the level are dropped") {
    set_log_level(LogLevel::warning);
    const std::string out = captured_stderr([] {
        log_info("not shown");
        log_debug("not shown either");
        log_warning("shown");
    });
    CHECK(out == "<4>shown\n");
    set_log_level(LogLevel::info);
}

TEST_CASE("level names round-trip and unknown names are refused") {
    for (const auto level : {LogLevel::error, LogLevel::warning, LogLevel::info, LogLevel::debug}) {
        CHECK(log_level_from_string(to_string(level)) == level);
    }
    CHECK_FALSE(log_level_from_string("verbose").has_value());
}
