// What every device shares: its name in messages, its id, and its lifetime. A closed device
// refuses to work with an error that names it, gives its lines back, and closing the kit closes
// every device on it.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "berrykit/device.hpp"
#include "error_matchers.hpp"
#include "sim_kit.hpp"

using namespace berrykit;
using berrykit::test::open_sim_kit;
using berrykit::testing::IsError;

TEST_CASE("close is idempotent") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    CHECK_FALSE(red->is_closed());
    red->close();
    CHECK(red->is_closed());
    red->close();
    CHECK(red->is_closed());
    CHECK_FALSE(kit->backend().owner_of("GPIO17").has_value());
}

TEST_CASE("a closed device's methods throw Error(closed) naming the part") {
    auto kit = open_sim_kit();

    SECTION("an LED") {
        auto red = kit->open_led("red", {});
        red->close();
        const auto closed = IsError(ErrorCode::closed, {"the LED 'red' was closed"});
        CHECK_THROWS_MATCHES(red->on(), Error, closed);
        CHECK_THROWS_MATCHES(red->off(), Error, closed);
        CHECK_THROWS_MATCHES(red->toggle(), Error, closed);
        CHECK_THROWS_MATCHES(red->set_value(true), Error, closed);
        CHECK_THROWS_MATCHES(red->is_active(), Error, closed);
        CHECK_THROWS_MATCHES(red->blink(1, 1, 2), Error, closed);
        CHECK_THROWS_MATCHES(red->wait_for_animation(1.0), Error, closed);
    }
    SECTION("a PWM LED, an RGB LED and a buzzer") {
        auto green = kit->open_pwm_led("green", {});
        auto rgb = kit->open_rgb_led("rgb", {});
        auto buzzer = kit->open_buzzer("buzzer", {});
        green->close();
        rgb->close();
        buzzer->close();
        CHECK_THROWS_MATCHES(green->set_value(0.5), Error, IsError(ErrorCode::closed, {"the LED 'green' was closed"}));
        CHECK_THROWS_MATCHES(green->value(), Error, IsError(ErrorCode::closed, {"the LED 'green' was closed"}));
        CHECK_THROWS_MATCHES(green->pulse(1, 1, 1), Error, IsError(ErrorCode::closed, {"the LED 'green'"}));
        CHECK_THROWS_MATCHES(rgb->set_color({1, 0, 0}), Error,
                             IsError(ErrorCode::closed, {"the RGB LED 'rgb' was closed"}));
        CHECK_THROWS_MATCHES(rgb->color(), Error, IsError(ErrorCode::closed, {"the RGB LED 'rgb' was closed"}));
        CHECK_THROWS_MATCHES(buzzer->on(), Error, IsError(ErrorCode::closed, {"the buzzer 'buzzer' was closed"}));
    }
    SECTION("inputs") {
        auto button = kit->open_button("button", {});
        auto motion = kit->open_motion_sensor("motion", {});
        button->close();
        motion->close();
        const auto closed = IsError(ErrorCode::closed, {"the button 'button' was closed"});
        CHECK_THROWS_MATCHES(button->is_active(), Error, closed);
        CHECK_THROWS_MATCHES(button->is_held(), Error, closed);
        CHECK_THROWS_MATCHES(button->set_hold_time(2), Error, closed);
        CHECK_THROWS_MATCHES(button->wait_for(true, 0.0), Error, closed);
        CHECK_THROWS_MATCHES(motion->is_active(), Error,
                             IsError(ErrorCode::closed, {"the motion sensor 'motion' was closed"}));
    }
    SECTION("sensors") {
        auto light = kit->open_light_sensor("light", {});
        auto distance = kit->open_distance_sensor("distance", {});
        auto temperature = kit->open_temperature_sensor("temperature");
        auto climate = kit->open_humidity_temperature_sensor("climate");
        light->close();
        distance->close();
        temperature->close();
        climate->close();
        CHECK_THROWS_MATCHES(light->latest(), Error,
                             IsError(ErrorCode::closed, {"the light sensor 'light' was closed"}));
        CHECK_THROWS_MATCHES(light->wait_for_reading(1.0), Error, IsError(ErrorCode::closed, {"'light'"}));
        CHECK_THROWS_MATCHES(distance->max_distance(), Error,
                             IsError(ErrorCode::closed, {"the distance sensor 'distance' was closed"}));
        CHECK_THROWS_MATCHES(temperature->temperature(), Error,
                             IsError(ErrorCode::closed, {"the temperature sensor 'temperature' was closed"}));
        CHECK_THROWS_MATCHES(climate->read(), Error,
                             IsError(ErrorCode::closed, {"the climate sensor 'climate' was closed"}));
    }
}

TEST_CASE("closing a device frees its line, so the part can be opened again") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    CHECK(kit->backend().owner_of("GPIO17") == std::optional<std::string>("the LED 'red'"));
    red->close();
    CHECK_FALSE(kit->backend().owner_of("GPIO17").has_value());

    auto again = kit->open_led("red", {});
    again->on();
    CHECK(again->is_active());
    CHECK(kit->sim()->level("GPIO17") == 1.0);
    again->close();
    // By number too, and the same line as another kind of output.
    auto by_number = kit->open_pwm_led(17, {});
    by_number->set_value(0.25);
    CHECK(kit->sim()->level("GPIO17") == 0.25);
}

TEST_CASE("closing an output lets its line go: an LED that was on goes dark, a blink stops") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    red->on();
    red->close();
    CHECK(kit->sim()->level("GPIO17") == 0.0);

    auto amber = kit->open_led("amber", {});
    amber->blink(1, 1, std::nullopt);
    kit->advance(0.5);
    amber->close();
    const auto at_close = kit->history("amber").size();
    kit->advance(10);
    CHECK(kit->history("amber").size() == at_close);  // no more blinking on a closed line
    CHECK(kit->sim()->level("GPIO27") == 0.0);
}

TEST_CASE("destroying a device frees its line") {
    auto kit = open_sim_kit();
    {
        auto button = kit->open_button("button", {});
        CHECK(kit->backend().owner_of("GPIO21").has_value());
    }
    CHECK_FALSE(kit->backend().owner_of("GPIO21").has_value());
    auto button = kit->open_button(21, {});
    CHECK(button->part() == "GPIO21");

    std::weak_ptr<RgbLed> gone;
    {
        auto rgb = kit->open_rgb_led("rgb", {});
        gone = rgb;
    }
    CHECK(gone.expired());
    for (const char* line : {"GPIO5", "GPIO6", "GPIO13"}) CHECK_FALSE(kit->backend().owner_of(line).has_value());
    CHECK_NOTHROW(kit->open_rgb_led(5, 6, 13, {}));
}

TEST_CASE("closing the kit closes every device on it") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    auto green = kit->open_pwm_led("green", {});
    auto rgb = kit->open_rgb_led("rgb", {});
    auto button = kit->open_button("button", {});
    auto light = kit->open_light_sensor("light", {});
    auto distance = kit->open_distance_sensor("distance", {});
    auto temperature = kit->open_temperature_sensor("temperature");
    red->on();
    green->pulse(1, 1, std::nullopt);

    kit->close();
    CHECK(kit->is_closed());
    CHECK(red->is_closed());
    CHECK(green->is_closed());
    CHECK(rgb->is_closed());
    CHECK(button->is_closed());
    CHECK(light->is_closed());
    CHECK(distance->is_closed());
    CHECK(temperature->is_closed());
    CHECK_THROWS_MATCHES(red->on(), Error, IsError(ErrorCode::closed, {"the LED 'red' was closed"}));
    CHECK_THROWS_MATCHES(button->is_active(), Error, IsError(ErrorCode::closed, {"'button'"}));
    for (const char* line : {"GPIO17", "GPIO22", "GPIO5", "GPIO21", "GPIO26", "GPIO23", "GPIO24"}) {
        CHECK_FALSE(kit->backend().owner_of(line).has_value());
    }
    CHECK(kit->sim()->level("GPIO17") == 0.0);
    CHECK(kit->events().is_closed());
    // A closed kit opens nothing more, and closing it again is harmless.
    CHECK_THROWS_MATCHES(kit->open_led("amber", {}), Error, IsError(ErrorCode::closed, {"closed"}));
    CHECK_NOTHROW(kit->close());
    // The devices can still be dropped after the kit closed.
    red.reset();
    green.reset();
}

TEST_CASE("closing a device wakes a thread that waits on it, with Error(closed)") {
    auto kit = open_sim_kit();
    auto button = kit->open_button("button", {});
    std::atomic<bool> threw_closed{false};
    std::atomic<bool> returned{false};
    std::thread waiter([&] {
        try {
            (void)button->wait_for(true, std::nullopt);  // nobody presses: only close() can end it
        } catch (const Error& error) {
            threw_closed = error.code() == ErrorCode::closed;
        }
        returned = true;
    });
    button->close();
    waiter.join();
    CHECK(returned);
    CHECK(threw_closed);
}

TEST_CASE("every device of a kit has its own id, and events carry it") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    auto amber = kit->open_led("amber", {});
    auto button = kit->open_button("button", {});
    auto button2 = kit->open_button("button2", {});
    auto rgb = kit->open_rgb_led("rgb", {});
    const std::set<std::uint64_t> ids{red->id(), amber->id(), button->id(), button2->id(), rgb->id()};
    CHECK(ids.size() == 5);
    CHECK(ids.count(0) == 0);

    // An id is not reused after its device is gone.
    const auto red_id = red->id();
    red.reset();
    auto red_again = kit->open_led("red", {});
    CHECK(red_again->id() != red_id);
    CHECK(ids.count(red_again->id()) == 0);

    kit->press("button2");
    const auto event = kit->events().pop(std::chrono::nanoseconds{0});
    REQUIRE(event.has_value());
    CHECK(event->device == button2->id());
    CHECK(event->kind == EventKind::pressed);
}

TEST_CASE("a device opened by kit name and one opened by number describe themselves differently") {
    auto kit = open_sim_kit();
    {
        auto red = kit->open_led("red", {});
        CHECK(red->part() == "red");
        CHECK(red->description() == "the LED 'red'");
        CHECK(&red->kit() == kit.get());
        CHECK(red->binding().lines.at("line").name == "GPIO17");
    }
    {
        auto red = kit->open_led(17, {});
        CHECK(red->part() == "GPIO17");
        CHECK(red->description() == "the LED on GPIO17");
        red->close();
        CHECK_THROWS_MATCHES(red->on(), Error, IsError(ErrorCode::closed, {"the LED on GPIO17 was closed"}));
    }
    {
        auto red = kit->open_led("GPIO17", {});
        CHECK(red->part() == "GPIO17");
        CHECK(red->description() == "the LED on GPIO17");
    }
    {
        auto button = kit->open_button(21, {});
        CHECK(button->description() == "the button on GPIO21");
    }
}
