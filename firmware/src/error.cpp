#include "berrykit/error.hpp"

#include <sstream>

namespace berrykit {

const char* to_string(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::unknown_part: return "unknown_part";
        case ErrorCode::part_in_use: return "part_in_use";
        case ErrorCode::bad_value: return "bad_value";
        case ErrorCode::wrong_type: return "wrong_type";
        case ErrorCode::closed: return "closed";
        case ErrorCode::sensor: return "sensor";
        case ErrorCode::board: return "board";
        case ErrorCode::gpio: return "gpio";
        case ErrorCode::unsupported: return "unsupported";
    }
    return "unknown";
}

std::string to_text(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

Error::Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

}  // namespace berrykit
