// berrykit — berrykitd's log: plain lines on stderr, each with a syslog level prefix ("<3>") that
// journald reads as the line's priority when systemd runs the daemon, and that a person reading a
// terminal can ignore. Secrets never go through here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace berrykit::daemon {

enum class LogLevel { error = 3, warning = 4, info = 6, debug = 7 };

std::optional<LogLevel> log_level_from_string(std::string_view name) noexcept;
const char* to_string(LogLevel level) noexcept;

// Lines below `level` are dropped. Default: info.
void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;

// Writes "<N>message\n" to stderr in one write, so lines from different threads never mix.
void log(LogLevel level, std::string_view message);
inline void log_error(std::string_view m) { log(LogLevel::error, m); }
inline void log_warning(std::string_view m) { log(LogLevel::warning, m); }
inline void log_info(std::string_view m) { log(LogLevel::info, m); }
inline void log_debug(std::string_view m) { log(LogLevel::debug, m); }

}  // namespace berrykit::daemon
