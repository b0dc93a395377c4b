// berrykit — clocks.
//
// A backend owns a clock. Times are nanoseconds on that clock (`Nanos`). SteadyClock is
// CLOCK_MONOTONIC, the clock the kernel stamps GPIO edge events with, so edge timestamps and
// `now()` compare directly. ManualClock stands still until a test moves it, so tests of timing
// (blink patterns, hold times, debounce) need no sleeps and no margins.
#pragma once

#include <chrono>
#include <cstdint>

namespace berrykit {

using Nanos = std::chrono::nanoseconds;

// Seconds (as a kid writes them) to Nanos, and back.
Nanos from_seconds(double seconds);
double to_seconds(Nanos t) noexcept;

class Clock {
public:
    virtual ~Clock() = default;
    virtual Nanos now() const noexcept = 0;
    // True when time moves only when told to (ManualClock).
    virtual bool is_manual() const noexcept = 0;
};

class SteadyClock final : public Clock {
public:
    Nanos now() const noexcept override;
    bool is_manual() const noexcept override { return false; }
};

class ManualClock final : public Clock {
public:
    explicit ManualClock(Nanos start = Nanos{0}) noexcept : now_(start) {}
    Nanos now() const noexcept override { return now_; }
    bool is_manual() const noexcept override { return true; }
    // Moves the clock to `t`. Time never goes backwards: an earlier `t` throws Error(bad_value).
    // Callers normally use Backend::advance, which also runs the timers that fall due.
    void set(Nanos t);

private:
    Nanos now_;
};

}  // namespace berrykit
