// The kit: finding parts by kit name or GPIO number with messages a kid can act on, choosing the
// backend, the simulated world's controls, and the board's clock.
#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "berrykit/gpiod_backend.hpp"
#include "berrykit/kit.hpp"
#include "error_matchers.hpp"
#include "sim_kit.hpp"
#include "temp_dir.hpp"

using namespace berrykit;
using berrykit::test::Advancer;
using berrykit::test::open_sim_kit;
using berrykit::test::sim_kit_options;
using berrykit::testing::IsError;

namespace {}  // namespace

// ---- opening a kit -------------------------------------------------------------------------------

TEST_CASE("a simulated kit with a manual clock") {
    auto kit = open_sim_kit();
    CHECK(kit->backend_kind() == "sim");
    CHECK(kit->sim() != nullptr);
    CHECK(kit->manual_clock());
    CHECK(kit->board().name == "classroom");
    CHECK(kit->backend_reason().find("sim") != std::string::npos);
}

TEST_CASE("backend auto on a computer with no GPIO chip picks the simulated board and says why") {
    berrykit::test::TempDir empty_dev;
    KitOptions options = sim_kit_options(/*manual_clock=*/true);
    options.backend = "auto";
    options.dev_root = empty_dev.path();
    auto kit = Kit::open(options);
    CHECK(kit->backend_kind() == "sim");
    CHECK(kit->sim() != nullptr);
    if (gpiod_backend_built()) {
        CHECK_THAT(kit->backend_reason(),
                   Catch::Contains("no GPIO") && Catch::Contains("gpiochip") && Catch::Contains("simulated board"));
    } else {
        CHECK_THAT(kit->backend_reason(), Catch::Contains("without libgpiod") && Catch::Contains("simulated board"));
    }
}

TEST_CASE("an unknown backend is a bad value that names the ones there are") {
    KitOptions options = sim_kit_options();
    options.backend = "pigpio";
    CHECK_THROWS_MATCHES(Kit::open(options), Error, IsError(ErrorCode::bad_value, {"'pigpio'", "'sim'", "'gpiod'"}));
}

TEST_CASE("a board that is not there is an Error(board) listing the boards there are") {
    KitOptions options = sim_kit_options();
    options.board = "clasroom";
    CHECK_THROWS_MATCHES(Kit::open(options), Error,
                         IsError(ErrorCode::board, {"no board called 'clasroom'", "classroom", "starter"}));
    options.board = "/nowhere/board.json";
    CHECK_THROWS_MATCHES(Kit::open(options), Error, IsError(ErrorCode::board, {"/nowhere/board.json", "classroom"}));
}

TEST_CASE("a board can be given by its file's path") {
    KitOptions options = sim_kit_options();
    options.board = BERRYKIT_SOURCE_DIR "/firmware/boards/starter.json";
    options.board_dirs.clear();
    auto kit = Kit::open(options);
    CHECK(kit->board().name == "starter");
}

// ---- finding parts -------------------------------------------------------------------------------

TEST_CASE("a part is found by its kit name, its GPIO number or its line's name") {
    auto kit = open_sim_kit();
    const auto by_name = kit->resolve(std::string("red"), {PartType::led}, "LED");
    CHECK(by_name.part == "red");
    CHECK(by_name.description == "the LED 'red'");
    CHECK(by_name.lines.at("line").name == "GPIO17");
    CHECK(by_name.lines.at("line").bcm == 17);
    CHECK(by_name.def.name == "red");

    const auto by_number = kit->resolve(17, {PartType::led}, "LED");
    CHECK(by_number.part == "GPIO17");
    CHECK(by_number.description == "the LED on GPIO17");
    CHECK(by_number.lines.at("line").name == "GPIO17");
    CHECK(by_number.def.type == PartType::led);

    const auto by_line = kit->resolve(std::string("GPIO17"), {PartType::led}, "LED");
    CHECK(by_line.part == "GPIO17");
    CHECK(by_line.lines.at("line").bcm == 17);

    const auto rgb = kit->resolve(std::string("rgb"), {PartType::rgb_led}, "RGB LED");
    CHECK(rgb.lines.at("red").name == "GPIO5");
    CHECK(rgb.lines.at("green").name == "GPIO6");
    CHECK(rgb.lines.at("blue").name == "GPIO13");
}

TEST_CASE("a button opened by number keeps the board's wiring of that line") {
    auto kit = open_sim_kit();
    auto button = kit->open_button(21, {});
    CHECK(button->binding().def.bounce_time == 0.02);
    CHECK(button->binding().def.pull == Bias::pull_up);
    kit->press("button");  // the kit's part on that line
    CHECK(button->is_active());
}

TEST_CASE("an unknown part suggests the closest name and lists the parts") {
    auto kit = open_sim_kit();
    CHECK_THROWS_MATCHES(
        kit->open_led("redd", {}), Error,
        IsError(ErrorCode::unknown_part, {"no part called 'redd' on the classroom board", "Did you mean 'red'?",
                                          "amber", "green", "button2", "distance", "LED(17)"}));
    CHECK_THROWS_MATCHES(kit->open_button("buton", {}), Error,
                         IsError(ErrorCode::unknown_part, {"Did you mean 'button'?", "Button(17)"}));
    try {
        (void)kit->open_led("spaceship", {});
        FAIL("opened a part that is not there");
    } catch (const Error& error) {
        CHECK(error.code() == ErrorCode::unknown_part);
        CHECK_THAT(error.what(), !Catch::Contains("Did you mean"));  // nothing is close
        CHECK_THAT(error.what(), Catch::Contains("red"));
    }
}

TEST_CASE("a GPIO number that is not on the header is an unknown part") {
    auto kit = open_sim_kit();
    CHECK_THROWS_MATCHES(kit->open_led(99, {}), Error, IsError(ErrorCode::unknown_part, {"GPIO 99", "2 to 27"}));
    CHECK_THROWS_MATCHES(kit->open_led(-1, {}), Error, IsError(ErrorCode::unknown_part, {"2 to 27"}));
    CHECK_THROWS_MATCHES(kit->open_led(1, {}), Error, IsError(ErrorCode::unknown_part, {"GPIO 1", "2 to 27"}));
}

TEST_CASE("a part of another type says what it is and how to open it") {
    auto kit = open_sim_kit();
    CHECK_THROWS_MATCHES(
        kit->open_led("button", {}), Error,
        IsError(ErrorCode::wrong_type, {"'button' is a button, not an LED: open it with Button(\"button\")"}));
    CHECK_THROWS_MATCHES(kit->open_button("red", {}), Error,
                         IsError(ErrorCode::wrong_type, {"'red' is an LED, not a button: open it with LED(\"red\")"}));
    CHECK_THROWS_MATCHES(
        kit->open_led("rgb", {}), Error,
        IsError(ErrorCode::wrong_type, {"'rgb' is an RGB LED, not an LED: open it with RGBLED(\"rgb\")"}));
    CHECK_THROWS_MATCHES(kit->open_rgb_led("red", {}), Error,
                         IsError(ErrorCode::wrong_type, {"'red' is an LED, not an RGB LED"}));
    CHECK_THROWS_MATCHES(
        kit->open_light_sensor("distance", {}), Error,
        IsError(ErrorCode::wrong_type, {"'distance' is a distance sensor", "DistanceSensor(\"distance\")"}));
    CHECK_THROWS_MATCHES(kit->open_temperature_sensor("climate"), Error,
                         IsError(ErrorCode::wrong_type, {"HumidityTemperatureSensor(\"climate\")"}));
    // Nothing was claimed on the way.
    for (const char* line : {"GPIO21", "GPIO17", "GPIO5", "GPIO23"})
        CHECK_FALSE(kit->backend().owner_of(line).has_value());
}

TEST_CASE("an RGB LED or a distance sensor by one GPIO number is the wrong type, with a hint") {
    auto kit = open_sim_kit();
    CHECK_THROWS_MATCHES(kit->open_rgb_led(5, {}), Error,
                         IsError(ErrorCode::wrong_type, {"three pins", "RGBLED(\"rgb\")", "red=5, green=6, blue=13"}));
    CHECK_THROWS_MATCHES(kit->open_rgb_led(std::string("GPIO5"), {}), Error,
                         IsError(ErrorCode::wrong_type, {"three pins"}));
    CHECK_THROWS_MATCHES(kit->open_distance_sensor(23, {}), Error,
                         IsError(ErrorCode::wrong_type, {"two pins", "echo=24, trigger=23"}));
}

TEST_CASE("a line in use says who has it") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    CHECK_THROWS_MATCHES(kit->open_led(17, {}), Error,
                         IsError(ErrorCode::part_in_use, {"GPIO17 is already in use by the LED 'red'", "close()"}));
    CHECK_THROWS_MATCHES(kit->open_pwm_led("red", {}), Error,
                         IsError(ErrorCode::part_in_use, {"GPIO17 is already in use by the LED 'red'"}));
    CHECK_THROWS_MATCHES(
        kit->open_button(17, {}), Error,
        IsError(ErrorCode::part_in_use, {"GPIO17 is already in use by the LED 'red'", "the button on GPIO17"}));
    auto rgb = kit->open_rgb_led("rgb", {});
    CHECK_THROWS_MATCHES(kit->open_rgb_led(5, 6, 13, {}), Error,
                         IsError(ErrorCode::part_in_use, {"GPIO5 is already in use by the RGB LED 'rgb'"}));
    // A failed open takes nothing: red still works and owns its line.
    red->on();
    CHECK(kit->backend().owner_of("GPIO17") == std::optional<std::string>("the LED 'red'"));
}

// ---- the simulated world's controls --------------------------------------------------------------

TEST_CASE("the simulated world's controls refuse parts of the wrong type") {
    auto kit = open_sim_kit();
    CHECK_THROWS_MATCHES(kit->press("red"), Error, IsError(ErrorCode::wrong_type, {"'red' is an LED", "button"}));
    CHECK_THROWS_MATCHES(kit->release("light"), Error, IsError(ErrorCode::wrong_type, {"'light'"}));
    CHECK_THROWS_MATCHES(kit->hold("motion", 1), Error, IsError(ErrorCode::wrong_type, {"'motion'"}));
    CHECK_THROWS_MATCHES(kit->trigger_motion("button", 1), Error,
                         IsError(ErrorCode::wrong_type, {"'button' is a button, not a motion sensor"}));
    CHECK_THROWS_MATCHES(kit->set_sensor("red", "", 1.0), Error, IsError(ErrorCode::wrong_type, {"'red'"}));
    CHECK_THROWS_MATCHES(kit->set_sensor_fault("light", true), Error, IsError(ErrorCode::wrong_type, {"'light'"}));
    CHECK_THROWS_MATCHES(kit->press("buton"), Error, IsError(ErrorCode::unknown_part, {"Did you mean 'button'?"}));
    CHECK_THROWS_MATCHES(kit->set_sensor("nowhere", "", 1.0), Error, IsError(ErrorCode::unknown_part, {"'nowhere'"}));
}

TEST_CASE("set_sensor needs a quantity the part measures") {
    auto kit = open_sim_kit();
    CHECK_THROWS_MATCHES(kit->set_sensor("climate", "", 20.0), Error,
                         IsError(ErrorCode::bad_value, {"'climate'", "temperature and humidity", "say which"}));
    CHECK_THROWS_MATCHES(kit->set_sensor("light", "distance", 0.5), Error,
                         IsError(ErrorCode::bad_value, {"'light' does not measure distance", "light"}));
    CHECK_THROWS_MATCHES(kit->set_sensor("temperature", "humidity", 50.0), Error,
                         IsError(ErrorCode::bad_value, {"does not measure humidity"}));
    CHECK_THROWS_MATCHES(kit->set_sensor("light", "", 1.5), Error,
                         IsError(ErrorCode::bad_value, {"light", "'light'", "1.5"}));
    CHECK_THROWS_MATCHES(kit->set_sensor("distance", "", -1.0), Error, IsError(ErrorCode::bad_value, {"'distance'"}));
    CHECK_NOTHROW(kit->set_sensor("climate", "humidity", 55.0));
    CHECK(kit->sim()->value("climate", "humidity") == 55.0);
    CHECK_NOTHROW(kit->set_sensor("light", "", 0.7));
    CHECK(kit->sim()->value("light", "light") == 0.7);
}

TEST_CASE("hold and trigger_motion take times of 0 seconds or more") {
    auto kit = open_sim_kit();
    CHECK_THROWS_MATCHES(kit->hold("button", -1), Error, IsError(ErrorCode::bad_value, {"hold()"}));
    CHECK_THROWS_MATCHES(kit->hold("button", 1, -1), Error, IsError(ErrorCode::bad_value, {"hold()"}));
    CHECK_THROWS_MATCHES(kit->trigger_motion("motion", -1), Error, IsError(ErrorCode::bad_value, {"trigger_motion()"}));
    CHECK(kit->sim()->level("GPIO21") == 0.0);  // nothing pressed (no pin: the line floats)
    CHECK(kit->sim()->level("GPIO16") == 0.0);
}

TEST_CASE("history of a part with several lines needs a role") {
    auto kit = open_sim_kit();
    auto rgb = kit->open_rgb_led("rgb", {});
    rgb->set_color({1, 0, 0});
    CHECK_THROWS_MATCHES(
        kit->history("rgb"), Error,
        IsError(ErrorCode::bad_value, {"'rgb' has more than one line", "blue", "green", "red", "history(\"rgb\", \""}));
    CHECK(kit->history("rgb", "red") == std::vector<Sample>{{0, 0}, {0, 1}});
    CHECK(kit->history("rgb", "green") == std::vector<Sample>{{0, 0}});
    CHECK_THROWS_MATCHES(kit->history("rgb", "purple"), Error, IsError(ErrorCode::board, {"'purple'"}));
    CHECK_THROWS_MATCHES(kit->history("distance"), Error, IsError(ErrorCode::bad_value, {"echo", "trigger"}));
}

TEST_CASE("history by name, number or line, and clear_history empties it") {
    auto kit = open_sim_kit();
    auto red = kit->open_led("red", {});
    red->on();
    const std::vector<Sample> expected{{0, 0}, {0, 1}};
    CHECK(kit->history("red") == expected);
    CHECK(kit->history(17) == expected);
    CHECK(kit->history("GPIO17") == expected);
    kit->clear_history("red");
    CHECK(kit->history("red").empty());
    kit->advance(1);
    red->off();
    CHECK(kit->history(17) == std::vector<Sample>{{1, 0}});
    CHECK_THROWS_MATCHES(kit->history(99), Error, IsError(ErrorCode::unknown_part));
}

// ---- the clock -----------------------------------------------------------------------------------

TEST_CASE("seconds moves with advance, and only with advance") {
    auto kit = open_sim_kit();
    CHECK(kit->seconds() == 0);
    kit->advance(1.5);
    CHECK(kit->seconds() == 1.5);
    kit->advance(0);
    CHECK(kit->seconds() == 1.5);
    kit->advance(0.25);
    CHECK(kit->seconds() == 1.75);
    CHECK_THROWS_MATCHES(kit->advance(-1), Error, IsError(ErrorCode::bad_value, {"advance()"}));
    CHECK(kit->seconds() == 1.75);
}

TEST_CASE("seconds can be read while another thread advances the clock") {
    auto kit = open_sim_kit();
    double last = 0;
    bool never_backwards = true;
    {
        Advancer advancer(*kit);
        while (last < 1.0) {
            const double now = kit->seconds();
            if (now < last) never_backwards = false;
            last = now;
        }
    }
    CHECK(never_backwards);
    CHECK(last >= 1.0);
}

TEST_CASE("advance on a real clock is unsupported") {
    auto kit = open_sim_kit(/*manual_clock=*/false);
    CHECK_FALSE(kit->manual_clock());
    CHECK_THROWS_MATCHES(kit->advance(1), Error, IsError(ErrorCode::unsupported, {"advance()", "real time"}));
    const double before = kit->seconds();
    CHECK(kit->wait_until([] { return false; }, 0.02) == false);  // a real timeout, in real time
    CHECK(kit->seconds() - before >= 0.02);
}

TEST_CASE("wait_until on a manual clock times out when another thread advances past the timeout") {
    auto kit = open_sim_kit();
    bool result = true;
    {
        Advancer advancer(*kit);
        result = kit->wait_until([] { return false; }, 1.0);
    }
    CHECK_FALSE(result);
    CHECK(kit->seconds() >= 1.0);
}

TEST_CASE("wait_until returns true as soon as its condition holds") {
    auto kit = open_sim_kit();
    CHECK(kit->wait_until([] { return true; }, 0.0));
    CHECK_FALSE(kit->wait_until([] { return false; }, 0.0));
    CHECK_THROWS_MATCHES(kit->wait_until([] { return true; }, -1.0), Error, IsError(ErrorCode::bad_value));

    auto button = kit->open_button("button", {});
    kit->hold("button", 1e6, 2.0);  // held for ever, so a waiter that starts late still sees it
    bool pressed = false;
    {
        Advancer advancer(*kit);
        pressed = kit->wait_until([&] { return button->is_active(); }, 10.0);
    }
    CHECK(pressed);
    CHECK(kit->seconds() >= 2.0);
}

TEST_CASE("closing the kit wakes a wait_until on another thread") {
    auto kit = open_sim_kit();
    std::atomic<bool> returned{false};
    bool result = true;
    std::thread waiter([&] {
        result = kit->wait_until([] { return false; }, std::nullopt);  // only close() ends this
        returned = true;
    });
    kit->close();
    waiter.join();
    CHECK(returned);
    CHECK_FALSE(result);
    CHECK_THROWS_MATCHES(kit->advance(1), Error, IsError(ErrorCode::closed, {"closed"}));
    CHECK_THROWS_MATCHES(kit->press("button"), Error, IsError(ErrorCode::closed));
}
