// Inputs: a button and a PIR, as a program sees them through its events. Every event carries the
// time the edge happened on the board's clock; with a manual clock those times are exact.
#include <atomic>
#include <catch2/catch.hpp>
#include <limits>
#include <optional>
#include <thread>
#include <vector>

#include "berrykit/inputs.hpp"
#include "error_matchers.hpp"
#include "sim_kit.hpp"

using namespace berrykit;
using berrykit::test::Advancer;
using berrykit::test::Happened;
using berrykit::test::open_sim_kit;
using berrykit::test::take_events;
using berrykit::testing::IsError;

namespace {

Button::Options button_options(std::optional<double> bounce_time, std::optional<double> hold_time = std::nullopt,
                               bool hold_repeat = false) {
    Button::Options options;
    options.input.bounce_time = bounce_time;
    options.hold_time = hold_time;
    options.hold_repeat = hold_repeat;
    return options;
}

}  // namespace

// ---- Button: presses and releases ------------------------------------------------------------

TEST_CASE("a press and a release are events stamped with the edge's time") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    const auto id = button->id();
    CHECK_FALSE(button->is_active());
    CHECK(take_events(*kit).empty());

    kit->advance(0.25);
    kit->press("button");
    CHECK(button->is_active());
    kit->advance(0.5);
    kit->release("button");
    CHECK_FALSE(button->is_active());
    CHECK(take_events(*kit) == std::vector<Happened>{{id, EventKind::pressed, 0.25}, {id, EventKind::released, 0.75}});
}

TEST_CASE("hold(after=) presses on the board's timers, so the events have the press's own time") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    kit->hold("button", 0.3, 0.25);
    CHECK_FALSE(button->is_active());
    kit->advance(2);  // handled late, stamped on time
    CHECK(take_events(*kit) ==
          std::vector<Happened>{{button->id(), EventKind::pressed, 0.25}, {button->id(), EventKind::released, 0.55}});
}

TEST_CASE("a button with a pull-up is pressed when its line is low") {
    auto kit = open_sim_kit();
    SECTION("the kit's button") {
        auto button = kit->open_button("button", {});
        CHECK(kit->sim()->level("GPIO21") == 1.0);  // the pull-up holds it high
        kit->press("button");
        CHECK(kit->sim()->level("GPIO21") == 0.0);  // pressed: connected to ground
        CHECK(button->is_active());
    }
    SECTION("a button on a bare line defaults to a pull-up") {
        auto button = kit->open_button(12, {});
        CHECK(kit->sim()->level("GPIO12") == 1.0);
        CHECK_FALSE(button->is_active());
        kit->sim()->drive("GPIO12", false);
        CHECK(button->is_active());
        kit->sim()->drive("GPIO12", true);
        CHECK_FALSE(button->is_active());
    }
    SECTION("a pull-down button is pressed when its line is high") {
        Button::Options options;
        options.input.pull = Bias::pull_down;
        auto button = kit->open_button(12, options);
        CHECK(kit->sim()->level("GPIO12") == 0.0);
        CHECK_FALSE(button->is_active());
        kit->sim()->drive("GPIO12", true);
        CHECK(button->is_active());
    }
}

TEST_CASE("a button held when it is opened starts pressed, and its hold counts from the opening") {
    auto kit = open_sim_kit();
    kit->press("button");
    kit->advance(0.3);
    auto button = kit->open_button("button", {});
    CHECK(button->is_active());
    REQUIRE(button->active_time().has_value());
    CHECK(*button->active_time() == Approx(0.0));
    kit->advance(1.5);
    CHECK(take_events(*kit) == std::vector<Happened>{{button->id(), EventKind::held, 1.3}});
}

TEST_CASE("active_time counts from the press") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    CHECK_FALSE(button->active_time().has_value());
    kit->advance(1);
    kit->press("button");
    kit->advance(0.75);
    REQUIRE(button->active_time().has_value());
    CHECK(*button->active_time() == Approx(0.75));
    kit->release("button");
    CHECK_FALSE(button->active_time().has_value());
}

// ---- debounce ----------------------------------------------------------------------------------

TEST_CASE("bounces inside the bounce time make one press") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});  // bounce_time 0.02 on the classroom board
    const auto id = button->id();
    auto& sim = *kit->sim();
    sim.drive("GPIO21", false);  // contact
    kit->advance(0.004);
    sim.drive("GPIO21", true);  // bounce
    kit->advance(0.003);
    sim.drive("GPIO21", false);
    kit->advance(0.005);
    sim.drive("GPIO21", true);
    kit->advance(0.002);
    sim.drive("GPIO21", false);  // settled pressed at 0.014
    kit->advance(1.0);
    const auto events = take_events(*kit);
    CHECK(events == std::vector<Happened>{{id, EventKind::pressed, 0}, {id, EventKind::held, 1}});
    CHECK(button->is_active());
}

TEST_CASE("a release inside the bounce window is caught up when the window ends") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    const auto id = button->id();
    kit->hold("button", 0.005);  // a tap shorter than the bounce time
    kit->advance(0.0199);
    CHECK(button->is_active());  // the window hides the release…
    kit->advance(0.0001);
    CHECK_FALSE(button->is_active());  // …until it ends
    kit->advance(1);
    CHECK(take_events(*kit) == std::vector<Happened>{{id, EventKind::pressed, 0}, {id, EventKind::released, 0.02}});
}

TEST_CASE("without a bounce time every edge is an event") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", button_options(0.0));
    const auto id = button->id();
    kit->hold("button", 0.005);
    kit->advance(0.01);
    kit->hold("button", 0.001);
    kit->advance(0.01);
    CHECK(take_events(*kit) == std::vector<Happened>{{id, EventKind::pressed, 0},
                                                     {id, EventKind::released, 0.005},
                                                     {id, EventKind::pressed, 0.01},
                                                     {id, EventKind::released, 0.011}});
}

TEST_CASE("a bad bounce time is refused with the part named") {
    auto kit = open_sim_kit();
    CHECK_THROWS_MATCHES(kit->open_button("button", button_options(-0.1)), Error,
                         IsError(ErrorCode::bad_value, {"bounce_time", "the button 'button'"}));
    CHECK_THROWS_MATCHES(kit->open_button("button", button_options(std::numeric_limits<double>::quiet_NaN())), Error,
                         IsError(ErrorCode::bad_value, {"bounce_time", "the button 'button'"}));
    CHECK_FALSE(kit->backend().owner_of("GPIO21").has_value());
}

// ---- hold --------------------------------------------------------------------------------------

TEST_CASE("a button held for its hold time sends held once, at the exact time") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    const auto id = button->id();
    CHECK(button->hold_time() == 1.0);
    CHECK_FALSE(button->hold_repeat());
    kit->advance(0.5);
    kit->press("button");
    kit->advance(0.9999);
    CHECK_FALSE(button->is_held());
    CHECK_FALSE(button->held_time().has_value());
    kit->advance(0.0001);
    CHECK(button->is_held());
    kit->advance(3);
    kit->release("button");
    CHECK_FALSE(button->is_held());
    CHECK(take_events(*kit) == std::vector<Happened>{{id, EventKind::pressed, 0.5},
                                                     {id, EventKind::held, 1.5},
                                                     {id, EventKind::released, 4.5}});
}

TEST_CASE("with hold_repeat, held comes again every hold time until the release") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", button_options(std::nullopt, 0.5, true));
    const auto id = button->id();
    CHECK(button->hold_repeat());
    CHECK(button->hold_time() == 0.5);
    kit->hold("button", 1.8);
    kit->advance(5);
    CHECK(take_events(*kit) == std::vector<Happened>{{id, EventKind::pressed, 0},
                                                     {id, EventKind::held, 0.5},
                                                     {id, EventKind::held, 1.0},
                                                     {id, EventKind::held, 1.5},
                                                     {id, EventKind::released, 1.8}});
}

TEST_CASE("held_time counts from when the button became held") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    kit->press("button");
    kit->advance(0.9);
    CHECK_FALSE(button->held_time().has_value());
    kit->advance(1.6);
    REQUIRE(button->held_time().has_value());
    CHECK(*button->held_time() == Approx(1.5));
    kit->release("button");
    CHECK_FALSE(button->held_time().has_value());
}

TEST_CASE("a release before the hold time cancels the hold") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    const auto id = button->id();
    kit->hold("button", 0.9);
    kit->advance(0.95);
    kit->hold("button", 0.9);  // a second press at 0.95 gets its own full hold time
    kit->advance(10);
    CHECK(take_events(*kit) == std::vector<Happened>{{id, EventKind::pressed, 0},
                                                     {id, EventKind::released, 0.9},
                                                     {id, EventKind::pressed, 0.95},
                                                     {id, EventKind::released, 1.85}});
    CHECK_FALSE(button->is_held());
}

TEST_CASE("set_hold_time takes a time above 0 and at most 60 seconds, for the next press") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    const auto id = button->id();
    for (const double bad :
         {0.0, -1.0, 61.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
        CHECK_THROWS_MATCHES(button->set_hold_time(bad), Error,
                             IsError(ErrorCode::bad_value, {"hold_time", "the button 'button'"}));
    }
    CHECK(button->hold_time() == 1.0);
    button->set_hold_time(2.5);
    CHECK(button->hold_time() == 2.5);
    kit->press("button");
    kit->advance(3);
    CHECK(take_events(*kit) == std::vector<Happened>{{id, EventKind::pressed, 0}, {id, EventKind::held, 2.5}});

    CHECK_THROWS_MATCHES(kit->open_button("button2", button_options(std::nullopt, 0.0)), Error,
                         IsError(ErrorCode::bad_value, {"hold_time", "the button 'button2'"}));
    CHECK_FALSE(kit->backend().owner_of("GPIO20").has_value());
}

TEST_CASE("set_hold_repeat switches repeating on for the next hold") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    button->set_hold_repeat(true);
    kit->press("button");
    kit->advance(3.5);
    std::vector<double> held_at;
    for (const auto& event : take_events(*kit)) {
        if (event.kind == EventKind::held) held_at.push_back(event.seconds);
    }
    CHECK(held_at == std::vector<double>{1, 2, 3});
}

TEST_CASE("closing a held button stops its hold timer") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", button_options(std::nullopt, 1.0, true));
    kit->press("button");
    kit->advance(1.5);
    (void)take_events(*kit);
    button->close();
    kit->advance(5);
    CHECK(take_events(*kit).empty());
}

// ---- MotionSensor ------------------------------------------------------------------------------

TEST_CASE("a PIR sends motion, then no_motion when it calms down") {
    auto kit = open_sim_kit();
    auto motion = kit->open_motion_sensor("motion", {});
    const auto id = motion->id();
    CHECK_FALSE(motion->is_active());
    kit->advance(1);
    kit->trigger_motion("motion", 2.5);
    CHECK(motion->is_active());
    CHECK(kit->sim()->level("GPIO16") == 1.0);  // a PIR's output goes high
    kit->advance(2.4);
    CHECK(motion->is_active());
    kit->advance(0.1);
    CHECK_FALSE(motion->is_active());
    kit->advance(1);
    CHECK(take_events(*kit) == std::vector<Happened>{{id, EventKind::motion, 1}, {id, EventKind::no_motion, 3.5}});
}

TEST_CASE("press and release work on a PIR too") {
    auto kit = open_sim_kit();
    auto motion = kit->open_motion_sensor(16, {});
    kit->press("motion");
    CHECK(motion->is_active());
    kit->release("motion");
    CHECK_FALSE(motion->is_active());
    const auto events = take_events(*kit);
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == EventKind::motion);
    CHECK(events[1].kind == EventKind::no_motion);
}

// ---- waiting -------------------------------------------------------------------------------------

TEST_CASE("wait_for on a manual clock returns when another thread's advance brings the press") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    kit->hold("button", 1e6, 0.75);  // held for ever, so a waiter that starts late still sees it
    bool pressed = false;
    {
        Advancer advancer(*kit);
        pressed = button->wait_for(true, 10.0);
    }
    CHECK(pressed);
    CHECK(kit->seconds() >= 0.75);
}

TEST_CASE("wait_for times out on the board's clock") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    CHECK_FALSE(button->wait_for(true, 0.0));
    CHECK(button->wait_for(false, 0.0));
    bool pressed = true;
    {
        Advancer advancer(*kit);
        pressed = button->wait_for(true, 1.0);
    }
    CHECK_FALSE(pressed);
    CHECK(kit->seconds() >= 1.0);
}

TEST_CASE("on a real clock, a press made on the board's timers arrives as events") {
    auto kit = open_sim_kit(/*manual_clock=*/false);
    auto button = kit->open_button("button", {});
    kit->hold("button", 0.05, 0.01);
    // The events, not the state: a waiter that wakes late could miss a 50 ms press.
    const auto pressed = kit->events().pop(std::chrono::seconds(30));
    const auto released = kit->events().pop(std::chrono::seconds(30));
    REQUIRE(pressed.has_value());
    REQUIRE(released.has_value());
    CHECK(pressed->kind == EventKind::pressed);
    CHECK(released->kind == EventKind::released);
    CHECK(released->time - pressed->time >= std::chrono::milliseconds(50));
    CHECK(button->wait_for(false, 30.0));
}
