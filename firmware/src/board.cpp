#include "berrykit/board.hpp"

#include "berrykit/json_words.hpp"

#include "berrykit/error.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

namespace berrykit {

namespace {

using Json = nlohmann::ordered_json;  // ordered: parts keep the order they have in the file

// What each part type takes. The roles are the names of its lines; the fields are every key its
// JSON object may have, in the order the README documents them (messages list them that way).
struct TypeSpec {
    PartType type;
    const char* name;
    const char* friendly;
    std::vector<std::string> roles;
    std::vector<std::string> fields;
};

const std::vector<TypeSpec>& type_specs() {
    static const std::vector<TypeSpec> specs = {
        {PartType::led, "led", "LED", {"line"}, {"type", "line", "active_high", "keep", "color", "label"}},
        {PartType::buzzer, "buzzer", "buzzer", {"line"}, {"type", "line", "active_high", "keep", "label"}},
        {PartType::rgb_led,
         "rgb_led",
         "RGB LED",
         {"red", "green", "blue"},
         {"type", "lines", "active_high", "keep", "label"}},
        {PartType::button, "button", "button", {"line"}, {"type", "line", "pull", "bounce_time", "hold_time", "label"}},
        {PartType::motion_sensor,
         "motion_sensor",
         "motion sensor",
         {"line"},
         {"type", "line", "pull", "bounce_time", "label"}},
        {PartType::light_sensor, "light_sensor", "light sensor", {"line"}, {"type", "line", "label"}},
        {PartType::distance_sensor,
         "distance_sensor",
         "distance sensor",
         {"trigger", "echo"},
         {"type", "lines", "label"}},
        {PartType::ds18b20, "ds18b20", "temperature sensor", {"line"}, {"type", "line", "device", "label"}},
        {PartType::dht11, "dht11", "climate sensor", {"line"}, {"type", "line", "device", "label"}},
        {PartType::dht22, "dht22", "climate sensor", {"line"}, {"type", "line", "device", "label"}},
    };
    return specs;
}

const TypeSpec& spec_of(PartType type) {
    for (const auto& spec : type_specs()) {
        if (spec.type == type) return spec;
    }
    return type_specs().front();  // unreachable: every PartType has a spec
}

}  // namespace

const std::vector<std::string>& led_colors() {
    static const std::vector<std::string> colors = {"red",  "amber",  "orange", "yellow", "green",
                                                    "blue", "purple", "pink",   "white"};
    return colors;
}

namespace {

const std::set<std::string>& all_part_fields() {
    static const std::set<std::string> fields = {"type",      "line", "lines",  "active_high", "pull", "bounce_time",
                                                 "hold_time", "keep", "device", "color",       "label"};
    return fields;
}

constexpr std::size_t max_part_name = 32;
constexpr std::uintmax_t max_board_file_size = 1024 * 1024;

std::string join(const std::vector<std::string>& items, const char* separator = ", ") {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

// "red, green and blue"
std::string join_and(const std::vector<std::string>& items) {
    if (items.size() <= 1) return join(items);
    std::vector<std::string> head(items.begin(), items.end() - 1);
    return join(head) + " and " + items.back();
}

// "a led", "a button", but "an rgb_led" (said "an R-G-B LED").
std::string with_article(const std::string& type) { return (type == "rgb_led" ? "an " : "a ") + type; }

std::string known_types() {
    std::vector<std::string> names;
    for (const auto& spec : type_specs()) names.emplace_back(spec.name);
    return join(names);
}

// Every message starts "<file>: part '<part>': field '<field>': ".
class Place {
public:
    explicit Place(const std::string& file) : file_(file) {}

    Place part(const std::string& name) const { return Place(file_, name, {}); }
    Place field(const std::string& name) const { return Place(file_, part_, name); }

    [[noreturn]] void fail(const std::string& what) const {
        std::string message = file_ + ": ";
        if (part_) message += "part '" + shown(*part_) + "': ";
        if (!field_.empty()) message += "field '" + field_ + "': ";
        throw Error(ErrorCode::board, message + what);
    }

private:
    Place(const std::string& file, std::optional<std::string> part, std::string field)
        : file_(file), part_(std::move(part)), field_(std::move(field)) {}

    const std::string& file_;
    std::optional<std::string> part_;  // set even when empty: a part called "" is still named
    std::string field_;
};

// "GPIO017" or "gpio17" or "17" → "GPIO17", when that is a header line: for "did you mean".
std::optional<std::string> guess_line(const std::string& text) {
    std::string digits;
    std::string upper;
    for (const char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper.rfind("GPIO", 0) == 0) {
        digits = upper.substr(4);
    } else if (upper.rfind("BCM", 0) == 0) {
        digits = upper.substr(3);
    } else {
        digits = upper;
    }
    if (digits.empty() || digits.size() > 4) return std::nullopt;
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    const std::string guess = "GPIO" + std::to_string(std::stoi(digits));
    if (guess == text || !is_header_line(guess)) return std::nullopt;
    return guess;
}

std::string require_line(const Json& value, const Place& where) {
    if (value.is_number_integer()) {
        const std::string guess = "GPIO" + value.dump();
        where.fail("must be a line name in quotes, like \"" + (is_header_line(guess) ? guess : "GPIO17") + "\", got " +
                   describe(value));
    }
    const std::string line = require_string(value, where, "\"GPIO17\"");
    if (is_header_line(line)) return line;
    std::string message = (line.empty() ? std::string("an empty name") : shown(line)) +
                          " is not a line on the Raspberry Pi's header (use GPIO2 to GPIO27)";
    if (const auto guess = guess_line(line)) {
        message += ": did you mean " + *guess + "? Line names are written in capitals with no leading zero";
    }
    where.fail(message);
}

bool is_valid_part_name(std::string_view name) {
    if (name.empty() || name.size() > max_part_name) return false;
    if (name.front() < 'a' || name.front() > 'z') return false;
    return std::all_of(name.begin(), name.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// The JSON text, parsed. Duplicate keys are an error (JSON libraries quietly keep the last one,
// which would hide a second part called "red"); a syntax error says where it is.
Json parse_json(std::string_view text, const std::string& file) {
    const Place top(file);
    if (std::all_of(text.begin(), text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
        top.fail("the file is empty: a board file is a JSON object with \"name\" and \"parts\"");
    }
    struct Frame {
        std::set<std::string> keys;
        std::string last_key;
    };
    std::vector<Frame> frames;
    const auto on_event = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
        switch (event) {
            case Json::parse_event_t::object_start:
            case Json::parse_event_t::array_start: frames.emplace_back(); break;
            case Json::parse_event_t::object_end:
            case Json::parse_event_t::array_end:
                if (!frames.empty()) frames.pop_back();
                break;
            case Json::parse_event_t::key: {
                auto key = parsed.get<std::string>();
                Frame& frame = frames.back();
                if (!frame.keys.insert(key).second) {
                    const bool in_parts = frames.size() >= 2 && frames[0].last_key == "parts";
                    if (frames.size() == 1) top.fail("field '" + shown(key) + "' is written twice: keep only one");
                    if (frames.size() == 2 && in_parts) {
                        top.part(key).fail("there are two parts called '" + shown(key) +
                                           "': give each part its own name");
                    }
                    if (frames.size() == 3 && in_parts) {
                        top.part(frames[1].last_key).fail("field '" + shown(key) + "' is written twice: keep only one");
                    }
                    if (frames.size() == 4 && in_parts) {
                        top.part(frames[1].last_key)
                            .field(frames[2].last_key)
                            .fail("'" + shown(key) + "' is written twice: keep only one");
                    }
                    top.fail("the name '" + shown(key) + "' is written twice in the same {...}: keep only one");
                }
                frame.last_key = std::move(key);
                break;
            }
            case Json::parse_event_t::value: break;
        }
        return true;
    };
    try {
        return Json::parse(text.begin(), text.end(), on_event);
    } catch (const Json::parse_error& e) {
        top.fail(explain_json_parse_error(e.what()));
    }
}

void reject_unknown_fields(const Json& object, const std::vector<std::string>& allowed, const Place& where,
                           const std::string& owner) {
    for (const auto& [key, value] : object.items()) {
        if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
        where.field(shown(key)).fail("unknown field: " + owner + " takes the fields " + join(allowed));
    }
}

// The lines of `spec` from a part's JSON, as role → line, with every role present once.
std::map<std::string, std::string> parse_lines(const Json& part, const TypeSpec& spec, const Place& where) {
    std::map<std::string, std::string> lines;
    const std::string type = spec.name;
    if (spec.roles.size() == 1) {
        const auto it = part.find("line");
        if (it == part.end()) {
            where.fail("field 'line' is missing: say which line the " + std::string(spec.friendly) +
                       " is on, like \"line\": \"GPIO17\"");
        }
        lines["line"] = require_line(*it, where.field("line"));
        return lines;
    }
    const std::string example = spec.type == PartType::rgb_led
                                    ? R"("lines": {"red": "GPIO5", "green": "GPIO6", "blue": "GPIO13"})"
                                    : R"("lines": {"trigger": "GPIO23", "echo": "GPIO24"})";
    const auto it = part.find("lines");
    if (it == part.end()) {
        where.fail("field 'lines' is missing: " + with_article(type) + " has " + std::to_string(spec.roles.size()) +
                   " lines (" + join_and(spec.roles) + "), like " + example);
    }
    const Place at = where.field("lines");
    if (!it->is_object()) at.fail("must be an object like {...}, got " + describe(*it) + ": write " + example);
    for (const auto& [role, value] : it->items()) {
        if (std::find(spec.roles.begin(), spec.roles.end(), role) == spec.roles.end()) {
            at.fail("'" + shown(role) + "' is not a line of " + with_article(type) + ": it has the lines " +
                    join_and(spec.roles));
        }
        const Place role_place = where.field("lines." + role);
        const std::string line = require_line(value, role_place);
        for (const auto& [other_role, other_line] : lines) {
            if (other_line == line) {
                at.fail(line + " is used for both '" + other_role + "' and '" + role +
                        "': each needs a line of its own");
            }
        }
        lines[role] = line;
    }
    for (const auto& role : spec.roles) {
        if (lines.count(role) == 0) {
            at.fail("the '" + role + "' line is missing: " + with_article(type) + " needs " + join_and(spec.roles) +
                    ", like " + example);
        }
    }
    return lines;
}

PartDef parse_part(const std::string& name, const Json& json, const Place& board_place) {
    const Place where = board_place.part(name);
    if (!is_valid_part_name(name)) {
        where.fail(
            "this name cannot be used: a part's name has lowercase letters, digits and _, starts with "
            "a letter and is at most " +
            std::to_string(max_part_name) +
            " letters long (like \"red\" or "
            "\"button2\")");
    }
    if (!json.is_object()) {
        where.fail("must be an object like {\"type\": \"led\", \"line\": \"GPIO17\"}, got " + describe(json));
    }
    const auto type_it = json.find("type");
    if (type_it == json.end()) {
        where.fail("field 'type' is missing: say what kind of part it is, one of " + known_types());
    }
    const Place type_place = where.field("type");
    const std::string type_name = require_string(*type_it, type_place, "\"led\"");
    const auto type = part_type_from_string(type_name);
    if (!type) {
        type_place.fail("'" + shown(type_name) + "' is not a kind of part berrykit knows: use one of " + known_types());
    }
    const TypeSpec& spec = spec_of(*type);
    const std::string owner = with_article(type_name);

    for (const auto& [key, value] : json.items()) {
        if (std::find(spec.fields.begin(), spec.fields.end(), key) != spec.fields.end()) continue;
        if (all_part_fields().count(key) != 0) {
            std::string hint;
            if (key == "line") hint = " (it has several lines: use \"lines\")";
            if (key == "lines") hint = " (it has one line: use \"line\", like \"line\": \"GPIO17\")";
            where.field(key).fail("does not belong to " + owner + hint + ": " + owner + " takes the fields " +
                                  join(spec.fields));
        }
        where.field(shown(key)).fail("unknown field: " + owner + " takes the fields " + join(spec.fields));
    }

    PartDef part;
    part.name = name;
    part.type = *type;
    part.lines = parse_lines(json, spec, where);
    if (part.type == PartType::button) part.pull = Bias::pull_up;

    for (const auto& [key, value] : json.items()) {
        const Place at = where.field(key);
        if (key == "active_high") {
            part.active_high = require_bool(value, at);
        } else if (key == "keep") {
            part.keep = require_bool(value, at);
        } else if (key == "label") {
            part.label = require_string(value, at, "\"red traffic-light LED\"");
        } else if (key == "color") {
            const std::string color = require_string(value, at, "\"red\"");
            const auto& colors = led_colors();
            if (std::find(colors.begin(), colors.end(), color) == colors.end()) {
                at.fail("'" + shown(color) + "' is not an LED colour berrykit knows: use one of " + join(colors));
            }
            part.color = color;
        } else if (key == "pull") {
            const std::string pull = require_string(value, at, "\"up\"");
            if (pull == "up") {
                part.pull = Bias::pull_up;
            } else if (pull == "down") {
                part.pull = Bias::pull_down;
            } else if (pull == "none") {
                part.pull = Bias::none;
            } else {
                at.fail("must be \"up\", \"down\" or \"none\", got \"" + shown(pull) + "\"");
            }
        } else if (key == "bounce_time") {
            const double seconds = require_number(value, at);
            if (seconds < 0 || seconds > 1) {
                at.fail("must be from 0 to 1 second, got " + value.dump() +
                        (part.type == PartType::button ? " (0.02 suits most buttons)" : ""));
            }
            part.bounce_time = seconds;
        } else if (key == "hold_time") {
            const double seconds = require_number(value, at);
            if (seconds <= 0 || seconds > 60) {
                at.fail("must be more than 0 and at most 60 seconds, got " + value.dump());
            }
            part.hold_time = seconds;
        } else if (key == "device") {
            const std::string device = require_string(value, at, "\"auto\"");
            // The device names a folder under /sys: it must not be able to point anywhere else.
            if (device.empty() || device.find('/') != std::string::npos || device == "." || device == "..") {
                at.fail(
                    "must be \"auto\" or the sensor's device name (like \"28-0316a2795dff\" or "
                    "\"iio:device0\"), got \"" +
                    shown(device) + "\"");
            }
            part.device = device;
        }
    }
    return part;
}

}  // namespace

const char* to_string(PartType type) noexcept { return spec_of(type).name; }

const char* to_friendly(PartType type) noexcept { return spec_of(type).friendly; }

std::optional<PartType> part_type_from_string(std::string_view name) noexcept {
    for (const auto& spec : type_specs()) {
        if (name == spec.name) return spec.type;
    }
    return std::nullopt;
}

const std::string& PartDef::line(const std::string& role) const {
    const auto it = lines.find(role);
    if (it != lines.end()) return it->second;
    std::string message = std::string("the ") + to_friendly(type) + " '" + name + "' has no ";
    message += role == "line" ? std::string("single line") : "'" + shown(role) + "' line";
    std::vector<std::string> has;
    for (const auto& r : spec_of(type).roles) {
        if (const auto l = lines.find(r); l != lines.end())
            has.push_back(r == "line" ? l->second : r + " (" + l->second + ")");
    }
    if (spec_of(type).roles.size() == 1 && has.size() == 1) {
        message += ": it has one line, " + has.front();
    } else if (!has.empty()) {
        message += ": it has the lines " + join_and(has);
    }
    throw Error(ErrorCode::board, message);
}

const PartDef* BoardDefinition::find(std::string_view part) const noexcept {
    for (const auto& p : parts) {
        if (p.name == part) return &p;
    }
    return nullptr;
}

const PartDef* BoardDefinition::find_by_line(std::string_view line) const noexcept {
    for (const auto& p : parts) {
        for (const auto& [role, l] : p.lines) {
            if (l == line) return &p;
        }
    }
    return nullptr;
}

bool is_header_line(std::string_view name) noexcept {
    constexpr std::string_view prefix = "GPIO";
    if (name.size() <= prefix.size() || name.size() > prefix.size() + 2) return false;
    if (name.substr(0, prefix.size()) != prefix) return false;
    const std::string_view digits = name.substr(prefix.size());
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    if (digits.size() == 2 && digits[0] == '0') return false;
    const int number = digits.size() == 1 ? digits[0] - '0' : (digits[0] - '0') * 10 + (digits[1] - '0');
    // GPIO0 and GPIO1 are on the header but belong to the HAT ID EEPROM (the kernel names them
    // ID_SDA and ID_SCL), so no kit part may use them.
    return number >= 2 && number <= 27;
}

BoardDefinition parse_board(std::string_view json_text, const std::string& file) {
    const Place top(file);
    const Json doc = parse_json(json_text, file);
    if (!doc.is_object()) {
        top.fail("a board file must be one JSON object {...} with \"name\" and \"parts\", got " + describe(doc));
    }
    reject_unknown_fields(doc, {"name", "description", "parts"}, top, "a board file");

    BoardDefinition board;
    board.file = file;

    const auto name = doc.find("name");
    if (name == doc.end()) top.fail("field 'name' is missing: give the board a name, like \"name\": \"classroom\"");
    board.name = require_string(*name, top.field("name"), "\"classroom\"");
    if (board.name.empty()) top.field("name").fail("must not be empty: give the board a name, like \"classroom\"");

    if (const auto description = doc.find("description"); description != doc.end()) {
        board.description = require_string(*description, top.field("description"), "\"my kit\"");
    }

    const auto parts = doc.find("parts");
    if (parts == doc.end()) {
        top.fail(
            "field 'parts' is missing: list the parts, like \"parts\": {\"red\": {\"type\": \"led\", "
            "\"line\": \"GPIO17\"}}");
    }
    if (!parts->is_object()) {
        top.field("parts").fail("must be an object {...} of part name → part, got " + describe(*parts));
    }

    std::map<std::string, std::string> used_by;  // line → part
    for (const auto& [part_name, part_json] : parts->items()) {
        PartDef part = parse_part(part_name, part_json, top);
        const TypeSpec& spec = spec_of(part.type);
        for (const auto& role : spec.roles) {
            const std::string& line = part.lines.at(role);
            const auto [it, added] = used_by.emplace(line, part.name);
            if (added) continue;
            const Place at = top.part(part.name).field(role == "line" ? "line" : "lines." + role);
            at.fail(line + " is already used by part '" + it->second +
                    "': two parts cannot share a line, so move one of them to a free line");
        }
        board.parts.push_back(std::move(part));
    }
    return board;
}

std::string kit_overlay(std::string_view board_name) {
    const auto allowed = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    };
    if (board_name.empty() || board_name.front() < 'a' || board_name.front() > 'z' ||
        !std::all_of(board_name.begin(), board_name.end(), allowed)) {
        return {};
    }
    return "berrykit-" + std::string(board_name);
}

BoardDefinition load_board(const std::filesystem::path& file) {
    const std::string shown_name = file.string();
    std::error_code ec;
    const auto status = std::filesystem::status(file, ec);
    if (!std::filesystem::exists(status)) {
        throw Error(ErrorCode::board, shown_name + ": there is no such board file: check the name and the folder");
    }
    if (!std::filesystem::is_regular_file(status)) {
        throw Error(ErrorCode::board, shown_name +
                                          ": this is not a file (is it a folder?): give the path of a "
                                          ".json board file");
    }
    if (std::filesystem::file_size(file, ec) > max_board_file_size) {
        throw Error(ErrorCode::board, shown_name + ": this file is far too big to be a board file (over 1 MB)");
    }
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
        throw Error(ErrorCode::board, shown_name + ": could not read the board file (is it readable by you?)");
    }
    return parse_board(text.str(), shown_name);
}

std::vector<std::string> list_boards(const std::vector<std::filesystem::path>& search_dirs) {
    std::set<std::string> names;
    for (const auto& dir : search_dirs) {
        std::error_code ec;
        for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
            const auto& path = it->path();
            if (path.extension() == ".json" && it->is_regular_file(ec)) names.insert(path.stem().string());
        }
    }
    return {names.begin(), names.end()};
}

std::filesystem::path find_board(std::string_view name_or_path, const std::vector<std::filesystem::path>& search_dirs) {
    const std::string wanted(name_or_path);
    const auto available = [&] {
        const auto names = list_boards(search_dirs);
        std::vector<std::string> dirs;
        for (const auto& dir : search_dirs) dirs.push_back(dir.string());
        if (names.empty())
            return std::string("there are no board files in ") + (dirs.empty() ? "any folder" : join(dirs));
        return "the boards are: " + join(names) + " (in " + join(dirs) + ")";
    };
    const bool is_path = wanted.find('/') != std::string::npos ||
                         (wanted.size() >= 5 && wanted.compare(wanted.size() - 5, 5, ".json") == 0);
    if (is_path) {
        std::error_code ec;
        if (std::filesystem::is_regular_file(wanted, ec)) return std::filesystem::path(wanted);
        throw Error(ErrorCode::board, "there is no board file '" + shown(wanted) + "': " + available());
    }
    if (wanted.empty()) throw Error(ErrorCode::board, "no board was named: " + available());
    for (const auto& dir : search_dirs) {
        std::error_code ec;
        const auto candidate = dir / (wanted + ".json");
        if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
    }
    throw Error(ErrorCode::board, "there is no board called '" + shown(wanted) + "': " + available());
}

}  // namespace berrykit
