// berrykitd — reading a request's fields, and refusing a request in words (daemon-internal).
//
// A refusal carries PROTOCOL.md's error code, a sentence for a kid, and, where they help a
// client word its own advice, the part it was about and a hint (the GPIO number that would
// work, the option to leave out). error_reply() turns any error into the reply's "error" object,
// for every entry point: a program's socket, the classroom page and a cloud command.
#pragma once

#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "berrykit/outputs.hpp"

namespace berrykit::daemon {

struct RequestError {
    std::string code;
    std::string message;
    nlohmann::json details = nlohmann::json::object();  // "part", "hint"
};

[[noreturn]] void refuse(std::string code, std::string message, nlohmann::json details = nlohmann::json::object());

// The "error" object of a reply for the exception being handled (call inside a catch block):
// {"code", "message"} plus "part" and "hint" where the error has them.
nlohmann::json error_reply(const std::exception_ptr& error);

// "a string", "a list", "a number", "true", … : what a JSON value is, in words.
std::string describe_json(const nlohmann::json& value);

const nlohmann::json& field(const nlohmann::json& request, const char* name);
std::string string_field(const nlohmann::json& request, const char* name);
double number_field(const nlohmann::json& request, const char* name, double fallback);
std::optional<double> optional_number(const nlohmann::json& request, const char* name);
std::optional<bool> optional_bool(const nlohmann::json& request, const char* name);
std::optional<int> count_field(const nlohmann::json& request, const char* name);
Color color_field(const nlohmann::json& request, const char* name, Color fallback);

}  // namespace berrykit::daemon
