// berrykit — board definitions: which part is on which named line.
//
// One JSON file per kit in firmware/boards/ (classroom.json is the default kit). Example:
//
//   {
//     "name": "classroom",
//     "description": "The berrykit classroom kit",
//     "parts": {
//       "red":      {"type": "led", "line": "GPIO17"},
//       "button":   {"type": "button", "line": "GPIO21", "pull": "up", "bounce_time": 0.02},
//       "rgb":      {"type": "rgb_led", "lines": {"red": "GPIO5", "green": "GPIO6", "blue": "GPIO13"}},
//       "distance": {"type": "distance_sensor", "lines": {"trigger": "GPIO23", "echo": "GPIO24"}}
//     }
//   }
//
// Loading validates everything and each error names the file, the part and the field.
#pragma once

#include "berrykit/backend.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berrykit {

enum class PartType {
    led,
    buzzer,
    rgb_led,
    button,
    motion_sensor,
    light_sensor,
    distance_sensor,
    ds18b20,  // temperature, through the kernel's 1-Wire driver
    dht11,    // temperature + humidity, through the kernel's dht11 IIO driver
    dht22,
};

// The type's name in board files ("rgb_led") and in messages for kids ("RGB LED").
const char* to_string(PartType type) noexcept;
const char* to_friendly(PartType type) noexcept;
std::optional<PartType> part_type_from_string(std::string_view name) noexcept;

struct PartDef {
    std::string name;
    PartType type = PartType::led;
    // Role → line name. One-line parts use the role "line"; rgb_led has "red", "green", "blue";
    // distance_sensor has "trigger" and "echo".
    std::map<std::string, std::string> lines;
    bool active_high = true;      // outputs: false when the part is wired to 3.3 V
    Bias pull = Bias::none;       // inputs: buttons default to "up"
    double bounce_time = 0.0;     // seconds; inputs only
    double hold_time = 1.0;       // seconds; buttons only
    bool keep = false;            // the daemon leaves the part as it is when a script ends
    std::string device = "auto";  // ds18b20: 1-Wire id; dht: IIO device
    std::string label;            // what the part is, for the web view and the CLI
    std::string color;            // led: the colour it lights in (one of led_colors()), or "" if not said

    const std::string& line(const std::string& role = "line") const;
};

struct BoardDefinition {
    std::string name;
    std::string description;
    std::string file;  // where it was loaded from, for messages
    std::vector<PartDef> parts;

    const PartDef* find(std::string_view part) const noexcept;
    // The part that uses `line`, if any.
    const PartDef* find_by_line(std::string_view line) const noexcept;
};

// The colours a board file may give an LED ("color"): red, amber, orange, yellow, green, blue,
// purple, pink, white.
const std::vector<std::string>& led_colors();

// The line names a board file may use: the Raspberry Pi's 40-pin header, GPIO2 … GPIO27 (GPIO0 and
// GPIO1 are the HAT ID EEPROM's).
bool is_header_line(std::string_view name) noexcept;

// The name of a board's device-tree overlay, as firmware/overlay/board_to_dts.py names it:
// "berrykit-classroom" (berrykit-classroom.dtbo, dtoverlay=berrykit-classroom). Empty when the
// board's name cannot be an overlay's (the generator takes [a-z][a-z0-9_-]* only).
std::string kit_overlay(std::string_view board_name);

// Parses and validates a board definition. `file` is only used in messages. Throws Error(board):
//   "classroom.json: part 'red': field 'line': GPIO99 is not a line on the Raspberry Pi's header"
BoardDefinition parse_board(std::string_view json_text, const std::string& file);
BoardDefinition load_board(const std::filesystem::path& file);

// The names of the boards ("classroom", "starter") in `search_dirs`: every "<name>.json", sorted,
// each once. Folders that do not exist are skipped.
std::vector<std::string> list_boards(const std::vector<std::filesystem::path>& search_dirs);

// Finds a board by name ("classroom") in `search_dirs` ("<dir>/<name>.json"), or by path if it
// contains a '/' or ends in ".json". Throws Error(board) listing the boards that exist.
std::filesystem::path find_board(std::string_view name_or_path, const std::vector<std::filesystem::path>& search_dirs);

}  // namespace berrykit
