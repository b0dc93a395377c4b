#include "berrykit/daemon/utc.hpp"

#include <time.h>

#include <cstdint>
#include <cstdio>

namespace berrykit::daemon {

namespace {

std::string format(std::int64_t unix_ms) {
    const time_t seconds = static_cast<time_t>(unix_ms / 1000);
    tm utc{};
    gmtime_r(&seconds, &utc);
    char text[64];  // room for any year gmtime_r gives, so the format is never cut
    std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                  utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(unix_ms % 1000));
    return text;
}

}  // namespace

std::string utc_iso(std::chrono::system_clock::time_point at) {
    return format(std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count());
}

std::string utc_iso_of_monotonic(Nanos monotonic) {
    timespec mono{}, real{};
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    const std::int64_t mono_ns = std::int64_t{mono.tv_sec} * 1'000'000'000 + mono.tv_nsec;
    const std::int64_t real_ns = std::int64_t{real.tv_sec} * 1'000'000'000 + real.tv_nsec;
    return format((real_ns - (mono_ns - monotonic.count())) / 1'000'000);
}

}  // namespace berrykit::daemon
