// berrykit — timers on a backend's clock.
//
// Blinks, software PWM, hold times, debounce windows and sensor measurements are all timers here.
// The scheduler does not run by itself: an EventLoop runs it in real time, and
// Backend::advance runs it when the clock is manual. It is not thread-safe on its own; its owner
// (the backend) guards it with the board lock.
#pragma once

#include "berrykit/clock.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>

namespace berrykit {

class Scheduler {
public:
    using TimerId = std::uint64_t;
    using Callback = std::function<void()>;

    explicit Scheduler(const Clock& clock) : clock_(clock) {}

    // Runs `callback` once when the clock reaches `when` (at once on the next run if `when` has
    // passed). Ties run in the order they were added. Returns an id for cancel().
    TimerId call_at(Nanos when, Callback callback);
    TimerId call_later(Nanos delay, Callback callback) { return call_at(clock_.now() + delay, std::move(callback)); }
    // Cancels a timer that has not run. Returns false if it already ran or was cancelled.
    bool cancel(TimerId id);

    // Earliest deadline of a pending timer.
    std::optional<Nanos> next_deadline() const;
    // Runs, in deadline order, every timer due at `now` or earlier, including ones that callbacks
    // add with such deadlines. Returns how many ran.
    std::size_t run_due(Nanos now);
    std::size_t pending() const noexcept { return ids_.size(); }

    // Called whenever a timer is added that is now the earliest, so a sleeping loop can wake.
    void set_on_earlier_deadline(std::function<void()> hook) { on_earlier_ = std::move(hook); }

    const Clock& clock() const noexcept { return clock_; }

private:
    struct Key {
        Nanos when;
        std::uint64_t seq;
        bool operator<(const Key& o) const noexcept { return when != o.when ? when < o.when : seq < o.seq; }
    };
    const Clock& clock_;
    std::map<Key, std::pair<TimerId, Callback>> queue_;
    std::unordered_map<TimerId, Key> ids_;
    std::uint64_t next_seq_ = 0;
    TimerId next_id_ = 1;
    std::function<void()> on_earlier_;
};

}  // namespace berrykit
