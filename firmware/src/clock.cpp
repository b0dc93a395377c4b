#include "berrykit/clock.hpp"

#include "berrykit/error.hpp"

#include <cmath>
#include <ctime>
#include <string>

namespace berrykit {

Nanos from_seconds(double seconds) {
    if (!std::isfinite(seconds)) {
        throw Error(ErrorCode::bad_value, "a time must be a number of seconds, got " + std::to_string(seconds));
    }
    return Nanos{static_cast<std::int64_t>(std::llround(seconds * 1e9))};
}

double to_seconds(Nanos t) noexcept { return static_cast<double>(t.count()) / 1e9; }

Nanos SteadyClock::now() const noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return Nanos{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
}

void ManualClock::set(Nanos t) {
    if (t < now_) {
        throw Error(ErrorCode::bad_value, "the clock cannot go backwards (from " +
                                              std::to_string(to_seconds(now_)) + " s to " +
                                              std::to_string(to_seconds(t)) + " s)");
    }
    now_ = t;
}

}  // namespace berrykit
