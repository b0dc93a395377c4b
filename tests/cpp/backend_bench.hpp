// berrykit tests — a bench for the backend conformance suite (backend_conformance.hpp).
//
// A bench is one backend under test with the world around it: a LineDriver that plays the outside
// of the pins (drives input lines, reads what output lines show) and a way to let time pass. A
// test executable defines one bench type per backend it checks, each with
//     static berrykit::conformance::Bench make();
// On the simulated board the driver is SimBackend::drive/undrive/level; under a real kernel it is
// the gpio-sim chip's sysfs files (pull, value).
#pragma once

#include "berrykit/backend.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace berrykit::conformance {

// The world outside a backend's pins.
struct LineDriver {
    // Pushes the line to `level` from outside, as a button does.
    std::function<void(const std::string& line, bool level)> drive;
    // Lets go of the line: it follows the pin's pull again.
    std::function<void(const std::string& line)> release;
    // What the line shows the outside world now: 0 or 1, or the duty of hardware PWM.
    std::function<double(const std::string& line)> shown;
};

// One backend under test and everything around it.
struct Bench {
    std::unique_ptr<Backend> backend;
    LineDriver lines;
    // Lets `dt` of the backend's time pass: Backend::advance on a manual clock, a sleep otherwise.
    std::function<void(Nanos)> advance;
    bool manual_clock = false;
    // How long to wait for something another thread delivers (edges, debounce catch-ups).
    std::chrono::milliseconds patience{5000};
    // Whatever the bench needs kept running (an event loop): let go before the backend.
    std::shared_ptr<void> keep_alive;

    Bench() = default;
    Bench(Bench&&) = default;
    Bench& operator=(Bench&&) = default;
    ~Bench() { keep_alive.reset(); }
};

// Collects edges from any thread and lets the test wait for them.
class EdgeRecorder {
public:
    Pin::EdgeHandler handler() {
        return [this](const EdgeEvent& event) {
            std::lock_guard guard(mutex_);
            events_.push_back(event);
            arrived_.notify_all();
        };
    }

    // The edges so far, once there are at least `count` or `patience` has run out.
    std::vector<EdgeEvent> wait_for(std::size_t count, std::chrono::milliseconds patience) {
        std::unique_lock guard(mutex_);
        arrived_.wait_for(guard, patience, [&] { return events_.size() >= count; });
        return events_;
    }

    std::vector<EdgeEvent> events() {
        std::lock_guard guard(mutex_);
        return events_;
    }

private:
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::vector<EdgeEvent> events_;
};

inline const std::string first_line = "GPIO17";
inline constexpr int first_line_bcm = 17;
inline const std::string second_line = "GPIO27";
inline const std::string third_line = "GPIO22";

inline std::unique_ptr<Pin> claim(Bench& bench, const std::string& line, const std::string& owner) {
    return bench.backend->claim(bench.backend->find_line(line), owner);
}

inline Nanos now(Bench& bench) { return bench.backend->clock().now(); }

// A debounce window: short and exact on a manual clock; on a real clock long enough that a
// loaded machine still fits a burst of bounces into it.
inline Nanos bounce_window(const Bench& bench) {
    using namespace std::chrono_literals;
    return bench.manual_clock ? Nanos{10ms} : Nanos{200ms};
}

}  // namespace berrykit::conformance
