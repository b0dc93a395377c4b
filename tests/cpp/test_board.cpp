// Board definitions: the classroom kit loads as wired, and every mistake in a board file gives an
// Error(board) whose message names the file, the part and the field.
#include "berrykit/board.hpp"
#include "berrykit/error.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>
#include <vector>

using namespace berrykit;
namespace fs = std::filesystem;

namespace {

const fs::path boards_dir = fs::path(BERRYKIT_SOURCE_DIR) / "firmware" / "boards";
const fs::path bad_boards_dir = fs::path(BERRYKIT_TEST_DATA_DIR) / "boards";

// The message of the Error(board) that parsing `json` as "kit.json" throws; fails the test if it
// throws nothing or something else.
std::string board_error(const std::string& json) {
    try {
        parse_board(json, "kit.json");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::board);
        return e.what();
    }
    FAIL_CHECK("no error for: " << json);
    return "(no error)";
}

// A board with one part, written as the JSON object `part` under the name `name`.
std::string one_part(const std::string& part, const std::string& name = "red") {
    return R"({"name": "kit", "parts": {")" + name + R"(": )" + part + "}}";
}

void check_names(const std::string& message, const std::string& part, const std::string& field) {
    INFO(message);
    CHECK(message.rfind("kit.json: ", 0) == 0);
    CHECK_THAT(message, Catch::Contains("part '" + part + "'"));
    CHECK_THAT(message, Catch::Contains("field '" + field + "'"));
}

}  // namespace

TEST_CASE("the classroom kit loads with every part on its line") {
    const auto board = load_board(boards_dir / "classroom.json");
    CHECK(board.name == "classroom");
    CHECK_FALSE(board.description.empty());
    CHECK_THAT(board.file, Catch::EndsWith("classroom.json"));

    struct Expected {
        const char* name;
        PartType type;
        std::map<std::string, std::string> lines;
    };
    const std::vector<Expected> expected = {
        {"red", PartType::led, {{"line", "GPIO17"}}},
        {"amber", PartType::led, {{"line", "GPIO27"}}},
        {"green", PartType::led, {{"line", "GPIO22"}}},
        {"rgb", PartType::rgb_led, {{"red", "GPIO5"}, {"green", "GPIO6"}, {"blue", "GPIO13"}}},
        {"buzzer", PartType::buzzer, {{"line", "GPIO18"}}},
        {"button", PartType::button, {{"line", "GPIO21"}}},
        {"button2", PartType::button, {{"line", "GPIO20"}}},
        {"motion", PartType::motion_sensor, {{"line", "GPIO16"}}},
        {"temperature", PartType::ds18b20, {{"line", "GPIO4"}}},
        {"climate", PartType::dht22, {{"line", "GPIO25"}}},
        {"light", PartType::light_sensor, {{"line", "GPIO26"}}},
        {"distance", PartType::distance_sensor, {{"trigger", "GPIO23"}, {"echo", "GPIO24"}}},
    };
    REQUIRE(board.parts.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        INFO("part " << i << ": " << expected[i].name);
        const PartDef& part = board.parts[i];  // in the file's order
        CHECK(part.name == expected[i].name);
        CHECK(part.type == expected[i].type);
        CHECK(part.lines == expected[i].lines);
        CHECK_FALSE(part.label.empty());
        CHECK(part.active_high);
        CHECK_FALSE(part.keep);
        CHECK(part.device == "auto");
    }
    for (const char* name : {"button", "button2"}) {
        const PartDef* button = board.find(name);
        REQUIRE(button != nullptr);
        CHECK(button->pull == Bias::pull_up);
        CHECK(button->bounce_time == Approx(0.02));
        CHECK(button->hold_time == Approx(1.0));
    }
    CHECK(board.find("motion")->pull == Bias::none);
    CHECK(board.find("red")->label == "red traffic-light LED");
    CHECK(board.find("red")->color == "red");
    CHECK(board.find("amber")->color == "amber");
    CHECK(board.find("rgb")->color.empty());
}

TEST_CASE("the starter kit is a second, smaller kit") {
    const auto board = load_board(boards_dir / "starter.json");
    CHECK(board.name == "starter");
    REQUIRE(board.parts.size() == 2);
    CHECK(board.parts[0].name == "led");
    CHECK(board.parts[0].type == PartType::led);
    CHECK(board.parts[0].line() == "GPIO17");
    CHECK(board.parts[1].name == "button");
    CHECK(board.parts[1].type == PartType::button);
    CHECK(board.parts[1].line() == "GPIO27");
}

TEST_CASE("parts are found by name and by line") {
    const auto board = load_board(boards_dir / "classroom.json");
    REQUIRE(board.find("amber") != nullptr);
    CHECK(board.find("amber")->line() == "GPIO27");
    CHECK(board.find("purple") == nullptr);
    CHECK(board.find("") == nullptr);
    REQUIRE(board.find_by_line("GPIO17") != nullptr);
    CHECK(board.find_by_line("GPIO17")->name == "red");
    REQUIRE(board.find_by_line("GPIO6") != nullptr);
    CHECK(board.find_by_line("GPIO6")->name == "rgb");
    REQUIRE(board.find_by_line("GPIO24") != nullptr);
    CHECK(board.find_by_line("GPIO24")->name == "distance");
    CHECK(board.find_by_line("GPIO12") == nullptr);
}

TEST_CASE("a part's line is looked up by role, and a missing role names the part") {
    const auto board = load_board(boards_dir / "classroom.json");
    CHECK(board.find("rgb")->line("blue") == "GPIO13");
    CHECK(board.find("distance")->line("echo") == "GPIO24");
    try {
        board.find("rgb")->line();
        FAIL("an RGB LED has no single line");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::board);
        CHECK_THAT(e.what(), Catch::Contains("'rgb'") && Catch::Contains("RGB LED"));
    }
    try {
        board.find("red")->line("yellow");
        FAIL("an LED has no yellow line");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::board);
        CHECK_THAT(e.what(), Catch::Contains("'red'") && Catch::Contains("'yellow'"));
    }
}

TEST_CASE("defaults and optional fields are read") {
    const auto board = parse_board(R"({
        "name": "kit",
        "parts": {
            "lamp":   {"type": "led", "line": "GPIO12", "active_high": false, "keep": true},
            "knob":   {"type": "button", "line": "GPIO7"},
            "door":   {"type": "button", "line": "GPIO8", "pull": "down", "bounce_time": 0, "hold_time": 60},
            "pir":    {"type": "motion_sensor", "line": "GPIO9", "pull": "up", "bounce_time": 1},
            "probe":  {"type": "ds18b20", "line": "GPIO10", "device": "28-0316a2795dff"},
            "hot":    {"type": "dht11", "line": "GPIO11", "device": "iio:device0"},
            "first":  {"type": "led", "line": "GPIO2"}
        }
    })",
                                   "kit.json");
    CHECK(board.description.empty());
    CHECK_FALSE(board.find("lamp")->active_high);
    CHECK(board.find("lamp")->keep);
    CHECK(board.find("knob")->pull == Bias::pull_up);  // buttons default to "up"
    CHECK(board.find("knob")->bounce_time == 0.0);
    CHECK(board.find("knob")->hold_time == 1.0);
    CHECK(board.find("door")->pull == Bias::pull_down);
    CHECK(board.find("door")->hold_time == 60.0);
    CHECK(board.find("pir")->pull == Bias::pull_up);
    CHECK(board.find("pir")->bounce_time == 1.0);
    CHECK(board.find("probe")->device == "28-0316a2795dff");
    CHECK(board.find("hot")->device == "iio:device0");
    CHECK(board.find("first")->line() == "GPIO2");
    // Order as written, not alphabetical.
    CHECK(board.parts.front().name == "lamp");
    CHECK(board.parts.back().name == "first");
}

TEST_CASE("a line that is not on the header is refused") {
    const auto message = board_error(one_part(R"({"type": "led", "line": "GPIO99"})"));
    check_names(message, "red", "line");
    CHECK_THAT(message, Catch::Contains("GPIO99 is not a line on the Raspberry Pi's header") &&
                            Catch::Contains("GPIO2 to GPIO27"));

    for (const char* line : {"gpio17", "GPIO017", "17", "GPIO28", "GPIO-1", "", "GPIO", "PIN11"}) {
        INFO(line);
        check_names(board_error(one_part(R"({"type": "led", "line": ")" + std::string(line) + "\"}")), "red", "line");
    }
    CHECK_THAT(board_error(one_part(R"({"type": "led", "line": "gpio17"})")), Catch::Contains("did you mean GPIO17?"));
    CHECK_THAT(board_error(one_part(R"({"type": "led", "line": "GPIO017"})")), Catch::Contains("did you mean GPIO17?"));
}

TEST_CASE("a line written as a number says to write its name") {
    const auto message = board_error(one_part(R"({"type": "led", "line": 17})"));
    check_names(message, "red", "line");
    CHECK_THAT(message, Catch::Contains("\"GPIO17\"") && Catch::Contains("got a number (17)"));
}

TEST_CASE("a line in a multi-line part is checked too") {
    const auto message = board_error(
        one_part(R"({"type": "rgb_led", "lines": {"red": "GPIO5", "green": "GPIO66", "blue": "GPIO13"}})", "rgb"));
    check_names(message, "rgb", "lines.green");
    CHECK_THAT(message, Catch::Contains("GPIO66 is not a line"));
}

TEST_CASE("an unknown part type lists the types there are") {
    const auto message = board_error(one_part(R"({"type": "laser", "line": "GPIO17"})"));
    check_names(message, "red", "type");
    CHECK_THAT(message, Catch::Contains("'laser'"));
    for (const char* type : {"led", "buzzer", "rgb_led", "button", "motion_sensor", "light_sensor", "distance_sensor",
                             "ds18b20", "dht11", "dht22"}) {
        CHECK_THAT(message, Catch::Contains(type));
    }
}

TEST_CASE("two parts on one line name both parts and the line") {
    const auto message = board_error(R"({"name": "kit", "parts": {
        "red": {"type": "led", "line": "GPIO17"},
        "amber": {"type": "led", "line": "GPIO17"}}})");
    check_names(message, "amber", "line");
    CHECK_THAT(message, Catch::Contains("GPIO17") && Catch::Contains("'red'"));

    const auto across = board_error(R"({"name": "kit", "parts": {
        "distance": {"type": "distance_sensor", "lines": {"trigger": "GPIO23", "echo": "GPIO24"}},
        "rgb": {"type": "rgb_led", "lines": {"red": "GPIO5", "green": "GPIO24", "blue": "GPIO13"}}}})");
    check_names(across, "rgb", "lines.green");
    CHECK_THAT(across, Catch::Contains("GPIO24") && Catch::Contains("'distance'"));
}

TEST_CASE("a line used twice inside one part is refused") {
    const auto message = board_error(
        one_part(R"({"type": "rgb_led", "lines": {"red": "GPIO5", "green": "GPIO5", "blue": "GPIO13"}})", "rgb"));
    check_names(message, "rgb", "lines");
    CHECK_THAT(message, Catch::Contains("GPIO5") && Catch::Contains("'red'") && Catch::Contains("'green'"));
}

TEST_CASE("a multi-line part needs every role, and only its roles") {
    const auto missing =
        board_error(one_part(R"({"type": "distance_sensor", "lines": {"trigger": "GPIO23"}})", "distance"));
    check_names(missing, "distance", "lines");
    CHECK_THAT(missing, Catch::Contains("'echo'") && Catch::Contains("missing"));

    const auto extra =
        board_error(one_part(R"({"type": "rgb_led", "lines": {"red": "GPIO5", "green": "GPIO6", "blue": "GPIO13", )"
                             R"("yellow": "GPIO19"}})",
                             "rgb"));
    check_names(extra, "rgb", "lines");
    CHECK_THAT(extra, Catch::Contains("'yellow'") && Catch::Contains("red, green and blue"));

    const auto not_object =
        board_error(one_part(R"({"type": "rgb_led", "lines": ["GPIO5", "GPIO6", "GPIO13"]})", "rgb"));
    check_names(not_object, "rgb", "lines");
    CHECK_THAT(not_object, Catch::Contains("got a list"));
}

TEST_CASE("a missing field is named") {
    const auto no_line = board_error(one_part(R"({"type": "led"})"));
    CHECK_THAT(no_line, Catch::StartsWith("kit.json: part 'red': field 'line' is missing"));

    const auto no_type = board_error(one_part(R"({"line": "GPIO17"})"));
    CHECK_THAT(no_type, Catch::StartsWith("kit.json: part 'red': field 'type' is missing"));
    CHECK_THAT(no_type, Catch::Contains("led, buzzer"));

    const auto no_lines = board_error(one_part(R"({"type": "rgb_led"})", "rgb"));
    CHECK_THAT(no_lines, Catch::StartsWith("kit.json: part 'rgb': field 'lines' is missing"));

    CHECK_THAT(board_error(R"({"parts": {}})"), Catch::StartsWith("kit.json: field 'name' is missing"));
    CHECK_THAT(board_error(R"({"name": "kit"})"), Catch::StartsWith("kit.json: field 'parts' is missing"));
}

TEST_CASE("a field of the wrong JSON type says what it must be and what it got") {
    const auto bounce =
        board_error(one_part(R"({"type": "button", "line": "GPIO21", "bounce_time": "0.02"})", "button"));
    check_names(bounce, "button", "bounce_time");
    CHECK_THAT(bounce, Catch::Contains("must be a number, got a string") && Catch::Contains("without quotes"));

    const auto active = board_error(one_part(R"({"type": "led", "line": "GPIO17", "active_high": "yes"})"));
    check_names(active, "red", "active_high");
    CHECK_THAT(active, Catch::Contains("must be true or false, got a string"));

    const auto keep = board_error(one_part(R"({"type": "led", "line": "GPIO17", "keep": 1})"));
    check_names(keep, "red", "keep");
    CHECK_THAT(keep, Catch::Contains("must be true or false, got a number"));

    const auto label = board_error(one_part(R"({"type": "led", "line": "GPIO17", "label": ["red"]})"));
    check_names(label, "red", "label");
    CHECK_THAT(label, Catch::Contains("must be a string, got a list"));

    const auto color = board_error(one_part(R"({"type": "led", "line": "GPIO17", "color": "rouge"})"));
    check_names(color, "red", "color");
    CHECK_THAT(color, Catch::Contains("'rouge' is not an LED colour") && Catch::Contains("red, amber, orange"));
    CHECK_THAT(board_error(one_part(R"({"type": "button", "line": "GPIO17", "color": "red"})", "button")),
               Catch::Contains("field 'color': does not belong to a button"));

    const auto type = board_error(one_part(R"({"type": 3, "line": "GPIO17"})"));
    check_names(type, "red", "type");
    CHECK_THAT(type, Catch::Contains("must be a string, got a number"));

    const auto part = board_error(one_part(R"("GPIO17")"));
    CHECK_THAT(part, Catch::StartsWith("kit.json: part 'red': must be an object"));

    CHECK_THAT(board_error(R"({"name": 7, "parts": {}})"),
               Catch::StartsWith("kit.json: field 'name': must be a string"));
    CHECK_THAT(board_error(R"({"name": "kit", "parts": []})"),
               Catch::StartsWith("kit.json: field 'parts': must be an object"));
    CHECK_THAT(board_error(R"([1, 2])"), Catch::StartsWith("kit.json: a board file must be one JSON object"));
}

TEST_CASE("a field value out of range is refused") {
    const auto pull = board_error(one_part(R"({"type": "button", "line": "GPIO21", "pull": "sideways"})", "button"));
    check_names(pull, "button", "pull");
    CHECK_THAT(pull, Catch::Contains("\"up\", \"down\" or \"none\"") && Catch::Contains("sideways"));

    for (const char* bounce : {"-0.1", "1.5"}) {
        check_names(
            board_error(one_part(R"({"type": "button", "line": "GPIO21", "bounce_time": )" + std::string(bounce) + "}",
                                 "button")),
            "button", "bounce_time");
    }
    for (const char* hold : {"0", "-1", "61"}) {
        check_names(board_error(one_part(
                        R"({"type": "button", "line": "GPIO21", "hold_time": )" + std::string(hold) + "}", "button")),
                    "button", "hold_time");
    }
    for (const char* device : {"", "../../etc", "w1/28-01"}) {
        check_names(board_error(one_part(
                        R"({"type": "ds18b20", "line": "GPIO4", "device": ")" + std::string(device) + "\"}", "temp")),
                    "temp", "device");
    }
}

TEST_CASE("a field that belongs to another type of part is refused") {
    const auto message = board_error(one_part(R"({"type": "led", "line": "GPIO17", "pull": "up"})"));
    check_names(message, "red", "pull");
    CHECK_THAT(message, Catch::Contains("does not belong to a led") &&
                            Catch::Contains("type, line, active_high, keep, color, label"));

    check_names(board_error(one_part(R"({"type": "motion_sensor", "line": "GPIO16", "hold_time": 2})", "motion")),
                "motion", "hold_time");
    check_names(board_error(one_part(R"({"type": "button", "line": "GPIO21", "active_high": false})", "b")), "b",
                "active_high");
    check_names(board_error(one_part(R"({"type": "led", "line": "GPIO17", "device": "auto"})")), "red", "device");
    check_names(board_error(one_part(R"({"type": "light_sensor", "line": "GPIO26", "bounce_time": 0.1})", "l")), "l",
                "bounce_time");
    const auto lines = board_error(one_part(R"({"type": "led", "lines": {"red": "GPIO17"}})"));
    check_names(lines, "red", "lines");
    CHECK_THAT(lines, Catch::Contains("use \"line\""));
}

TEST_CASE("an unknown field is refused with the fields that part takes") {
    const auto message = board_error(one_part(R"({"type": "button", "line": "GPIO21", "colour": "red"})", "button"));
    check_names(message, "button", "colour");
    CHECK_THAT(message,
               Catch::Contains("unknown field") && Catch::Contains("type, line, pull, bounce_time, hold_time, label"));

    const auto top = board_error(R"({"name": "kit", "parts": {}, "version": 2})");
    CHECK_THAT(top, Catch::StartsWith("kit.json: field 'version': unknown field") &&
                        Catch::Contains("name, description, parts"));
}

TEST_CASE("a part name kids cannot type is refused") {
    CHECK_THAT(board_error(one_part(R"({"type": "led", "line": "GPIO17"})", "")),
               Catch::StartsWith("kit.json: part '': this name cannot be used"));
    for (const char* name :
         {"Red", "2red", "_red", "red light", "red-light", "r\u00f6d", "a_name_that_is_much_too_long_to_type"}) {
        INFO(name);
        const auto message = board_error(one_part(R"({"type": "led", "line": "GPIO17"})", name));
        CHECK_THAT(message, Catch::StartsWith("kit.json: part '") && Catch::Contains("lowercase letters"));
    }
    // 32 characters is the longest name allowed.
    CHECK_NOTHROW(parse_board(one_part(R"({"type": "led", "line": "GPIO17"})", std::string(32, 'a')), "kit.json"));
    CHECK_NOTHROW(parse_board(one_part(R"({"type": "led", "line": "GPIO17"})", "led_2"), "kit.json"));
}

TEST_CASE("a part or field written twice is refused, not silently replaced") {
    const auto part = board_error(R"({"name": "kit", "parts": {
        "red": {"type": "led", "line": "GPIO17"},
        "red": {"type": "led", "line": "GPIO27"}}})");
    CHECK_THAT(part, Catch::StartsWith("kit.json: part 'red': there are two parts called 'red'"));

    const auto field = board_error(one_part(R"({"type": "led", "line": "GPIO17", "line": "GPIO27"})"));
    CHECK_THAT(field, Catch::StartsWith("kit.json: part 'red': field 'line' is written twice"));
}

TEST_CASE("invalid JSON gives the file, the line and the column") {
    const auto message =
        board_error("{\n  \"name\": \"kit\",\n  \"parts\": {\n    \"red\": {\"type\": \"led\",}\n  }\n}");
    CHECK_THAT(message, Catch::StartsWith("kit.json: this is not valid JSON at line 4, column"));
    CHECK_THAT(message, Catch::Contains("comma after the last item"));

    const auto missing_comma = board_error("{\"name\": \"kit\"\n \"parts\": {}}");
    CHECK_THAT(missing_comma, Catch::StartsWith("kit.json: this is not valid JSON at line 2, column") &&
                                  Catch::Contains("missing or extra comma"));
    CHECK_THAT(message, !Catch::Contains("json.exception"));

    CHECK_THAT(board_error(""), Catch::StartsWith("kit.json: the file is empty"));
    CHECK_THAT(board_error("  \n"), Catch::StartsWith("kit.json: the file is empty"));
}

TEST_CASE("broken board files on disk are named in the message") {
    const auto load_error = [](const fs::path& file) -> std::string {
        try {
            load_board(file);
        } catch (const Error& e) {
            CHECK(e.code() == ErrorCode::board);
            return e.what();
        }
        FAIL_CHECK("no error for " << file);
        return "(no error)";
    };
    const auto comma = load_error(bad_boards_dir / "trailing_comma.json");
    CHECK_THAT(comma, Catch::Contains("trailing_comma.json: this is not valid JSON at line 5"));

    const auto shared = load_error(bad_boards_dir / "shared_line.json");
    CHECK_THAT(shared,
               Catch::Contains("shared_line.json: part 'amber': field 'line': GPIO17") && Catch::Contains("'red'"));

    CHECK_THAT(load_error(bad_boards_dir / "duplicate_part.json"), Catch::Contains("duplicate_part.json: part 'red'"));
    CHECK_THAT(load_error(bad_boards_dir / "empty.json"), Catch::Contains("empty.json: the file is empty"));
    CHECK_THAT(load_error(bad_boards_dir / "no_such_board.json"),
               Catch::Contains("no_such_board.json") && Catch::Contains("no such board file"));
    CHECK_THAT(load_error(bad_boards_dir), Catch::Contains("not a file"));
}

TEST_CASE("find_board finds a board by name or by path, and lists the boards when it cannot") {
    const std::vector<fs::path> dirs = {boards_dir};
    CHECK(find_board("classroom", dirs) == boards_dir / "classroom.json");
    CHECK(find_board("starter", dirs) == boards_dir / "starter.json");

    const auto by_path = (boards_dir / "starter.json").string();
    CHECK(find_board(by_path, {}) == fs::path(by_path));

    // The first folder that has the board wins; folders that do not exist are skipped.
    const std::vector<fs::path> several = {"/nonexistent/berrykit", bad_boards_dir, boards_dir};
    CHECK(find_board("classroom", several) == boards_dir / "classroom.json");
    CHECK(find_board("shared_line", several) == bad_boards_dir / "shared_line.json");

    const auto names = list_boards(dirs);
    CHECK(std::find(names.begin(), names.end(), "classroom") != names.end());
    CHECK(std::find(names.begin(), names.end(), "starter") != names.end());
    CHECK(std::is_sorted(names.begin(), names.end()));

    try {
        find_board("spaceship", dirs);
        FAIL("there is no spaceship board");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::board);
        CHECK_THAT(e.what(),
                   Catch::Contains("'spaceship'") && Catch::Contains("classroom") && Catch::Contains("starter"));
    }
    try {
        find_board("/nowhere/kit.json", dirs);
        FAIL("there is no such file");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::board);
        CHECK_THAT(e.what(), Catch::Contains("/nowhere/kit.json") && Catch::Contains("classroom"));
    }
    try {
        find_board("classroom", {"/nonexistent/berrykit"});
        FAIL("no folder has boards");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::board);
        CHECK_THAT(e.what(), Catch::Contains("no board files") && Catch::Contains("/nonexistent/berrykit"));
    }
}

TEST_CASE("only GPIO2 to GPIO27, written exactly, are header lines") {
    for (int n = 2; n <= 27; ++n) CHECK(is_header_line("GPIO" + std::to_string(n)));
    for (const char* name : {"GPIO28", "GPIO99", "GPIO017", "GPIO00", "gpio17", "Gpio17", "GPIO", "GPIO-1", "GPIO+1",
                             "17", "", "GPIO17 ", " GPIO17", "GPIO1a", "ID_SDA", "GPIO100", "GPIO0", "GPIO1"}) {
        INFO(name);
        CHECK_FALSE(is_header_line(name));
    }
}

TEST_CASE("part types have a file name and a friendly name, and round-trip") {
    const std::vector<std::tuple<PartType, const char*, const char*>> types = {
        {PartType::led, "led", "LED"},
        {PartType::buzzer, "buzzer", "buzzer"},
        {PartType::rgb_led, "rgb_led", "RGB LED"},
        {PartType::button, "button", "button"},
        {PartType::motion_sensor, "motion_sensor", "motion sensor"},
        {PartType::light_sensor, "light_sensor", "light sensor"},
        {PartType::distance_sensor, "distance_sensor", "distance sensor"},
        {PartType::ds18b20, "ds18b20", "temperature sensor"},
        {PartType::dht11, "dht11", "climate sensor"},
        {PartType::dht22, "dht22", "climate sensor"},
    };
    for (const auto& [type, name, friendly] : types) {
        CHECK(std::string(to_string(type)) == name);
        CHECK(std::string(to_friendly(type)) == friendly);
        CHECK(part_type_from_string(name) == type);
    }
    CHECK_FALSE(part_type_from_string("LED").has_value());
    CHECK_FALSE(part_type_from_string("rgb").has_value());
    CHECK_FALSE(part_type_from_string("").has_value());
}

TEST_CASE("a board's overlay is named as the overlay generator names it, or not at all") {
    CHECK(kit_overlay("classroom") == "berrykit-classroom");
    CHECK(kit_overlay("my-kit_2") == "berrykit-my-kit_2");
    // board_to_dts.py refuses these names, so there is no such overlay to ask for.
    CHECK(kit_overlay("").empty());
    CHECK(kit_overlay("Classroom").empty());
    CHECK(kit_overlay("2nd-kit").empty());
    CHECK(kit_overlay("my kit").empty());
    CHECK(kit_overlay("kit/one").empty());
}
