// berrykit tests — a classroom kit on the simulated board, and ways to look at what it did.
//
//     auto kit = berrykit::test::open_sim_kit();          // manual clock: time moves on advance()
//     auto red = kit->open_led("red", {});
//     red->blink(1, 1, 2);
//     kit->advance(5);
//     CHECK(kit->history("red") == std::vector<Sample>{{0, 0}, {0, 1}, {1, 0}, {2, 1}, {3, 0}});
#pragma once

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "berrykit/kit.hpp"

namespace Catch {
template <>
struct StringMaker<berrykit::Sample> {
    static std::string convert(const berrykit::Sample& sample) {
        std::ostringstream out;
        out << "{" << sample.seconds << " s, " << sample.value << "}";
        return out.str();
    }
};
template <>
struct StringMaker<berrykit::DeviceEvent> {
    static std::string convert(const berrykit::DeviceEvent& event) {
        std::ostringstream out;
        out << "{device " << event.device << ", " << berrykit::to_string(event.kind) << " at "
            << berrykit::to_seconds(event.time) << " s}";
        return out.str();
    }
};
}  // namespace Catch

namespace berrykit::test {

inline KitOptions sim_kit_options(bool manual_clock = true) {
    KitOptions options;
    options.backend = "sim";
    options.board_dirs = {BERRYKIT_SOURCE_DIR "/firmware/boards"};
    options.manual_clock = manual_clock;
    return options;
}

// The classroom kit on the simulated board; with a manual clock unless told otherwise.
inline std::shared_ptr<Kit> open_sim_kit(bool manual_clock = true) { return Kit::open(sim_kit_options(manual_clock)); }

// An event as the tests write it: which device, what, and when in seconds on the board's clock.
struct Happened {
    std::uint64_t device;
    EventKind kind;
    double seconds;
    bool operator==(const Happened&) const = default;
};

// Takes every event queued so far (without waiting), in order.
inline std::vector<Happened> take_events(Kit& kit) {
    std::vector<Happened> out;
    while (kit.events().size() > 0) {
        const auto event = kit.events().pop(std::chrono::nanoseconds{0});
        if (!event) break;
        out.push_back({event->device, event->kind, to_seconds(event->time)});
    }
    return out;
}

// Moves a manual clock from another thread, `step` seconds at a time, until the Advancer is
// destroyed: for waits (wait_for, wait_until) that only return when time passes. It has no end
// of its own, because a wait's timeout counts from when the wait starts, which may be late; so
// what a test waits for must stay true however far the clock has run by then (a hold of 1e6 s,
// not a short tap).
class Advancer {
public:
    explicit Advancer(Kit& kit, double step = 0.01)
        : thread_([this, &kit, step] {
              while (!stop_) {
                  kit.advance(step);
                  std::this_thread::yield();
              }
          }) {}
    ~Advancer() {
        stop_ = true;
        thread_.join();
    }
    Advancer(const Advancer&) = delete;
    Advancer& operator=(const Advancer&) = delete;

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// The values of a history, without their times.
inline std::vector<double> values_of(const std::vector<Sample>& samples) {
    std::vector<double> out;
    for (const auto& s : samples) out.push_back(s.value);
    return out;
}

}  // namespace berrykit::test

namespace Catch {
template <>
struct StringMaker<berrykit::test::Happened> {
    static std::string convert(const berrykit::test::Happened& event) {
        std::ostringstream out;
        out << "{device " << event.device << ", " << berrykit::to_string(event.kind) << " at " << event.seconds
            << " s}";
        return out.str();
    }
};
}  // namespace Catch
