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

std::string explain_json_parse_error(const std::string& nlohmann_message) {
    std::string detail = nlohmann_message;
    std::string where;
    if (const auto at = detail.find("at line "); at != std::string::npos) {
        const auto colon = detail.find(':', at);
        where = " at " + detail.substr(at + 3, colon - at - 3);
        detail = colon == std::string::npos ? std::string() : detail.substr(colon + 1);
    }
    if (const auto dash = detail.find(" - "); dash != std::string::npos) detail = detail.substr(dash + 3);
    while (!detail.empty() && detail.front() == ' ') detail.erase(0, 1);
    // The mistake made most: a comma after the last item, which JSON does not allow.
    const bool closes_early =
        detail.rfind("unexpected '}'; expected string literal", 0) == 0 || detail.rfind("unexpected ']'", 0) == 0;
    return "this is not valid JSON" + where + " (" + detail + "). " +
           (closes_early ? "Is there a comma after the last item just before it? Take it out"
                         : "Look there for a missing or extra comma, quote or bracket");
}

Error::Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

Error::Error(ErrorCode code, const std::string& message, std::string part, std::string hint)
    : std::runtime_error(message), code_(code), part_(std::move(part)), hint_(std::move(hint)) {}

}  // namespace berrykit
