// Errors: every code has its stable name (the Python package and the local API use it), and an
// Error carries its code and a message and is a std::runtime_error.
#include "berrykit/error.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace berrykit;

TEST_CASE("every error code has its stable name") {
    const std::vector<std::pair<ErrorCode, std::string>> codes = {
        {ErrorCode::unknown_part, "unknown_part"},
        {ErrorCode::part_in_use, "part_in_use"},
        {ErrorCode::bad_value, "bad_value"},
        {ErrorCode::wrong_type, "wrong_type"},
        {ErrorCode::closed, "closed"},
        {ErrorCode::sensor, "sensor"},
        {ErrorCode::board, "board"},
        {ErrorCode::gpio, "gpio"},
        {ErrorCode::unsupported, "unsupported"},
    };
    std::set<std::string> names;
    for (const auto& [code, name] : codes) {
        CHECK(to_string(code) == name);
        names.insert(to_string(code));
    }
    CHECK(names.size() == codes.size());
}

TEST_CASE("an error carries its code and its message") {
    const Error error(ErrorCode::part_in_use, "the LED 'red' is already used by another program");
    CHECK(error.code() == ErrorCode::part_in_use);
    CHECK(std::string(error.what()) == "the LED 'red' is already used by another program");
}

TEST_CASE("an error is a std::runtime_error, so plain handlers catch it") {
    try {
        throw Error(ErrorCode::bad_value, "brightness must be from 0 to 1, got 2");
    } catch (const std::runtime_error& e) {
        CHECK(std::string(e.what()) == "brightness must be from 0 to 1, got 2");
        const auto* error = dynamic_cast<const Error*>(&e);
        REQUIRE(error != nullptr);
        CHECK(error->code() == ErrorCode::bad_value);
    }
    // A copy keeps both.
    const Error original(ErrorCode::sensor, "the temperature sensor 'temperature' gave no answer");
    const Error copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
    CHECK(copy.code() == ErrorCode::sensor);
    CHECK(std::string(copy.what()) == original.what());
}

TEST_CASE("a JSON parse error is told with its place and a hint about the usual mistake") {
    const std::string trailing_comma = berrykit::explain_json_parse_error(
        "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error while parsing object - "
        "unexpected '}'; expected string literal");
    CHECK(trailing_comma ==
          "this is not valid JSON at line 3, column 5 (unexpected '}'; expected string literal). Is there a comma "
          "after the last item just before it? Take it out");
    const std::string other = berrykit::explain_json_parse_error(
        "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - "
        "invalid literal; last read: 'x'");
    CHECK(other ==
          "this is not valid JSON at line 1, column 2 (invalid literal; last read: 'x'). Look there for a missing or "
          "extra comma, quote or bracket");
}
