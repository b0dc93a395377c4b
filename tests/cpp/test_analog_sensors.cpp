// Sensors measured by timing edges, against the simulated board's circuits: an LDR charging a
// capacitor and an HC-SR04's echo. The reading must be the value the world was set to, events
// must come when the smoothed reading crosses the threshold, and measurements keep their pace.
#include <catch2/catch.hpp>
#include <limits>
#include <optional>
#include <vector>

#include "berrykit/analog_sensors.hpp"
#include "berrykit/clock.hpp"
#include "error_matchers.hpp"
#include "sim_kit.hpp"

using namespace berrykit;
using berrykit::test::Happened;
using berrykit::test::open_sim_kit;
using berrykit::test::take_events;
using berrykit::testing::IsError;

namespace {

const double not_a_number = std::numeric_limits<double>::quiet_NaN();

// Advances in small steps until the sensor has taken one more measurement (at most `limit` s).
void advance_one_measurement(Kit& kit, const SmoothedSensor& sensor, double limit = 1.0) {
    const auto before = sensor.measurements();
    for (double waited = 0; waited < limit && sensor.measurements() == before; waited += 0.0005) kit.advance(0.0005);
    REQUIRE(sensor.measurements() == before + 1);
}

double reading(const SmoothedSensor& sensor) {
    const auto value = sensor.latest();
    REQUIRE(value.has_value());
    return *value;
}

// Runs the board's timers as a busy computer does: the clock jumps `late` seconds at once and
// every timer that fell due meanwhile runs then, late.
void run_late(Kit& kit, double late) {
    auto& backend = kit.backend();
    std::lock_guard guard(backend.lock());
    auto& clock = dynamic_cast<ManualClock&>(backend.clock());
    clock.set(clock.now() + from_seconds(late));
    backend.scheduler().run_due(clock.now());
}

std::vector<EventKind> kinds_of(const std::vector<Happened>& events) {
    std::vector<EventKind> out;
    for (const auto& e : events) out.push_back(e.kind);
    return out;
}

}  // namespace

// ---- LightSensor -----------------------------------------------------------------------------

TEST_CASE("a light sensor reads the same when the computer runs its timers late") {
    // The capacitor's edge carries the time it charged (on a Pi, the kernel's timestamp), not
    // the time a busy computer got round to it: 0.8 must not read as 0.7.
    auto kit = open_sim_kit();
    kit->set_sensor("light", "", 0.8);  // charges in 2 ms of the 10 ms limit
    auto light = kit->open_light_sensor("light", {});
    for (int i = 0; i < 400 && light->measurements() < 5; ++i) run_late(*kit, 0.003);
    REQUIRE(light->measurements() >= 5);
    CHECK(reading(*light) == Approx(0.8).margin(0.01));
}

TEST_CASE("a light sensor reads the light it is given") {
    auto kit = open_sim_kit();
    auto light = kit->open_light_sensor("light", {});
    CHECK_FALSE(light->latest().has_value());  // nothing measured yet
    CHECK_FALSE(light->wait_for_reading(0.0));
    kit->set_sensor("light", "", 0.8);
    kit->advance(1);
    CHECK(light->wait_for_reading(0.0));
    CHECK(reading(*light) == Approx(0.8).margin(0.01));
    CHECK(light->is_active());

    kit->set_sensor("light", "light", 0.3);
    kit->advance(1);
    CHECK(reading(*light) == Approx(0.3).margin(0.01));
}

TEST_CASE("a light sensor in the dark reads 0") {
    auto kit = open_sim_kit();
    kit->set_sensor("light", "", 0.0);
    auto light = kit->open_light_sensor("light", {});
    kit->advance(1);
    CHECK(reading(*light) == 0.0);
    CHECK_FALSE(light->is_active());
}

TEST_CASE("a light sensor measures about every 50 ms") {
    auto kit = open_sim_kit();
    auto light = kit->open_light_sensor("light", {});
    kit->advance(1.0);
    // One at about 10 ms after the start of each 50 ms cycle: 0, 0.05, … 0.95.
    CHECK(light->measurements() == 20);
}

TEST_CASE("light and dark events come when the reading crosses the threshold, not for the first reading") {
    auto kit = open_sim_kit();
    auto light = kit->open_light_sensor("light", {});  // threshold 0.1, queue_len 5; light 0.5 at first
    const auto id = light->id();
    kit->advance(1);
    CHECK(light->is_active());
    CHECK(take_events(*kit).empty());  // starting in the light is not an event

    kit->set_sensor("light", "", 0.0);
    kit->advance(1);
    CHECK_FALSE(light->is_active());
    kit->set_sensor("light", "", 1.0);
    kit->advance(1);
    CHECK(light->is_active());
    const auto events = take_events(*kit);
    CHECK(kinds_of(events) == std::vector<EventKind>{EventKind::dark, EventKind::light});
    REQUIRE(events.size() == 2);
    CHECK(events[0].device == id);
    // The mean of five falls to 0.1 (not above the threshold) at the fourth reading in the dark.
    CHECK(events[0].seconds > 1.15);
    CHECK(events[0].seconds < 1.25);
    CHECK(events[1].seconds > 2.0);
    CHECK(events[1].seconds < 2.05);  // one bright reading lifts the mean to 0.2
}

TEST_CASE("a light sensor's reading is the mean of its last queue_len measurements") {
    auto kit = open_sim_kit();
    LightSensor::Options five;
    auto light = kit->open_light_sensor("light", five);
    kit->advance(1);
    CHECK(reading(*light) == Approx(0.5).margin(0.01));
    kit->set_sensor("light", "", 1.0);
    advance_one_measurement(*kit, *light);
    CHECK(reading(*light) == Approx((4 * 0.5 + 1.0) / 5).margin(0.01));
    advance_one_measurement(*kit, *light);
    CHECK(reading(*light) == Approx((3 * 0.5 + 2 * 1.0) / 5).margin(0.01));

    light->close();
    LightSensor::Options one;
    one.queue_len = 1;
    auto quick = kit->open_light_sensor("light", one);
    kit->set_sensor("light", "", 0.2);
    advance_one_measurement(*kit, *quick);
    CHECK(reading(*quick) == Approx(0.2).margin(0.01));
    kit->set_sensor("light", "", 0.9);
    advance_one_measurement(*kit, *quick);
    CHECK(reading(*quick) == Approx(0.9).margin(0.01));
}

TEST_CASE("a light sensor's threshold decides what is light") {
    auto kit = open_sim_kit();
    LightSensor::Options options;
    options.threshold = 0.6;
    auto light = kit->open_light_sensor("light", options);
    kit->advance(1);
    CHECK(light->threshold() == 0.6);
    CHECK_FALSE(light->is_active());  // 0.5 is not above 0.6
    light->set_threshold(0.4);
    kit->set_sensor("light", "", 0.45);  // a new measurement re-checks against the new threshold
    kit->advance(1);
    CHECK(light->is_active());
}

TEST_CASE("a light sensor's settings are checked, naming the part") {
    auto kit = open_sim_kit();
    const auto named = [](const char* field) {
        return IsError(ErrorCode::bad_value, {field, "the light sensor 'light'"});
    };
    LightSensor::Options options;
    options.queue_len = 0;
    CHECK_THROWS_MATCHES(kit->open_light_sensor("light", options), Error, named("queue_len"));
    options.queue_len = 101;
    CHECK_THROWS_MATCHES(kit->open_light_sensor("light", options), Error, named("queue_len"));
    options = {};
    options.charge_time_limit = 0;
    CHECK_THROWS_MATCHES(kit->open_light_sensor("light", options), Error, named("charge_time_limit"));
    options.charge_time_limit = not_a_number;
    CHECK_THROWS_MATCHES(kit->open_light_sensor("light", options), Error, named("charge_time_limit"));
    options.charge_time_limit = 2;
    CHECK_THROWS_MATCHES(kit->open_light_sensor("light", options), Error, named("charge_time_limit"));
    options = {};
    options.threshold = -0.5;
    CHECK_THROWS_MATCHES(kit->open_light_sensor("light", options), Error, named("threshold"));
    CHECK_FALSE(kit->backend().owner_of("GPIO26").has_value());  // none of those kept the line

    auto light = kit->open_light_sensor("light", {});
    CHECK_THROWS_MATCHES(light->set_threshold(not_a_number), Error, named("threshold"));
    CHECK(light->threshold() == 0.1);
    CHECK(light->charge_time_limit() == 0.01);
}

// ---- DistanceSensor --------------------------------------------------------------------------

TEST_CASE("a distance sensor reads the distance it is given, to the millimetre") {
    auto kit = open_sim_kit();
    auto distance = kit->open_distance_sensor("distance", {});
    for (const double metres : {0.25, 0.05, 0.734, 0.999}) {
        kit->set_sensor("distance", "", metres);
        kit->advance(1);
        CHECK(reading(*distance) == Approx(metres).margin(0.001));
    }
}

TEST_CASE("a distance beyond max_distance reads as max_distance") {
    auto kit = open_sim_kit();
    auto distance = kit->open_distance_sensor("distance", {});
    CHECK(distance->max_distance() == 1.0);
    kit->set_sensor("distance", "", 2.0);
    kit->advance(1);
    CHECK(reading(*distance) == 1.0);
    kit->set_sensor("distance", "", 10.0);  // nothing there: the HC-SR04's 38 ms echo
    kit->advance(1);
    CHECK(reading(*distance) == 1.0);

    distance->set_max_distance(0.2);
    kit->set_sensor("distance", "", 0.5);
    kit->advance(1);
    CHECK(reading(*distance) == Approx(0.2));
    CHECK_THROWS_MATCHES(distance->set_max_distance(5), Error,
                         IsError(ErrorCode::bad_value, {"max_distance", "the distance sensor 'distance'"}));
    CHECK_THROWS_MATCHES(distance->set_max_distance(0), Error, IsError(ErrorCode::bad_value, {"max_distance"}));
    CHECK(distance->max_distance() == 0.2);
}

TEST_CASE("in_range and out_of_range come when something crosses the threshold distance") {
    auto kit = open_sim_kit();
    auto distance = kit->open_distance_sensor("distance", {});  // threshold 0.3 m; 0.5 m at first
    const auto id = distance->id();
    kit->advance(1);
    CHECK_FALSE(distance->is_active());
    CHECK(take_events(*kit).empty());

    kit->set_sensor("distance", "", 0.1);
    kit->advance(1);
    CHECK(distance->is_active());
    kit->set_sensor("distance", "", 0.8);
    kit->advance(1);
    CHECK_FALSE(distance->is_active());
    const auto events = take_events(*kit);
    CHECK(kinds_of(events) == std::vector<EventKind>{EventKind::in_range, EventKind::out_of_range});
    for (const auto& event : events) CHECK(event.device == id);
}

TEST_CASE("a distance sensor reads the same when the computer runs its timers late") {
    // The echo's edges carry the times they happened, so an echo whose start and end a busy
    // computer handles in the same late moment still measures 0.5 m: it must not look like
    // something right in front of the sensor (which made a false in_range, then out_of_range).
    auto kit = open_sim_kit();
    auto distance = kit->open_distance_sensor("distance", {});  // 0.5 m: an echo of 2.9 ms
    for (int i = 0; i < 400 && distance->measurements() < 5; ++i) run_late(*kit, 0.005);
    REQUIRE(distance->measurements() >= 5);
    CHECK(reading(*distance) == Approx(0.5).margin(0.001));
    CHECK_FALSE(distance->is_active());
    CHECK(take_events(*kit).empty());
}

TEST_CASE("a distance sensor opened by its pins, echo first as gpiozero takes them") {
    auto kit = open_sim_kit();
    auto distance = kit->open_distance_sensor(24, 23, {});
    CHECK(distance->binding().lines.at("echo").name == "GPIO24");
    CHECK(distance->binding().lines.at("trigger").name == "GPIO23");
    CHECK(kit->backend().owner_of("GPIO23").has_value());
    CHECK(kit->backend().owner_of("GPIO24").has_value());
    kit->set_sensor("distance", "", 0.42);
    kit->advance(1);
    CHECK(reading(*distance) == Approx(0.42).margin(0.001));
}

TEST_CASE("a distance sensor measures once every 60 ms") {
    auto kit = open_sim_kit();
    SECTION("something there") {
        auto distance = kit->open_distance_sensor("distance", {});
        kit->advance(1.2);
        CHECK(distance->measurements() == 20);
        // The trigger pulses on the trigger line, 10 µs each, 60 ms apart.
        const auto trigger = kit->history("distance", "trigger");
        std::vector<double> rises;
        for (const auto& s : trigger) {
            if (s.value == 1) rises.push_back(s.seconds);
        }
        REQUIRE(rises.size() == 21);  // 0, 0.06, … 1.2
        for (std::size_t i = 1; i < rises.size(); ++i) CHECK(rises[i] - rises[i - 1] == Approx(0.06));
    }
    SECTION("nothing there") {
        kit->set_sensor("distance", "", 10.0);
        auto distance = kit->open_distance_sensor("distance", {});
        kit->advance(1.2);
        CHECK(distance->measurements() == 20);
    }
}

TEST_CASE("a distance sensor's settings are checked, naming the part") {
    auto kit = open_sim_kit();
    DistanceSensor::Options options;
    options.max_distance = 0;
    CHECK_THROWS_MATCHES(kit->open_distance_sensor("distance", options), Error,
                         IsError(ErrorCode::bad_value, {"max_distance", "the distance sensor 'distance'"}));
    options = {};
    options.threshold_distance = not_a_number;
    CHECK_THROWS_MATCHES(kit->open_distance_sensor("distance", options), Error,
                         IsError(ErrorCode::bad_value, {"threshold", "the distance sensor 'distance'"}));
    options = {};
    options.queue_len = 0;
    CHECK_THROWS_MATCHES(kit->open_distance_sensor("distance", options), Error,
                         IsError(ErrorCode::bad_value, {"queue_len", "the distance sensor 'distance'"}));
    CHECK_FALSE(kit->backend().owner_of("GPIO23").has_value());
    CHECK_FALSE(kit->backend().owner_of("GPIO24").has_value());
}

TEST_CASE("wait_for on a sensor on a real clock") {
    auto kit = open_sim_kit(/*manual_clock=*/false);
    kit->set_sensor("distance", "", 0.1);
    auto distance = kit->open_distance_sensor("distance", {});
    CHECK(distance->wait_for_reading(30.0));
    CHECK(distance->wait_for(true, 30.0));
    kit->set_sensor("distance", "", 0.9);
    CHECK(distance->wait_for(false, 30.0));
    CHECK(reading(*distance) > 0.3);
}
