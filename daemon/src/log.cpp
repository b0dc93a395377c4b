#include "berrykit/daemon/log.hpp"

#include <unistd.h>

#include <atomic>

namespace berrykit::daemon {

namespace {
std::atomic<LogLevel> current{LogLevel::info};
}

std::optional<LogLevel> log_level_from_string(std::string_view name) noexcept {
    if (name == "error") return LogLevel::error;
    if (name == "warning") return LogLevel::warning;
    if (name == "info") return LogLevel::info;
    if (name == "debug") return LogLevel::debug;
    return std::nullopt;
}

const char* to_string(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::error: return "error";
        case LogLevel::warning: return "warning";
        case LogLevel::info: return "info";
        case LogLevel::debug: return "debug";
    }
    return "info";
}

void set_log_level(LogLevel level) noexcept { current = level; }
LogLevel log_level() noexcept { return current; }

void log(LogLevel level, std::string_view message) {
    if (static_cast<int>(level) > static_cast<int>(current.load())) return;
    std::string line = "<" + std::to_string(static_cast<int>(level)) + ">";
    line.append(message);
    line += '\n';
    [[maybe_unused]] const auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace berrykit::daemon
