// berrykit — values read from a JSON file a person wrote (a board file, berrykitd's config), put
// in the words their error messages use. One set of checks serves both files; each file has its
// own Place, which says where a value is and throws: `[[noreturn]] void fail(const std::string&)`.
// Both read the files as nlohmann::ordered_json, so the first mistake in the file is reported.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace berrykit {

// Text from the file, made safe to print: control characters become '?' and a long text is cut,
// so a stray newline or a pasted paragraph cannot garble the message.
std::string shown(std::string_view text);
// "a string (\"fast\")", "a number (17)", "a list ([...])": what was written, in words.
std::string describe(const nlohmann::ordered_json& value);
// Whether a string is a number written in quotes ("17", "0.5"), to suggest dropping the quotes.
bool parses_as_number(const std::string& text);

template <typename Place>
std::string require_string(const nlohmann::ordered_json& value, const Place& at, const std::string& example) {
    if (value.is_string()) return value.get<std::string>();
    std::string hint;
    if (value.is_number() || value.is_boolean()) hint = ": write it in quotes, like " + example;
    at.fail("must be a string, got " + describe(value) + hint);
}

template <typename Place>
bool require_bool(const nlohmann::ordered_json& value, const Place& at) {
    if (value.is_boolean()) return value.get<bool>();
    std::string hint;
    if (value.is_string() && (value == "true" || value == "false")) hint = ": write it without quotes";
    at.fail("must be true or false, got " + describe(value) + hint);
}

template <typename Place>
double require_number(const nlohmann::ordered_json& value, const Place& at) {
    if (value.is_number()) return value.get<double>();
    std::string hint;
    if (value.is_string() && parses_as_number(value.get<std::string>())) hint = ": write it without quotes";
    at.fail("must be a number, got " + describe(value) + hint);
}

}  // namespace berrykit
