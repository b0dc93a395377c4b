// Sets (or unsets) an environment variable for one test, and puts the old value back afterwards.
#pragma once

#include <stdlib.h>

#include <optional>
#include <string>

namespace berrykit::test {

class ScopedEnv {
public:
    // value: the variable's value during the test; std::nullopt unsets it.
    ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
        if (const char* old = ::getenv(name)) old_ = old;
        set(value);
    }
    ~ScopedEnv() { set(old_); }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    void set(const std::optional<std::string>& value) {
        if (value) {
            ::setenv(name_, value->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }

    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace berrykit::test
