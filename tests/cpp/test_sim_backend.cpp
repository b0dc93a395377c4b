// The simulated board beyond the conformance suite: line history, driving lines from outside,
// sensor values and curves, sensor faults, and the circuits of the light and distance sensors.
// Every test but the last uses the manual clock, so times are exact and nothing sleeps.
#include "error_matchers.hpp"

#include "berrykit/error.hpp"
#include "berrykit/sensors.hpp"
#include "berrykit/sim_backend.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace Catch {
template <>
struct StringMaker<berrykit::Sample> {
    static std::string convert(const berrykit::Sample& sample) {
        return "{" + std::to_string(sample.seconds) + " s, " + std::to_string(sample.value) + "}";
    }
};
}  // namespace Catch

namespace {

using namespace berrykit;
using namespace std::chrono_literals;
using berrykit::testing::IsError;
using Samples = std::vector<Sample>;

SimBackend::Options manual() { return {.manual_clock = true}; }

std::unique_ptr<Pin> claim(SimBackend& board, const std::string& line, const std::string& owner) {
    return board.claim(board.find_line(line), owner);
}

// Edges seen by a pin's handler (the manual clock delivers them on the test's own thread).
struct Edges {
    std::vector<EdgeEvent> seen;
    Pin::EdgeHandler handler() {
        return [this](const EdgeEvent& event) { seen.push_back(event); };
    }
};

bool ever_high(const Samples& samples) {
    for (const auto& sample : samples) {
        if (sample.value >= 0.5) return true;
    }
    return false;
}

}  // namespace

// ---- lines -----------------------------------------------------------------------------------

TEST_CASE("the simulated board has the Pi's header lines GPIO2 to GPIO27", "[sim][lines]") {
    for (int bcm = 2; bcm <= 27; ++bcm) CHECK(is_sim_header_line("GPIO" + std::to_string(bcm)));
    for (const char* name : {"GPIO0", "GPIO1", "GPIO28", "GPIO", "gpio17", "GPIO017", "GPIO17 ", "17", ""}) {
        INFO(name);
        CHECK_FALSE(is_sim_header_line(name));
    }

    SimBackend board(manual());
    CHECK(board.kind() == "sim");
    const LineInfo line = board.find_line("GPIO4");
    CHECK(line.chip == "sim");
    CHECK(line.offset == 4);
    CHECK(line.bcm == 4);
    // GPIO0 and 1 are the HAT EEPROM's pins: not on the board a kid wires.
    CHECK_THROWS_MATCHES(board.find_line(1), Error, IsError(ErrorCode::unknown_part, {"1"}));
    CHECK_THROWS_MATCHES(board.find_line("GPIO0"), Error, IsError(ErrorCode::unknown_part, {"GPIO0"}));
}

// ---- history ---------------------------------------------------------------------------------

TEST_CASE("an output's history has its initial level and then its changes only", "[sim][history]") {
    SimBackend board(manual());
    auto led = claim(board, "GPIO17", "the LED 'red'");
    led->make_output(false);
    board.advance(500ms);
    led->write(true);
    led->write(true);  // no change: no sample
    board.advance(250ms);
    led->write(false);
    board.advance(250ms);
    led->write(false);
    CHECK(board.history("GPIO17") == Samples{{0.0, 0.0}, {0.5, 1.0}, {0.75, 0.0}});
    CHECK(board.level("GPIO17") == 0.0);
}

TEST_CASE("an output that starts high never shows a low glitch first", "[sim][history]") {
    SimBackend board(manual());
    board.advance(1s);
    auto led = claim(board, "GPIO17", "the LED 'red'");
    led->make_output(true);
    CHECK(board.history("GPIO17") == Samples{{1.0, 1.0}});
}

TEST_CASE("an input's history follows its pull and what drives it", "[sim][history]") {
    SimBackend board(manual());
    auto button = claim(board, "GPIO2", "the button 'go'");
    Edges edges;
    button->on_edge(edges.handler());
    button->make_input(Bias::pull_up, Edge::both);
    board.advance(1s);
    board.drive("GPIO2", false);  // pressed: the button pulls the line to ground
    board.drive("GPIO2", false);
    board.advance(1s);
    board.undrive("GPIO2");  // let go: the pull-up wins again
    CHECK(board.history("GPIO2") == Samples{{0.0, 1.0}, {1.0, 0.0}, {2.0, 1.0}});

    REQUIRE(edges.seen.size() == 2);
    CHECK_FALSE(edges.seen[0].rising);
    CHECK(edges.seen[0].time == Nanos{1s});
    CHECK(edges.seen[1].rising);
    CHECK(edges.seen[1].time == Nanos{2s});
}

TEST_CASE("changing an input's pull is an edge, as on a real line", "[sim][history]") {
    SimBackend board(manual());
    auto button = claim(board, "GPIO2", "the button 'go'");
    Edges edges;
    button->on_edge(edges.handler());
    button->make_input(Bias::pull_down, Edge::both);
    board.advance(1s);
    button->make_input(Bias::pull_up, Edge::both);
    CHECK(button->read());
    REQUIRE(edges.seen.size() == 1);
    CHECK(edges.seen[0].rising);
    CHECK(edges.seen[0].time == Nanos{1s});
}

TEST_CASE("a line nobody claimed still keeps its history", "[sim][history]") {
    SimBackend board(manual());
    board.drive("GPIO5", true);
    board.advance(2s);
    board.undrive("GPIO5");
    CHECK(board.history("GPIO5") == Samples{{0.0, 1.0}, {2.0, 0.0}});
    CHECK(board.history("GPIO6").empty());
}

TEST_CASE("history keeps the newest samples up to its limit and counts the ones it dropped", "[sim][history]") {
    SimBackend board({.manual_clock = true, .history_limit = 3});
    auto led = claim(board, "GPIO17", "the LED 'red'");
    led->make_output(false);        // sample 1
    for (int i = 1; i <= 5; ++i) {  // samples 2..6
        board.advance(1s);
        led->write(i % 2 == 1);
    }
    CHECK(board.history("GPIO17") == Samples{{3.0, 1.0}, {4.0, 0.0}, {5.0, 1.0}});
    CHECK(board.history_dropped("GPIO17") == 3);

    board.clear_history("GPIO17");
    CHECK(board.history("GPIO17").empty());
    CHECK(board.history_dropped("GPIO17") == 0);
    board.advance(1s);
    led->write(false);
    CHECK(board.history("GPIO17") == Samples{{6.0, 0.0}});
}

TEST_CASE("PWM shows its duty as the line's level and in its history", "[sim][history][pwm]") {
    SimBackend board(manual());
    auto led = claim(board, "GPIO18", "the LED 'glow'");
    CHECK(led->has_hardware_pwm());
    led->make_output(false);
    led->set_pwm(1000, 0.25);
    CHECK(board.level("GPIO18") == 0.25);
    board.advance(1s);
    led->set_pwm(2000, 0.25);  // the same duty: no new sample
    led->set_pwm(2000, 0.75);
    board.advance(1s);
    led->stop_pwm(false);
    CHECK(board.level("GPIO18") == 0.0);
    CHECK(board.history("GPIO18") == Samples{{0.0, 0.0}, {0.0, 0.25}, {1.0, 0.75}, {2.0, 0.0}});
}

TEST_CASE("history times are seconds since the board started, on a real clock too", "[sim][history]") {
    SimBackend board;
    auto led = claim(board, "GPIO17", "the LED 'red'");
    const double before = board.seconds();
    led->make_output(true);
    const double after = board.seconds();
    CHECK(before >= 0.0);
    CHECK(before < 60.0);  // counted from the board's start, not from when the machine booted
    const auto samples = board.history("GPIO17");
    REQUIRE(samples.size() == 1);
    CHECK(samples[0].seconds >= before);
    CHECK(samples[0].seconds <= after);
}

TEST_CASE("asking about a line the board does not have names it", "[sim][lines]") {
    SimBackend board(manual());
    const auto unknown = IsError(ErrorCode::unknown_part, {"GPIO40"});
    CHECK_THROWS_MATCHES(board.drive("GPIO40", true), Error, unknown);
    CHECK_THROWS_MATCHES(board.undrive("GPIO40"), Error, unknown);
    CHECK_THROWS_MATCHES(board.level("GPIO40"), Error, unknown);
    CHECK_THROWS_MATCHES(board.history("GPIO40"), Error, unknown);
    CHECK_THROWS_MATCHES(board.history_dropped("GPIO40"), Error, unknown);
    CHECK_THROWS_MATCHES(board.clear_history("GPIO40"), Error, unknown);
}

// ---- driving lines ---------------------------------------------------------------------------

TEST_CASE("a floating line reads 0, and a driven one what drives it", "[sim][drive]") {
    SimBackend board(manual());
    CHECK(board.level("GPIO9") == 0.0);
    board.drive("GPIO9", true);
    CHECK(board.level("GPIO9") == 1.0);
    auto sensor = claim(board, "GPIO9", "the motion sensor 'pir'");
    sensor->make_input(Bias::none);
    CHECK(sensor->read());
    board.undrive("GPIO9");
    CHECK_FALSE(sensor->read());
}

TEST_CASE("an output shows its own level whatever drives the line, until it closes", "[sim][drive]") {
    SimBackend board(manual());
    board.drive("GPIO17", true);
    auto led = claim(board, "GPIO17", "the LED 'red'");
    led->make_output(false);
    CHECK(board.level("GPIO17") == 0.0);
    board.drive("GPIO17", false);
    board.drive("GPIO17", true);
    CHECK(board.level("GPIO17") == 0.0);
    led->close();
    CHECK(board.level("GPIO17") == 1.0);  // the outside drive shows again
}

TEST_CASE("a closed output lets its line float, as a released GPIO does", "[sim][drive]") {
    SimBackend board(manual());
    auto led = claim(board, "GPIO17", "the LED 'red'");
    led->make_output(true);
    board.advance(1s);
    led.reset();
    CHECK(board.level("GPIO17") == 0.0);
    CHECK(board.history("GPIO17") == Samples{{0.0, 1.0}, {1.0, 0.0}});
}

// ---- values and curves -----------------------------------------------------------------------

TEST_CASE("a SimValue is a constant or a curve followed by straight lines", "[sim][values]") {
    const SimValue constant = 21.5;
    CHECK_FALSE(constant.is_curve());
    CHECK(constant.at(0) == 21.5);
    CHECK(constant.at(1000) == 21.5);

    const SimValue warming = SimValue::curve({{0, 10}, {10, 20}, {20, 20}, {20, 5}});
    CHECK(warming.is_curve());
    CHECK(warming.at(-1) == 10);  // before the start: the first value
    CHECK(warming.at(0) == 10);
    CHECK(warming.at(5) == Approx(15));
    CHECK(warming.at(10) == 20);
    CHECK(warming.at(15) == 20);
    CHECK(warming.at(20) == 5);    // two points at one time make a step
    CHECK(warming.at(1000) == 5);  // after the end: the last value

    const SimValue day = SimValue::curve({{0, 0}, {10, 1}}, true);
    CHECK(day.at(5) == Approx(0.5));
    CHECK(day.at(12.5) == Approx(0.25));  // starts over after the last point
    CHECK(day.at(27.5) == Approx(0.75));

    const SimValue late_start = SimValue::curve({{2, 3}, {4, 5}});
    CHECK(late_start.at(1) == 3);
    CHECK(late_start.at(3) == Approx(4));
}

TEST_CASE("a curve with no points, points out of order or not numbers is a bad value", "[sim][values]") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    CHECK_THROWS_MATCHES(SimValue::curve({}), Error, IsError(ErrorCode::bad_value, {"at least one point"}));
    CHECK_THROWS_MATCHES(SimValue::curve({{0, 1}, {5, 2}, {3, 4}}), Error,
                         IsError(ErrorCode::bad_value, {"point 3", "time order"}));
    CHECK_THROWS_MATCHES(SimValue::curve({{0, 1}, {1, nan}}), Error,
                         IsError(ErrorCode::bad_value, {"point 2", "not a number"}));
    CHECK_THROWS_MATCHES(SimValue::curve({{inf, 1}}), Error, IsError(ErrorCode::bad_value, {"point 1"}));
    CHECK_THROWS_MATCHES(SimValue::curve({{-1, 1}, {1, 2}}), Error,
                         IsError(ErrorCode::bad_value, {"point 1", "0 seconds"}));
}

TEST_CASE("a sensor value has a default until it is set", "[sim][values]") {
    SimBackend board(manual());
    CHECK(board.value("outside", "temperature") == 21.5);
    CHECK(board.value("room", "humidity") == 45.0);
    CHECK(board.value("ldr", "light") == 0.5);
    CHECK(board.value("sonar", "distance") == 0.5);
    board.set_value("outside", "temperature", -3.5);
    CHECK(board.value("outside", "temperature") == -3.5);
    CHECK(board.value("inside", "temperature") == 21.5);  // each part has its own
}

TEST_CASE("a curve starts when it is set, on the board's clock", "[sim][values]") {
    SimBackend board(manual());
    board.advance(2s);
    board.set_value("ldr", "light", SimValue::curve({{0, 0.0}, {4, 1.0}}));
    CHECK(board.value("ldr", "light") == 0.0);
    board.advance(1s);
    CHECK(board.value("ldr", "light") == Approx(0.25));
    board.advance(10s);
    CHECK(board.value("ldr", "light") == 1.0);

    // Setting it again starts the new curve from now.
    board.set_value("ldr", "light", SimValue::curve({{0, 1.0}, {2, 0.0}}, true));
    board.advance(3s);
    CHECK(board.value("ldr", "light") == Approx(0.5));
}

TEST_CASE("an unknown quantity is a bad value that names it", "[sim][values]") {
    SimBackend board(manual());
    const auto unknown = IsError(ErrorCode::bad_value, {"'pressure'", "temperature, humidity, light or distance"});
    CHECK_THROWS_MATCHES(board.set_value("weather", "pressure", 1013.0), Error, unknown);
    CHECK_THROWS_MATCHES(board.value("weather", "pressure"), Error, unknown);
}

TEST_CASE("a sensor value out of its range is a bad value and changes nothing", "[sim][values]") {
    SimBackend board(manual());
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const auto [quantity, bad, words] = GENERATE_COPY(table<std::string, SimValue, std::vector<std::string>>({
        {"light", 1.5, {"light", "between 0 (dark) and 1 (bright)", "1.5"}},
        {"light", -0.1, {"light", "-0.1"}},
        {"light", SimValue::curve({{0, 0.5}, {10, 2.0}}), {"light", "2"}},
        {"humidity", 101.0, {"humidity", "between 0 and 100"}},
        {"distance", -1.0, {"distance", "0 metres or more"}},
        {"temperature", nan, {"temperature"}},
    }));
    board.set_value("thing", quantity, 0.25);
    CHECK_THROWS_MATCHES(board.set_value("thing", quantity, bad), Error, IsError(ErrorCode::bad_value, [&] {
                             auto all = words;
                             all.push_back("'thing'");
                             return all;
                         }()));
    CHECK(board.value("thing", quantity) == 0.25);
}

// ---- sensors ---------------------------------------------------------------------------------

TEST_CASE("the simulated sensors read the board's values", "[sim][sensors]") {
    SimBackend board(manual());
    CHECK(board.sensors().read_ds18b20("outside", "auto") == 21.5);
    board.set_value("outside", "temperature", SimValue::curve({{0, 10.0}, {60, 16.0}}));
    board.advance(30s);
    CHECK(board.sensors().read_ds18b20("outside", "28-00000a1b2c3d") == Approx(13.0));

    board.set_value("room", "temperature", 23.0);
    board.set_value("room", "humidity", 60.0);
    const ClimateReading room = board.sensors().read_dht("room", "auto", "GPIO4");
    CHECK(room.temperature_c == 23.0);
    CHECK(room.humidity_percent == 60.0);
}

TEST_CASE("a faulty sensor does not answer, says which one, and works again when fixed", "[sim][sensors]") {
    SimBackend board(manual());
    board.set_sensor_fault("outside", true);
    CHECK_THROWS_MATCHES(board.sensors().read_ds18b20("outside", "auto"), Error,
                         IsError(ErrorCode::sensor, {"'outside'", "did not answer", "plugged in"}));
    board.set_sensor_fault("room", true);
    CHECK_THROWS_MATCHES(board.sensors().read_dht("room", "auto", "GPIO4"), Error,
                         IsError(ErrorCode::sensor, {"'room'", "did not answer"}));
    CHECK(board.sensors().read_ds18b20("inside", "auto") == 21.5);  // only the broken ones fail

    board.set_sensor_fault("outside", false);
    CHECK(board.sensors().read_ds18b20("outside", "auto") == 21.5);
}

// ---- the light sensor's circuit --------------------------------------------------------------

TEST_CASE("the light sensor's line rises after the capacitor's charge time", "[sim][circuits]") {
    SimBackend board(manual());
    const Nanos limit = 10ms;
    board.wire_light_sensor("ldr", "GPIO18", limit);
    const auto [light, charge] = GENERATE(table<double, Nanos>({
        {0.75, Nanos{2500us}},
        {0.25, Nanos{7500us}},
        {0.5, Nanos{5ms}},
        {1.0, Nanos{1us}},  // bright as can be: the quickest charge
    }));
    board.set_value("ldr", "light", light);

    auto pin = claim(board, "GPIO18", "the light sensor 'ldr'");
    Edges edges;
    pin->on_edge(edges.handler());
    pin->make_output(false);  // empty the capacitor
    board.advance(1ms);
    const Nanos released = board.clock().now();
    pin->make_input(Bias::none, Edge::rising);
    CHECK_FALSE(pin->read());

    board.advance(charge - Nanos{1});
    CHECK(edges.seen.empty());
    CHECK_FALSE(pin->read());
    board.advance(Nanos{1});
    REQUIRE(edges.seen.size() == 1);
    CHECK(edges.seen[0].time - released == charge);
    CHECK(pin->read());

    // Measuring again: empty the capacitor, let it charge again.
    pin->make_output(false);
    CHECK(board.level("GPIO18") == 0.0);
    const Nanos again = board.clock().now();
    pin->make_input(Bias::none, Edge::rising);
    board.advance(limit);
    REQUIRE(edges.seen.size() == 2);
    CHECK(edges.seen[1].time - again == charge);
}

TEST_CASE("in the dark the light sensor's line never rises", "[sim][circuits]") {
    SimBackend board(manual());
    board.wire_light_sensor("ldr", "GPIO18", 10ms);
    board.set_value("ldr", "light", 0.0);
    auto pin = claim(board, "GPIO18", "the light sensor 'ldr'");
    pin->make_output(false);
    pin->make_input(Bias::none, Edge::rising);
    board.advance(10s);
    CHECK_FALSE(pin->read());
    CHECK_FALSE(ever_high(board.history("GPIO18")));
}

TEST_CASE("the light is read when the charge starts", "[sim][circuits]") {
    SimBackend board(manual());
    board.wire_light_sensor("ldr", "GPIO18", 10ms);
    board.set_value("ldr", "light", 0.5);
    auto pin = claim(board, "GPIO18", "the light sensor 'ldr'");
    pin->make_output(false);
    pin->make_input(Bias::none);
    board.set_value("ldr", "light", 0.0);  // too late for this charge
    board.advance(5ms);
    CHECK(pin->read());
}

TEST_CASE("a charge stops when the pin becomes an output again or closes", "[sim][circuits]") {
    SimBackend board(manual());
    board.wire_light_sensor("ldr", "GPIO18", 10ms);
    board.set_value("ldr", "light", 0.5);  // would rise after 5 ms
    auto pin = claim(board, "GPIO18", "the light sensor 'ldr'");
    pin->make_output(false);
    pin->make_input(Bias::none);
    board.advance(2ms);

    SECTION("output again") {
        pin->make_output(false);
        board.advance(20ms);
        CHECK_FALSE(pin->read());
        CHECK_FALSE(ever_high(board.history("GPIO18")));

        // The next measurement times its own charge, not the one that was stopped.
        pin->make_output(false);
        pin->make_input(Bias::none);  // would rise 5 ms from now, if it were not stopped
        pin->make_output(false);
        board.advance(1ms);
        pin->make_input(Bias::none);
        const Nanos restarted = board.clock().now();
        board.advance(5ms - Nanos{1});
        CHECK_FALSE(pin->read());
        board.advance(Nanos{1});
        CHECK(pin->read());
        CHECK(board.history("GPIO18").back() == Sample{to_seconds(restarted + 5ms), 1.0});
    }
    SECTION("closed") {
        pin->close();
        board.advance(20ms);
        CHECK_FALSE(ever_high(board.history("GPIO18")));
    }
}

// ---- the distance sensor's circuit -------------------------------------------------------------

namespace {

// An HC-SR04 on GPIO23 (trigger) and GPIO24 (echo), measured as gpiozero's DistanceSensor does.
struct Sonar {
    SimBackend board{manual()};
    std::unique_ptr<Pin> trigger;
    std::unique_ptr<Pin> echo;
    Edges echo_edges;

    Sonar() {
        board.wire_distance_sensor("sonar", "GPIO23", "GPIO24");
        trigger = claim(board, "GPIO23", "the distance sensor 'sonar'");
        echo = claim(board, "GPIO24", "the distance sensor 'sonar'");
        trigger->make_output(false);
        echo->on_edge(echo_edges.handler());
        echo->make_input(Bias::none, Edge::both);
    }

    // A trigger pulse `high_for` long; returns when it fell.
    Nanos pulse(Nanos high_for) {
        trigger->write(true);
        board.advance(high_for);
        trigger->write(false);
        return board.clock().now();
    }
};

}  // namespace

TEST_CASE("the distance sensor's echo lasts the sound's round trip", "[sim][circuits]") {
    Sonar sonar;
    const double metres = GENERATE(0.5, 0.02, 3.99);
    sonar.board.set_value("sonar", "distance", metres);
    const Nanos fell = sonar.pulse(10us);
    sonar.board.advance(50ms);

    const auto& edges = sonar.echo_edges.seen;
    REQUIRE(edges.size() == 2);
    CHECK(edges[0].rising);
    CHECK(edges[0].time - fell == Nanos{200us});
    CHECK_FALSE(edges[1].rising);
    const double width = to_seconds(edges[1].time - edges[0].time);
    CHECK(std::abs(width - 2 * metres / 343.0) < 1e-6);
    CHECK_FALSE(sonar.echo->read());
}

TEST_CASE("with nothing within 4 m the echo lasts 38 ms", "[sim][circuits]") {
    Sonar sonar;
    sonar.board.set_value("sonar", "distance", 6.0);
    sonar.pulse(15us);
    sonar.board.advance(100ms);
    const auto& edges = sonar.echo_edges.seen;
    REQUIRE(edges.size() == 2);
    CHECK(edges[1].time - edges[0].time == Nanos{38ms});
}

TEST_CASE("a trigger shorter than 10 us gets no echo", "[sim][circuits]") {
    Sonar sonar;
    sonar.pulse(9us);
    sonar.board.advance(100ms);
    CHECK(sonar.echo_edges.seen.empty());
    CHECK_FALSE(ever_high(sonar.board.history("GPIO24")));
}

TEST_CASE("a trigger during an echo is ignored, and the next one after it is answered", "[sim][circuits]") {
    Sonar sonar;
    sonar.board.set_value("sonar", "distance", 3.0);  // an echo of about 17.5 ms
    sonar.pulse(10us);
    sonar.board.advance(1ms);
    sonar.board.set_value("sonar", "distance", 0.1);  // something comes close...
    sonar.pulse(10us);                                // ...but the sensor is still listening for its first echo
    sonar.board.advance(50ms);
    REQUIRE(sonar.echo_edges.seen.size() == 2);
    CHECK(std::abs(to_seconds(sonar.echo_edges.seen[1].time - sonar.echo_edges.seen[0].time) - 6.0 / 343.0) < 1e-6);

    sonar.board.set_value("sonar", "distance", 0.5);
    const Nanos fell = sonar.pulse(10us);
    sonar.board.advance(50ms);
    const auto& edges = sonar.echo_edges.seen;
    REQUIRE(edges.size() == 4);
    CHECK(edges[2].time - fell == Nanos{200us});
    CHECK(std::abs(to_seconds(edges[3].time - edges[2].time) - 1.0 / 343.0) < 1e-6);
}

TEST_CASE("the distance sensor needs two different lines", "[sim][circuits]") {
    SimBackend board(manual());
    CHECK_THROWS_MATCHES(board.wire_distance_sensor("sonar", "GPIO23", "GPIO23"), Error,
                         IsError(ErrorCode::bad_value, {"'sonar'", "GPIO23"}));
    CHECK_THROWS_MATCHES(board.wire_distance_sensor("sonar", "GPIO23", "GPIO99"), Error,
                         IsError(ErrorCode::unknown_part, {"GPIO99"}));
}

// ---- the line observer -----------------------------------------------------------------------

namespace {

// What a line observer was told: each line's name, with the level the line had by then.
struct Told {
    std::string line;
    double level;
    bool operator==(const Told&) const = default;
};

std::function<void(const std::string&)> record_into(SimBackend& board, std::vector<Told>& told) {
    return [&board, &told](const std::string& line) { told.push_back({line, board.level(line)}); };
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<Told> {
    static std::string convert(const Told& told) { return "{" + told.line + ", " + std::to_string(told.level) + "}"; }
};
}  // namespace Catch

TEST_CASE("the line observer is told the name of each line whose level changes", "[sim][observer]") {
    SimBackend board(manual());
    std::vector<Told> told;
    board.set_line_observer(record_into(board, told));

    auto led = claim(board, "GPIO17", "the LED 'red'");
    led->make_output(false);  // an output's first level is in its history, so the observer hears of it
    led->write(true);
    led->write(true);  // no change: nothing to tell
    led->write(false);
    CHECK(told == std::vector<Told>{{"GPIO17", 0.0}, {"GPIO17", 1.0}, {"GPIO17", 0.0}});

    told.clear();
    auto glow = claim(board, "GPIO18", "the LED 'glow'");
    glow->make_output(false);
    glow->set_pwm(1000, 0.25);
    glow->set_pwm(2000, 0.25);  // the same duty
    glow->set_pwm(2000, 0.75);
    CHECK(told == std::vector<Told>{{"GPIO18", 0.0}, {"GPIO18", 0.25}, {"GPIO18", 0.75}});

    told.clear();
    auto button = claim(board, "GPIO21", "the button 'button'");
    button->make_input(Bias::pull_up, Edge::both);
    board.drive("GPIO21", false);  // pressed
    board.drive("GPIO21", false);
    board.undrive("GPIO21");  // let go
    CHECK(told == std::vector<Told>{{"GPIO21", 1.0}, {"GPIO21", 0.0}, {"GPIO21", 1.0}});

    // What it was told is what each line's history recorded.
    CHECK(board.history("GPIO21").size() == 3);
}

TEST_CASE("the line observer hears the sensors' circuits answer, and time passing alone tells it nothing",
          "[sim][observer]") {
    Sonar sonar;
    std::vector<Told> told;
    sonar.board.set_line_observer(record_into(sonar.board, told));
    sonar.board.advance(1s);
    CHECK(told.empty());

    sonar.board.set_value("sonar", "distance", 0.5);
    sonar.pulse(10us);
    sonar.board.advance(50ms);
    CHECK(told == std::vector<Told>{{"GPIO23", 1.0}, {"GPIO23", 0.0}, {"GPIO24", 1.0}, {"GPIO24", 0.0}});
}

TEST_CASE("an empty function removes the line observer, and a new one replaces the old", "[sim][observer]") {
    SimBackend board(manual());
    auto led = claim(board, "GPIO17", "the LED 'red'");
    led->make_output(false);

    std::vector<Told> first, second;
    board.set_line_observer(record_into(board, first));
    led->write(true);
    board.set_line_observer(record_into(board, second));
    led->write(false);
    CHECK(first == std::vector<Told>{{"GPIO17", 1.0}});
    CHECK(second == std::vector<Told>{{"GPIO17", 0.0}});

    board.set_line_observer({});
    led->write(true);
    board.drive("GPIO5", true);
    CHECK(first.size() == 1);
    CHECK(second.size() == 1);
    CHECK(board.history("GPIO17").size() == 4);  // the history goes on without an observer
}
