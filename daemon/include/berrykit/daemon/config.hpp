// berrykitd — its configuration file (/etc/berrykit/berrykit.json).
//
// One JSON object; every key is optional and documented in daemon/CONFIG.md. Example:
//
//   {
//     "board": "classroom",
//     "socket": {"group": "berrykit", "mode": "0660"},
//     "parts": {"buzzer": {"groups": ["teachers"]}},
//     "sensors": {"temperature": {"period": 30}, "distance": {"enabled": false}},
//     "mqtt": {"url": "mqtts://broker.example.org:8883", "tls": {"ca_file": "ca.pem"}}
//   }
//
// Reading it validates everything that can be checked without the board and the machine's users:
// each problem is an Error(bad_value) whose message names the file and the key's path,
//   "berrykit.json: sensors.temperature.period: must be between 0.1 and 3600 seconds, got -2"
//   "berrykit.json: clients.maxx: unknown key; the keys here are max, max_line_bytes, send_queue_bytes"
// check_against_board() then checks the part names in "parts" and "sensors" against the board.
#pragma once

#include "berrykit/board.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berrykit::daemon {

// Where berrykitd looks for its config file when --config does not say.
inline constexpr const char* default_config_path = "/etc/berrykit/berrykit.json";

// "socket": where the local API listens, and who may open it.
struct SocketConfig {
    std::string path = "/run/berrykit/berrykit.sock";  // absolute; at most 107 bytes (a Unix socket's limit)
    // The socket's group. Whether the group exists on this machine is checked when berrykitd
    // starts, not when the file is read, so a config can be checked on another computer.
    std::string group = "berrykit";
    unsigned mode = 0660;  // permission bits, written in the file as a string of octal digits ("0660")
};

// "clients": limits that keep one client from hurting the others.
struct ClientsConfig {
    std::size_t max = 256;                   // clients connected at once: 1 … 1024
    std::size_t max_line_bytes = 65536;      // one request line: 1024 … 1048576 bytes
    std::size_t send_queue_bytes = 1048576;  // unsent replies and events per client: 4096 … 67108864 bytes
};

// "parts": { "<part>": { "groups": [...] } }: who may use a part.
struct PartAccess {
    // Unix groups whose members may use the part; empty means everyone who can open the socket.
    std::vector<std::string> groups;
    // The cloud may send this part commands (MQTT commands/<part>). Off unless the file says so.
    bool remote = false;
};

// "sensors": { "<part>": { "period": …, "enabled": … } }: how the daemon samples a sensor.
struct SensorConfig {
    std::optional<double> period;  // seconds between readings, 0.1 … 3600; unset: the sensor type's default
    bool enabled = true;
};

// "mqtt.tls": how an mqtts:// connection checks the broker and shows who this Pi is.
struct MqttTlsConfig {
    std::string ca_file;    // the CA certificates (PEM) the broker's certificate must be signed by; empty: the system's
    std::string cert_file;  // this Pi's client certificate (PEM); with key_file, or neither
    std::string key_file;   // its private key (PEM, not encrypted)
    std::vector<std::string> alpn;   // ALPN protocols to offer, like ["x-amzn-mqtt-ca"] (AWS IoT on port 443)
    bool verify_server_name = true;  // the certificate must name the host in the url
};

// "mqtt.reconnect": how long berrykitd waits before connecting again (see reconnect_delay()).
struct MqttReconnectConfig {
    double min = 0.5;  // seconds, 0.1 … 60
    double max = 60;   // seconds, 0.1 … 3600, at least min
};

// "mqtt": the cloud bridge. No url: the bridge is off.
struct MqttConfig {
    std::string url;            // mqtt://host[:port] (1883) or mqtts://host[:port] (8883); empty: off
    std::string client_id;      // empty: the device id
    std::string username;       // empty: none
    std::string password_file;  // a file holding the password (one line); never the password itself
    std::string password_env;   // or the name of an environment variable holding it
    MqttTlsConfig tls;
    unsigned keepalive = 60;  // seconds between pings when nothing else is sent, 5 … 3600
    MqttReconnectConfig reconnect;
    std::size_t inflight = 100;             // messages sent and not yet acknowledged, at most; 1 … 65535
    std::string topic_prefix = "berrykit";  // topics are <topic_prefix>/<device_id>/...

    bool enabled() const noexcept { return !url.empty(); }
};

// "outbox": where readings wait for the broker (the durable outbox, mirrored by OutboxOptions).
struct OutboxConfig {
    std::string file = "/var/lib/berrykit/outbox.sqlite";
    std::uint64_t max_bytes = 64ULL * 1024 * 1024;  // 65536 … 17179869184 (16 GiB)
    std::chrono::milliseconds batch_window{10};     // 0 … 5 s: how long a commit waits to gather more
};

// "web": the classroom page, a picture of the simulated board in a browser (only with the
// simulated board).
struct WebConfig {
    bool enabled = false;
    // The address it listens on: an IPv4 or IPv6 address. 127.0.0.1 (this computer only) unless
    // the teacher wants other computers to open the page ("0.0.0.0").
    std::string address = "127.0.0.1";
    unsigned port = 8080;        // 0 … 65535; 0: any free port (the log and `berrykit status` say which)
    std::size_t max_pages = 32;  // pages open at once: 1 … 256
};

// An mqtt:// or mqtts:// url, taken apart.
struct MqttUrl {
    bool tls = false;
    std::string host;   // a name, an IPv4 address, or an IPv6 address without its [ ]
    unsigned port = 0;  // 1883 or 8883 when the url gives none

    std::string host_port() const;  // "host:port", "[::1]:1883"
    std::string paho_uri() const;   // "tcp://host:port" or "ssl://host:port", as Paho takes it
};

struct DaemonConfig {
    std::string file;  // the file it was read from, for messages; empty for the built-in defaults

    std::string board = "classroom";  // a board name, or the path of a board file
    std::string backend = "auto";     // "auto", "sim" or "gpiod" (as KitOptions::backend takes it)
    std::string log_level = "info";   // "error", "warning", "info" or "debug"
    std::string device_id;            // names this Pi in MQTT topics; defaults() uses the hostname
    SocketConfig socket;
    ClientsConfig clients;
    std::map<std::string, PartAccess> parts;      // part name → who may use it
    std::map<std::string, SensorConfig> sensors;  // part name → its sampling
    MqttConfig mqtt;
    OutboxConfig outbox;
    WebConfig web;
};

// The parts marked "remote" in "parts", in name order: the cloud may send them commands.
std::vector<std::string> remote_parts(const DaemonConfig& config);

// Takes an mqtt:// or mqtts:// url apart. Throws Error(bad_value) with what problem_with_mqtt_url says.
MqttUrl parse_mqtt_url(std::string_view url);

// The values berrykitd runs on with no config file (device_id: this machine's hostname).
DaemonConfig defaults();

// Parses a config file's text over the defaults. `file` is only used in messages. Throws
// Error(bad_value) naming `file` and the key's path.
DaemonConfig parse_config(std::string_view text, const std::string& file);

// Reads and parses `path`. When it does not exist: the defaults if `must_exist` is false (the
// default path may be missing), else an error (a path given with --config must exist). A file that
// exists but cannot be read is always an error. A relative board path in the file ("myboard.json")
// is taken relative to the file's folder, and so are the files under "mqtt" and "outbox".
DaemonConfig load_config(const std::filesystem::path& path, bool must_exist);

// Checks the config's part names against the board it runs: every key of "parts" must be a part on
// it, every key of "sensors" a sensor the daemon samples. Throws Error(bad_value), e.g.
//   "berrykit.json: sensors.motion: 'motion' is a motion sensor, which sends events rather than
//    readings: the sensors that are sampled are temperature, climate, light, distance"
void check_against_board(const DaemonConfig& config, const BoardDefinition& board);

// How often the daemon reads a sensor of this type when the config does not say: 60 s for
// temperature and climate sensors, 1 s for light and distance sensors; nothing for parts that are
// not sampled (LEDs, buttons, motion sensors).
std::optional<double> default_sensor_period(PartType type) noexcept;

// One sensor the daemon samples, with the config's settings or the type's defaults.
struct SensorSampling {
    std::string part;
    PartType type = PartType::ds18b20;
    double period = 60;
    bool enabled = true;
};

// Every sampled sensor on `board`, in the board's order (disabled ones too, with enabled false).
std::vector<SensorSampling> sensor_sampling(const DaemonConfig& config, const BoardDefinition& board);

// The folders a board name is looked up in, first match wins: the installed boards, then
// /etc/berrykit/boards, /usr/local/share/berrykit/boards, /usr/share/berrykit/boards (the same
// folders the Python package searches), then the source tree's firmware/boards.
std::vector<std::filesystem::path> board_search_dirs();

// A device id made from a hostname: the part before the first '.', other characters than letters,
// digits, '-' and '_' replaced by '-', at most 64 long; "berrykit" when nothing is left.
std::string device_id_from_hostname(std::string_view hostname);

// --- the checks the file makes, for values that come from elsewhere (command-line flags) ---
// Each returns what is wrong, in the words a config error uses after the key ("must be \"auto\",
// \"sim\" or \"gpiod\", got \"foo\""), or nothing when the value is good.
std::optional<std::string> problem_with_board(std::string_view board);
std::optional<std::string> problem_with_backend(std::string_view backend);
std::optional<std::string> problem_with_log_level(std::string_view level);
std::optional<std::string> problem_with_socket_path(std::string_view path);
std::optional<std::string> problem_with_mqtt_url(std::string_view url);
std::optional<std::string> problem_with_web_address(std::string_view address);

// The mode as the file writes it: 0660 → "0660".
std::string mode_to_string(unsigned mode);

}  // namespace berrykit::daemon
