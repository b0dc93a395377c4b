#include "berrykit/json_words.hpp"

#include <cctype>
#include <sstream>

namespace berrykit {

std::string shown(std::string_view text) {
    constexpr std::size_t limit = 40;
    std::string out;
    for (const char c : text.substr(0, limit)) out += std::iscntrl(static_cast<unsigned char>(c)) ? '?' : c;
    if (text.size() > limit) out += "...";
    return out;
}

std::string describe(const nlohmann::ordered_json& value) {
    if (value.is_string()) return "a string (\"" + shown(value.get<std::string>()) + "\")";
    if (value.is_boolean()) return std::string("true/false (") + (value.get<bool>() ? "true" : "false") + ")";
    if (value.is_number()) return "a number (" + value.dump() + ")";
    if (value.is_object()) return "an object ({...})";
    if (value.is_array()) return "a list ([...])";
    return "null";
}

bool parses_as_number(const std::string& text) {
    // Only what JSON could have held without the quotes: no "inf", "nan" or hex, which strtod takes.
    if (text.empty()) return false;
    std::istringstream in(text);
    double ignored = 0;
    in >> ignored;
    return !in.fail() && in.eof();
}

}  // namespace berrykit
