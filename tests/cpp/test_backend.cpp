// The backend conformance suite on the simulated board, and Backend::advance.
//
// The suite runs on three benches: a manual clock (exact times), a manual clock with software PWM
// (the Pin base class's PWM timers, as on a line without PWM hardware), and a real clock with an
// event loop on its own thread, the way berrykitd runs the board.
#include "backend_bench.hpp"
#include "error_matchers.hpp"

#include "berrykit/backend.hpp"
#include "berrykit/event_loop.hpp"
#include "berrykit/sim_backend.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace berrykit;
using namespace std::chrono_literals;

conformance::Bench sim_bench(SimBackend::Options options) {
    auto board = std::make_unique<SimBackend>(options);
    SimBackend* const sim = board.get();
    conformance::Bench bench;
    bench.lines = conformance::LineDriver{
        [sim](const std::string& line, bool level) { sim->drive(line, level); },
        [sim](const std::string& line) { sim->undrive(line); },
        [sim](const std::string& line) { return sim->level(line); },
    };
    if (options.manual_clock) {
        bench.manual_clock = true;
        bench.advance = [sim](Nanos dt) { sim->advance(dt); };
    } else {
        auto loop = std::make_shared<EventLoop>(sim->lock(), sim->scheduler());
        sim->attach(*loop);
        loop->start();
        bench.keep_alive = std::move(loop);
        bench.advance = [](Nanos dt) { std::this_thread::sleep_for(dt); };
    }
    bench.backend = std::move(board);
    return bench;
}

struct SimManualClock {
    static conformance::Bench make() { return sim_bench({.manual_clock = true}); }
};
struct SimSoftwarePwm {
    static conformance::Bench make() { return sim_bench({.manual_clock = true, .hardware_pwm = false}); }
};
struct SimRealClock {
    static conformance::Bench make() { return sim_bench({.manual_clock = false}); }
};

}  // namespace

#define BERRYKIT_CONFORMANCE_BENCHES SimManualClock, SimSoftwarePwm, SimRealClock
#include "backend_conformance.hpp"

// ---- Backend::advance --------------------------------------------------------------------------

namespace {

using berrykit::testing::IsError;

struct Ran {
    std::string timer;
    Nanos clock_read;
    bool operator==(const Ran&) const = default;
};

}  // namespace

namespace Catch {
template <>
struct StringMaker<Ran> {
    static std::string convert(const Ran& ran) {
        return "{" + ran.timer + " at " + std::to_string(ran.clock_read.count()) + " ns}";
    }
};
}  // namespace Catch

TEST_CASE("advance runs each timer at its own deadline, with the clock reading that deadline", "[advance]") {
    SimBackend board({.manual_clock = true});
    std::vector<Ran> ran;
    auto& scheduler = board.scheduler();
    const auto note = [&](std::string name) {
        return [&ran, &board, name] { ran.push_back({name, board.clock().now()}); };
    };
    scheduler.call_at(Nanos{3ms}, note("third"));
    scheduler.call_at(Nanos{1ms}, [&] {
        note("first")();
        // A timer added by a timer, due inside the same advance, runs at its own deadline too.
        scheduler.call_later(500us, note("added by first"));
    });
    scheduler.call_at(Nanos{2ms}, note("second"));
    scheduler.call_at(Nanos{2ms}, note("second, added later"));  // ties run in the order added
    scheduler.call_at(Nanos{10ms}, note("later"));

    board.advance(5ms);
    CHECK(ran == std::vector<Ran>{{"first", Nanos{1ms}},
                                  {"added by first", Nanos{1500us}},
                                  {"second", Nanos{2ms}},
                                  {"second, added later", Nanos{2ms}},
                                  {"third", Nanos{3ms}}});
    CHECK(board.clock().now() == Nanos{5ms});
    CHECK(scheduler.pending() == 1);  // "later" waits for its time

    board.advance(5ms);
    REQUIRE(ran.size() == 6);
    CHECK(ran.back() == Ran{"later", Nanos{10ms}});
    CHECK(board.clock().now() == Nanos{10ms});
}

TEST_CASE("advance(0) runs the timers that are already due, and no others", "[advance]") {
    SimBackend board({.manual_clock = true});
    board.advance(1ms);
    int due = 0;
    int not_yet = 0;
    board.scheduler().call_at(board.clock().now(), [&] { ++due; });
    board.scheduler().call_later(Nanos{1}, [&] { ++not_yet; });
    board.advance(Nanos{0});
    CHECK(due == 1);
    CHECK(not_yet == 0);
    CHECK(board.clock().now() == Nanos{1ms});
}

TEST_CASE("a cancelled timer does not run when time passes", "[advance]") {
    SimBackend board({.manual_clock = true});
    int runs = 0;
    const auto id = board.scheduler().call_later(1ms, [&] { ++runs; });
    CHECK(board.scheduler().cancel(id));
    board.advance(2ms);
    CHECK(runs == 0);
    CHECK_FALSE(board.scheduler().cancel(id));
}

TEST_CASE("advance refuses to go back in time and leaves the clock alone", "[advance]") {
    SimBackend board({.manual_clock = true});
    board.advance(2ms);
    CHECK_THROWS_MATCHES(board.advance(Nanos{-1}), Error, IsError(ErrorCode::bad_value, {"advance"}));
    CHECK(board.clock().now() == Nanos{2ms});
}

TEST_CASE("advance on a real clock is unsupported", "[advance]") {
    SimBackend board;
    CHECK_FALSE(board.clock().is_manual());
    int runs = 0;
    board.scheduler().call_later(Nanos{0}, [&] { ++runs; });
    CHECK_THROWS_MATCHES(board.advance(1ms), Error, IsError(ErrorCode::unsupported, {"advance", "manual"}));
    CHECK(runs == 0);
}

TEST_CASE("on a real clock the event loop runs the board's timers at their time", "[advance]") {
    // Declared before the loop, so they outlive its thread.
    std::mutex mutex;
    std::condition_variable ran;
    std::optional<Nanos> ran_at;
    Nanos deadline{0};

    SimBackend board;
    EventLoop loop(board.lock(), board.scheduler());
    board.attach(loop);
    loop.start();
    {
        std::lock_guard board_guard(board.lock());
        deadline = board.clock().now() + Nanos{20ms};
        board.scheduler().call_at(deadline, [&] {
            std::lock_guard guard(mutex);
            ran_at = board.clock().now();
            ran.notify_all();
        });
    }
    std::unique_lock guard(mutex);
    ran.wait_for(guard, 5s, [&] { return ran_at.has_value(); });
    REQUIRE(ran_at.has_value());
    CHECK(*ran_at >= deadline);
}
