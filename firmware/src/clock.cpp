#include "berrykit/clock.hpp"

#include "berrykit/error.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>

namespace berrykit {

Nanos from_seconds(double seconds) {
    if (!std::isfinite(seconds)) {
        throw Error(ErrorCode::bad_value, "a time must be a number of seconds, got " + to_text(seconds));
    }
    // Nanos holds about 292 years; past that llround's result is undefined (in practice the most
    // negative number), so a kid's blink(1e12) would become a time in the past.
    const double nanos = seconds * 1e9;
    if (std::fabs(nanos) >= 9.2e18) {
        char shown[32];
        std::snprintf(shown, sizeof shown, "%g", seconds);
        throw Error(ErrorCode::bad_value, std::string("a time of ") + shown +
                                              " seconds is too long: use at most 9000000000 seconds (285 years)");
    }
    return Nanos{static_cast<std::int64_t>(std::llround(nanos))};
}

double to_seconds(Nanos t) noexcept { return static_cast<double>(t.count()) / 1e9; }

Nanos SteadyClock::now() const noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return Nanos{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
}

void ManualClock::set(Nanos t) {
    if (t < now_) {
        throw Error(ErrorCode::bad_value, "the clock cannot go backwards (from " + to_text(to_seconds(now_)) +
                                              " s to " + to_text(to_seconds(t)) + " s)");
    }
    now_ = t;
}

}  // namespace berrykit
