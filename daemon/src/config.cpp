#include "berrykit/daemon/config.hpp"

#include "berrykit/error.hpp"
#include "berrykit/json_words.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <system_error>
#include <variant>

namespace berrykit::daemon {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;  // ordered: the first mistake in the file is the one reported

constexpr std::uintmax_t max_config_file_size = 1024 * 1024;
constexpr std::size_t max_device_id = 64;
constexpr std::size_t max_part_name = 32;     // as board files allow
constexpr std::size_t max_group_name = 32;    // as useradd allows
constexpr std::size_t max_socket_path = 107;  // sockaddr_un::sun_path holds 108 bytes with the final NUL

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

// "\"a\", \"b\" or \"c\""
std::string quoted_choices(const std::vector<std::string>& items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
        out += "\"" + items[i] + "\"";
    }
    return out;
}

std::string a_or_an(const std::string& word) {
    // "an LED", "an RGB LED", "a button"
    const bool vowel_sound = !word.empty() && (std::string("AEIOUaeiou").find(word[0]) != std::string::npos ||
                                               word.rfind("LED", 0) == 0 || word.rfind("RGB", 0) == 0);
    return (vowel_sound ? "an " : "a ") + word;
}

// Where a value is: the file and the key's path ("sensors.temperature.period"). Every message is
// "<file>: <key path>: <what is wrong>".
class Place {
public:
    explicit Place(std::string file, std::string path = {}) : file_(std::move(file)), path_(std::move(path)) {}

    Place key(std::string_view name) const {
        return Place(file_, path_.empty() ? shown(name) : path_ + "." + shown(name));
    }
    Place index(std::size_t i) const { return Place(file_, path_ + "[" + std::to_string(i) + "]"); }

    [[noreturn]] void fail(const std::string& what) const {
        throw Error(ErrorCode::bad_value, file_ + ": " + (path_.empty() ? "" : path_ + ": ") + what);
    }

private:
    std::string file_;
    std::string path_;
};

// A whole number from `low` to `high` (`unit` names what it counts, for the message).
std::size_t require_count(const Json& value, const Place& at, std::size_t low, std::size_t high, const char* unit) {
    const double number = require_number(value, at);
    if (std::floor(number) != number)
        at.fail(std::string("must be a whole number of ") + unit + ", got " + value.dump());
    if (number < static_cast<double>(low) || number > static_cast<double>(high)) {
        at.fail("must be between " + std::to_string(low) + " and " + std::to_string(high) + " " + unit + ", got " +
                value.dump());
    }
    return static_cast<std::size_t>(number);
}

void require_object(const Json& value, const Place& at, const std::string& example) {
    if (!value.is_object()) at.fail("must be an object like " + example + ", got " + describe(value));
}

// A key of a section and what reading its value does. A section is a table of these: the table
// gives both the reading and the list of known keys that an unknown key's message shows.
template <typename Section>
struct Field {
    const char* name;
    void (*read)(const Json& value, const Place& at, Section& section);
};

template <typename Section>
void read_fields(const Json& object, const Place& at, Section& section, const std::vector<Field<Section>>& fields) {
    for (const auto& [key, value] : object.items()) {
        const auto field =
            std::find_if(fields.begin(), fields.end(), [&key = key](const Field<Section>& f) { return key == f.name; });
        if (field == fields.end()) {
            std::vector<std::string> names;
            for (const auto& f : fields) names.emplace_back(f.name);
            at.key(key).fail("unknown key; the keys here are " + join(names));
        }
        field->read(value, at.key(key), section);
    }
}

bool is_valid_part_name(std::string_view name) {
    if (name.empty() || name.size() > max_part_name) return false;
    if (name.front() < 'a' || name.front() > 'z') return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

void require_part_name(const std::string& name, const Place& at) {
    if (is_valid_part_name(name)) return;
    at.fail(
        "this cannot be a part's name: part names have lowercase letters, digits and _, start with a letter "
        "and are at most " +
        std::to_string(max_part_name) + " long, as in the board file (like \"red\" or \"button2\")");
}

// What useradd/groupadd accept, a little more freely: letters, digits, _, - and ., not starting
// with - or a digit, and a $ at the end for Samba machine accounts.
bool is_valid_group_name(std::string_view name) {
    if (!name.empty() && name.back() == '$') name.remove_suffix(1);
    if (name.empty() || name.size() > max_group_name) return false;
    const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    if (!letter(name.front())) return false;
    return std::all_of(name.begin(), name.end(),
                       [&](char c) { return letter(c) || (c >= '0' && c <= '9') || c == '-' || c == '.'; });
}

std::string require_group_name(const Json& value, const Place& at) {
    const std::string group = require_string(value, at, "\"teachers\"");
    if (!is_valid_group_name(group)) {
        at.fail("must be a Unix group name (letters, digits, _, - and ., starting with a letter or _, at most " +
                std::to_string(max_group_name) + " long), got \"" + shown(group) + "\"");
    }
    return group;
}

std::optional<std::string> problem_with_choice(std::string_view value, const std::vector<std::string>& choices) {
    if (std::find(choices.begin(), choices.end(), value) != choices.end()) return std::nullopt;
    return "must be " + quoted_choices(choices) + ", got \"" + shown(value) + "\"";
}

std::optional<std::string> problem_with_device_id(std::string_view id) {
    const bool good = !id.empty() && id.size() <= max_device_id && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    if (good) return std::nullopt;
    return "must be 1 to " + std::to_string(max_device_id) +
           " letters, digits, - and _ (it names this Pi in MQTT topics, like \"classroom-pi\"), got \"" + shown(id) +
           "\"" + (id.size() > max_device_id ? " (" + std::to_string(id.size()) + " long)" : "");
}

unsigned require_mode(const Json& value, const Place& at) {
    if (value.is_number()) {
        at.fail("must be a string of octal digits in quotes, like \"0660\", got " + describe(value) +
                ": JSON has no octal numbers, so 660 would be read as a different number");
    }
    const std::string text = require_string(value, at, "\"0660\"");
    const bool octal = (text.size() == 3 || text.size() == 4) &&
                       std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; });
    if (!octal) at.fail("must be 3 or 4 octal digits (0 to 7), like \"0660\", got \"" + shown(text) + "\"");
    const auto mode = static_cast<unsigned>(std::stoul(text, nullptr, 8));
    if (mode > 0777) {
        at.fail("the setuid, setgid and sticky bits (the first of 4 digits) mean nothing for a socket: use \"0" +
                text.substr(1) + "\", got \"" + text + "\"");
    }
    if ((mode & 0600) != 0600) {
        at.fail("must give the owner read and write permission (the owner's digit is 6 or 7, like \"0660\"), got \"" +
                text + "\"");
    }
    return mode;
}

// --- the sections: a table of fields each. A new section is a struct in config.hpp, a table here
// and one row in top_fields(). ---

const std::vector<Field<SocketConfig>>& socket_fields() {
    static const std::vector<Field<SocketConfig>> fields = {
        {"path",
         [](const Json& value, const Place& at, SocketConfig& socket) {
             socket.path = require_string(value, at, "\"/run/berrykit/berrykit.sock\"");
             if (const auto problem = problem_with_socket_path(socket.path)) at.fail(*problem);
         }},
        {"group", [](const Json& value, const Place& at,
                     SocketConfig& socket) { socket.group = require_group_name(value, at); }},
        {"mode",
         [](const Json& value, const Place& at, SocketConfig& socket) { socket.mode = require_mode(value, at); }},
    };
    return fields;
}

const std::vector<Field<ClientsConfig>>& clients_fields() {
    static const std::vector<Field<ClientsConfig>> fields = {
        {"max", [](const Json& value, const Place& at,
                   ClientsConfig& clients) { clients.max = require_count(value, at, 1, 1024, "clients"); }},
        {"max_line_bytes",
         [](const Json& value, const Place& at, ClientsConfig& clients) {
             clients.max_line_bytes = require_count(value, at, 1024, 1048576, "bytes");
         }},
        {"send_queue_bytes",
         [](const Json& value, const Place& at, ClientsConfig& clients) {
             clients.send_queue_bytes = require_count(value, at, 4096, 67108864, "bytes");
         }},
    };
    return fields;
}

const std::vector<Field<PartAccess>>& part_access_fields() {
    static const std::vector<Field<PartAccess>> fields = {
        {"groups",
         [](const Json& value, const Place& at, PartAccess& access) {
             if (!value.is_array()) {
                 at.fail("must be a list of Unix group names, like [\"teachers\"], got " + describe(value) +
                         (value.is_string() ? ": put it in [ ]" : ""));
             }
             for (std::size_t i = 0; i < value.size(); ++i) {
                 const Place item = at.index(i);
                 std::string group = require_group_name(value[i], item);
                 if (std::find(access.groups.begin(), access.groups.end(), group) != access.groups.end()) {
                     item.fail("\"" + group + "\" is in the list twice: keep only one");
                 }
                 access.groups.push_back(std::move(group));
             }
         }},
        {"remote",
         [](const Json& value, const Place& at, PartAccess& access) { access.remote = require_bool(value, at); }},
    };
    return fields;
}

const std::vector<Field<SensorConfig>>& sensor_fields() {
    static const std::vector<Field<SensorConfig>> fields = {
        {"period",
         [](const Json& value, const Place& at, SensorConfig& sensor) {
             const double seconds = require_number(value, at);
             if (seconds < 0.1 || seconds > 3600) {
                 at.fail("must be between 0.1 and 3600 seconds, got " + value.dump());
             }
             sensor.period = seconds;
         }},
        {"enabled",
         [](const Json& value, const Place& at, SensorConfig& sensor) { sensor.enabled = require_bool(value, at); }},
    };
    return fields;
}

// A file's path (relative ones are taken from the config file's folder by load_config).
std::string require_file_path(const Json& value, const Place& at, const std::string& example) {
    std::string path = require_string(value, at, example);
    if (path.empty()) at.fail("must be the path of a file, like " + example + "; leave the key out for none");
    if (path.find('\0') != std::string::npos) at.fail("must not contain a NUL character");
    if (path.back() == '/') at.fail("names a folder (it ends in /): give the path of a file, like " + example);
    return path;
}

// Seconds from `low` to `high`.
double require_seconds(const Json& value, const Place& at, double low, double high) {
    const double seconds = require_number(value, at);
    if (!(seconds >= low && seconds <= high)) {
        at.fail("must be between " + to_text(low) + " and " + to_text(high) + " seconds, got " + value.dump());
    }
    return seconds;
}

// A whole number of bytes that may pass 4 GiB (std::size_t is 32 bits on a 32-bit Pi).
std::uint64_t require_bytes(const Json& value, const Place& at, std::uint64_t low, std::uint64_t high) {
    const double number = require_number(value, at);
    if (std::floor(number) != number) at.fail("must be a whole number of bytes, got " + value.dump());
    if (number < static_cast<double>(low) || number > static_cast<double>(high)) {
        at.fail("must be between " + std::to_string(low) + " and " + std::to_string(high) + " bytes, got " +
                value.dump());
    }
    return static_cast<std::uint64_t>(number);
}

bool is_printable_ascii(std::string_view text, bool space_allowed) {
    return std::all_of(text.begin(), text.end(),
                       [&](char c) { return (c > ' ' && c < 127) || (space_allowed && c == ' '); });
}

// The url taken apart, or what is wrong with it. The text of a url with an '@' is never shown: it
// may hold a password.
std::variant<MqttUrl, std::string> take_url_apart(std::string_view url) {
    const std::string like = "like \"mqtt://192.168.1.10:1883\" or \"mqtts://broker.example.org:8883\"";
    if (url.find('@') != std::string_view::npos) {
        return std::string(
            "must not hold a username or password (the part before @): put the username in mqtt.username and the "
            "password in a file named by mqtt.password_file");
    }
    const auto scheme_end = url.find("://");
    std::string scheme(url.substr(0, scheme_end == std::string_view::npos ? 0 : scheme_end));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    MqttUrl parsed;
    if (scheme == "mqtt") {
        parsed.tls = false;
        parsed.port = 1883;
    } else if (scheme == "mqtts") {
        parsed.tls = true;
        parsed.port = 8883;
    } else {
        std::string hint;
        if (scheme == "tcp") hint = ": write mqtt:// for tcp://";
        if (scheme == "ssl" || scheme == "tls") hint = ": write mqtts:// for " + scheme + "://";
        if (scheme == "ws" || scheme == "wss") hint = ": MQTT over websockets is not supported";
        return "must start with mqtt:// or mqtts://, " + like + ", got \"" + shown(url) + "\"" + hint;
    }
    std::string_view rest = url.substr(scheme_end + 3);
    const auto path_start = rest.find_first_of("/?#");
    if (path_start != std::string_view::npos) {
        if (rest.substr(path_start) != "/") {
            return "must be only mqtt(s)://host:port, without a path (berrykitd chooses the topics), got \"" +
                   shown(url) + "\"";
        }
        rest = rest.substr(0, path_start);
    }
    std::string_view port_text;
    if (!rest.empty() && rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos)
            return "has a [ without its ] around the IPv6 address: \"" + shown(url) + "\"";
        parsed.host = std::string(rest.substr(1, close - 1));
        const std::string_view after = rest.substr(close + 1);
        if (!after.empty() && after.front() != ':') return "must have :port after the ], got \"" + shown(url) + "\"";
        if (!after.empty()) port_text = after.substr(1);
        const bool v6 = !parsed.host.empty() && std::all_of(parsed.host.begin(), parsed.host.end(), [](char c) {
            return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        });
        if (!v6) return "has something other than an IPv6 address in [ ], got \"" + shown(url) + "\"";
    } else {
        const auto colon = rest.rfind(':');
        parsed.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
        if (parsed.host.empty()) return "has no host name: " + like + ", got \"" + shown(url) + "\"";
        const bool name = std::all_of(parsed.host.begin(), parsed.host.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
        });
        if (!name) {
            return "the host must be a name or an address (letters, digits, - and .), got \"" + shown(parsed.host) +
                   "\"";
        }
    }
    if (port_text.data() != nullptr && port_text.empty()) {
        return "has a : but no port after it: " + like + ", got \"" + shown(url) + "\"";
    }
    if (!port_text.empty()) {
        if (port_text.size() > 6 ||
            !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return "the port must be a number, got \"" + shown(port_text) + "\"";
        }
        const unsigned long port = std::stoul(std::string(port_text));
        if (port < 1 || port > 65535) return "the port must be between 1 and 65535, got " + std::to_string(port);
        parsed.port = static_cast<unsigned>(port);
    }
    return parsed;
}

std::optional<std::string> problem_with_topic_prefix(std::string_view prefix) {
    const std::string like = "like \"berrykit\" or \"school/room5\"";
    if (prefix.empty() || prefix.size() > 100) return "must be 1 to 100 characters, " + like;
    if (prefix.find_first_of("+#") != std::string_view::npos) {
        return "must not contain + or # (they are MQTT wildcards), got \"" + shown(prefix) + "\"";
    }
    if (prefix.front() == '$')
        return "must not start with $ (those topics are the broker's own), got \"" + shown(prefix) + "\"";
    if (prefix.front() == '/' || prefix.back() == '/' || prefix.find("//") != std::string_view::npos) {
        return "must not start or end with / or have an empty level (//), " + like + ", got \"" + shown(prefix) + "\"";
    }
    if (!is_printable_ascii(prefix, false)) {
        return "must be letters, digits and punctuation without spaces, " + like + ", got \"" + shown(prefix) + "\"";
    }
    return std::nullopt;
}

const std::vector<Field<MqttTlsConfig>>& mqtt_tls_fields() {
    static const std::vector<Field<MqttTlsConfig>> fields = {
        {"ca_file", [](const Json& value, const Place& at,
                       MqttTlsConfig& tls) { tls.ca_file = require_file_path(value, at, "\"/etc/berrykit/ca.pem\""); }},
        {"cert_file",
         [](const Json& value, const Place& at, MqttTlsConfig& tls) {
             tls.cert_file = require_file_path(value, at, "\"/etc/berrykit/certificate.pem.crt\"");
         }},
        {"key_file",
         [](const Json& value, const Place& at, MqttTlsConfig& tls) {
             tls.key_file = require_file_path(value, at, "\"/etc/berrykit/private.pem.key\"");
         }},
        {"alpn",
         [](const Json& value, const Place& at, MqttTlsConfig& tls) {
             if (!value.is_array()) {
                 at.fail("must be a list of protocol names, like [\"x-amzn-mqtt-ca\"], got " + describe(value) +
                         (value.is_string() ? ": put it in [ ]" : ""));
             }
             for (std::size_t i = 0; i < value.size(); ++i) {
                 const Place item = at.index(i);
                 std::string protocol = require_string(value[i], item, "\"x-amzn-mqtt-ca\"");
                 if (protocol.empty() || protocol.size() > 255 || !is_printable_ascii(protocol, false)) {
                     item.fail(
                         "must be a protocol name of 1 to 255 characters without spaces, like "
                         "\"x-amzn-mqtt-ca\", got \"" +
                         shown(protocol) + "\"");
                 }
                 if (std::find(tls.alpn.begin(), tls.alpn.end(), protocol) != tls.alpn.end()) {
                     item.fail("\"" + protocol + "\" is in the list twice: keep only one");
                 }
                 tls.alpn.push_back(std::move(protocol));
             }
         }},
        {"verify_server_name", [](const Json& value, const Place& at,
                                  MqttTlsConfig& tls) { tls.verify_server_name = require_bool(value, at); }},
    };
    return fields;
}

const std::vector<Field<MqttReconnectConfig>>& mqtt_reconnect_fields() {
    static const std::vector<Field<MqttReconnectConfig>> fields = {
        {"min", [](const Json& value, const Place& at,
                   MqttReconnectConfig& reconnect) { reconnect.min = require_seconds(value, at, 0.1, 60); }},
        {"max", [](const Json& value, const Place& at,
                   MqttReconnectConfig& reconnect) { reconnect.max = require_seconds(value, at, 0.1, 3600); }},
    };
    return fields;
}

const std::vector<Field<MqttConfig>>& mqtt_fields() {
    static const std::vector<Field<MqttConfig>> fields = {
        {"url",
         [](const Json& value, const Place& at, MqttConfig& mqtt) {
             mqtt.url = require_string(value, at, "\"mqtts://broker.example.org:8883\"");
             if (const auto problem = problem_with_mqtt_url(mqtt.url)) at.fail(*problem);
         }},
        {"client_id",
         [](const Json& value, const Place& at, MqttConfig& mqtt) {
             mqtt.client_id = require_string(value, at, "\"classroom-pi\"");
             if (mqtt.client_id.empty() || mqtt.client_id.size() > 128 || !is_printable_ascii(mqtt.client_id, false)) {
                 at.fail(
                     "must be 1 to 128 letters, digits and punctuation without spaces, like \"classroom-pi\", "
                     "got \"" +
                     shown(mqtt.client_id) + "\"");
             }
         }},
        {"username",
         [](const Json& value, const Place& at, MqttConfig& mqtt) {
             mqtt.username = require_string(value, at, "\"classroom\"");
             if (mqtt.username.empty()) at.fail("must not be empty: leave the key out for no username");
             if (mqtt.username.size() > 256 || !is_printable_ascii(mqtt.username, true)) {
                 at.fail("must be at most 256 letters, digits, spaces and punctuation, got \"" + shown(mqtt.username) +
                         "\"");
             }
         }},
        {"password_file",
         [](const Json& value, const Place& at, MqttConfig& mqtt) {
             mqtt.password_file = require_file_path(value, at, "\"/etc/berrykit/mqtt-password\"");
         }},
        {"password_env",
         [](const Json& value, const Place& at, MqttConfig& mqtt) {
             mqtt.password_env = require_string(value, at, "\"BERRYKIT_MQTT_PASSWORD\"");
             const auto& name = mqtt.password_env;
             const bool good =
                 !name.empty() && name.size() <= 128 && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                 std::all_of(name.begin(), name.end(),
                             [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
             if (!good) {
                 at.fail(
                     "must be the name of an environment variable (letters, digits and _, not starting with a "
                     "digit), like \"BERRYKIT_MQTT_PASSWORD\", got \"" +
                     shown(name) + "\": the name, not the password");
             }
         }},
        {"tls",
         [](const Json& value, const Place& at, MqttConfig& mqtt) {
             require_object(value, at, R"({"ca_file": "/etc/berrykit/ca.pem"})");
             read_fields(value, at, mqtt.tls, mqtt_tls_fields());
             if (mqtt.tls.cert_file.empty() != mqtt.tls.key_file.empty()) {
                 const bool has_cert = !mqtt.tls.cert_file.empty();
                 at.key(has_cert ? "cert_file" : "key_file")
                     .fail(std::string("a client certificate needs its key and the key its certificate: add "
                                       "mqtt.tls.") +
                           (has_cert ? "key_file" : "cert_file"));
             }
         }},
        {"keepalive",
         [](const Json& value, const Place& at, MqttConfig& mqtt) {
             mqtt.keepalive = static_cast<unsigned>(require_count(value, at, 5, 3600, "seconds"));
         }},
        {"reconnect",
         [](const Json& value, const Place& at, MqttConfig& mqtt) {
             require_object(value, at, R"({"min": 0.5, "max": 60})");
             read_fields(value, at, mqtt.reconnect, mqtt_reconnect_fields());
             // min is at most 60, the default max, so only a max that was written can be below it.
             if (mqtt.reconnect.max < mqtt.reconnect.min) {
                 at.key("max").fail("must be at least mqtt.reconnect.min (" + to_text(mqtt.reconnect.min) +
                                    " seconds), got " + to_text(mqtt.reconnect.max));
             }
         }},
        {"inflight", [](const Json& value, const Place& at,
                        MqttConfig& mqtt) { mqtt.inflight = require_count(value, at, 1, 65535, "messages"); }},
        {"topic_prefix",
         [](const Json& value, const Place& at, MqttConfig& mqtt) {
             mqtt.topic_prefix = require_string(value, at, "\"berrykit\"");
             if (const auto problem = problem_with_topic_prefix(mqtt.topic_prefix)) at.fail(*problem);
         }},
    };
    return fields;
}

void read_mqtt(const Json& value, const Place& at, MqttConfig& mqtt) {
    require_object(value, at, R"({"url": "mqtts://broker.example.org:8883"})");
    if (value.contains("password")) {
        at.key("password")
            .fail(
                "the password does not belong in the config file (it gets copied and shown around): put it in a file "
                "that only berrykitd may read and give that file's path in mqtt.password_file, or name an environment "
                "variable that holds it in mqtt.password_env");
    }
    read_fields(value, at, mqtt, mqtt_fields());
    if (!mqtt.password_file.empty() && !mqtt.password_env.empty()) {
        at.key("password_env").fail("give the password one way: mqtt.password_file or mqtt.password_env, not both");
    }
    if ((!mqtt.password_file.empty() || !mqtt.password_env.empty()) && mqtt.username.empty()) {
        at.key(mqtt.password_file.empty() ? "password_env" : "password_file")
            .fail("a password needs a username: add mqtt.username");
    }
    const MqttTlsConfig default_tls;
    const bool tls_set = !mqtt.tls.ca_file.empty() || !mqtt.tls.cert_file.empty() || !mqtt.tls.alpn.empty() ||
                         mqtt.tls.verify_server_name != default_tls.verify_server_name;
    if (tls_set && mqtt.enabled() && !std::get<MqttUrl>(take_url_apart(mqtt.url)).tls) {
        at.key("tls").fail("TLS settings need an mqtts:// url, but mqtt.url is \"" + shown(mqtt.url) +
                           "\": write mqtts:// (and the broker's TLS port, often 8883)");
    }
}

const std::vector<Field<OutboxConfig>>& outbox_fields() {
    static const std::vector<Field<OutboxConfig>> fields = {
        {"file",
         [](const Json& value, const Place& at, OutboxConfig& outbox) {
             outbox.file = require_file_path(value, at, "\"/var/lib/berrykit/outbox.sqlite\"");
         }},
        {"max_bytes", [](const Json& value, const Place& at,
                         OutboxConfig& outbox) { outbox.max_bytes = require_bytes(value, at, 65536, 17179869184ULL); }},
        {"batch_window",
         [](const Json& value, const Place& at, OutboxConfig& outbox) {
             const double seconds = require_seconds(value, at, 0, 5);
             outbox.batch_window = std::chrono::milliseconds(static_cast<std::int64_t>(std::lround(seconds * 1000)));
         }},
    };
    return fields;
}

const std::vector<Field<WebConfig>>& web_fields() {
    static const std::vector<Field<WebConfig>> fields = {
        {"enabled", [](const Json& value, const Place& at, WebConfig& web) { web.enabled = require_bool(value, at); }},
        {"address",
         [](const Json& value, const Place& at, WebConfig& web) {
             web.address = require_string(value, at, "\"127.0.0.1\"");
             if (const auto problem = problem_with_web_address(web.address)) at.fail(*problem);
         }},
        {"port",
         [](const Json& value, const Place& at, WebConfig& web) {
             const double number = require_number(value, at);
             if (std::floor(number) != number) {
                 at.fail("must be a whole number, like 8080 (0: any free port), got " + value.dump());
             }
             web.port = static_cast<unsigned>(require_count(value, at, 0, 65535, "(0: any free port)"));
         }},
        {"max_pages", [](const Json& value, const Place& at,
                         WebConfig& web) { web.max_pages = require_count(value, at, 1, 256, "pages"); }},
    };
    return fields;
}

// An object of part name → section (the "parts" and "sensors" maps).
template <typename Section>
void read_part_map(const Json& value, const Place& at, std::map<std::string, Section>& out,
                   const std::vector<Field<Section>>& fields, const std::string& example) {
    require_object(value, at, "{\"<part>\": " + example + "}");
    for (const auto& [name, part] : value.items()) {
        const Place where = at.key(name);
        require_part_name(name, where);
        require_object(part, where, example);
        Section section;
        read_fields(part, where, section, fields);
        out[name] = std::move(section);
    }
}

// The top level, in the order CONFIG.md documents it.
const std::vector<Field<DaemonConfig>>& top_fields() {
    static const std::vector<Field<DaemonConfig>> fields = {
        {"board",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             config.board = require_string(value, at, "\"classroom\"");
             if (const auto problem = problem_with_board(config.board)) at.fail(*problem);
         }},
        {"backend",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             config.backend = require_string(value, at, "\"auto\"");
             if (const auto problem = problem_with_backend(config.backend)) at.fail(*problem);
         }},
        {"log_level",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             config.log_level = require_string(value, at, "\"info\"");
             if (const auto problem = problem_with_log_level(config.log_level)) at.fail(*problem);
         }},
        {"device_id",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             config.device_id = require_string(value, at, "\"classroom-pi\"");
             if (const auto problem = problem_with_device_id(config.device_id)) at.fail(*problem);
         }},
        {"socket",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             require_object(value, at, R"({"path": "/run/berrykit/berrykit.sock", "group": "berrykit"})");
             read_fields(value, at, config.socket, socket_fields());
         }},
        {"clients",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             require_object(value, at, R"({"max": 256})");
             read_fields(value, at, config.clients, clients_fields());
         }},
        {"parts",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             read_part_map(value, at, config.parts, part_access_fields(), R"({"groups": ["teachers"]})");
         }},
        {"sensors",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             read_part_map(value, at, config.sensors, sensor_fields(), R"({"period": 60, "enabled": true})");
         }},
        {"mqtt", [](const Json& value, const Place& at, DaemonConfig& config) { read_mqtt(value, at, config.mqtt); }},
        {"outbox",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             require_object(value, at, R"({"file": "/var/lib/berrykit/outbox.sqlite"})");
             read_fields(value, at, config.outbox, outbox_fields());
         }},
        {"web",
         [](const Json& value, const Place& at, DaemonConfig& config) {
             require_object(value, at, R"({"enabled": true, "port": 8080})");
             read_fields(value, at, config.web, web_fields());
         }},
    };
    return fields;
}

// The JSON text, parsed. Duplicate keys are an error (JSON libraries quietly keep the last one, so
// a second "period" would silently win); a syntax error says where it is.
Json parse_json(std::string_view text, const Place& top) {
    if (std::all_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
        top.fail("the file is empty: a config file is one JSON object; write {} to use every default");
    }
    // Where the parser is: one frame per open object or list, to name a duplicate key's path.
    struct Frame {
        bool is_list = false;
        std::set<std::string> keys;
        std::string last_key;
        std::size_t items = 0;  // lists: items finished so far, so the current one's index
    };
    std::vector<Frame> frames;
    const auto finished_item = [&frames] {
        if (!frames.empty() && frames.back().is_list) ++frames.back().items;
    };
    const auto on_event = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
        switch (event) {
            case Json::parse_event_t::object_start: frames.push_back({}); break;
            case Json::parse_event_t::array_start: frames.push_back({true, {}, {}, 0}); break;
            case Json::parse_event_t::object_end:
            case Json::parse_event_t::array_end:
                if (!frames.empty()) frames.pop_back();
                finished_item();
                break;
            case Json::parse_event_t::value: finished_item(); break;
            case Json::parse_event_t::key: {
                auto key = parsed.get<std::string>();
                if (!frames.back().keys.insert(key).second) {
                    Place at = top;
                    for (std::size_t i = 0; i + 1 < frames.size(); ++i) {
                        at = frames[i].is_list ? at.index(frames[i].items) : at.key(frames[i].last_key);
                    }
                    at.key(key).fail("this key is written twice; keep only one");
                }
                frames.back().last_key = std::move(key);
                break;
            }
        }
        return true;
    };
    try {
        return Json::parse(text.begin(), text.end(), on_event);
    } catch (const Json::parse_error& e) {
        top.fail(explain_json_parse_error(e.what()));
    }
}

// As find_board() decides: a board with a '/' or ending in ".json" is a file, else a name.
bool is_board_path(std::string_view board) {
    return board.find('/') != std::string_view::npos ||
           (board.size() >= 5 && board.compare(board.size() - 5, 5, ".json") == 0);
}

std::string read_file(const fs::path& path, const std::string& name) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int error = errno;
        throw Error(ErrorCode::bad_value,
                    name + ": cannot read the config file: " + std::generic_category().message(error) +
                        (error == EACCES ? " (berrykitd must be allowed to read it: check its owner and mode)" : ""));
    }
    std::string text;
    std::array<char, 8192> buffer{};
    for (;;) {
        const ssize_t got = ::read(fd, buffer.data(), buffer.size());
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            const int error = errno;
            ::close(fd);
            throw Error(ErrorCode::bad_value,
                        name + ": cannot read the config file: " + std::generic_category().message(error));
        }
        if (got == 0) break;
        text.append(buffer.data(), static_cast<std::size_t>(got));
        if (text.size() > max_config_file_size) break;
    }
    ::close(fd);
    return text;
}

}  // namespace

std::optional<std::string> problem_with_board(std::string_view board) {
    if (!board.empty()) return std::nullopt;
    return std::string(
        "must name a board, like \"classroom\", or a board file, like \"/etc/berrykit/boards/mykit.json\"");
}

std::optional<std::string> problem_with_backend(std::string_view backend) {
    return problem_with_choice(backend, {"auto", "sim", "gpiod"});
}

std::optional<std::string> problem_with_log_level(std::string_view level) {
    return problem_with_choice(level, {"error", "warning", "info", "debug"});
}

std::optional<std::string> problem_with_socket_path(std::string_view path) {
    const std::string example = "like \"/run/berrykit/berrykit.sock\"";
    if (path.empty()) return "must be the path of the socket, " + example;
    if (path.find('\0') != std::string_view::npos) return "must not contain a NUL character, " + example;
    if (path.front() != '/') {
        return "must be a full path that starts with /, " + example + ", got \"" + shown(path) + "\"";
    }
    if (path.back() == '/') {
        return "names a folder (it ends in /): add the socket's file name, " + example + ", got \"" + shown(path) +
               "\"";
    }
    if (path.size() > max_socket_path) {
        return "is " + std::to_string(path.size()) + " bytes long, but a Unix socket's path can be at most " +
               std::to_string(max_socket_path) + " bytes: use a shorter path";
    }
    return std::nullopt;
}

std::optional<std::string> problem_with_mqtt_url(std::string_view url) {
    auto parsed = take_url_apart(url);
    if (auto* problem = std::get_if<std::string>(&parsed)) return std::move(*problem);
    return std::nullopt;
}

std::optional<std::string> problem_with_web_address(std::string_view address) {
    const std::string text(address);
    in6_addr any{};
    if (::inet_pton(AF_INET, text.c_str(), &any) == 1 || ::inet_pton(AF_INET6, text.c_str(), &any) == 1) {
        return std::nullopt;
    }
    return "must be an IP address like \"127.0.0.1\" (this computer only) or \"0.0.0.0\" (every network), "
           "got \"" +
           shown(text) + "\"";
}

MqttUrl parse_mqtt_url(std::string_view url) {
    auto parsed = take_url_apart(url);
    if (auto* problem = std::get_if<std::string>(&parsed)) throw Error(ErrorCode::bad_value, "mqtt.url: " + *problem);
    return std::get<MqttUrl>(std::move(parsed));
}

std::string MqttUrl::host_port() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string MqttUrl::paho_uri() const { return (tls ? "ssl://" : "tcp://") + host_port(); }

std::vector<std::string> remote_parts(const DaemonConfig& config) {
    std::vector<std::string> names;
    for (const auto& [name, access] : config.parts) {
        if (access.remote) names.push_back(name);
    }
    return names;
}

std::string mode_to_string(unsigned mode) {
    std::array<char, 8> text{};
    std::snprintf(text.data(), text.size(), "%04o", mode & 07777U);
    return text.data();
}

std::string device_id_from_hostname(std::string_view hostname) {
    hostname = hostname.substr(0, hostname.find('.'));
    std::string id;
    for (const char c : hostname.substr(0, max_device_id)) {
        id += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '-';
    }
    return id.empty() ? std::string("berrykit") : id;
}

DaemonConfig defaults() {
    DaemonConfig config;
    std::array<char, 256> hostname{};
    if (::gethostname(hostname.data(), hostname.size() - 1) != 0) hostname[0] = '\0';
    config.device_id = device_id_from_hostname(hostname.data());
    return config;
}

DaemonConfig parse_config(std::string_view text, const std::string& file) {
    const Place top(file);
    const Json doc = parse_json(text, top);
    if (!doc.is_object()) {
        top.fail("a config file must be one JSON object {...}, got " + describe(doc) +
                 "; write {} to use every default");
    }
    DaemonConfig config = defaults();
    config.file = file;
    read_fields(doc, top, config, top_fields());
    return config;
}

DaemonConfig load_config(const fs::path& path, bool must_exist) {
    const std::string name = path.string();
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (status.type() == fs::file_type::not_found) {
        if (!must_exist) return defaults();
        throw Error(ErrorCode::bad_value, name + ": there is no such config file: check the folder and the name");
    }
    if (ec) {
        throw Error(ErrorCode::bad_value, name + ": cannot read the config file: " + ec.message() +
                                              (ec == std::errc::permission_denied
                                                   ? " (berrykitd must be allowed into its folder: check their modes)"
                                                   : ""));
    }
    if (fs::is_directory(status)) {
        throw Error(ErrorCode::bad_value,
                    name + ": this is a folder, not a config file: give the path of a .json file");
    }
    if (!fs::is_regular_file(status)) {
        throw Error(ErrorCode::bad_value, name + ": this is not a regular file: give the path of a .json file");
    }
    const std::string text = read_file(path, name);
    if (text.size() > max_config_file_size) {
        throw Error(ErrorCode::bad_value, name + ": this file is far too big to be a config file (over 1 MB)");
    }
    DaemonConfig config = parse_config(text, name);
    if (is_board_path(config.board) && fs::path(config.board).is_relative() && path.has_parent_path()) {
        config.board = (path.parent_path() / config.board).lexically_normal().string();
    }
    for (std::string* file : {&config.mqtt.tls.ca_file, &config.mqtt.tls.cert_file, &config.mqtt.tls.key_file,
                              &config.mqtt.password_file, &config.outbox.file}) {
        if (!file->empty() && fs::path(*file).is_relative() && path.has_parent_path()) {
            *file = (path.parent_path() / *file).lexically_normal().string();
        }
    }
    return config;
}

std::optional<double> default_sensor_period(PartType type) noexcept {
    switch (type) {
        case PartType::ds18b20:
        case PartType::dht11:
        case PartType::dht22: return 60.0;
        case PartType::light_sensor:
        case PartType::distance_sensor: return 1.0;
        case PartType::led:
        case PartType::buzzer:
        case PartType::rgb_led:
        case PartType::button:
        case PartType::motion_sensor: return std::nullopt;
    }
    return std::nullopt;
}

std::vector<SensorSampling> sensor_sampling(const DaemonConfig& config, const BoardDefinition& board) {
    std::vector<SensorSampling> sampled;
    for (const auto& part : board.parts) {
        const auto period = default_sensor_period(part.type);
        if (!period) continue;
        SensorSampling sampling{part.name, part.type, *period, true};
        if (const auto it = config.sensors.find(part.name); it != config.sensors.end()) {
            sampling.period = it->second.period.value_or(*period);
            sampling.enabled = it->second.enabled;
        }
        sampled.push_back(std::move(sampling));
    }
    return sampled;
}

void check_against_board(const DaemonConfig& config, const BoardDefinition& board) {
    const Place top(config.file.empty() ? std::string("the config") : config.file);
    const std::string on_board = "on the " + board.name + " board";
    std::vector<std::string> part_names;
    std::vector<std::string> sensor_names;
    for (const auto& part : board.parts) {
        part_names.push_back(part.name);
        if (default_sensor_period(part.type)) sensor_names.push_back(part.name);
    }
    const std::string sensors_are = sensor_names.empty() ? std::string("this board has no sensors that are sampled")
                                                         : "the sensors that are sampled are " + join(sensor_names);

    for (const auto& [name, access] : config.parts) {
        if (board.find(name)) continue;
        top.key("parts").key(name).fail("there is no part called '" + name + "' " + on_board + "; its parts are " +
                                        join(part_names));
    }
    for (const auto& [name, sensor] : config.sensors) {
        const Place at = top.key("sensors").key(name);
        const PartDef* part = board.find(name);
        if (!part) at.fail("there is no part called '" + name + "' " + on_board + "; " + sensors_are);
        if (default_sensor_period(part->type)) continue;
        const bool has_events = part->type == PartType::button || part->type == PartType::motion_sensor;
        at.fail("'" + name + "' is " + a_or_an(to_friendly(part->type)) +
                (has_events ? ", which sends events rather than readings" : ", not a sensor") + ": " + sensors_are);
    }
}

std::vector<fs::path> board_search_dirs() {
    const std::vector<fs::path> candidates = {
        BERRYKIT_INSTALLED_BOARDS_DIR, "/etc/berrykit/boards",     "/usr/local/share/berrykit/boards",
        "/usr/share/berrykit/boards",  BERRYKIT_SOURCE_BOARDS_DIR,
    };
    std::vector<fs::path> dirs;
    for (const auto& dir : candidates) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) continue;
        if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
    }
    return dirs;
}

}  // namespace berrykit::daemon
