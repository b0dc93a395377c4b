// berrykit — events from the board to the program that uses it.
//
// Devices push events (a press, a release, motion) from wherever they happen — the event loop's
// thread, or a thread that drives the simulated board — and one consumer pops them. In Python
// that consumer is a Python-owned thread that runs the kid's callbacks: C++ threads never call
// Python (pybind11 issues #1273, #4848 are the deadlocks this avoids).
#pragma once

#include "berrykit/clock.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace berrykit {

enum class EventKind : std::uint8_t {
    pressed,       // Button became active
    released,      // Button became inactive
    held,          // Button held for its hold time (and again every hold time with hold_repeat)
    motion,        // MotionSensor saw motion
    no_motion,     // MotionSensor calmed down
    light,         // LightSensor went above its threshold
    dark,          // LightSensor went below its threshold
    in_range,      // DistanceSensor: something came closer than the threshold
    out_of_range,  // DistanceSensor: nothing closer than the threshold any more
};
const char* to_string(EventKind kind) noexcept;

struct DeviceEvent {
    std::uint64_t device = 0;  // Device::id()
    EventKind kind = EventKind::pressed;
    Nanos time{0};  // when it happened on the board's clock (the kernel's edge timestamp)
};

class EventQueue {
public:
    explicit EventQueue(std::size_t capacity = 100000);

    // Never blocks. When the queue is full (nobody consumes), the oldest event is dropped and
    // counted in dropped().
    void push(const DeviceEvent& event);
    // Waits for an event. Returns nothing when `timeout` passes or the queue is closed and empty.
    std::optional<DeviceEvent> pop(std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
    // Wakes every waiter; pop() then drains what is left and returns nothing.
    void close();
    bool is_closed() const;
    std::size_t size() const;
    std::uint64_t dropped() const;
    // Makes push() also write to an eventfd, so a consumer on an event loop can watch `fd` instead
    // of blocking in pop(). -1 turns it off. The queue does not own the fd.
    void set_notify_fd(int fd);
    // Every event ever pushed (a consumer that counts what it handled can tell when it caught up).
    std::uint64_t pushed() const;

private:
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<DeviceEvent> events_;
    std::size_t capacity_;
    std::uint64_t dropped_ = 0;
    std::uint64_t pushed_ = 0;
    int notify_fd_ = -1;
    bool closed_ = false;
};

}  // namespace berrykit
