// berrykit tests — the backend conformance suite.
//
// One suite, written once, that every GPIO backend passes: the simulated board (test_backend.cpp
// runs it with a manual clock, with software PWM, and with a real clock and an event loop) and
// the libgpiod backend under a real kernel's gpio-sim chip. A backend comes to the suite on a
// Bench: the backend, a LineDriver that plays the world outside the pins (it drives input lines
// and reads what output lines show), and a way to let time pass.
//
// To use it, write the bench types (backend_bench.hpp), each with
//     static berrykit::conformance::Bench make();
// define BERRYKIT_CONFORMANCE_BENCHES as the list of them, and include this header in exactly one
// .cpp of a test executable. Each behaviour becomes one Catch test case per bench:
// "conformance: <behaviour> - <BenchType>".
//
// The suite uses the lines GPIO17, GPIO27 and GPIO22, which every bench must have free.
//
// Time: on a manual clock the suite checks exact times (`advance` moves the clock and runs the
// timers). On a real clock `advance` sleeps, windows are wide, only order and lower bounds are
// checked, and anything that arrives from another thread (the event loop) is waited for on a
// condition variable for up to Bench::patience. The only sleeps a real clock needs are "nothing
// more happens" checks, which can miss a late failure but never make one up.
#pragma once

#include "backend_bench.hpp"
#include "error_matchers.hpp"

#include "berrykit/backend.hpp"
#include "berrykit/error.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#ifndef BERRYKIT_CONFORMANCE_BENCHES
#error "define BERRYKIT_CONFORMANCE_BENCHES as the bench types to run the suite on, then include this"
#endif

namespace berrykit::conformance::suite {

using namespace std::chrono_literals;
using berrykit::testing::IsError;

// ---- finding lines ---------------------------------------------------------------------------

TEMPLATE_TEST_CASE("conformance: lines are found by name and by BCM number", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    const LineInfo by_name = bench.backend->find_line(first_line);
    CHECK(by_name.name == first_line);
    CHECK(by_name.bcm == first_line_bcm);
    const LineInfo by_number = bench.backend->find_line(first_line_bcm);
    CHECK(by_number.name == by_name.name);
    CHECK(by_number.chip == by_name.chip);
    CHECK(by_number.offset == by_name.offset);
    CHECK(bench.backend->find_line(27).name == second_line);
}

TEMPLATE_TEST_CASE("conformance: an unknown line name is an unknown part, named in the error", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    const std::string name = GENERATE(as<std::string>{}, "GPIO99", "LED", "gpio17", "");
    CHECK_THROWS_MATCHES(bench.backend->find_line(name), Error, IsError(ErrorCode::unknown_part, {"'" + name + "'"}));
}

TEMPLATE_TEST_CASE("conformance: a number off the Pi's header is an unknown part, named in the error", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    const int number = GENERATE(-1, 28, 99);
    CHECK_THROWS_MATCHES(bench.backend->find_line(number), Error,
                         IsError(ErrorCode::unknown_part, {std::to_string(number)}));
}

// ---- reservations ----------------------------------------------------------------------------

TEMPLATE_TEST_CASE("conformance: a line has one owner, and a second claim names the first", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    auto red = claim(bench, first_line, "the LED 'red'");
    CHECK(red->owner() == "the LED 'red'");
    CHECK(bench.backend->owner_of(first_line) == "the LED 'red'");

    const auto in_use = IsError(ErrorCode::part_in_use, {"already in use by", "the LED 'red'", first_line});
    CHECK_THROWS_MATCHES(claim(bench, first_line, "the button 'go'"), Error, in_use);
    // The same line by its number is the same line.
    CHECK_THROWS_MATCHES(bench.backend->claim(bench.backend->find_line(first_line_bcm), "the button 'go'"), Error,
                         in_use);
    // A refused claim changes nothing.
    CHECK(bench.backend->owner_of(first_line) == "the LED 'red'");
    red->make_output(true);
    CHECK(bench.lines.shown(first_line) == 1.0);

    // Another line is free for another part.
    auto go = claim(bench, second_line, "the button 'go'");
    CHECK(bench.backend->owner_of(second_line) == "the button 'go'");
}

TEMPLATE_TEST_CASE("conformance: closing a pin frees its line for the next part", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    auto red = claim(bench, first_line, "the LED 'red'");
    red->close();
    CHECK(red->is_closed());
    CHECK_FALSE(bench.backend->owner_of(first_line).has_value());
    red->close();  // closing twice is fine

    auto buzzer = claim(bench, first_line, "the buzzer 'beep'");
    CHECK(bench.backend->owner_of(first_line) == "the buzzer 'beep'");
    buzzer->make_output(true);
    CHECK(bench.lines.shown(first_line) == 1.0);

    // Dropping a pin without close() frees the line too.
    buzzer.reset();
    CHECK_FALSE(bench.backend->owner_of(first_line).has_value());
    CHECK_NOTHROW(claim(bench, first_line, "the LED 'green'"));
}

TEMPLATE_TEST_CASE("conformance: a closed pin refuses to work and says which line", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    auto pin = claim(bench, first_line, "the LED 'red'");
    pin->make_output(false);
    pin->close();
    const auto closed = IsError(ErrorCode::closed, {first_line, "the LED 'red'"});
    CHECK_THROWS_MATCHES(pin->write(true), Error, closed);
    CHECK_THROWS_MATCHES(pin->read(), Error, closed);
    CHECK_THROWS_MATCHES(pin->make_output(true), Error, closed);
    CHECK_THROWS_MATCHES(pin->make_input(Bias::pull_up), Error, closed);
    CHECK_THROWS_MATCHES(pin->set_pwm(100, 0.5), Error, closed);
    CHECK_THROWS_MATCHES(pin->stop_pwm(true), Error, closed);
    CHECK_THROWS_MATCHES(pin->on_edge([](const EdgeEvent&) {}), Error, closed);
    // None of those reached the line.
    CHECK(bench.lines.shown(first_line) == 0.0);
}

// ---- outputs ---------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("conformance: an output shows its initial level at once, and what it is told", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    auto red = claim(bench, first_line, "the LED 'red'");
    red->make_output(true);
    CHECK(red->is_output());
    CHECK(bench.lines.shown(first_line) == 1.0);
    CHECK(red->read());

    red->write(false);
    CHECK(bench.lines.shown(first_line) == 0.0);
    CHECK_FALSE(red->read());
    red->write(true);
    CHECK(bench.lines.shown(first_line) == 1.0);
    CHECK(red->read());

    auto green = claim(bench, second_line, "the LED 'green'");
    green->make_output(false);
    CHECK(bench.lines.shown(second_line) == 0.0);
    // One output does not disturb another.
    CHECK(bench.lines.shown(first_line) == 1.0);
}

TEMPLATE_TEST_CASE("conformance: an input refuses to be switched or to do PWM", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    bench.lines.release(first_line);
    auto button = claim(bench, first_line, "the button 'go'");
    button->make_input(Bias::pull_up);
    CHECK_THROWS_MATCHES(button->write(false), Error, IsError(ErrorCode::gpio, {first_line, "input"}));
    CHECK_THROWS_MATCHES(button->set_pwm(100, 0.5), Error, IsError(ErrorCode::gpio, {first_line, "input"}));
    CHECK_FALSE(button->pwm_active());
    CHECK(button->read());  // still pulled up: nothing was written
}

// ---- inputs ----------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("conformance: an input reads what drives it, and its pull when nothing does", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    bench.lines.release(first_line);
    auto button = claim(bench, first_line, "the button 'go'");

    button->make_input(Bias::pull_up);
    CHECK_FALSE(button->is_output());
    CHECK(button->read());
    bench.lines.drive(first_line, false);
    CHECK_FALSE(button->read());
    bench.lines.drive(first_line, true);
    CHECK(button->read());
    bench.lines.release(first_line);
    CHECK(button->read());

    button->make_input(Bias::pull_down);
    CHECK_FALSE(button->read());
    bench.lines.drive(first_line, true);
    CHECK(button->read());
    bench.lines.release(first_line);
    CHECK_FALSE(button->read());
}

TEMPLATE_TEST_CASE("conformance: an input reports the edges it asked for, stamped by the backend's clock",
                   "[conformance]", BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    // The line goes high, low, high; which of those three changes the pin should report.
    const auto [edges, reported] = GENERATE(table<Edge, std::vector<std::size_t>>({
        {Edge::rising, {0, 2}},
        {Edge::falling, {1}},
        {Edge::both, {0, 1, 2}},
    }));
    const std::vector<bool> levels{true, false, true};

    EdgeRecorder recorder;
    bench.lines.release(first_line);
    auto button = claim(bench, first_line, "the button 'go'");
    button->on_edge(recorder.handler());
    button->make_input(Bias::pull_down, edges);

    std::vector<Nanos> drive_started;
    for (const bool level : levels) {
        bench.advance(1ms);
        drive_started.push_back(now(bench));
        bench.lines.drive(first_line, level);
    }
    const auto events = recorder.wait_for(reported.size(), bench.patience);
    drive_started.push_back(now(bench));

    REQUIRE(events.size() == reported.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        const std::size_t change = reported[i];
        INFO("edge " << i << " should be change " << change << " of the line");
        CHECK(events[i].rising == levels[change]);
        // It happened while that change was being made, on the backend's clock.
        CHECK(events[i].time >= drive_started[change]);
        CHECK(events[i].time <= drive_started[change + 1]);
        if (bench.manual_clock) CHECK(events[i].time == drive_started[change]);
    }
}

TEMPLATE_TEST_CASE("conformance: a pin reports no edges after it is closed", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    EdgeRecorder recorder;
    bench.lines.release(first_line);
    auto button = claim(bench, first_line, "the button 'go'");
    button->on_edge(recorder.handler());
    button->make_input(Bias::pull_down, Edge::both);
    button->close();
    bench.lines.drive(first_line, true);
    bench.lines.drive(first_line, false);
    bench.advance(50ms);
    CHECK(recorder.events().empty());
}

TEMPLATE_TEST_CASE("conformance: an edge handler may close its own pin", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    bench.lines.release(first_line);
    auto button = claim(bench, first_line, "the button 'stop'");
    Pin* const pin = button.get();

    std::mutex mutex;
    std::condition_variable done;
    int calls = 0;
    std::string words_after_close;
    // Long enough to live on the heap: if closing destroyed the running handler, reading it
    // afterwards is a use after free (which the address sanitizer reports).
    const std::string words = "the handler is still alive after closing its own pin";
    button->on_edge([&, words](const EdgeEvent&) {
        pin->close();
        std::lock_guard guard(mutex);
        words_after_close = words;
        ++calls;
        done.notify_all();
    });
    button->make_input(Bias::pull_down, Edge::rising);
    bench.lines.drive(first_line, true);
    {
        std::unique_lock guard(mutex);
        done.wait_for(guard, bench.patience, [&] { return calls > 0; });
    }
    CHECK(button->is_closed());
    CHECK_FALSE(bench.backend->owner_of(first_line).has_value());

    bench.lines.drive(first_line, false);
    bench.lines.drive(first_line, true);
    bench.advance(50ms);
    std::lock_guard guard(mutex);
    CHECK(calls == 1);
    CHECK(words_after_close == words);
}

// ---- debounce --------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("conformance: debounce turns a bouncy press into one press", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    const Nanos window = bounce_window(bench);
    const Nanos bounce_gap = bench.manual_clock ? Nanos{1ms} : Nanos{0};
    EdgeRecorder recorder;
    bench.lines.release(first_line);
    auto button = claim(bench, first_line, "the button 'go'");
    button->on_edge(recorder.handler(), window);
    button->make_input(Bias::pull_down, Edge::both);

    const Nanos pressed = now(bench);
    for (const bool level : {true, false, true, false, true}) {
        bench.lines.drive(first_line, level);
        bench.advance(bounce_gap);
    }
    REQUIRE(recorder.wait_for(1, bench.patience).size() >= 1);
    bench.advance(2 * window);  // the window ends with the line high, as reported: no catch-up

    const auto events = recorder.events();
    REQUIRE(events.size() == 1);
    CHECK(events[0].rising);
    CHECK(events[0].time >= pressed);
    if (bench.manual_clock) CHECK(events[0].time == pressed);
    CHECK(button->read());
}

TEMPLATE_TEST_CASE("conformance: debounce catches up when the line settles during the window", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    const Nanos window = bounce_window(bench);
    const Nanos bounce_gap = bench.manual_clock ? Nanos{1ms} : Nanos{0};
    EdgeRecorder recorder;
    bench.lines.release(first_line);
    auto button = claim(bench, first_line, "the button 'go'");
    button->on_edge(recorder.handler(), window);
    button->make_input(Bias::pull_down, Edge::both);

    // A press so short that the button is already let go when the window ends.
    const Nanos pressed = now(bench);
    for (const bool level : {true, false, true, false}) {
        bench.lines.drive(first_line, level);
        bench.advance(bounce_gap);
    }
    REQUIRE(recorder.wait_for(1, bench.patience).size() >= 1);
    if (bench.manual_clock) {
        bench.advance(pressed + window - now(bench) - Nanos{1});
        CHECK(recorder.events().size() == 1);  // nothing before the window ends
        bench.advance(Nanos{1});
    }
    const auto events = recorder.wait_for(2, bench.patience);
    REQUIRE(events.size() == 2);
    CHECK(events[0].rising);
    CHECK_FALSE(events[1].rising);  // the one catch-up edge: the reported state matches the line
    CHECK(events[1].time - events[0].time >= window);
    if (bench.manual_clock) CHECK(events[1].time == pressed + window);

    // The next press, after the catch-up's own window, is reported as usual.
    bench.advance(window + window / 2);
    const Nanos next_press = now(bench);
    bench.lines.drive(first_line, true);
    const auto more = recorder.wait_for(3, bench.patience);
    REQUIRE(more.size() == 3);
    CHECK(more[2].rising);
    CHECK(more[2].time >= next_press);
}

TEMPLATE_TEST_CASE("conformance: a negative bounce time is a bad value", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    auto button = claim(bench, first_line, "the button 'go'");
    CHECK_THROWS_MATCHES(button->on_edge([](const EdgeEvent&) {}, Nanos{-1}), Error,
                         IsError(ErrorCode::bad_value, {first_line, "bounce"}));
}

// ---- PWM -------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("conformance: PWM takes a duty and shows it on the line", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    auto led = claim(bench, first_line, "the LED 'glow'");
    led->make_output(false);
    led->set_pwm(1000, 0.25);
    CHECK(led->pwm_active());
    CHECK(led->pwm_duty() == 0.25);
    CHECK(led->pwm_frequency() == 1000);

    if (led->has_hardware_pwm()) {
        CHECK(bench.lines.shown(first_line) == Approx(0.25));
    } else if (bench.manual_clock) {
        // Software PWM: high for the first quarter of every 1 ms cycle.
        for (int cycle = 0; cycle < 3; ++cycle) {
            INFO("cycle " << cycle);
            CHECK(bench.lines.shown(first_line) == 1.0);
            bench.advance(250us - Nanos{1});
            CHECK(bench.lines.shown(first_line) == 1.0);
            bench.advance(Nanos{1});
            CHECK(bench.lines.shown(first_line) == 0.0);
            bench.advance(750us - Nanos{1});
            CHECK(bench.lines.shown(first_line) == 0.0);
            bench.advance(Nanos{1});
        }
    }

    // Full and no duty are steady levels, on any backend.
    led->set_pwm(1000, 1.0);
    bench.advance(3ms);
    CHECK(bench.lines.shown(first_line) == 1.0);
    led->set_pwm(1000, 0.0);
    bench.advance(3ms);
    CHECK(bench.lines.shown(first_line) == 0.0);

    led->set_pwm(500, 0.5);
    led->stop_pwm(true);
    CHECK_FALSE(led->pwm_active());
    bench.advance(5ms);
    CHECK(bench.lines.shown(first_line) == 1.0);  // and stays there: no PWM timer left behind
}

TEMPLATE_TEST_CASE("conformance: a write ends PWM and holds the level written", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    auto led = claim(bench, first_line, "the LED 'glow'");
    led->make_output(false);
    led->set_pwm(1000, 0.5);
    bench.advance(100us);
    led->write(false);
    CHECK_FALSE(led->pwm_active());
    for (int check = 0; check < 5; ++check) {
        bench.advance(300us);
        CHECK(bench.lines.shown(first_line) == 0.0);
    }
}

TEMPLATE_TEST_CASE("conformance: PWM refuses a bad frequency or duty and changes nothing", "[conformance]",
                   BERRYKIT_CONFORMANCE_BENCHES) {
    Bench bench = TestType::make();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const auto [frequency, duty, word] = GENERATE_COPY(table<double, double, std::string>({
        {0.0, 0.5, "frequency"},
        {-50.0, 0.5, "frequency"},
        {nan, 0.5, "frequency"},
        {2'000'000.0, 0.5, "frequency"},
        {1000.0, -0.1, "duty"},
        {1000.0, 1.5, "duty"},
        {1000.0, nan, "duty"},
    }));
    auto led = claim(bench, first_line, "the LED 'glow'");
    led->make_output(true);
    CHECK_THROWS_MATCHES(led->set_pwm(frequency, duty), Error,
                         IsError(ErrorCode::bad_value, {first_line, "the LED 'glow'", word}));
    CHECK_FALSE(led->pwm_active());
    bench.advance(2ms);
    CHECK(bench.lines.shown(first_line) == 1.0);
}

}  // namespace berrykit::conformance::suite
