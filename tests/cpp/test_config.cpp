// berrykitd's config file: the defaults, every key, and every mistake giving an Error(bad_value)
// whose message is "<file>: <key path>: <what is wrong>".
#include "berrykit/daemon/config.hpp"

#include "berrykit/board.hpp"
#include "berrykit/error.hpp"
#include "error_matchers.hpp"
#include "temp_dir.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace berrykit;
using namespace berrykit::daemon;
using berrykit::test::TempDir;
using berrykit::testing::error_from;
using berrykit::testing::IsError;
namespace fs = std::filesystem;

namespace {

const fs::path example_file = fs::path(BERRYKIT_TEST_DATA_DIR) / "config" / "example.json";
const fs::path config_doc = fs::path(BERRYKIT_SOURCE_DIR) / "daemon" / "CONFIG.md";
const fs::path classroom_board = fs::path(BERRYKIT_SOURCE_DIR) / "firmware" / "boards" / "classroom.json";

std::string read_text(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// The message of the Error(bad_value) that parsing `json` as "berrykit.json" throws.
std::string config_error(const std::string& json) {
    const Error error = error_from([&] { parse_config(json, "berrykit.json"); });
    CHECK(error.code() == ErrorCode::bad_value);
    return error.what();
}

}  // namespace

TEST_CASE("with no keys berrykitd runs on the documented defaults") {
    const DaemonConfig config = parse_config("{}", "berrykit.json");
    CHECK(config.file == "berrykit.json");
    CHECK(config.board == "classroom");
    CHECK(config.backend == "auto");
    CHECK(config.log_level == "info");
    CHECK(config.socket.path == "/run/berrykit/berrykit.sock");
    CHECK(config.socket.group == "berrykit");
    CHECK(config.socket.mode == 0660);
    CHECK(config.clients.max == 256);
    CHECK(config.clients.max_line_bytes == 65536);
    CHECK(config.clients.send_queue_bytes == 1048576);
    CHECK(config.parts.empty());
    CHECK(config.sensors.empty());
    CHECK(defaults().file.empty());
    // No url: the cloud bridge is off; the rest has its documented defaults.
    CHECK_FALSE(config.mqtt.enabled());
    CHECK(config.mqtt.client_id.empty());  // the device id
    CHECK(config.mqtt.username.empty());
    CHECK(config.mqtt.password_file.empty());
    CHECK(config.mqtt.password_env.empty());
    CHECK(config.mqtt.tls.ca_file.empty());
    CHECK(config.mqtt.tls.alpn.empty());
    CHECK(config.mqtt.tls.verify_server_name);
    CHECK(config.mqtt.keepalive == 60);
    CHECK(config.mqtt.reconnect.min == 0.5);
    CHECK(config.mqtt.reconnect.max == 60.0);
    CHECK(config.mqtt.inflight == 100);
    CHECK(config.mqtt.topic_prefix == "berrykit");
    CHECK(config.outbox.file == "/var/lib/berrykit/outbox.sqlite");
    CHECK(config.outbox.max_bytes == 64ULL * 1024 * 1024);
    CHECK(config.outbox.batch_window == std::chrono::milliseconds(10));
    CHECK(remote_parts(config).empty());
}

TEST_CASE("the device id defaults to the machine's hostname") {
    std::array<char, 256> hostname{};
    REQUIRE(::gethostname(hostname.data(), hostname.size() - 1) == 0);
    const std::string id = defaults().device_id;
    CHECK(id == device_id_from_hostname(hostname.data()));
    // Whatever the hostname, the default is itself a valid device id.
    CHECK_NOTHROW(parse_config(R"({"device_id": ")" + id + R"("})", "berrykit.json"));
}

TEST_CASE("a hostname becomes a device id that is safe in an MQTT topic") {
    CHECK(device_id_from_hostname("classroom-pi") == "classroom-pi");
    CHECK(device_id_from_hostname("pi4.local") == "pi4");
    CHECK(device_id_from_hostname("my pi+#") == "my-pi--");
    CHECK(device_id_from_hostname("") == "berrykit");
    CHECK(device_id_from_hostname(std::string(80, 'a')) == std::string(64, 'a'));
}

TEST_CASE("every key of the example file is read") {
    const DaemonConfig config = load_config(example_file, true);
    CHECK(config.file == example_file.string());
    CHECK(config.board == "classroom");
    CHECK(config.backend == "auto");
    CHECK(config.log_level == "info");
    CHECK(config.device_id == "classroom-pi");
    CHECK(config.socket.path == "/run/berrykit/berrykit.sock");
    CHECK(config.socket.group == "berrykit");
    CHECK(config.socket.mode == 0660);
    CHECK(config.clients.max == 64);
    CHECK(config.clients.max_line_bytes == 65536);
    CHECK(config.clients.send_queue_bytes == 1048576);
    REQUIRE(config.parts.size() == 2);
    CHECK(config.parts.at("buzzer").groups == std::vector<std::string>{"teachers"});
    CHECK(config.parts.at("rgb").groups == std::vector<std::string>{"teachers", "year6"});
    CHECK_FALSE(config.parts.at("buzzer").remote);
    CHECK(config.parts.at("rgb").remote);
    REQUIRE(config.sensors.size() == 3);
    CHECK(config.sensors.at("temperature").period == 30.0);
    CHECK(config.sensors.at("temperature").enabled);
    CHECK(config.sensors.at("climate").period == 120.0);
    CHECK_FALSE(config.sensors.at("distance").period.has_value());
    CHECK_FALSE(config.sensors.at("distance").enabled);
    CHECK(config.mqtt.url == "mqtts://a1b2c3d4e5f6g7-ats.iot.eu-west-2.amazonaws.com:443");
    CHECK(config.mqtt.client_id == "classroom-pi");
    // Relative files are taken from the config file's folder.
    CHECK(config.mqtt.tls.ca_file == (example_file.parent_path() / "AmazonRootCA1.pem").string());
    CHECK(config.mqtt.tls.cert_file == (example_file.parent_path() / "classroom-pi.cert.pem").string());
    CHECK(config.mqtt.tls.key_file == (example_file.parent_path() / "classroom-pi.private.key").string());
    CHECK(config.mqtt.tls.alpn == std::vector<std::string>{"x-amzn-mqtt-ca"});
    CHECK(config.mqtt.tls.verify_server_name);
    CHECK(config.mqtt.keepalive == 60);
    CHECK(config.mqtt.reconnect.min == 0.5);
    CHECK(config.mqtt.reconnect.max == 60.0);
    CHECK(config.mqtt.inflight == 100);
    CHECK(config.mqtt.topic_prefix == "berrykit");
    CHECK(config.outbox.file == "/var/lib/berrykit/outbox.sqlite");
    CHECK(config.outbox.max_bytes == 67108864);
    CHECK(config.outbox.batch_window == std::chrono::milliseconds(10));
    CHECK(remote_parts(config) == std::vector<std::string>{"rgb"});
}

TEST_CASE("each key takes the values its section documents") {
    const DaemonConfig config = parse_config(R"({
        "board": "/home/teacher/kit.json", "backend": "sim", "log_level": "debug", "device_id": "Pi_4-b",
        "socket": {"path": "/tmp/bk.sock", "group": "staff", "mode": "600"},
        "clients": {"max": 1, "max_line_bytes": 1048576, "send_queue_bytes": 4096},
        "parts": {"red": {"groups": []}, "buzzer": {}},
        "sensors": {"light": {"period": 0.1}, "temperature": {"period": 3600, "enabled": true}}
    })",
                                             "berrykit.json");
    CHECK(config.board == "/home/teacher/kit.json");
    CHECK(config.backend == "sim");
    CHECK(config.log_level == "debug");
    CHECK(config.device_id == "Pi_4-b");
    CHECK(config.socket.path == "/tmp/bk.sock");
    CHECK(config.socket.group == "staff");
    CHECK(config.socket.mode == 0600);
    CHECK(mode_to_string(config.socket.mode) == "0600");
    CHECK(config.clients.max == 1);
    CHECK(config.clients.max_line_bytes == 1048576);
    CHECK(config.clients.send_queue_bytes == 4096);
    CHECK(config.parts.at("red").groups.empty());
    CHECK(config.parts.at("buzzer").groups.empty());
    CHECK(config.sensors.at("light").period == 0.1);
    CHECK(config.sensors.at("temperature").period == 3600.0);
    // A section that is only partly written keeps the defaults of the rest.
    const DaemonConfig partly = parse_config(R"({"socket": {"group": "staff"}})", "berrykit.json");
    CHECK(partly.socket.path == "/run/berrykit/berrykit.sock");
    CHECK(partly.socket.mode == 0660);
}

TEST_CASE("the mqtt and outbox keys take the values CONFIG.md documents") {
    const DaemonConfig config = parse_config(R"({
        "mqtt": {"url": "mqtt://192.168.1.10", "client_id": "pi-4b:room5", "username": "room 5",
                 "password_file": "/etc/berrykit/mqtt-password", "keepalive": 5, "reconnect": {"min": 0.1, "max": 0.1},
                 "inflight": 65535, "topic_prefix": "school/room5"},
        "outbox": {"file": "/srv/outbox.sqlite", "max_bytes": 65536, "batch_window": 0},
        "parts": {"red": {"remote": true}, "green": {"remote": false}}
    })",
                                             "berrykit.json");
    CHECK(config.mqtt.enabled());
    CHECK(config.mqtt.client_id == "pi-4b:room5");
    CHECK(config.mqtt.username == "room 5");
    CHECK(config.mqtt.password_file == "/etc/berrykit/mqtt-password");
    CHECK(config.mqtt.keepalive == 5);
    CHECK(config.mqtt.reconnect.min == 0.1);
    CHECK(config.mqtt.reconnect.max == 0.1);
    CHECK(config.mqtt.inflight == 65535);
    CHECK(config.mqtt.topic_prefix == "school/room5");
    CHECK(config.outbox.file == "/srv/outbox.sqlite");
    CHECK(config.outbox.max_bytes == 65536);
    CHECK(config.outbox.batch_window == std::chrono::milliseconds(0));
    CHECK(remote_parts(config) == std::vector<std::string>{"red"});

    const DaemonConfig other = parse_config(R"({
        "mqtt": {"url": "MQTTS://[fd00::1]:8884/", "username": "pi", "password_env": "BERRYKIT_MQTT_PASSWORD",
                 "tls": {"verify_server_name": false, "alpn": ["mqtt", "x-amzn-mqtt-ca"]}},
        "outbox": {"max_bytes": 17179869184, "batch_window": 5}
    })",
                                            "berrykit.json");
    CHECK(other.mqtt.password_env == "BERRYKIT_MQTT_PASSWORD");
    CHECK_FALSE(other.mqtt.tls.verify_server_name);
    CHECK(other.mqtt.tls.alpn == std::vector<std::string>{"mqtt", "x-amzn-mqtt-ca"});
    CHECK(other.outbox.max_bytes == 17179869184ULL);
    CHECK(other.outbox.batch_window == std::chrono::milliseconds(5000));
}

TEST_CASE("an MQTT url is taken apart into TLS, host and port") {
    const MqttUrl plain = parse_mqtt_url("mqtt://broker.local");
    CHECK_FALSE(plain.tls);
    CHECK(plain.host == "broker.local");
    CHECK(plain.port == 1883);
    CHECK(plain.paho_uri() == "tcp://broker.local:1883");
    const MqttUrl secure = parse_mqtt_url("mqtts://a1-ats.iot.eu-west-2.amazonaws.com:443");
    CHECK(secure.tls);
    CHECK(secure.port == 443);
    CHECK(secure.host_port() == "a1-ats.iot.eu-west-2.amazonaws.com:443");
    CHECK(secure.paho_uri() == "ssl://a1-ats.iot.eu-west-2.amazonaws.com:443");
    CHECK(parse_mqtt_url("mqtts://10.0.0.5").port == 8883);
    const MqttUrl v6 = parse_mqtt_url("mqtt://[::1]:1884");
    CHECK(v6.host == "::1");
    CHECK(v6.host_port() == "[::1]:1884");
    CHECK_THROWS_MATCHES(parse_mqtt_url("mqtt://host:0"), Error,
                         IsError(ErrorCode::bad_value, {"mqtt.url: the port must be between 1 and 65535, got 0"}));
    CHECK_FALSE(problem_with_mqtt_url("mqtt://127.0.0.1:1883").has_value());
}

TEST_CASE("a password is never read from the config file, and never shown in a message") {
    const std::string secret = "hunter2-secret";
    const std::string in_file = config_error(R"({"mqtt": {"url": "mqtt://b", "password": ")" + secret + R"("}})");
    CHECK(in_file ==
          "berrykit.json: mqtt.password: the password does not belong in the config file (it gets copied and shown "
          "around): put it in a file that only berrykitd may read and give that file's path in mqtt.password_file, or "
          "name an environment variable that holds it in mqtt.password_env");
    const std::string in_url = config_error(R"({"mqtt": {"url": "mqtts://pi:)" + secret + R"(@broker:8883"}})");
    CHECK(in_url ==
          "berrykit.json: mqtt.url: must not hold a username or password (the part before @): put the username in "
          "mqtt.username and the password in a file named by mqtt.password_file");
    for (const auto& message : {in_file, in_url}) CHECK(message.find(secret) == std::string::npos);
}

TEST_CASE("a wrong value is named by its key's path, with what is wrong and what was written") {
    struct Case {
        const char* json;
        const char* message;
    };
    const std::vector<Case> cases = {
        // the issue's own example: a sensor's period, two levels down
        {R"({"sensors": {"temperature": {"period": -2}}})",
         "berrykit.json: sensors.temperature.period: must be between 0.1 and 3600 seconds, got -2"},
        {R"({"sensors": {"light": {"period": 0.05}}})",
         "berrykit.json: sensors.light.period: must be between 0.1 and 3600 seconds, got 0.05"},
        {R"({"sensors": {"light": {"period": "60"}}})",
         "berrykit.json: sensors.light.period: must be a number, got a string (\"60\"): write it without quotes"},
        {R"({"sensors": {"light": {"enabled": "false"}}})",
         "berrykit.json: sensors.light.enabled: must be true or false, got a string (\"false\"): write it without "
         "quotes"},
        {R"({"sensors": {"light": 1}})",
         "berrykit.json: sensors.light: must be an object like {\"period\": 60, \"enabled\": true}, got a number (1)"},
        {R"({"sensors": {"Light": {}}})",
         "berrykit.json: sensors.Light: this cannot be a part's name: part names have lowercase letters, digits and "
         "_, start with a letter and are at most 32 long, as in the board file (like \"red\" or \"button2\")"},
        {R"({"sensors": []})",
         "berrykit.json: sensors: must be an object like {\"<part>\": {\"period\": 60, \"enabled\": true}}, got a "
         "list ([...])"},
        // clients: whole numbers in a range
        {R"({"clients": {"max": 0}})", "berrykit.json: clients.max: must be between 1 and 1024 clients, got 0"},
        {R"({"clients": {"max": 2000}})", "berrykit.json: clients.max: must be between 1 and 1024 clients, got 2000"},
        {R"({"clients": {"max": 2.5}})", "berrykit.json: clients.max: must be a whole number of clients, got 2.5"},
        {R"({"clients": {"max": "256"}})",
         "berrykit.json: clients.max: must be a number, got a string (\"256\"): write it without quotes"},
        {R"({"clients": {"max_line_bytes": 100}})",
         "berrykit.json: clients.max_line_bytes: must be between 1024 and 1048576 bytes, got 100"},
        {R"({"clients": {"send_queue_bytes": 100000000}})",
         "berrykit.json: clients.send_queue_bytes: must be between 4096 and 67108864 bytes, got 100000000"},
        // the top level
        {R"({"board": ""})",
         "berrykit.json: board: must name a board, like \"classroom\", or a board file, like "
         "\"/etc/berrykit/boards/mykit.json\""},
        {R"({"board": 5})",
         "berrykit.json: board: must be a string, got a number (5): write it in quotes, like "
         "\"classroom\""},
        {R"({"backend": "real"})", "berrykit.json: backend: must be \"auto\", \"sim\" or \"gpiod\", got \"real\""},
        {R"({"log_level": "warn"})",
         "berrykit.json: log_level: must be \"error\", \"warning\", \"info\" or \"debug\", got \"warn\""},
        {R"({"device_id": "my pi"})",
         "berrykit.json: device_id: must be 1 to 64 letters, digits, - and _ (it names this Pi in MQTT topics, like "
         "\"classroom-pi\"), got \"my pi\""},
        {R"({"device_id": ""})",
         "berrykit.json: device_id: must be 1 to 64 letters, digits, - and _ (it names this Pi in MQTT topics, like "
         "\"classroom-pi\"), got \"\""},
        // the socket
        {R"({"socket": "/tmp/x.sock"})",
         "berrykit.json: socket: must be an object like {\"path\": \"/run/berrykit/berrykit.sock\", \"group\": "
         "\"berrykit\"}, got a string (\"/tmp/x.sock\")"},
        {R"({"socket": {"path": "berrykit.sock"}})",
         "berrykit.json: socket.path: must be a full path that starts with /, like \"/run/berrykit/berrykit.sock\", "
         "got \"berrykit.sock\""},
        {R"({"socket": {"path": "/run/berrykit/"}})",
         "berrykit.json: socket.path: names a folder (it ends in /): add the socket's file name, like "
         "\"/run/berrykit/berrykit.sock\", got \"/run/berrykit/\""},
        {R"({"socket": {"group": "my class"}})",
         "berrykit.json: socket.group: must be a Unix group name (letters, digits, _, - and ., starting with a letter "
         "or _, at most 32 long), got \"my class\""},
        {R"({"socket": {"mode": 660}})",
         "berrykit.json: socket.mode: must be a string of octal digits in quotes, like \"0660\", got a number (660): "
         "JSON has no octal numbers, so 660 would be read as a different number"},
        {R"({"socket": {"mode": "0680"}})",
         "berrykit.json: socket.mode: must be 3 or 4 octal digits (0 to 7), like \"0660\", got \"0680\""},
        {R"({"socket": {"mode": "0460"}})",
         "berrykit.json: socket.mode: must give the owner read and write permission (the owner's digit is 6 or 7, "
         "like \"0660\"), got \"0460\""},
        {R"({"socket": {"mode": "4660"}})",
         "berrykit.json: socket.mode: the setuid, setgid and sticky bits (the first of 4 digits) mean nothing for a "
         "socket: use \"0660\", got \"4660\""},
        // parts
        {R"({"parts": {"buzzer": {"groups": "teachers"}}})",
         "berrykit.json: parts.buzzer.groups: must be a list of Unix group names, like [\"teachers\"], got a string "
         "(\"teachers\"): put it in [ ]"},
        {R"({"parts": {"buzzer": {"groups": ["teachers", 6]}}})",
         "berrykit.json: parts.buzzer.groups[1]: must be a string, got a number (6): write it in quotes, like "
         "\"teachers\""},
        {R"({"parts": {"buzzer": {"groups": ["teachers", "-x"]}}})",
         "berrykit.json: parts.buzzer.groups[1]: must be a Unix group name (letters, digits, _, - and ., starting "
         "with a letter or _, at most 32 long), got \"-x\""},
        {R"({"parts": {"buzzer": {"groups": ["teachers", "teachers"]}}})",
         "berrykit.json: parts.buzzer.groups[1]: \"teachers\" is in the list twice: keep only one"},
        {R"({"parts": {"buzzer": ["teachers"]}})",
         "berrykit.json: parts.buzzer: must be an object like {\"groups\": [\"teachers\"]}, got a list ([...])"},
        {R"({"parts": {"red": {"remote": "yes"}}})",
         "berrykit.json: parts.red.remote: must be true or false, got a string (\"yes\")"},
        // mqtt
        {R"({"mqtt": "mqtt://broker"})",
         "berrykit.json: mqtt: must be an object like {\"url\": \"mqtts://broker.example.org:8883\"}, got a string "
         "(\"mqtt://broker\")"},
        {R"({"mqtt": {"url": "mqtt://broker:0"}})",
         "berrykit.json: mqtt.url: the port must be between 1 and 65535, got 0"},
        {R"({"mqtt": {"url": "mqtt://broker:99999"}})",
         "berrykit.json: mqtt.url: the port must be between 1 and 65535, got 99999"},
        {R"({"mqtt": {"url": "mqtt://broker:x"}})", "berrykit.json: mqtt.url: the port must be a number, got \"x\""},
        {R"({"mqtt": {"url": "tcp://broker:1883"}})",
         "berrykit.json: mqtt.url: must start with mqtt:// or mqtts://, like \"mqtt://192.168.1.10:1883\" or "
         "\"mqtts://broker.example.org:8883\", got \"tcp://broker:1883\": write mqtt:// for tcp://"},
        {R"({"mqtt": {"url": "broker.local"}})",
         "berrykit.json: mqtt.url: must start with mqtt:// or mqtts://, like \"mqtt://192.168.1.10:1883\" or "
         "\"mqtts://broker.example.org:8883\", got \"broker.local\""},
        {R"({"mqtt": {"url": "mqtt://broker/berrykit/#"}})",
         "berrykit.json: mqtt.url: must be only mqtt(s)://host:port, without a path (berrykitd chooses the topics), "
         "got \"mqtt://broker/berrykit/#\""},
        {R"({"mqtt": {"url": "mqtt://:1883"}})",
         "berrykit.json: mqtt.url: has no host name: like \"mqtt://192.168.1.10:1883\" or "
         "\"mqtts://broker.example.org:8883\", got \"mqtt://:1883\""},
        {R"({"mqtt": {"url": "mqtt://my broker"}})",
         "berrykit.json: mqtt.url: the host must be a name or an address (letters, digits, - and .), got \"my "
         "broker\""},
        {R"({"mqtt": {"client_id": "my pi"}})",
         "berrykit.json: mqtt.client_id: must be 1 to 128 letters, digits and punctuation without spaces, like "
         "\"classroom-pi\", got \"my pi\""},
        {R"({"mqtt": {"username": ""}})",
         "berrykit.json: mqtt.username: must not be empty: leave the key out for no username"},
        {R"({"mqtt": {"password_file": "mqtt-password"}})",
         "berrykit.json: mqtt.password_file: a password needs a username: add mqtt.username"},
        {R"({"mqtt": {"username": "pi", "password_file": ""}})",
         "berrykit.json: mqtt.password_file: must be the path of a file, like \"/etc/berrykit/mqtt-password\"; leave "
         "the key out for none"},
        {R"({"mqtt": {"username": "pi", "password_file": "/etc/berrykit/"}})",
         "berrykit.json: mqtt.password_file: names a folder (it ends in /): give the path of a file, like "
         "\"/etc/berrykit/mqtt-password\""},
        {R"({"mqtt": {"username": "pi", "password_env": "1PASSWORD"}})",
         "berrykit.json: mqtt.password_env: must be the name of an environment variable (letters, digits and _, not "
         "starting with a digit), like \"BERRYKIT_MQTT_PASSWORD\", got \"1PASSWORD\": the name, not the password"},
        {R"({"mqtt": {"username": "pi", "password_file": "/p", "password_env": "P"}})",
         "berrykit.json: mqtt.password_env: give the password one way: mqtt.password_file or mqtt.password_env, not "
         "both"},
        {R"({"mqtt": {"url": "mqtt://broker", "tls": {"ca_file": "/etc/berrykit/ca.pem"}}})",
         "berrykit.json: mqtt.tls: TLS settings need an mqtts:// url, but mqtt.url is \"mqtt://broker\": write "
         "mqtts:// (and the broker's TLS port, often 8883)"},
        {R"({"mqtt": {"tls": {"cert_file": "/etc/berrykit/pi.crt"}}})",
         "berrykit.json: mqtt.tls.cert_file: a client certificate needs its key and the key its certificate: add "
         "mqtt.tls.key_file"},
        {R"({"mqtt": {"tls": {"alpn": "x-amzn-mqtt-ca"}}})",
         "berrykit.json: mqtt.tls.alpn: must be a list of protocol names, like [\"x-amzn-mqtt-ca\"], got a string "
         "(\"x-amzn-mqtt-ca\"): put it in [ ]"},
        {R"({"mqtt": {"tls": {"alpn": ["mqtt", "mqtt"]}}})",
         "berrykit.json: mqtt.tls.alpn[1]: \"mqtt\" is in the list twice: keep only one"},
        {R"({"mqtt": {"tls": {"verify_server_name": "no"}}})",
         "berrykit.json: mqtt.tls.verify_server_name: must be true or false, got a string (\"no\")"},
        {R"({"mqtt": {"keepalive": 2}})", "berrykit.json: mqtt.keepalive: must be between 5 and 3600 seconds, got 2"},
        {R"({"mqtt": {"keepalive": 30.5}})",
         "berrykit.json: mqtt.keepalive: must be a whole number of seconds, got 30.5"},
        {R"({"mqtt": {"inflight": 0}})", "berrykit.json: mqtt.inflight: must be between 1 and 65535 messages, got 0"},
        {R"({"mqtt": {"inflight": 70000}})",
         "berrykit.json: mqtt.inflight: must be between 1 and 65535 messages, got 70000"},
        {R"({"mqtt": {"reconnect": {"min": 0}}})",
         "berrykit.json: mqtt.reconnect.min: must be between 0.1 and 60 seconds, got 0"},
        {R"({"mqtt": {"reconnect": {"max": 7200}}})",
         "berrykit.json: mqtt.reconnect.max: must be between 0.1 and 3600 seconds, got 7200"},
        {R"({"mqtt": {"reconnect": {"min": 5, "max": 2}}})",
         "berrykit.json: mqtt.reconnect.max: must be at least mqtt.reconnect.min (5 seconds), got 2"},
        {R"({"mqtt": {"topic_prefix": "berrykit/#"}})",
         "berrykit.json: mqtt.topic_prefix: must not contain + or # (they are MQTT wildcards), got \"berrykit/#\""},
        {R"({"mqtt": {"topic_prefix": "$SYS"}})",
         "berrykit.json: mqtt.topic_prefix: must not start with $ (those topics are the broker's own), got \"$SYS\""},
        {R"({"mqtt": {"topic_prefix": "school//room5"}})",
         "berrykit.json: mqtt.topic_prefix: must not start or end with / or have an empty level (//), like "
         "\"berrykit\" or \"school/room5\", got \"school//room5\""},
        // outbox
        {R"({"outbox": {"max_bytes": 1000}})",
         "berrykit.json: outbox.max_bytes: must be between 65536 and 17179869184 bytes, got 1000"},
        {R"({"outbox": {"max_bytes": 65536.5}})",
         "berrykit.json: outbox.max_bytes: must be a whole number of bytes, got 65536.5"},
        {R"({"outbox": {"batch_window": 6}})",
         "berrykit.json: outbox.batch_window: must be between 0 and 5 seconds, got 6"},
        {R"({"outbox": {"file": 5}})",
         "berrykit.json: outbox.file: must be a string, got a number (5): write it in quotes, like "
         "\"/var/lib/berrykit/outbox.sqlite\""},
    };
    for (const auto& c : cases) {
        INFO(c.json);
        CHECK(config_error(c.json) == c.message);
    }
}

TEST_CASE("an unknown key is named by its path, with the keys that belong there") {
    CHECK(config_error(R"({"clients": {"maxx": 10}})") ==
          "berrykit.json: clients.maxx: unknown key; the keys here are max, max_line_bytes, send_queue_bytes");
    CHECK(config_error(R"({"colour": "red"})") ==
          "berrykit.json: colour: unknown key; the keys here are board, backend, log_level, device_id, socket, "
          "clients, parts, sensors, mqtt, outbox, web");
    CHECK(config_error(R"({"socket": {"owner": "pi"}})") ==
          "berrykit.json: socket.owner: unknown key; the keys here are path, group, mode");
    CHECK(config_error(R"({"parts": {"red": {"group": ["teachers"]}}})") ==
          "berrykit.json: parts.red.group: unknown key; the keys here are groups, remote");
    CHECK(config_error(R"({"mqtt": {"host": "broker"}})") ==
          "berrykit.json: mqtt.host: unknown key; the keys here are url, client_id, username, password_file, "
          "password_env, tls, keepalive, reconnect, inflight, topic_prefix");
    CHECK(config_error(R"({"mqtt": {"tls": {"ca": "/etc/ca.pem"}}})") ==
          "berrykit.json: mqtt.tls.ca: unknown key; the keys here are ca_file, cert_file, key_file, alpn, "
          "verify_server_name");
    CHECK(config_error(R"({"mqtt": {"reconnect": {"maximum": 5}}})") ==
          "berrykit.json: mqtt.reconnect.maximum: unknown key; the keys here are min, max");
    CHECK(config_error(R"({"outbox": {"path": "/x"}})") ==
          "berrykit.json: outbox.path: unknown key; the keys here are file, max_bytes, batch_window");
    CHECK(config_error(R"({"sensors": {"temperature": {"every": 5}}})") ==
          "berrykit.json: sensors.temperature.every: unknown key; the keys here are period, enabled");
    // A key that is a line of text cannot garble the message.
    CHECK(config_error("{\"a\\nb\": 1}") ==
          "berrykit.json: a?b: unknown key; the keys here are board, backend, log_level, device_id, socket, "
          "clients, parts, sensors, mqtt, outbox, web");
}

TEST_CASE("a key written twice is an error, not a silent choice of one") {
    CHECK(config_error(R"({"backend": "sim", "backend": "gpiod"})") ==
          "berrykit.json: backend: this key is written twice; keep only one");
    CHECK(config_error(R"({"sensors": {"temperature": {"period": 5, "period": 10}}})") ==
          "berrykit.json: sensors.temperature.period: this key is written twice; keep only one");
    CHECK(config_error(R"({"sensors": {"temperature": {}, "light": {}, "temperature": {"period": 5}}})") ==
          "berrykit.json: sensors.temperature: this key is written twice; keep only one");
    // The same key in two different objects is fine.
    CHECK_NOTHROW(parse_config(R"({"sensors": {"light": {"period": 2}, "distance": {"period": 2}}})", "berrykit.json"));
    // Inside a list the path counts the items.
    CHECK(config_error(R"({"parts": {"red": {"groups": [{}, "x", {"a": 1, "a": 2}]}}})") ==
          "berrykit.json: parts.red.groups[2].a: this key is written twice; keep only one");
}

TEST_CASE("text that is not JSON says where the mistake is") {
    const std::string trailing_comma = "{\n  \"backend\": \"sim\",\n}\n";
    const std::string message = config_error(trailing_comma);
    CHECK_THAT(message, Catch::StartsWith("berrykit.json: this is not valid JSON at line 3, column 1 ("));
    CHECK_THAT(message, Catch::EndsWith("Is there a comma after the last item just before it? Take it out"));

    CHECK_THAT(config_error("{\"backend\" \"sim\"}"),
               Catch::StartsWith("berrykit.json: this is not valid JSON at line 1, column 16 (") &&
                   Catch::EndsWith("Look there for a missing or extra comma, quote or bracket"));
    CHECK(config_error(" \n") ==
          "berrykit.json: the file is empty: a config file is one JSON object; write {} to use every default");
    CHECK(config_error(R"(["sim"])") ==
          "berrykit.json: a config file must be one JSON object {...}, got a list ([...]); write {} to use every "
          "default");
}

TEST_CASE("the default config file may be missing, but a file asked for must exist") {
    TempDir dir;
    const DaemonConfig config = load_config(dir.path() / "berrykit.json", false);
    CHECK(config.file.empty());
    CHECK(config.board == "classroom");
    CHECK(config.backend == "auto");

    const auto missing = dir.path() / "berrykit.json";
    CHECK_THROWS_MATCHES(load_config(missing, true), Error,
                         IsError(ErrorCode::bad_value, {missing.string() + ": there is no such config file"}));
    // A folder where the file should be is never "missing".
    fs::create_directory(dir.path() / "conf.json");
    for (const bool must_exist : {false, true}) {
        CHECK_THROWS_MATCHES(load_config(dir.path() / "conf.json", must_exist), Error,
                             IsError(ErrorCode::bad_value, {"conf.json: this is a folder, not a config file"}));
    }
}

TEST_CASE("a config file that berrykitd may not read is an error, even at the default path") {
    TempDir dir;
    const auto file = dir.write("closed/berrykit.json", R"({"backend": "sim"})");
    // Root reads any file, so the check runs as an ordinary user in a child process.
    const auto load_as_nobody = [&](bool must_exist) -> std::string {
        int pipe_fds[2];
        REQUIRE(::pipe(pipe_fds) == 0);
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            ::close(pipe_fds[0]);
            if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
            std::string said = "(no error)";
            try {
                load_config(file, must_exist);
            } catch (const Error& e) {
                said = to_string(e.code()) + std::string(" ") + e.what();
            }
            const auto written = ::write(pipe_fds[1], said.data(), said.size());
            ::_exit(written == static_cast<ssize_t>(said.size()) ? 0 : 4);
        }
        ::close(pipe_fds[1]);
        std::string said;
        std::array<char, 512> buffer{};
        for (ssize_t got; (got = ::read(pipe_fds[0], buffer.data(), buffer.size())) > 0;) {
            said.append(buffer.data(), static_cast<std::size_t>(got));
        }
        ::close(pipe_fds[0]);
        int status = 0;
        ::waitpid(child, &status, 0);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        return said;
    };
    // Closed to everyone: root's child is nobody, and an ordinary user's file mode 0 is closed to them too.
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::others_exec);
    fs::permissions(file.parent_path(), fs::perms::owner_all | fs::perms::others_exec);
    fs::permissions(file, fs::perms::none);
    for (const bool must_exist : {false, true}) {
        CHECK(load_as_nobody(must_exist) == "bad_value " + file.string() +
                                                ": cannot read the config file: Permission denied (berrykitd must be "
                                                "allowed to read it: check its owner and mode)");
    }
    // Its folder is closed: still not "missing".
    fs::permissions(file, fs::perms::all);
    fs::permissions(file.parent_path(), fs::perms::none);
    CHECK(load_as_nobody(false) == "bad_value " + file.string() +
                                       ": cannot read the config file: Permission denied (berrykitd must be allowed "
                                       "into its folder: check their modes)");
    // Opened again, it reads.
    fs::permissions(file.parent_path(), fs::perms::owner_all | fs::perms::others_exec);
    CHECK(load_as_nobody(true) == "(no error)");
}

TEST_CASE("a config file's error names the file as it was given") {
    TempDir dir;
    const auto file = dir.write("berrykit.json", R"({"sensors": {"temperature": {"period": -2}}})");
    CHECK_THROWS_MATCHES(
        load_config(file, true), Error,
        IsError(ErrorCode::bad_value,
                {file.string() + ": sensors.temperature.period: must be between 0.1 and 3600 seconds, got -2"}));
}

TEST_CASE("the files named under mqtt and outbox are found next to the config file") {
    TempDir dir;
    const auto file = dir.write("etc/berrykit.json", R"({
        "mqtt": {"url": "mqtts://broker", "username": "pi", "password_file": "mqtt-password",
                 "tls": {"ca_file": "certs/ca.pem", "cert_file": "/opt/pi.crt", "key_file": "../keys/pi.key"}},
        "outbox": {"file": "outbox.sqlite"}
    })");
    const DaemonConfig config = load_config(file, true);
    CHECK(config.mqtt.password_file == (dir.path() / "etc" / "mqtt-password").string());
    CHECK(config.mqtt.tls.ca_file == (dir.path() / "etc" / "certs" / "ca.pem").string());
    CHECK(config.mqtt.tls.cert_file == "/opt/pi.crt");
    CHECK(config.mqtt.tls.key_file == (dir.path() / "keys" / "pi.key").string());
    CHECK(config.outbox.file == (dir.path() / "etc" / "outbox.sqlite").string());
}

TEST_CASE("a board file named in the config is found next to it") {
    TempDir dir;
    dir.write("etc/kit.json", "{}");
    const auto file = dir.write("etc/berrykit.json", R"({"board": "kit.json"})");
    CHECK(load_config(file, true).board == (dir.path() / "etc" / "kit.json").string());
    const auto up = dir.write("etc/up.json", R"({"board": "../boards/kit.json"})");
    CHECK(load_config(up, true).board == (dir.path() / "boards" / "kit.json").string());
    // Names and full paths are left as they are.
    const auto named = dir.write("etc/named.json", R"({"board": "starter"})");
    CHECK(load_config(named, true).board == "starter");
    const auto full = dir.write("etc/full.json", R"({"board": "/opt/kit.json"})");
    CHECK(load_config(full, true).board == "/opt/kit.json");
}

TEST_CASE("sensors are sampled at their type's pace unless the config says otherwise") {
    CHECK(default_sensor_period(PartType::ds18b20) == 60.0);
    CHECK(default_sensor_period(PartType::dht22) == 60.0);
    CHECK(default_sensor_period(PartType::light_sensor) == 1.0);
    CHECK(default_sensor_period(PartType::distance_sensor) == 1.0);
    CHECK_FALSE(default_sensor_period(PartType::motion_sensor).has_value());
    CHECK_FALSE(default_sensor_period(PartType::led).has_value());

    const BoardDefinition board = load_board(classroom_board);
    const auto sampled = sensor_sampling(load_config(example_file, true), board);
    std::vector<std::string> shown;
    for (const auto& s : sampled) shown.push_back(s.part + " " + to_text(s.period) + (s.enabled ? "" : " off"));
    CHECK(shown == std::vector<std::string>{"temperature 30", "climate 120", "light 1", "distance 1 off"});
}

TEST_CASE("the part names in the config must be parts of the board, and sensors must be sampled ones") {
    const BoardDefinition board = load_board(classroom_board);
    CHECK_NOTHROW(check_against_board(load_config(example_file, true), board));

    const auto against_board = [&](const std::string& json) {
        const DaemonConfig config = parse_config(json, "berrykit.json");
        const Error error = error_from([&] { check_against_board(config, board); });
        CHECK(error.code() == ErrorCode::bad_value);
        return std::string(error.what());
    };
    CHECK(against_board(R"({"parts": {"redd": {"groups": ["teachers"]}}})") ==
          "berrykit.json: parts.redd: there is no part called 'redd' on the classroom board; its parts are red, "
          "amber, green, rgb, buzzer, button, button2, motion, temperature, climate, light, distance");
    CHECK(against_board(R"({"sensors": {"temprature": {"period": 5}}})") ==
          "berrykit.json: sensors.temprature: there is no part called 'temprature' on the classroom board; the "
          "sensors that are sampled are temperature, climate, light, distance");
    CHECK(against_board(R"({"sensors": {"motion": {"period": 5}}})") ==
          "berrykit.json: sensors.motion: 'motion' is a motion sensor, which sends events rather than readings: the "
          "sensors that are sampled are temperature, climate, light, distance");
    CHECK(against_board(R"({"sensors": {"red": {}}})") ==
          "berrykit.json: sensors.red: 'red' is an LED, not a sensor: the sensors that are sampled are temperature, "
          "climate, light, distance");
}

TEST_CASE("CONFIG.md shows the example file as it is and documents every key") {
    const std::string doc = read_text(config_doc);
    REQUIRE_FALSE(doc.empty());
    CHECK_THAT(doc, Catch::Contains("```json\n" + read_text(example_file) + "```"));

    // The keys an unknown key's message lists are the keys there are; each has its row.
    const auto keys_listed = [](const std::string& json) {
        const std::string message = config_error(json);
        std::vector<std::string> keys;
        std::istringstream list(message.substr(message.find("the keys here are ") + 18));
        for (std::string key; std::getline(list, key, ',');) keys.push_back(key.substr(key.find_first_not_of(' ')));
        return keys;
    };
    const std::vector<std::pair<std::string, std::string>> sections = {
        {"", R"({"x": 1})"},
        {"socket.", R"({"socket": {"x": 1}})"},
        {"clients.", R"({"clients": {"x": 1}})"},
        {"parts.<part>.", R"({"parts": {"red": {"x": 1}}})"},
        {"sensors.<part>.", R"({"sensors": {"red": {"x": 1}}})"},
        {"mqtt.", R"({"mqtt": {"x": 1}})"},
        {"mqtt.tls.", R"({"mqtt": {"tls": {"x": 1}}})"},
        {"mqtt.reconnect.", R"({"mqtt": {"reconnect": {"x": 1}}})"},
        {"outbox.", R"({"outbox": {"x": 1}})"},
        {"web.", R"({"web": {"x": 1}})"},
    };
    for (const auto& [prefix, json] : sections) {
        for (const auto& key : keys_listed(json)) {
            INFO("key " << prefix << key);
            CHECK_THAT(doc, Catch::Contains("| `" + prefix + key + "` |"));
        }
    }
}

// ---- web: the classroom page ---------------------------------------------------------------------

TEST_CASE("the classroom page is off by default, and would listen on 127.0.0.1 port 8080 for 32 pages") {
    const DaemonConfig config = parse_config("{}", "berrykit.json");
    CHECK_FALSE(config.web.enabled);
    CHECK(config.web.address == "127.0.0.1");
    CHECK(config.web.port == 8080);
    CHECK(config.web.max_pages == 32);
    // Turned on alone, it keeps the rest of its defaults.
    const DaemonConfig on = parse_config(R"({"web": {"enabled": true}})", "berrykit.json");
    CHECK(on.web.enabled);
    CHECK(on.web.address == "127.0.0.1");
    CHECK(on.web.port == 8080);
    CHECK(on.web.max_pages == 32);
}

TEST_CASE("the web keys take the values CONFIG.md documents") {
    const DaemonConfig any = parse_config(R"({"web": {"enabled": true, "address": "0.0.0.0", "port": 0,
                                                       "max_pages": 1}})",
                                          "berrykit.json");
    CHECK(any.web.enabled);
    CHECK(any.web.address == "0.0.0.0");
    CHECK(any.web.port == 0);  // any free port
    CHECK(any.web.max_pages == 1);

    const DaemonConfig top = parse_config(R"({"web": {"enabled": false, "address": "::1", "port": 65535,
                                                       "max_pages": 256}})",
                                          "berrykit.json");
    CHECK_FALSE(top.web.enabled);
    CHECK(top.web.address == "::1");
    CHECK(top.web.port == 65535);
    CHECK(top.web.max_pages == 256);

    for (const char* address : {"127.0.0.1", "0.0.0.0", "192.168.1.20", "::", "::1", "fd00::5"}) {
        INFO(address);
        CHECK_FALSE(problem_with_web_address(address).has_value());
        CHECK(parse_config(std::string(R"({"web": {"address": ")") + address + "\"}}", "berrykit.json").web.address ==
              address);
    }
}

TEST_CASE("a wrong web value is named by its key, with what is wrong and what was written") {
    struct Case {
        const char* json;
        const char* message;
    };
    const std::vector<Case> cases = {
        {R"({"web": {"port": 70000}})",
         "berrykit.json: web.port: must be between 0 and 65535 (0: any free port), got 70000"},
        {R"({"web": {"port": -1}})", "berrykit.json: web.port: must be between 0 and 65535 (0: any free port), got -1"},
        {R"({"web": {"port": "80"}})",
         "berrykit.json: web.port: must be a number, got a string (\"80\"): write it without quotes"},
        {R"({"web": {"address": "localhost"}})",
         "berrykit.json: web.address: must be an IP address like \"127.0.0.1\" (this computer only) or \"0.0.0.0\" "
         "(every network), got \"localhost\""},
        {R"({"web": {"address": "my-pc"}})",
         "berrykit.json: web.address: must be an IP address like \"127.0.0.1\" (this computer only) or \"0.0.0.0\" "
         "(every network), got \"my-pc\""},
        {R"({"web": {"address": "127.0.0.1:8080"}})",
         "berrykit.json: web.address: must be an IP address like \"127.0.0.1\" (this computer only) or \"0.0.0.0\" "
         "(every network), got \"127.0.0.1:8080\""},
        {R"({"web": {"address": ""}})",
         "berrykit.json: web.address: must be an IP address like \"127.0.0.1\" (this computer only) or \"0.0.0.0\" "
         "(every network), got \"\""},
        {R"({"web": {"address": 127}})",
         "berrykit.json: web.address: must be a string, got a number (127): write it in quotes, like \"127.0.0.1\""},
        {R"({"web": {"max_pages": 0}})", "berrykit.json: web.max_pages: must be between 1 and 256 pages, got 0"},
        {R"({"web": {"max_pages": 257}})", "berrykit.json: web.max_pages: must be between 1 and 256 pages, got 257"},
    };
    for (const auto& c : cases) {
        INFO(c.json);
        CHECK(config_error(c.json) == c.message);
    }
    CHECK(problem_with_web_address("localhost").has_value());

    // Not the message's exact words, but it must read as English: "a whole number" and what was written.
    const std::string fraction = config_error(R"({"web": {"port": 80.5}})");
    CHECK_THAT(fraction, Catch::StartsWith("berrykit.json: web.port: must be a whole number") &&
                             Catch::EndsWith("got 80.5") && !Catch::Contains("of ("));
    CHECK(config_error(R"({"web": {"enabled": "yes"}})") ==
          "berrykit.json: web.enabled: must be true or false, got a string (\"yes\")");
    CHECK(config_error(R"({"web": true})") ==
          "berrykit.json: web: must be an object like {\"enabled\": true, \"port\": 8080}, got true/false (true)");
}

TEST_CASE("an unknown key under web lists the keys there are") {
    CHECK(config_error(R"({"web": {"host": "0.0.0.0"}})") ==
          "berrykit.json: web.host: unknown key; the keys here are enabled, address, port, max_pages");
    CHECK(config_error(R"({"web": {"max_clients": 4}})") ==
          "berrykit.json: web.max_clients: unknown key; the keys here are enabled, address, port, max_pages");
}
