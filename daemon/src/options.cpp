#include "berrykit/daemon/options.hpp"

#include "berrykit/board.hpp"
#include "berrykit/error.hpp"

#include <CLI/CLI.hpp>

#include <map>
#include <sstream>
#include <vector>

namespace berrykit::daemon {

namespace {

namespace fs = std::filesystem;

const char* const flag_list =
    "--config, --board, --backend, --socket, --clock, --log-level, --check-config, --version and --help";

// How to give each flag its value, for "needs a value" messages.
const std::map<std::string, std::string>& flag_examples() {
    static const std::map<std::string, std::string> examples = {
        {"--config", "--config /etc/berrykit/berrykit.json"},
        {"--board", "--board classroom"},
        {"--backend", "--backend sim"},
        {"--socket", "--socket /run/berrykit/berrykit.sock"},
        {"--log-level", "--log-level debug"},
        {"--clock", "--clock manual"},
    };
    return examples;
}

std::string needs_a_value(const std::string& flag) {
    const auto example = flag_examples().find(flag);
    return "needs a value after it" + (example == flag_examples().end() ? std::string() : ", like " + example->second);
}

// A CLI11 transform that judges a flag's value with one of the config file's checks, so a flag's
// value is judged in the same words as the key's: "--backend: must be \"auto\", \"sim\" or \"gpiod\",
// got \"foo\"". `prepare` may rewrite the value first (a relative --socket path becomes absolute).
CLI::Validator value_check(const std::string& flag, std::optional<std::string> (*problem_with)(std::string_view),
                           void (*prepare)(std::string&) = nullptr) {
    return CLI::Validator(
        [flag, problem_with, prepare](std::string& value) {
            // "--backend --check-config": CLI11 takes the next flag as the value.
            if (value.rfind("--", 0) == 0) return needs_a_value(flag);
            if (prepare) prepare(value);
            return problem_with(value).value_or("");
        },
        "");
}

std::optional<std::string> problem_with_config_path(std::string_view path) {
    if (path.empty()) return std::string("needs the path of a config file");
    return std::nullopt;
}

// CLI11's words for what went wrong, in plain ones where CLI11's are not.
std::string plain_words(const CLI::ParseError& error) {
    const std::string what = error.what();
    if (error.get_name() == "ValidationError") return what;  // our own words, after the flag's name
    if (error.get_name() == "ArgumentMismatch") {
        // "--backend: 1 required TEXT missing"
        const std::string flag = what.substr(0, what.find(':'));
        if (flag_examples().count(flag) != 0) return flag + ": " + needs_a_value(flag);
    }
    return what + " (berrykitd --help lists the flags)";
}

// What --check-config prints when all is well.
std::string summary(const DaemonConfig& config, const CommandLine& command_line, const BoardDefinition& board,
                    const fs::path& board_file) {
    std::ostringstream out;
    out << "config OK: "
        << (config.file.empty() ? "the defaults (there is no " + command_line.config_path.string() + ")" : config.file)
        << "\n";
    out << "  board:     " << board.name << " (" << board_file.string() << ", " << board.parts.size() << " parts)\n";
    out << "  backend:   " << config.backend << "\n";
    out << "  log level: " << config.log_level << "\n";
    out << "  device id: " << config.device_id << "\n";
    out << "  socket:    " << config.socket.path << " (group " << config.socket.group << ", mode "
        << mode_to_string(config.socket.mode) << ")\n";
    out << "  clients:   at most " << config.clients.max << ", request lines up to " << config.clients.max_line_bytes
        << " bytes, up to " << config.clients.send_queue_bytes << " bytes waiting to be sent to each\n";
    out << "  parts:     ";
    if (config.parts.empty()) out << "every part is open to everyone who can open the socket";
    bool first = true;
    for (const auto& [name, access] : config.parts) {
        out << (first ? "" : "; ") << name << " for ";
        first = false;
        if (access.groups.empty()) out << "everyone";
        for (std::size_t i = 0; i < access.groups.size(); ++i) out << (i ? ", " : "group ") << access.groups[i];
    }
    out << "\n  sensors:   ";
    const auto sampled = sensor_sampling(config, board);
    if (sampled.empty()) out << "none on this board";
    for (std::size_t i = 0; i < sampled.size(); ++i) {
        out << (i ? ", " : "") << sampled[i].part;
        out << (sampled[i].enabled ? " every " + to_text(sampled[i].period) + " s" : std::string(" off"));
    }
    out << "\n  cloud:     ";
    if (!config.mqtt.enabled()) {
        out << "off (no mqtt.url)";
    } else {
        const MqttTlsConfig& tls = config.mqtt.tls;
        out << config.mqtt.url << ", topics " << config.mqtt.topic_prefix << "/" << config.device_id << "/...";
        if (!tls.ca_file.empty()) out << ", CA " << tls.ca_file;
        if (!tls.cert_file.empty()) out << ", certificate " << tls.cert_file;
        for (std::size_t i = 0; i < tls.alpn.size(); ++i) out << (i ? ", " : ", ALPN ") << tls.alpn[i];
        if (!config.mqtt.username.empty()) out << ", user " << config.mqtt.username;
        const auto remote = remote_parts(config);
        out << "\n  commands:  ";
        if (remote.empty()) out << "none (no part has \"remote\": true)";
        for (std::size_t i = 0; i < remote.size(); ++i) out << (i ? ", " : "from the cloud for ") << remote[i];
        out << "\n  outbox:    " << config.outbox.file << ", at most " << config.outbox.max_bytes << " bytes";
    }
    out << "\n  page:      ";
    if (!config.web.enabled) {
        out << "off (web.enabled is false)";
    } else {
        const std::string& address = config.web.address;
        out << "http://" << (address.find(':') != std::string::npos ? "[" + address + "]" : address) << ":"
            << (config.web.port == 0 ? std::string("<any free port>") : std::to_string(config.web.port))
            << "/ (the simulated board only), at most " << config.web.max_pages << " pages";
    }
    out << "\n";
    return out.str();
}

// --check-config: everything berrykitd would check before it runs, but whether the socket's group
// exists and the GPIO chip opens, which depend on the machine it runs on.
std::string check_config(const DaemonConfig& config, const CommandLine& command_line) {
    fs::path board_file;
    try {
        board_file = find_board(config.board, board_search_dirs());
    } catch (const Error& e) {
        // Say where the board was named: the flag, or the file's key.
        const std::string where = command_line.board     ? "--board: "
                                  : !config.file.empty() ? config.file + ": board: "
                                                         : "";
        throw Error(e.code(), where + e.what());
    }
    const BoardDefinition board = load_board(board_file);
    check_against_board(config, board);
    return summary(config, command_line, board, board_file);
}

}  // namespace

DaemonConfig CommandLine::load() const {
    DaemonConfig config = load_config(config_path, config_given);
    if (board) config.board = *board;
    if (backend) config.backend = *backend;
    if (socket_path) config.socket.path = *socket_path;
    if (log_level) config.log_level = *log_level;
    return config;
}

ParsedOptions parse_command_line(int argc, const char* const* argv) {
    CLI::App app(
        "berrykitd owns the Raspberry Pi's GPIO lines, samples the sensors and serves berrykit's local API on a "
        "Unix socket, so several scripts can share one board.",
        "berrykitd");
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.set_version_flag("--version", std::string("berrykitd ") + BERRYKIT_VERSION);
    app.allow_extras();  // unknown flags get a message of our own, below
    app.footer(
        "Flags override the config file. daemon/CONFIG.md describes every key of the config file.\n"
        "Exit codes: 0 all is well (--help, --version, --check-config with a good config);\n"
        "            2 the config file or a flag is wrong (the message says which).");

    CommandLine command_line;
    std::string config_path;
    std::string board;
    std::string backend;
    std::string socket_path;
    std::string log_level;
    auto* config_flag =
        app.add_option("--config", config_path,
                       std::string("the config file (default ") + default_config_path + ", which may be missing)")
            ->type_name("PATH")
            ->transform(value_check("--config", problem_with_config_path));
    auto* board_flag = app.add_option("--board", board, "the board: a name (\"classroom\") or a board file's path")
                           ->type_name("NAME|PATH")
                           ->transform(value_check("--board", problem_with_board));
    auto* backend_flag =
        app.add_option("--backend", backend,
                       "sim: the simulated board; gpiod: the real GPIO lines; auto: gpiod where there are GPIO chips")
            ->type_name("auto|sim|gpiod")
            ->transform(value_check("--backend", problem_with_backend));
    auto* socket_flag = app.add_option("--socket", socket_path, "the local API's Unix socket")
                            ->type_name("PATH")
                            ->transform(value_check("--socket", problem_with_socket_path, [](std::string& value) {
                                if (value.empty() || value.front() == '/') return;
                                std::error_code ec;
                                value = fs::absolute(value, ec).lexically_normal().string();
                            }));
    std::string clock;
    auto* clock_flag =
        app.add_option("--clock", clock,
                       "manual: the simulated board's time moves only when a program asks (sim_advance), for tests")
            ->type_name("real|manual")
            ->transform(value_check("--clock", [](std::string_view value) -> std::optional<std::string> {
                if (value == "real" || value == "manual") return std::nullopt;
                return "must be \"real\" or \"manual\", got \"" + std::string(value.substr(0, 40)) + "\"";
            }));
    auto* log_level_flag = app.add_option("--log-level", log_level, "how much to log to stderr")
                               ->type_name("error|warning|info|debug")
                               ->transform(value_check("--log-level", problem_with_log_level));
    app.add_flag("--check-config", command_line.check_config,
                 "check the config file and the board, say what berrykitd would run with, and exit");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        return ExitNow{exit_ok, app.help()};
    } catch (const CLI::CallForAllHelp&) {
        return ExitNow{exit_ok, app.help("", CLI::AppFormatMode::All)};
    } catch (const CLI::CallForVersion& version) {
        return ExitNow{exit_ok, std::string(version.what()) + "\n"};
    } catch (const CLI::ParseError& error) {
        return ExitNow{exit_bad_config, plain_words(error) + "\n"};
    }
    for (const auto& extra : app.remaining()) {
        if (!extra.empty() && extra.front() == '-') {
            return ExitNow{exit_bad_config, "berrykitd has no flag " + extra.substr(0, extra.find('=')) +
                                                ": its flags are " + flag_list + "\n"};
        }
        return ExitNow{exit_bad_config,
                       "berrykitd takes only flags, but was given '" + extra + "': its flags are " + flag_list + "\n"};
    }

    if (*config_flag) {
        command_line.config_path = config_path;
        command_line.config_given = true;
    }
    if (*board_flag) command_line.board = board;
    if (*backend_flag) command_line.backend = backend;
    if (*socket_flag) command_line.socket_path = socket_path;
    if (*log_level_flag) command_line.log_level = log_level;
    command_line.manual_clock = *clock_flag && clock == "manual";

    try {
        DaemonConfig config = command_line.load();
        if (command_line.check_config) return ExitNow{exit_ok, check_config(config, command_line)};
        return RunDaemon{command_line, std::move(config)};
    } catch (const Error& error) {
        return ExitNow{exit_bad_config, std::string(error.what()) + "\n"};
    }
}

}  // namespace berrykit::daemon
