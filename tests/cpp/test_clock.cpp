// Clocks: seconds as a kid writes them become exact nanoseconds, a manual clock never goes back,
// and the steady clock is the kernel's CLOCK_MONOTONIC (the clock GPIO edges are stamped with).
#include "berrykit/clock.hpp"
#include "berrykit/error.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <ctime>
#include <limits>
#include <optional>

using namespace berrykit;
using namespace std::chrono_literals;

namespace {

Nanos monotonic_now() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return Nanos{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
}

// The code of the Error that from_seconds throws, or nothing if it throws none.
std::optional<ErrorCode> code_of(double seconds) {
    try {
        from_seconds(seconds);
    } catch (const Error& e) {
        return e.code();
    }
    return std::nullopt;
}

}  // namespace

TEST_CASE("seconds become nanoseconds") {
    CHECK(from_seconds(0) == 0ns);
    CHECK(from_seconds(1) == 1s);
    CHECK(from_seconds(1.5) == 1500ms);
    CHECK(from_seconds(0.02) == 20ms);
    CHECK(from_seconds(-0.25) == -250ms);
    CHECK(from_seconds(3600) == 1h);
}

TEST_CASE("seconds are rounded to the nearest nanosecond, not cut short") {
    // 0.3 s is 299999999.99999994 ns as a double: cutting would lose a nanosecond per blink.
    CHECK(from_seconds(0.3) == 300ms);
    CHECK(from_seconds(0.1) == 100ms);
    CHECK(from_seconds(0.7) == 700ms);
    CHECK(from_seconds(1.4e-9) == 1ns);
    CHECK(from_seconds(1.6e-9) == 2ns);
    CHECK(from_seconds(0.4e-9) == 0ns);
}

TEST_CASE("nanoseconds become seconds") {
    CHECK(to_seconds(0ns) == 0.0);
    CHECK(to_seconds(1500ms) == 1.5);
    CHECK(to_seconds(-250ms) == -0.25);
    CHECK(to_seconds(1ns) == Approx(1e-9));
    for (const double seconds : {0.0, 0.001, 0.02, 0.3, 1.0, 59.999, 86400.0}) {
        CHECK(to_seconds(from_seconds(seconds)) == Approx(seconds).margin(1e-12));
    }
}

TEST_CASE("a time that is not a number is a bad value") {
    CHECK(code_of(std::nan("")) == ErrorCode::bad_value);
    CHECK(code_of(std::numeric_limits<double>::infinity()) == ErrorCode::bad_value);
    CHECK(code_of(-std::numeric_limits<double>::infinity()) == ErrorCode::bad_value);
    try {
        from_seconds(std::nan(""));
    } catch (const Error& e) {
        CHECK_THAT(e.what(), Catch::Contains("seconds"));
    }
}

TEST_CASE("a time too long for the clock is a bad value, not a wrapped-around one") {
    // Nanos holds about 292 years; beyond that a time used to wrap to a negative or arbitrary value.
    CHECK(code_of(1e10) == ErrorCode::bad_value);
    CHECK(code_of(-1e10) == ErrorCode::bad_value);
    CHECK(code_of(1e300) == ErrorCode::bad_value);
    CHECK(from_seconds(9e9) == Nanos{9'000'000'000'000'000'000});
}

TEST_CASE("a manual clock stands still until it is set") {
    ManualClock clock(5s);
    CHECK(clock.is_manual());
    CHECK(clock.now() == 5s);
    CHECK(clock.now() == 5s);
    clock.set(7500ms);
    CHECK(clock.now() == 7500ms);
    clock.set(7500ms);  // setting the same time is fine
    CHECK(clock.now() == 7500ms);
    CHECK(ManualClock().now() == 0ns);
}

TEST_CASE("a manual clock never goes backwards") {
    ManualClock clock(10s);
    try {
        clock.set(9s);
        FAIL("the clock went backwards");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::bad_value);
        CHECK_THAT(e.what(), Catch::Contains("backwards"));
    }
    CHECK(clock.now() == 10s);
}

TEST_CASE("the steady clock is CLOCK_MONOTONIC and never goes backwards") {
    SteadyClock clock;
    CHECK_FALSE(clock.is_manual());
    const Nanos before = monotonic_now();
    const Nanos now = clock.now();
    const Nanos after = monotonic_now();
    CHECK(before <= now);
    CHECK(now <= after);

    Nanos last = clock.now();
    for (int i = 0; i < 100000; ++i) {
        const Nanos t = clock.now();
        REQUIRE(t >= last);
        last = t;
    }
}
