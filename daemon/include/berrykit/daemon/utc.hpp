// berrykit — times as the cloud and the local API write them: UTC ISO-8601 with milliseconds,
// "2026-11-22T10:15:30.123Z" (24 characters), the form AWS IoT rules and JavaScript's Date read.
#pragma once

#include "berrykit/clock.hpp"

#include <chrono>
#include <string>

namespace berrykit::daemon {

// The wall-clock time `at`.
std::string utc_iso(std::chrono::system_clock::time_point at);
// The wall-clock time of a CLOCK_MONOTONIC moment (an edge's kernel timestamp, a reading's time):
// the wall clock now, less how long ago that moment was.
std::string utc_iso_of_monotonic(Nanos monotonic);
// Now.
inline std::string utc_iso_now() { return utc_iso(std::chrono::system_clock::now()); }

}  // namespace berrykit::daemon
