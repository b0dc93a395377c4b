// berrykit — errors.
//
// Every failure in the core is a berrykit::Error with a code. The message is written for a
// 10-year-old: it says what is wrong, names the part or line, and says what to do. The Python
// package turns each code into an exception that also subclasses the matching builtin (a bad value
// is a ValueError too), so `except ValueError:` in a beginner's script works.
#pragma once

#include <stdexcept>
#include <string>

namespace berrykit {

enum class ErrorCode {
    unknown_part,  // no part or line by that name on this board
    part_in_use,   // the line is already claimed by someone else
    bad_value,     // a value out of range (brightness 2, negative time)
    wrong_type,    // a value of the wrong kind ("on" where a number goes), or a part of another type
    closed,        // a device used again after close()
    sensor,        // a sensor is missing, unreadable, or gave no answer
    board,         // a board definition file is invalid
    gpio,          // the GPIO hardware or kernel refused a request
    unsupported,   // this build or backend cannot do that
};

// The code's stable name, used by the Python package and the local API ("part_in_use").
const char* to_string(ErrorCode code) noexcept;

// A number as a message shows it: "2", "0.25", "-1" (not std::to_string's "2.000000").
std::string to_text(double value);

// Turns nlohmann/json's parse error ("[json.exception.parse_error.101] parse error at line 3,
// column 5: syntax error while parsing object - unexpected '}'; expected string literal") into
// words for a kid: "this is not valid JSON at line 3, column 5 (unexpected '}'; …). Is there a
// comma after the last item just before it? Take it out". Board files and berrykitd's config use it.
std::string explain_json_parse_error(const std::string& nlohmann_message);

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message);
    // With the part it is about and a hint a client can word its own advice from (the name of
    // the part that was probably meant, the class that opens it): berrykitd sends both.
    Error(ErrorCode code, const std::string& message, std::string part, std::string hint);
    ErrorCode code() const noexcept { return code_; }
    const std::string& part() const noexcept { return part_; }
    const std::string& hint() const noexcept { return hint_; }

private:
    ErrorCode code_;
    std::string part_;
    std::string hint_;
};

}  // namespace berrykit
