// berrykit — the command for berrykitd: look at the board and use its parts from a terminal.
//
//   berrykit status | parts | set PART VALUE [--once] | get PART | read SENSOR | watch [PART...]
//   berrykit sim [--port N] [--address IP] [--board NAME] [--function FILE] [--no-cloud]
//   global: --socket PATH, --json, --help, --version
//
// daemon/CLI.md documents every command, what it prints and the exit codes. Errors go to stderr in
// plain words; with --json, stdout gets the daemon's own JSON.
//
// SIGINT and SIGTERM are blocked from the start and read through a signalfd, so `set` (which holds
// its part until Ctrl+C) and `watch` wait on the daemon's socket and the signals in one poll().
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "berrykit/daemon/classroom.hpp"
#include "berrykit/daemon/client.hpp"
#include "berrykit/daemon/server.hpp"
#include "berrykit/error.hpp"

using berrykit::Error;
using berrykit::to_text;
using berrykit::daemon::Client;
using nlohmann::json;

namespace {

// The exit codes, as daemon/CLI.md lists them.
constexpr int exit_ok = 0;
constexpr int exit_refused = 1;      // the daemon said no; its message is shown
constexpr int exit_usage = 2;        // the command line is wrong
constexpr int exit_unreachable = 3;  // berrykitd is not running, may not be reached, or went away

// The daemon answered {"ok": false}: its message, in its words.
struct Refused {
    std::string message;
};

// A value on the command line that does not fit the part.
struct BadCommandLine {
    std::string message;
};

struct Settings {
    std::string socket;
    bool json = false;
};

std::string part_type(const json& part) { return part.value("type", std::string()); }

// Sends a request and returns its reply when it is ok; else prints it (with --json) and throws Refused.
json call(Client& daemon, const Settings& settings, std::string_view op, const json& fields = json::object()) {
    json reply = daemon.request(op, fields);
    if (reply.value("ok", false)) return reply;
    if (settings.json) std::cout << reply.dump() << std::endl;
    const json error = reply.value("error", json::object());
    throw Refused{error.value("message", std::string("berrykitd refused \"") + std::string(op) + "\"")};
}

// Connects and says hello, so the daemon shows "berrykit" as the owner of what we claim.
Client connect(const Settings& settings) {
    Client daemon(settings.socket);
    call(daemon, settings, "hello", {{"protocol", berrykit::daemon::protocol_version}, {"program", "berrykit"}});
    return daemon;
}

// The board's type of the part ("led"), or "" when it has none by that name.
std::string type_of(Client& daemon, const Settings& settings, const std::string& name) {
    const json reply = call(daemon, settings, "parts");
    for (const json& part : reply["parts"]) {
        if (part.value("name", "") == name) return part_type(part);
    }
    return "";
}

// berrykitd's advice is written for Python scripts ("You can also use a GPIO number, like
// LED(17)."); here a GPIO number is written as it is.
std::string for_the_command_line(std::string message) {
    const std::string advice = "You can also use a GPIO number, like ";
    const auto at = message.rfind(advice);
    if (at != std::string::npos && message.size() > 5 && message.compare(message.size() - 5, 5, "(17).") == 0) {
        message.replace(at + advice.size(), std::string::npos, "17 or GPIO17.");
    }
    return message;
}

// A part named by its GPIO number ("17" or "GPIO17"), as LED(17) does in Python, becomes the name
// of the board's part on that line; any other name is left as it is.
std::string part_name(Client& daemon, const Settings& settings, const std::string& ref) {
    const std::string digits = ref.rfind("GPIO", 0) == 0 ? ref.substr(4) : ref;
    if (digits.empty() || digits.size() > 2 ||
        !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); })) {
        return ref;
    }
    const std::string line = "GPIO" + std::to_string(std::stoi(digits));
    const json parts = call(daemon, settings, "parts")["parts"];
    for (const json& part : parts) {
        const json lines = part.value("lines", json::object());
        for (const auto& [role, name] : lines.items()) {
            if (name != line) continue;
            const std::string part_name = part.value("name", "");
            if (lines.size() == 1) return part_name;
            throw Refused{line + " is one of the lines of '" + part_name + "' (its " + role +
                          "): use the part's name, `" + part_name + "`"};
        }
    }
    throw Refused{"berrykitd has no part on " + line + ": use a part's name, like '" +
                  (parts.empty() ? std::string("red") : parts.front().value("name", "red")) +
                  "' (`berrykit parts` lists them)"};
}

std::string number(const json& value) { return value.is_number() ? to_text(value.get<double>()) : "-"; }

// A part's state as a kid says it: "on", "off", "pressed", "0.5".
std::string describe_state(const std::string& type, const json& state) {
    const json value = state.value("value", json());
    if (type == "led") {
        if (!value.is_number()) return "-";
        const double v = value.get<double>();
        return v == 0 ? "off" : v == 1 ? "on" : "on at " + to_text(v);
    }
    if (type == "buzzer") return value == 1 ? "on" : "off";
    if (type == "rgb_led") {
        if (!value.is_array() || value.size() != 3) return "-";
        if (value[0] == 0 && value[1] == 0 && value[2] == 0) return "off";
        return number(value[0]) + "," + number(value[1]) + "," + number(value[2]);
    }
    if (state.contains("pressed")) return state["pressed"] == true ? "pressed" : "not pressed";
    if (state.contains("motion")) return state["motion"] == true ? "motion" : "no motion";
    if (type == "distance_sensor") return value.is_number() ? number(value) + " m" : "not measured yet";
    if (state.contains("value")) return value.is_number() ? number(value) : "not measured yet";
    return "-";  // a sensor that is read, not watched: `berrykit read`
}

std::string describe_owner(const json& owner) {
    if (!owner.is_object()) return "-";
    return owner.value("program", std::string("?")) + " (pid " + std::to_string(owner.value("pid", 0)) + ")";
}

std::string describe_lines(const json& lines) {
    if (!lines.is_object()) return "-";
    if (lines.size() == 1 && lines.contains("line")) return lines["line"].get<std::string>();
    std::string out;
    for (const auto& [role, line] : lines.items()) {
        out += (out.empty() ? "" : " ") + role + "=" + line.get<std::string>();
    }
    return out;
}

// "connected to 127.0.0.1:1883; 120 sent, 0 waiting on disk" (cloud_status in words).
std::string describe_cloud(const json& cloud) {
    if (!cloud.value("enabled", false)) return "off (no mqtt.url in the config)";
    std::string out;
    const json mqtt = cloud.value("mqtt", json::object());
    out = mqtt.value("state", std::string("-"));
    const json outbox = cloud.value("outbox", json::object());
    out += "; " + std::to_string(mqtt.value("acknowledged", 0ULL)) + " sent, " +
           std::to_string(outbox.value("queued", 0ULL)) + " waiting on disk";
    if (const auto dropped = outbox.value("dropped", 0ULL); dropped > 0) {
        out += ", " + std::to_string(dropped) + " dropped (the outbox was full: raise outbox.max_bytes)";
    }
    if (const std::string error = mqtt.value("last_error", std::string());
        !error.empty() && !mqtt.value("connected", false)) {
        out += "\n             last problem: " + error;
    }
    return out;
}

// --- commands ---

int status(const Settings& settings) {
    Client daemon(settings.socket);
    const json hello =
        call(daemon, settings, "hello", {{"protocol", berrykit::daemon::protocol_version}, {"program", "berrykit"}});
    const json parts = call(daemon, settings, "parts")["parts"];
    const json cloud = call(daemon, settings, "cloud_status");
    if (settings.json) {
        json out = hello;
        out["parts"] = parts;
        out["cloud"] = cloud;
        std::cout << out.dump() << std::endl;
        return exit_ok;
    }
    std::vector<std::string> owners;
    for (const json& part : parts) {
        if (part["owner"].is_object())
            owners.push_back(part["name"].get<std::string>() + " by " + describe_owner(part["owner"]));
    }
    std::cout << "berrykitd is running on " << daemon.socket_path() << " (protocol " << number(hello["protocol"])
              << ")\n"
              << "  board:     " << hello.value("board", "-") << "\n"
              << "  backend:   " << hello.value("backend", "-") << "\n"
              << "  device id: " << hello.value("device", "-") << "\n"
              << "  parts:     " << parts.size() << "\n"
              << "  in use:    ";
    if (owners.empty()) std::cout << "nothing";
    for (std::size_t i = 0; i < owners.size(); ++i) std::cout << (i ? "; " : "") << owners[i];
    std::cout << "\n  cloud:     " << describe_cloud(cloud) << "\n  page:      "
              << (hello.value("page", json()).is_string() ? "open " + hello["page"].get<std::string>() + " in a browser"
                                                          : std::string("off"))
              << std::endl;
    return exit_ok;
}

int list_parts(const Settings& settings) {
    Client daemon = connect(settings);
    const json reply = call(daemon, settings, "parts");
    if (settings.json) {
        std::cout << reply.dump() << std::endl;
        return exit_ok;
    }
    std::vector<std::vector<std::string>> rows = {{"NAME", "KIND", "LINES", "STATE", "OWNER"}};
    for (const json& part : reply["parts"]) {
        rows.push_back({part.value("name", "-"), part.value("kind", "-"), describe_lines(part["lines"]),
                        describe_state(part_type(part), part.value("state", json::object())),
                        describe_owner(part["owner"])});
    }
    std::vector<std::size_t> widths(rows.front().size(), 0);
    for (const auto& row : rows) {
        for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t c = 0; c < row.size(); ++c) {
            line += row[c];
            if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
        }
        std::cout << line << "\n";
    }
    std::cout << std::flush;
    return exit_ok;
}

std::optional<double> parse_number(const std::string& text) {
    try {
        std::size_t used = 0;
        const double v = std::stod(text, &used);
        if (used == text.size() && std::isfinite(v)) return v;
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

std::optional<bool> parse_switch(const std::string& text) {
    if (text == "on" || text == "1" || text == "true") return true;
    if (text == "off" || text == "0" || text == "false") return false;
    return std::nullopt;
}

// The command line's value for `set`, as the daemon takes it for this kind of part.
json set_value(const json& part, const std::string& text) {
    const std::string type = part_type(part);
    const std::string name = part.value("name", "?");
    if (type == "led") {
        if (const auto on = parse_switch(text)) return *on ? 1.0 : 0.0;
        if (const auto v = parse_number(text)) return *v;
        throw BadCommandLine{"an LED is set to on, off, or a brightness from 0 to 1 (like 0.5), not '" + text + "'"};
    }
    if (type == "buzzer") {
        if (const auto on = parse_switch(text)) return *on ? 1 : 0;
        throw BadCommandLine{"a buzzer is set to on or off, not '" + text + "'"};
    }
    if (type == "rgb_led") {
        if (const auto on = parse_switch(text)) return *on ? json{1.0, 1.0, 1.0} : json{0.0, 0.0, 0.0};
        json rgb = json::array();
        std::stringstream parts(text);
        for (std::string item; std::getline(parts, item, ',');) {
            const auto v = parse_number(item);
            if (!v) break;
            rgb.push_back(*v);
        }
        if (rgb.size() == 3 && std::count(text.begin(), text.end(), ',') == 2) return rgb;
        throw BadCommandLine{
            "an RGB LED is set to red,green,blue, each from 0 to 1 (like 1,0.5,0), or on or off, "
            "not '" +
            text + "'"};
    }
    // Not an output: the daemon says so in its words (wrong_type).
    if (const auto v = parse_number(text)) return *v;
    return text;
}

// Until SIGINT or SIGTERM comes through `signals`, hand every event to `on_event`. Throws
// Error(closed) when the daemon goes away.
void until_signal(Client& daemon, int signals, const std::function<void(const json&)>& on_event) {
    for (;;) {
        while (const auto event = daemon.next_event(std::chrono::milliseconds(0))) on_event(*event);
        pollfd watched[2] = {{daemon.native_handle(), POLLIN, 0}, {signals, POLLIN, 0}};
        if (::poll(watched, 2, -1) < 0) continue;  // EINTR: look again
        if (watched[1].revents != 0) return;
    }
}

int set_part(const Settings& settings, const std::string& ref, const std::string& text, bool once, int signals) {
    Client daemon = connect(settings);
    const std::string name = part_name(daemon, settings, ref);
    const json part = call(daemon, settings, "claim", {{"part", name}})["part"];
    const json reply = call(daemon, settings, "set", {{"part", name}, {"value", set_value(part, text)}});
    const std::string state = describe_state(part_type(part), reply["state"]);
    const bool keep = part.value("keep", false);
    if (settings.json) {
        std::cout << reply.dump() << std::endl;
    } else if (keep) {
        std::cout << name << " is " << state << " (it stays so: the board keeps it)" << std::endl;
    } else if (once) {
        std::cout << name << " was " << state << "; it goes back to rest now that berrykit lets go" << std::endl;
    } else {
        std::cout << name << " is " << state << "; press Ctrl+C to let go" << std::endl;
    }
    if (once || keep) return exit_ok;
    until_signal(daemon, signals, [](const json&) {});
    return exit_ok;  // closing the connection lets go of the part
}

int get_part(const Settings& settings, const std::string& ref) {
    Client daemon = connect(settings);
    const std::string name = part_name(daemon, settings, ref);
    const json reply = call(daemon, settings, "get", {{"part", name}});
    if (settings.json) {
        std::cout << reply.dump() << std::endl;
        return exit_ok;
    }
    const std::string type = type_of(daemon, settings, name);
    const std::string state = describe_state(type, reply["state"]);
    std::cout << name << ": " << (state == "-" ? "nothing to get: try `berrykit read " + name + "`" : state)
              << std::endl;
    return exit_ok;
}

int read_sensor(const Settings& settings, const std::string& ref) {
    Client daemon = connect(settings);
    const std::string name = part_name(daemon, settings, ref);
    const json reply = call(daemon, settings, "read", {{"part", name}});
    if (settings.json) {
        std::cout << reply.dump() << std::endl;
        return exit_ok;
    }
    std::cout << name << ": ";
    if (reply.contains("humidity")) {
        std::cout << "temperature " << number(reply["temperature"]) << " °C, humidity " << number(reply["humidity"])
                  << " %";
    } else if (reply.contains("unit")) {
        std::cout << (reply["value"].is_number() ? number(reply["value"]) + " " + reply["unit"].get<std::string>()
                                                 : std::string("not measured yet"));
    } else {
        const std::string type = type_of(daemon, settings, name);
        std::cout << describe_state(type, reply.value("state", json::object()));
    }
    std::cout << std::endl;
    return exit_ok;
}

// "2026-11-22T03:12:05.123Z" as the local time of day, "04:12:05.123".
std::string local_time_of(const json& event) {
    const std::string ts = event.value("ts", "");
    std::tm utc{};
    int millis = 0;
    if (std::sscanf(ts.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &utc.tm_year, &utc.tm_mon, &utc.tm_mday, &utc.tm_hour,
                    &utc.tm_min, &utc.tm_sec, &millis) != 7) {
        return ts.empty() ? "-" : ts;
    }
    utc.tm_year -= 1900;
    utc.tm_mon -= 1;
    const time_t when = ::timegm(&utc);
    std::tm local{};
    ::localtime_r(&when, &local);
    std::ostringstream out;
    out << std::put_time(&local, "%H:%M:%S") << "." << std::setw(3) << std::setfill('0') << millis;
    return out.str();
}

int watch(const Settings& settings, const std::vector<std::string>& refs, int signals) {
    Client daemon = connect(settings);
    std::vector<std::string> parts;
    for (const std::string& ref : refs) parts.push_back(part_name(daemon, settings, ref));
    json fields = json::object();
    if (!parts.empty()) fields["parts"] = parts;
    call(daemon, settings, "subscribe", fields);
    if (!settings.json) {
        std::cerr << "watching " << (parts.empty() ? std::string("every part") : "the parts you named")
                  << "; press Ctrl+C to stop" << std::endl;
    }
    until_signal(daemon, signals, [&](const json& event) {
        if (settings.json) {
            std::cout << event.dump() << std::endl;
        } else {
            std::cout << local_time_of(event) << "  " << event.value("part", "?") << "  " << event.value("event", "?")
                      << std::endl;
        }
    });
    return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    const int signals = ::signalfd(-1, &stop_signals, SFD_CLOEXEC);

    CLI::App app("berrykit talks to berrykitd, which owns the board: look at the parts and use them from a terminal.",
                 "berrykit");
    app.set_version_flag("--version", std::string("berrykit ") + BERRYKIT_VERSION);
    app.require_subcommand(1);
    app.fallthrough();  // `berrykit get red --json` as well as `berrykit --json get red`
    app.footer(
        "The socket is --socket, else $BERRYKIT_SOCKET, else the one `berrykit sim` runs, else\n"
        "/run/berrykit/berrykit.sock.\n"
        "Exit codes: 0 done; 1 berrykitd refused (the message says why); 2 the command line is wrong;\n"
        "            3 berrykitd cannot be reached. daemon/CLI.md has more.");
    Settings settings;
    app.add_option("--socket", settings.socket, "berrykitd's Unix socket")->type_name("PATH");
    app.add_flag("--json", settings.json, "print the daemon's JSON (one object a line) instead of words");

    auto* status_command = app.add_subcommand("status", "is berrykitd running, on which board, who uses what");
    auto* parts_command = app.add_subcommand("parts", "every part: name, kind, lines, state, owner");
    std::string part;
    std::string value;
    bool once = false;
    auto* set_command = app.add_subcommand(
        "set",
        "set an output and hold it until Ctrl+C: `set red on`, `set red 0.5`, `set rgb 1,0,0`, `set buzzer off`");
    set_command->add_option("part", part, "an LED, RGB LED or buzzer")->required();
    set_command->add_option("value", value, "on, off, 1, 0, true, false, a brightness 0-1, or r,g,b")->required();
    set_command->add_flag("--once", once,
                          "set it and end at once (the part goes back to rest unless the board keeps it)");
    auto* get_command = app.add_subcommand("get", "a part's state now: `get button`");
    get_command->add_option("part", part, "a part's name")->required();
    auto* read_command = app.add_subcommand("read", "read a sensor now: `read temperature`");
    read_command->add_option("sensor", part, "a sensor's name")->required();
    std::vector<std::string> watched;
    auto* watch_command = app.add_subcommand("watch", "show events (presses, motion...) until Ctrl+C");
    watch_command->add_option("parts", watched, "the parts to watch (all when none)");
    berrykit::daemon::ClassroomOptions classroom;
    auto* sim_command = app.add_subcommand(
        "sim",
        "the simulated classroom on this computer: berrykitd, its page in a browser, a local MQTT broker "
        "and the cloud function, until Ctrl+C");
    sim_command->add_option("--port", classroom.page_port, "the page's port (8080; another if it is taken; 0: any)")
        ->check(CLI::Range(0, 65535));
    sim_command->add_option("--address", classroom.address,
                            "where the page listens: 127.0.0.1 (this computer) or 0.0.0.0 (every network)");
    sim_command->add_option("--board", classroom.board, "the board: a name (\"classroom\") or a board file");
    sim_command->add_option("--function", classroom.function,
                            "the cloud function's file (the example lessons/functions/handler.py)");
    bool no_cloud = false;
    sim_command->add_flag("--no-cloud", no_cloud, "no broker and no cloud function");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        if (error.get_exit_code() != 0) {
            // CLI11 calls `berrykit bogus` "A subcommand is required": name the word instead.
            for (int i = 1; i < argc; ++i) {
                const std::string word = argv[i];
                if (word == "--socket") ++i;
                if (word.empty() || word.front() == '-' || word == "--socket") continue;
                if (app.get_subcommands([&](const CLI::App* command) { return command->get_name() == word; }).empty()) {
                    std::cerr << "berrykit has no command '" << word
                              << "': the commands are status, parts, set, get, read, watch and sim (berrykit --help)"
                              << std::endl;
                    return exit_usage;
                }
                break;
            }
        }
        const int code = app.exit(error);  // prints help, version or the error
        return code == 0 ? exit_ok : exit_usage;
    }
    if (signals < 0) {
        std::cerr << "berrykit could not set up Ctrl+C handling" << std::endl;
        return exit_unreachable;
    }

    try {
        if (*status_command) return status(settings);
        if (*parts_command) return list_parts(settings);
        if (*set_command) return set_part(settings, part, value, once, signals);
        if (*get_command) return get_part(settings, part);
        if (*read_command) return read_sensor(settings, part);
        if (*watch_command) return watch(settings, watched, signals);
        if (*sim_command) {
            classroom.socket = settings.socket;
            classroom.cloud = !no_cloud;
            return berrykit::daemon::run_classroom(classroom, signals, std::cout, std::cerr);
        }
    } catch (const Refused& refused) {
        std::cerr << "berrykit: " << for_the_command_line(refused.message) << std::endl;
        return exit_refused;
    } catch (const BadCommandLine& bad) {
        std::cerr << "berrykit: " << bad.message << std::endl;
        return exit_usage;
    } catch (const Error& error) {
        // Connecting and talking: berrykitd is not there, may not be reached, or went away.
        std::cerr << "berrykit: " << error.what() << std::endl;
        return exit_unreachable;
    }
    return exit_usage;
}
