// berrykit tests — checking a berrykit::Error's code and words.
//
//     CHECK_THROWS_MATCHES(pin->write(true), berrykit::Error,
//                          IsError(berrykit::ErrorCode::closed, {"GPIO17"}));
//
// A failing check prints the error's code and whole message, so the words a kid would read are in
// the test log.
#pragma once

#include "berrykit/error.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace Catch {
template <>
struct StringMaker<berrykit::Error> {
    static std::string convert(const berrykit::Error& error) {
        return std::string("Error(") + berrykit::to_string(error.code()) + "): \"" + error.what() + "\"";
    }
};
}  // namespace Catch

namespace berrykit::testing {

// Matches an Error with `code` whose message contains every one of `words`.
class IsError final : public Catch::MatcherBase<Error> {
public:
    IsError(ErrorCode code, std::vector<std::string> words = {}) : code_(code), words_(std::move(words)) {}

    bool match(const Error& error) const override {
        if (error.code() != code_) return false;
        const std::string message = error.what();
        for (const auto& word : words_) {
            if (message.find(word) == std::string::npos) return false;
        }
        return true;
    }

    std::string describe() const override {
        std::string text = std::string("is an Error(") + to_string(code_) + ")";
        for (std::size_t i = 0; i < words_.size(); ++i) {
            text += (i == 0 ? " mentioning \"" : ", \"") + words_[i] + "\"";
        }
        return text;
    }

private:
    ErrorCode code_;
    std::vector<std::string> words_;
};

// The code's name of an Error ("part_in_use"), for CHECK(code_of(e) == "…").
inline std::string code_of(const Error& e) { return to_string(e.code()); }

// The berrykit::Error that `action` throws; fails the test if it throws none.
template <typename Action>
Error error_from(Action&& action) {
    try {
        action();
    } catch (const Error& e) {
        return e;
    }
    FAIL("expected a berrykit::Error, but nothing was thrown");
    throw std::logic_error("unreachable");
}

}  // namespace berrykit::testing
