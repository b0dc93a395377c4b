// berrykitd's command line: flags over the config file, --check-config, and plain-words errors
// that name the flag, each with the exit code main will use.
#include "berrykit/daemon/options.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <variant>
#include <vector>

using namespace berrykit::daemon;
using berrykit::test::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path example_file = fs::path(BERRYKIT_TEST_DATA_DIR) / "config" / "example.json";
const fs::path starter_board = fs::path(BERRYKIT_SOURCE_DIR) / "firmware" / "boards" / "starter.json";

ParsedOptions parse(std::vector<std::string> args) {
    args.insert(args.begin(), "berrykitd");
    std::vector<const char*> argv;
    for (const auto& arg : args) argv.push_back(arg.c_str());
    return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

// The config berrykitd would run with; fails the test if it would exit instead.
DaemonConfig run_config(const std::vector<std::string>& args) {
    const ParsedOptions parsed = parse(args);
    if (const auto* exit_now = std::get_if<ExitNow>(&parsed)) {
        FAIL("berrykitd would exit with " << exit_now->code << ": " << exit_now->text);
    }
    return std::get<RunDaemon>(parsed).config;
}

// How berrykitd would exit; fails the test if it would run instead.
ExitNow exit_of(const std::vector<std::string>& args) {
    const ParsedOptions parsed = parse(args);
    if (std::holds_alternative<RunDaemon>(parsed)) FAIL("berrykitd would run, but should exit");
    return std::get<ExitNow>(parsed);
}

}  // namespace

TEST_CASE("with only --config, berrykitd runs with the file's values") {
    const DaemonConfig config = run_config({"--config", example_file.string()});
    CHECK(config.file == example_file.string());
    CHECK(config.device_id == "classroom-pi");
    CHECK(config.clients.max == 64);
    CHECK(config.sensors.at("temperature").period == 30.0);
}

TEST_CASE("flags override the config file's values, and leave the rest as the file says") {
    TempDir dir;
    const auto file = dir.write("berrykit.json", R"({
        "board": "starter", "backend": "gpiod", "log_level": "debug",
        "socket": {"path": "/tmp/from-file.sock", "group": "staff"}, "clients": {"max": 8}
    })");
    const DaemonConfig from_file = run_config({"--config", file.string()});
    CHECK(from_file.board == "starter");
    CHECK(from_file.backend == "gpiod");
    CHECK(from_file.log_level == "debug");
    CHECK(from_file.socket.path == "/tmp/from-file.sock");

    const DaemonConfig config = run_config({"--config", file.string(), "--board", "classroom", "--backend", "sim",
                                            "--socket", "/tmp/from-flag.sock", "--log-level", "error"});
    CHECK(config.board == "classroom");
    CHECK(config.backend == "sim");
    CHECK(config.log_level == "error");
    CHECK(config.socket.path == "/tmp/from-flag.sock");
    CHECK(config.socket.group == "staff");
    CHECK(config.clients.max == 8);

    // A flag given twice: the last one counts, as with most programs.
    CHECK(run_config({"--config", file.string(), "--backend", "gpiod", "--backend", "sim"}).backend == "sim");
    // --flag=value works too.
    CHECK(run_config({"--config=" + file.string(), "--backend=sim"}).backend == "sim");
}

TEST_CASE("a reload reads the file again and lays the same flags over it") {
    TempDir dir;
    const auto file = dir.write("berrykit.json", R"({"backend": "gpiod", "log_level": "debug"})");
    const ParsedOptions parsed = parse({"--config", file.string(), "--backend", "sim"});
    REQUIRE(std::holds_alternative<RunDaemon>(parsed));
    const CommandLine& command_line = std::get<RunDaemon>(parsed).command_line;

    dir.write("berrykit.json", R"({"backend": "gpiod", "log_level": "warning"})");
    const DaemonConfig reloaded = command_line.load();
    CHECK(reloaded.log_level == "warning");
    CHECK(reloaded.backend == "sim");
}

TEST_CASE("a relative --socket path is taken from the current folder") {
    const DaemonConfig config = run_config({"--config", example_file.string(), "--socket", "test.sock"});
    CHECK(config.socket.path == (fs::current_path() / "test.sock").string());
}

TEST_CASE("checking a good config (--check-config) says what berrykitd would run with, and exits 0") {
    const ExitNow result = exit_of({"--config", example_file.string(), "--check-config"});
    INFO(result.text);
    CHECK(result.code == exit_ok);
    CHECK_THAT(result.text, Catch::StartsWith("config OK: " + example_file.string() + "\n"));
    CHECK_THAT(result.text, Catch::Contains("  board:     classroom ("));
    CHECK_THAT(result.text, Catch::Contains("classroom.json, 12 parts)"));
    CHECK_THAT(result.text, Catch::Contains("  device id: classroom-pi\n"));
    CHECK_THAT(result.text, Catch::Contains("  socket:    /run/berrykit/berrykit.sock (group berrykit, mode 0660)\n"));
    CHECK_THAT(result.text, Catch::Contains("  parts:     buzzer for group teachers; rgb for group teachers, year6\n"));
    CHECK_THAT(
        result.text,
        Catch::Contains("  sensors:   temperature every 30 s, climate every 120 s, light every 1 s, distance off\n"));
    const std::string data_dir = example_file.parent_path().string();
    CHECK_THAT(result.text, Catch::Contains("  cloud:     mqtts://a1b2c3d4e5f6g7-ats.iot.eu-west-2.amazonaws.com:443, "
                                            "topics berrykit/classroom-pi/..., CA " +
                                            data_dir + "/AmazonRootCA1.pem, certificate " + data_dir +
                                            "/classroom-pi.cert.pem, ALPN x-amzn-mqtt-ca\n"));
    CHECK_THAT(result.text, Catch::Contains("  commands:  from the cloud for rgb\n"));
    CHECK_THAT(result.text, Catch::Contains("  outbox:    /var/lib/berrykit/outbox.sqlite, at most 67108864 bytes\n"));

    // With the flags, it checks what the flags make of the file.
    const ExitNow flagged =
        exit_of({"--config", example_file.string(), "--check-config", "--backend", "sim", "--log-level", "debug"});
    CHECK(flagged.code == exit_ok);
    CHECK_THAT(flagged.text, Catch::Contains("  backend:   sim\n") && Catch::Contains("  log level: debug\n"));
}

TEST_CASE("checking the config (--check-config) says whether and where the classroom page would be") {
    const ExitNow off = exit_of({"--config", example_file.string(), "--check-config"});
    CHECK(off.code == exit_ok);
    CHECK_THAT(off.text, Catch::EndsWith("  page:      off (web.enabled is false)\n"));

    TempDir dir;
    const auto fixed = dir.write("fixed.json", R"({"web": {"enabled": true, "port": 8081, "max_pages": 4}})");
    const ExitNow on = exit_of({"--config", fixed.string(), "--check-config"});
    CHECK(on.code == exit_ok);
    CHECK_THAT(on.text,
               Catch::Contains("  page:      http://127.0.0.1:8081/ (the simulated board only), at most 4 pages\n"));

    const auto any = dir.write("any.json", R"({"web": {"enabled": true, "address": "0.0.0.0", "port": 0}})");
    const ExitNow any_port = exit_of({"--config", any.string(), "--check-config"});
    CHECK(any_port.code == exit_ok);
    CHECK_THAT(any_port.text, Catch::Contains("  page:      http://0.0.0.0:<any free port>/ (the simulated board "
                                              "only), at most 32 pages\n"));

    // An IPv6 address goes in brackets, or the port would read as part of it.
    const auto v6 = dir.write("v6.json", R"({"web": {"enabled": true, "address": "::1"}})");
    const ExitNow on_v6 = exit_of({"--config", v6.string(), "--check-config"});
    CHECK(on_v6.code == exit_ok);
    CHECK_THAT(on_v6.text, Catch::Contains("  page:      http://[::1]:8080/ "));

    // A bad web value is caught like any other.
    const auto bad = dir.write("bad.json", R"({"web": {"enabled": true, "port": 70000}})");
    const ExitNow refused = exit_of({"--config", bad.string(), "--check-config"});
    CHECK(refused.code == exit_bad_config);
    CHECK(refused.text == bad.string() + ": web.port: must be between 0 and 65535 (0: any free port), got 70000\n");
}

TEST_CASE("checking a bad config file (--check-config) prints the file, the key and what is wrong, and exits 2") {
    TempDir dir;
    const auto file = dir.write("berrykit.json", R"({"sensors": {"temperature": {"period": -2}}})");
    const ExitNow result = exit_of({"--config", file.string(), "--check-config"});
    CHECK(result.code == exit_bad_config);
    CHECK(result.text ==
          file.string() + ": sensors.temperature.period: must be between 0.1 and 3600 seconds, got -2\n");

    // Without --check-config a bad file stops berrykitd the same way.
    const ExitNow running = exit_of({"--config", file.string()});
    CHECK(running.code == exit_bad_config);
    CHECK(running.text == result.text);
}

TEST_CASE("checking the config (--check-config) checks it against its board") {
    TempDir dir;
    // Good for the classroom kit, but the starter kit has no temperature sensor.
    const ExitNow wrong_board =
        exit_of({"--config", example_file.string(), "--board", starter_board.string(), "--check-config"});
    CHECK(wrong_board.code == exit_bad_config);
    CHECK(wrong_board.text == example_file.string() +
                                  ": parts.buzzer: there is no part called 'buzzer' on the starter board; its parts "
                                  "are led, button\n");

    const ExitNow no_board = exit_of({"--config", example_file.string(), "--board", "nosuchkit", "--check-config"});
    CHECK(no_board.code == exit_bad_config);
    CHECK_THAT(no_board.text, Catch::StartsWith("--board: there is no board called 'nosuchkit': the boards are: "));
    CHECK_THAT(no_board.text, Catch::Contains("classroom") && Catch::Contains("starter"));

    const auto file = dir.write("berrykit.json", R"({"board": "nosuchkit"})");
    const ExitNow from_file = exit_of({"--config", file.string(), "--check-config"});
    CHECK(from_file.code == exit_bad_config);
    CHECK_THAT(from_file.text, Catch::StartsWith(file.string() + ": board: there is no board called 'nosuchkit'"));

    // A broken board file is reported with its own file and part.
    const auto board = dir.write("kit.json", R"({"name": "kit", "parts": {"red": {"type": "led", "line": "GPIO99"}}})");
    const ExitNow bad_board = exit_of({"--config", example_file.string(), "--board", board.string(), "--check-config"});
    CHECK(bad_board.code == exit_bad_config);
    CHECK_THAT(bad_board.text, Catch::StartsWith(board.string() + ": part 'red': field 'line': GPIO99"));
}

TEST_CASE("a --config file that does not exist is an error") {
    TempDir dir;
    const auto missing = dir.path() / "berrykit.json";
    for (const auto& args : {std::vector<std::string>{"--config", missing.string()},
                             std::vector<std::string>{"--config", missing.string(), "--check-config"}}) {
        const ExitNow result = exit_of(args);
        CHECK(result.code == exit_bad_config);
        CHECK(result.text == missing.string() + ": there is no such config file: check the folder and the name\n");
    }
    const ExitNow empty = exit_of({"--config", ""});
    CHECK(empty.code == exit_bad_config);
    CHECK(empty.text == "--config: needs the path of a config file\n");
}

TEST_CASE(
    "the flag --clock manual stops the simulated board's clock until a program moves it, and real is the default") {
    const auto command_line = [](const std::vector<std::string>& args) {
        const ParsedOptions parsed = parse(args);
        REQUIRE(std::holds_alternative<RunDaemon>(parsed));
        return std::get<RunDaemon>(parsed).command_line;
    };
    CHECK(command_line({"--clock", "manual"}).manual_clock);
    CHECK_FALSE(command_line({"--clock", "real"}).manual_clock);
    CHECK_FALSE(command_line({}).manual_clock);
}

TEST_CASE("a bad flag value is named with the flag and exits 2") {
    struct Case {
        std::vector<std::string> args;
        std::string text;
    };
    const std::vector<Case> cases = {
        {{"--backend", "real"}, "--backend: must be \"auto\", \"sim\" or \"gpiod\", got \"real\"\n"},
        {{"--log-level", "loud"}, "--log-level: must be \"error\", \"warning\", \"info\" or \"debug\", got \"loud\"\n"},
        {{"--board", ""},
         "--board: must name a board, like \"classroom\", or a board file, like \"/etc/berrykit/boards/mykit.json\"\n"},
        {{"--socket", "/" + std::string(120, 's')},
         "--socket: is 121 bytes long, but a Unix socket's path can be at most 107 bytes: use a shorter path\n"},
        {{"--backend"}, "--backend: needs a value after it, like --backend sim\n"},
        {{"--backend", "--check-config"}, "--backend: needs a value after it, like --backend sim\n"},
        {{"--clock", "fast"}, "--clock: must be \"real\" or \"manual\", got \"fast\"\n"},
        {{"--clock"}, "--clock: needs a value after it, like --clock manual\n"},
    };
    for (const auto& c : cases) {
        INFO(c.args.front());
        const ExitNow result = exit_of(c.args);
        CHECK(result.code == exit_bad_config);
        CHECK(result.text == c.text);
    }
}

TEST_CASE("an unknown flag or a stray word is refused, with the flags there are") {
    const std::string flags =
        "its flags are --config, --board, --backend, --socket, --clock, --log-level, --check-config, --version and "
        "--help\n";
    const ExitNow unknown = exit_of({"--frobnicate"});
    CHECK(unknown.code == exit_bad_config);
    CHECK(unknown.text == "berrykitd has no flag --frobnicate: " + flags);

    const ExitNow with_value = exit_of({"--backend", "sim", "--colour=red"});
    CHECK(with_value.code == exit_bad_config);
    CHECK(with_value.text == "berrykitd has no flag --colour: " + flags);

    const ExitNow stray = exit_of({"--backend", "sim", "classroom"});
    CHECK(stray.code == exit_bad_config);
    CHECK(stray.text == "berrykitd takes only flags, but was given 'classroom': " + flags);
}

TEST_CASE("asking for help (--help) shows every flag and the exit codes, and exits 0") {
    for (const char* help : {"--help", "-h"}) {
        const ExitNow result = exit_of({help});
        CHECK(result.code == exit_ok);
        CHECK_THAT(result.text, Catch::Contains("Usage: berrykitd [OPTIONS]"));
        for (const char* flag :
             {"--config", "--board", "--backend", "--socket", "--log-level", "--check-config", "--version"}) {
            CHECK_THAT(result.text, Catch::Contains(flag));
        }
        CHECK_THAT(result.text, Catch::Contains("auto|sim|gpiod"));
        CHECK_THAT(result.text, Catch::Contains("Exit codes: 0") && Catch::Contains("2 the config file or a flag"));
    }
    // Help wins over a bad config file: it never reads it.
    CHECK(exit_of({"--config", "/nonexistent/berrykit.json", "--help"}).code == exit_ok);
}

TEST_CASE("asking for the version (--version) says it and exits 0") {
    const ExitNow result = exit_of({"--version"});
    CHECK(result.code == exit_ok);
    CHECK_THAT(result.text, Catch::Matches("berrykitd [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}
