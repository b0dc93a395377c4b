// berrykitd — its command line (CLI11).
//
//   berrykitd [--config PATH] [--board NAME|PATH] [--backend auto|sim|gpiod] [--socket PATH]
//             [--clock real|manual] [--log-level error|warning|info|debug] [--check-config]
//             [--version] [--help]
//
// Flags override the config file's values. parse_command_line() never exits the process: it says
// either "run with this config" or "exit now with this code and this text", and main does it.
#pragma once

#include "berrykit/daemon/config.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <variant>

namespace berrykit::daemon {

// How berrykitd ends before it starts running (daemon/CONFIG.md lists them).
inline constexpr int exit_ok = 0;          // --help, --version, or --check-config with a good config
inline constexpr int exit_bad_config = 2;  // the config file or a flag is wrong; the text says which

// What the command line says about the config. The daemon keeps it so that a reload (SIGHUP) reads
// the file again and lays the same flags over it.
struct CommandLine {
    std::filesystem::path config_path = default_config_path;
    bool config_given = false;  // --config was given, so the file must exist
    std::optional<std::string> board;
    std::optional<std::string> backend;
    std::optional<std::string> socket_path;  // made absolute from the current folder
    std::optional<std::string> log_level;
    // "manual": the simulated board's time stands still until a program's sim_advance request
    // (tests and lesson checks drive a shared board on simulated time). A flag only, not a config
    // key: a classroom's berrykitd always runs in real time.
    bool manual_clock = false;
    bool check_config = false;

    // The config file (the defaults when the default file is missing) with the flags laid over
    // it. Throws Error(bad_value).
    DaemonConfig load() const;
};

// Start the daemon with this config.
struct RunDaemon {
    CommandLine command_line;
    DaemonConfig config;
};

// End now: print `text` (it ends in a newline) to stdout when `code` is exit_ok, else to stderr,
// and exit with `code`.
struct ExitNow {
    int code = exit_ok;
    std::string text;
};

using ParsedOptions = std::variant<RunDaemon, ExitNow>;

// Reads the flags and the config file. Bad flags and bad config files give ExitNow with
// exit_bad_config and a message in plain words that names the flag, or the file and the key.
// --check-config also loads the board, checks the config against it and, when all is well, says
// "config OK: …" with a summary of what berrykitd would run with.
ParsedOptions parse_command_line(int argc, const char* const* argv);

}  // namespace berrykit::daemon
