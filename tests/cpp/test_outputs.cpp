// Outputs: what a kid sees on an LED. Blinks and fades run on the board's timers, so with a
// manual clock the simulated line's history is the exact pattern, to the nanosecond.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "berrykit/outputs.hpp"
#include "error_matchers.hpp"
#include "sim_kit.hpp"

using namespace berrykit;
using berrykit::test::Advancer;
using berrykit::test::open_sim_kit;
using berrykit::test::values_of;
using berrykit::testing::IsError;

namespace {

using Steps = std::vector<Animation::Step>;

Color grey(double v) { return {v, v, v}; }

// What an animation showed: (seconds on the clock, first channel).
struct Shown {
    double seconds;
    double value;
};

// Plays an animation on a scheduler of its own, as Backend::advance would run it.
class AnimationRig {
public:
    AnimationRig() : scheduler_(clock_) {}

    Animation make(Steps steps, std::optional<int> repeats, double fps = 25.0) {
        return Animation(
            scheduler_, std::move(steps), repeats,
            [this](const Color& c) {
                shown.push_back({to_seconds(clock_.now()), c[0]});
            },
            [this] { ++done; }, fps);
    }

    // Moves the clock to `seconds`, running every timer at its own deadline.
    void run_until(double seconds) {
        const Nanos target = from_seconds(seconds);
        while (const auto next = scheduler_.next_deadline()) {
            if (*next > target) break;
            if (*next > clock_.now()) clock_.set(*next);
            scheduler_.run_due(clock_.now());
        }
        clock_.set(target);
    }

    std::vector<Shown> shown;
    int done = 0;

private:
    ManualClock clock_;
    Scheduler scheduler_;
};

std::vector<double> times_of(const std::vector<Shown>& shown) {
    std::vector<double> out;
    for (const auto& s : shown) out.push_back(s.seconds);
    return out;
}

std::vector<double> values_shown(const std::vector<Shown>& shown) {
    std::vector<double> out;
    for (const auto& s : shown) out.push_back(s.value);
    return out;
}

}  // namespace

// ---- Animation on its own --------------------------------------------------------------------

TEST_CASE("an animation holds each step's value for the step's time, and repeats") {
    AnimationRig rig;
    auto blink = rig.make({{1, grey(1), grey(1)}, {0.5, grey(0), grey(0)}}, 2);
    blink.start();
    CHECK(blink.running());
    rig.run_until(10);
    CHECK(times_of(rig.shown) == std::vector<double>{0, 1, 1.5, 2.5, 3});
    CHECK(values_shown(rig.shown) == std::vector<double>{1, 0, 1, 0, 0});  // the last: it ends on the last step
    CHECK(rig.done == 1);
    CHECK_FALSE(blink.running());
}

TEST_CASE("a fade moves from one value to the next at the frame rate, and ends on its target") {
    AnimationRig rig;
    auto fade = rig.make({{1, grey(0), grey(1)}}, 1, 4.0);
    fade.start();
    rig.run_until(0.5);
    CHECK(fade.running());
    rig.run_until(2);
    CHECK(times_of(rig.shown) == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
    const auto values = values_shown(rig.shown);
    REQUIRE(values.size() == 5);
    CHECK(values[0] == Approx(0));
    CHECK(values[1] == Approx(0.25));
    CHECK(values[2] == Approx(0.5));
    CHECK(values[3] == Approx(0.75));
    CHECK(values[4] == 1);
    CHECK(rig.done == 1);
}

TEST_CASE("an animation without a count repeats until stopped, and stop does not call on_done") {
    AnimationRig rig;
    auto blink = rig.make({{1, grey(1), grey(1)}, {1, grey(0), grey(0)}}, std::nullopt);
    blink.start();
    rig.run_until(99.5);
    CHECK(rig.shown.size() == 100);
    CHECK(blink.running());
    blink.stop();
    CHECK_FALSE(blink.running());
    rig.run_until(200);
    CHECK(rig.shown.size() == 100);
    CHECK(rig.done == 0);
}

TEST_CASE("steps of no time are skipped") {
    AnimationRig rig;
    auto blink = rig.make(
        {{0, grey(0.5), grey(0.5)}, {1, grey(1), grey(1)}, {0, grey(0.2), grey(0.2)}, {1, grey(0), grey(0)}}, 2);
    blink.start();
    rig.run_until(10);
    CHECK(times_of(rig.shown) == std::vector<double>{0, 1, 2, 3, 4});
    CHECK(values_shown(rig.shown) == std::vector<double>{1, 0, 1, 0, 0});
}

TEST_CASE("an animation played 0 times shows nothing and is done at once") {
    AnimationRig rig;
    auto blink = rig.make({{1, grey(1), grey(1)}, {1, grey(0), grey(0)}}, 0);
    blink.start();
    CHECK_FALSE(blink.running());
    CHECK(rig.done == 1);
    rig.run_until(5);
    for (const auto& s : rig.shown) CHECK(s.value == 0);  // never lit
}

TEST_CASE("destroying a running animation cancels its timers") {
    AnimationRig rig;
    {
        auto blink = rig.make({{1, grey(1), grey(1)}, {1, grey(0), grey(0)}}, std::nullopt);
        blink.start();
        rig.run_until(1.5);
    }
    const auto shown = rig.shown.size();
    rig.run_until(10);  // a timer left behind would call into the destroyed animation
    CHECK(rig.shown.size() == shown);
}

// ---- LED (on/off) ----------------------------------------------------------------------------

TEST_CASE("an LED blinks on, off, n times, exactly on time, and ends off") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    red->blink(1, 0.5, 3);
    CHECK(red->is_animating());
    kit->advance(10);
    CHECK(kit->history("red") == std::vector<Sample>{{0, 0}, {0, 1}, {1, 0}, {1.5, 1}, {2.5, 0}, {3, 1}, {4, 0}});
    CHECK_FALSE(red->is_active());
    CHECK_FALSE(red->is_animating());
}

TEST_CASE("an LED blinking for ever stops when turned off, and stays off") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    red->blink(0.25, 0.25, std::nullopt);
    kit->advance(100.1);
    CHECK(kit->history("red").size() == 1 + 401);  // the initial level, then 401 changes up to 100 s
    CHECK(red->is_animating());
    red->off();
    CHECK_FALSE(red->is_animating());
    CHECK_FALSE(red->is_active());
    const auto stopped = kit->history("red");
    kit->advance(10);
    CHECK(kit->history("red") == stopped);
    CHECK(kit->sim()->level("GPIO17") == 0.0);
}

TEST_CASE("turning an LED on stops its blink and leaves it on") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    red->blink(1, 1, std::nullopt);
    kit->advance(1.5);  // off, in the middle of the blink
    red->on();
    kit->advance(10);
    CHECK(kit->history("red") == std::vector<Sample>{{0, 0}, {0, 1}, {1, 0}, {1.5, 1}});
}

TEST_CASE("blink with n=0 blinks no times") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    red->blink(1, 1, 0);
    CHECK_FALSE(red->is_animating());
    CHECK(red->wait_for_animation(0.0));
    kit->advance(5);
    CHECK(values_of(kit->history("red")) == std::vector<double>{0});  // never lit
}

TEST_CASE("toggle and set_value switch an LED, and only changes reach the line") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    CHECK_FALSE(red->is_active());
    red->toggle();
    CHECK(red->is_active());
    kit->advance(1);
    red->toggle();
    CHECK_FALSE(red->is_active());
    kit->advance(1);
    red->set_value(true);
    red->set_value(true);  // no change: no new sample
    kit->advance(1);
    red->set_value(false);
    red->off();
    CHECK(kit->history("red") == std::vector<Sample>{{0, 0}, {0, 1}, {1, 0}, {2, 1}, {3, 0}});
}

TEST_CASE("an LED opened on, or active-low, drives its line the right way") {
    auto kit = open_sim_kit();
    SECTION("initial_value on") {
        auto red = kit->open_led("red", {.active_high = std::nullopt, .initial_value = true});
        CHECK(red->is_active());
        CHECK(kit->history("red") == std::vector<Sample>{{0, 1}});
    }
    SECTION("active_high=false: on is a low line") {
        auto red = kit->open_led("red", {.active_high = false, .initial_value = false});
        CHECK_FALSE(red->active_high());
        CHECK(kit->sim()->level("GPIO17") == 1.0);  // off: the line is high
        red->on();
        CHECK(red->is_active());
        CHECK(kit->sim()->level("GPIO17") == 0.0);
        red->blink(1, 1, 1);
        kit->advance(5);
        CHECK(kit->history("red") == std::vector<Sample>{{0, 1}, {0, 0}, {1, 1}});
        CHECK_FALSE(red->is_active());
    }
}

TEST_CASE("a buzzer is an on/off output too") {
    auto kit = open_sim_kit();
    auto buzzer = kit->open_buzzer("buzzer", {});
    buzzer->blink(0.1, 0.1, 2);
    kit->advance(1);
    CHECK(kit->history("buzzer") == std::vector<Sample>{{0, 0}, {0, 1}, {0.1, 0}, {0.2, 1}, {0.3, 0}});
}

// ---- PWM LED ---------------------------------------------------------------------------------

TEST_CASE("a PWM LED's brightness is its line's duty") {
    auto kit = open_sim_kit();
    auto green = kit->open_pwm_led("green", {});
    CHECK(green->value() == 0);
    CHECK_FALSE(green->is_active());
    green->set_value(0.3);
    CHECK(green->value() == 0.3);
    CHECK(green->is_active());
    kit->advance(1);
    green->toggle();
    CHECK(green->value() == Approx(0.7));
    kit->advance(1);
    green->on();
    kit->advance(1);
    green->off();
    const auto history = kit->history("green");
    REQUIRE(history.size() == 5);
    CHECK(history[0] == Sample{0, 0});
    CHECK(history[1] == Sample{0, 0.3});
    CHECK(history[2].seconds == 1);
    CHECK(history[2].value == Approx(0.7));
    CHECK(history[3] == Sample{2, 1});
    CHECK(history[4] == Sample{3, 0});
    CHECK(green->frequency() == 100);
}

TEST_CASE("an active-low PWM LED inverts its duty") {
    auto kit = open_sim_kit();
    auto green = kit->open_pwm_led("green", {.active_high = false, .initial_value = 0, .frequency = 100});
    CHECK(kit->sim()->level("GPIO22") == 1.0);  // off
    green->set_value(0.25);
    CHECK(kit->sim()->level("GPIO22") == 0.75);
    green->on();
    CHECK(kit->sim()->level("GPIO22") == 0.0);
    CHECK(green->value() == 1);
}

TEST_CASE("a PWM LED opened with a brightness shows it at once") {
    auto kit = open_sim_kit();
    auto green = kit->open_pwm_led("green", {.active_high = std::nullopt, .initial_value = 0.4, .frequency = 50});
    CHECK(green->value() == 0.4);
    CHECK(green->frequency() == 50);
    CHECK(kit->sim()->level("GPIO22") == 0.4);
    green->set_frequency(200);
    CHECK(green->frequency() == 200);
    CHECK(kit->sim()->level("GPIO22") == 0.4);  // a new frequency keeps the brightness
}

TEST_CASE("pulse fades in and out at 25 frames a second") {
    auto kit = open_sim_kit();
    auto green = kit->open_pwm_led("green", {});
    green->pulse(1, 1, 1);
    kit->advance(5);
    const auto history = kit->history("green");

    std::vector<Sample> fading_in;
    std::vector<Sample> fading_out;
    for (const auto& s : history) {
        if (s.seconds > 0 && s.seconds < 1) fading_in.push_back(s);
        if (s.seconds > 1 && s.seconds < 2) fading_out.push_back(s);
    }
    REQUIRE(fading_in.size() == 24);  // 0.04 s apart; 0 (already off) is not a change
    for (std::size_t i = 0; i < fading_in.size(); ++i) {
        const double t = 0.04 * static_cast<double>(i + 1);
        CHECK(fading_in[i].seconds == Approx(t).margin(1e-9));
        CHECK(fading_in[i].value == Approx(t).margin(1e-9));  // brightness grows in step with time
        if (i > 0) CHECK(fading_in[i].value > fading_in[i - 1].value);
    }
    REQUIRE(fading_out.size() == 24);
    for (std::size_t i = 1; i < fading_out.size(); ++i) CHECK(fading_out[i].value < fading_out[i - 1].value);
    // Full brightness at the turn, and off at the end.
    CHECK(std::find(history.begin(), history.end(), Sample{1, 1}) != history.end());
    CHECK(history.back() == Sample{2, 0});
    CHECK_FALSE(green->is_animating());
    CHECK(green->value() == 0);
}

TEST_CASE("a PWM blink with fades holds, fades and ends off") {
    auto kit = open_sim_kit();
    auto green = kit->open_pwm_led("green", {});
    green->blink(1, 1, 0.5, 0.5, 2);
    kit->advance(1.25);  // fade in 0 .. 0.5, on 0.5 .. 1.5
    CHECK(green->value() == 1);
    kit->advance(0.5);  // 1.75: halfway through the fade out (1.5 .. 2)
    CHECK(green->value() == Approx(0.5).margin(0.05));
    kit->advance(10);
    CHECK_FALSE(green->is_animating());
    CHECK(green->value() == 0);
    CHECK(kit->history("green").back() == Sample{5, 0});  // the second cycle's off step: 5 .. 6
    CHECK(kit->sim()->level("GPIO22") == 0.0);
}

TEST_CASE("a PWM blink with no fades switches between full and off") {
    auto kit = open_sim_kit();
    auto green = kit->open_pwm_led("green", {});
    green->blink(0.5, 0.5, 0, 0, 2);
    kit->advance(5);
    CHECK(kit->history("green") == std::vector<Sample>{{0, 0}, {0, 1}, {0.5, 0}, {1, 1}, {1.5, 0}});
}

// ---- RGB LED ---------------------------------------------------------------------------------

TEST_CASE("an RGB LED shows its colour on its three lines") {
    auto kit = open_sim_kit();
    auto rgb = kit->open_rgb_led("rgb", {});
    rgb->set_color({1, 0.5, 0});
    CHECK(rgb->color() == Color{1, 0.5, 0});
    CHECK(rgb->is_active());
    CHECK(kit->sim()->level("GPIO5") == 1.0);
    CHECK(kit->sim()->level("GPIO6") == 0.5);
    CHECK(kit->sim()->level("GPIO13") == 0.0);
    CHECK(kit->history("rgb", "green").back() == Sample{0, 0.5});

    rgb->toggle();
    CHECK(rgb->color() == Color{0, 0.5, 1});
    CHECK(kit->sim()->level("GPIO5") == 0.0);
    CHECK(kit->sim()->level("GPIO13") == 1.0);
    rgb->off();
    CHECK_FALSE(rgb->is_active());
    rgb->on();
    CHECK(rgb->color() == Color{1, 1, 1});
}

TEST_CASE("an RGB LED opened by its three numbers, common anode") {
    auto kit = open_sim_kit();
    auto rgb = kit->open_rgb_led(5, 6, 13, {.active_high = false});
    for (const char* line : {"GPIO5", "GPIO6", "GPIO13"}) CHECK(kit->sim()->level(line) == 1.0);  // all off
    rgb->set_color({1, 0.25, 0});
    CHECK(kit->sim()->level("GPIO5") == 0.0);
    CHECK(kit->sim()->level("GPIO6") == 0.75);
    CHECK(kit->sim()->level("GPIO13") == 1.0);
}

TEST_CASE("an RGB LED without PWM takes only 0 or 1 for each colour") {
    auto kit = open_sim_kit();
    auto rgb = kit->open_rgb_led("rgb", {.active_high = std::nullopt, .initial_value = {0, 1, 0}, .pwm = false});
    CHECK(kit->sim()->level("GPIO6") == 1.0);
    CHECK_THROWS_MATCHES(rgb->set_color({0.5, 0, 0}), Error,
                         IsError(ErrorCode::bad_value, {"the RGB LED 'rgb'", "pwm=False", "0.5"}));
    CHECK(rgb->color() == Color{0, 1, 0});  // nothing changed
    CHECK(kit->sim()->level("GPIO5") == 0.0);
    CHECK_THROWS_MATCHES(rgb->pulse(1, 1, {1, 1, 1}, {0, 0, 0}, 1), Error,
                         IsError(ErrorCode::bad_value, {"the RGB LED 'rgb'", "fade"}));
    rgb->toggle();
    CHECK(rgb->color() == Color{1, 0, 1});
    CHECK(kit->sim()->level("GPIO5") == 1.0);
    CHECK(kit->sim()->level("GPIO6") == 0.0);
    rgb->blink(1, 1, 0, 0, {0, 0, 1}, {1, 0, 0}, 1);
    kit->advance(5);
    CHECK(values_of(kit->history("rgb", "blue")) == std::vector<double>{0, 1, 0});
    CHECK(rgb->color() == Color{1, 0, 0});
}

TEST_CASE("an RGB LED blinks between two colours and ends on the off colour") {
    auto kit = open_sim_kit();
    auto rgb = kit->open_rgb_led("rgb", {});
    rgb->blink(1, 1, 0, 0, {1, 0, 0}, {0, 0, 1}, 2);
    kit->advance(10);
    CHECK(kit->history("rgb", "red") == std::vector<Sample>{{0, 0}, {0, 1}, {1, 0}, {2, 1}, {3, 0}});
    CHECK(kit->history("rgb", "blue") == std::vector<Sample>{{0, 0}, {1, 1}, {2, 0}, {3, 1}});
    CHECK(rgb->color() == Color{0, 0, 1});
}

// ---- bad values ------------------------------------------------------------------------------

TEST_CASE("bad values are refused with the part named, and change nothing") {
    auto kit = open_sim_kit();
    const double nan = std::numeric_limits<double>::quiet_NaN();

    SECTION("a brightness out of range") {
        auto green = kit->open_pwm_led("green", {});
        green->set_value(0.5);
        CHECK_THROWS_MATCHES(green->set_value(2), Error, IsError(ErrorCode::bad_value, {"the LED 'green'", "2"}));
        CHECK_THROWS_MATCHES(green->set_value(-0.1), Error, IsError(ErrorCode::bad_value, {"the LED 'green'"}));
        CHECK_THROWS_MATCHES(green->set_value(nan), Error, IsError(ErrorCode::bad_value, {"the LED 'green'"}));
        CHECK(green->value() == 0.5);
        CHECK(kit->sim()->level("GPIO22") == 0.5);
        CHECK_THROWS_MATCHES(green->set_frequency(0), Error, IsError(ErrorCode::bad_value, {"the LED 'green'"}));
        CHECK(green->frequency() == 100);
        CHECK_THROWS_MATCHES(kit->open_pwm_led("amber", {.active_high = std::nullopt, .initial_value = 2}), Error,
                             IsError(ErrorCode::bad_value, {"the LED 'amber'"}));
        CHECK_FALSE(kit->backend().owner_of("GPIO27").has_value());  // a refused open claims nothing
    }
    SECTION("blink times and counts, while another blink runs") {
        auto red = kit->open_led("red", {});
        red->blink(1, 1, std::nullopt);
        kit->advance(0.5);
        CHECK_THROWS_MATCHES(red->blink(-1, 1, 1), Error,
                             IsError(ErrorCode::bad_value, {"on_time", "the LED 'red'", "-1"}));
        CHECK_THROWS_MATCHES(red->blink(1, nan, 1), Error,
                             IsError(ErrorCode::bad_value, {"off_time", "the LED 'red'"}));
        CHECK_THROWS_MATCHES(red->blink(1, 1, -1), Error, IsError(ErrorCode::bad_value, {"the LED 'red'", "-1"}));
        CHECK_THROWS_MATCHES(red->blink(0, 0, std::nullopt), Error, IsError(ErrorCode::bad_value, {"the LED 'red'"}));
        CHECK_THROWS_MATCHES(red->blink(1e10, 1, 1), Error,  // longer than the board's clock can count
                             IsError(ErrorCode::bad_value, {"on_time", "the LED 'red'", "at most"}));
        // The first blink goes on as if nothing happened.
        CHECK(red->is_animating());
        kit->advance(1.5);
        CHECK(kit->history("red") == std::vector<Sample>{{0, 0}, {0, 1}, {1, 0}, {2, 1}});
    }
    SECTION("fade times and colours") {
        auto green = kit->open_pwm_led("green", {});
        auto rgb = kit->open_rgb_led("rgb", {});
        rgb->set_color({0, 1, 0});
        CHECK_THROWS_MATCHES(green->pulse(-0.5, 1, 1), Error,
                             IsError(ErrorCode::bad_value, {"fade_in_time", "the LED 'green'"}));
        CHECK_THROWS_MATCHES(green->blink(1, 1, 0, nan, 1), Error,
                             IsError(ErrorCode::bad_value, {"fade_out_time", "the LED 'green'"}));
        CHECK_THROWS_MATCHES(green->pulse(1, 1, -1), Error, IsError(ErrorCode::bad_value, {"the LED 'green'"}));
        CHECK_THROWS_MATCHES(green->pulse(1, 2e9, 1), Error,
                             IsError(ErrorCode::bad_value, {"fade_out_time", "the LED 'green'", "at most"}));
        CHECK_THROWS_MATCHES(rgb->set_color({0, 1.5, 0}), Error,
                             IsError(ErrorCode::bad_value, {"green", "the RGB LED 'rgb'", "1.5"}));
        CHECK_THROWS_MATCHES(rgb->blink(1, 1, 0, 0, {2, 0, 0}, {0, 0, 0}, 1), Error,
                             IsError(ErrorCode::bad_value, {"on_color", "the RGB LED 'rgb'"}));
        CHECK(green->value() == 0);
        CHECK_FALSE(green->is_animating());
        CHECK(rgb->color() == Color{0, 1, 0});
        CHECK_FALSE(rgb->is_animating());
    }
}

// ---- waiting for an animation ------------------------------------------------------------------

TEST_CASE("wait_for_animation says whether a counted blink has ended") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    CHECK(red->wait_for_animation(0.0));  // nothing playing
    red->blink(1, 1, 2);
    CHECK_FALSE(red->wait_for_animation(0.0));
    kit->advance(3.999);
    CHECK_FALSE(red->wait_for_animation(0.0));
    kit->advance(0.001);
    CHECK(red->wait_for_animation(0.0));
}

TEST_CASE("wait_for_animation returns when another thread's advance ends the blink") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    red->blink(1, 1, 2);
    bool ended = false;
    {
        Advancer advancer(*kit);
        ended = red->wait_for_animation(10.0);
    }
    CHECK(ended);
    CHECK(kit->seconds() >= 4.0);
    CHECK(values_of(kit->history("red")) == std::vector<double>{0, 1, 0, 1, 0});
}

TEST_CASE("wait_for_animation on a blink that never ends times out on the board's clock") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    red->blink(1, 1, std::nullopt);
    bool ended = true;
    {
        Advancer advancer(*kit);
        ended = red->wait_for_animation(2.0);
    }
    CHECK_FALSE(ended);
    CHECK(kit->seconds() >= 2.0);
    CHECK(red->is_animating());
}

TEST_CASE("a real-clock blink plays in real time") {
    auto kit = open_sim_kit(/*manual_clock=*/false);
    auto red = kit->open_led("red", {});
    red->blink(0.02, 0.02, 3);
    CHECK(red->wait_for_animation(30.0));
    CHECK_FALSE(red->is_active());
    // Blinks are not counted here: a loop thread that wakes late (a busy machine) skips a step
    // rather than falling behind. Time is what the real clock guarantees.
    const auto history = kit->history("red");
    REQUIRE(history.size() >= 3);
    CHECK(history[0].value == 0);
    CHECK(history[1].value == 1);
    CHECK(history.back().value == 0);
    CHECK(history.back().seconds - history[1].seconds >= 0.1 - 1e-6);  // on, off, on, off, on: 100 ms
}
