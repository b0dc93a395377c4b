// Sensors the kernel reads (DS18B20, DHT11/22), here against the simulated board's sensor bus:
// the reading is the value set for the part, following a curve over the board's time, and a
// broken sensor is an Error(sensor) that names the part. Reading the real sysfs files is
// test_sysfs_sensors' job.
#include <catch2/catch.hpp>

#include "berrykit/gpiod_backend.hpp"
#include "berrykit/kernel_sensors.hpp"
#include "error_matchers.hpp"
#include "sim_kit.hpp"
#include "temp_dir.hpp"

using namespace berrykit;
using berrykit::test::open_sim_kit;
using berrykit::testing::IsError;

// ---- TemperatureSensor -------------------------------------------------------------------------

TEST_CASE("a temperature sensor reads the temperature it is given") {
    auto kit = open_sim_kit();
    auto temperature = kit->open_temperature_sensor("temperature");
    CHECK(temperature->temperature() == 21.5);  // the simulated room, before anyone sets it
    kit->set_sensor("temperature", "", 25.0);
    CHECK(temperature->temperature() == 25.0);
    kit->set_sensor("temperature", "temperature", -5.25);
    CHECK(temperature->temperature() == -5.25);
}

TEST_CASE("a temperature sensor follows a curve over the board's time") {
    auto kit = open_sim_kit();
    auto temperature = kit->open_temperature_sensor("temperature");
    kit->advance(1);
    kit->set_sensor("temperature", "", SimValue::curve({{0, 20}, {10, 30}}));  // starts now, at 1 s
    CHECK(temperature->temperature() == Approx(20));
    kit->advance(5);
    CHECK(temperature->temperature() == Approx(25));
    kit->advance(2.5);
    CHECK(temperature->temperature() == Approx(27.5));
    kit->advance(100);
    CHECK(temperature->temperature() == Approx(30));  // holds its last value

    kit->set_sensor("temperature", "", SimValue::curve({{0, 10}, {2, 20}}, /*repeat=*/true));
    kit->advance(3);
    CHECK(temperature->temperature() == Approx(15));
}

TEST_CASE("a broken temperature sensor is an Error(sensor) naming the part, until it is mended") {
    auto kit = open_sim_kit();
    auto temperature = kit->open_temperature_sensor("temperature");
    kit->set_sensor("temperature", "", 19.0);
    kit->set_sensor_fault("temperature", true);
    CHECK_THROWS_MATCHES(temperature->temperature(), Error,
                         IsError(ErrorCode::sensor, {"temperature sensor 'temperature'", "did not answer"}));
    kit->set_sensor_fault("temperature", false);
    CHECK(temperature->temperature() == 19.0);
}

TEST_CASE("a temperature sensor opened by its GPIO number reads its part's sensor") {
    auto kit = open_sim_kit();
    auto temperature = kit->open_temperature_sensor(4);
    CHECK(temperature->description() == "the temperature sensor on GPIO4");
    kit->set_sensor("temperature", "", 30.5);
    CHECK(temperature->temperature() == 30.5);
    kit->set_sensor_fault("temperature", true);
    CHECK_THROWS_MATCHES(temperature->temperature(), Error, IsError(ErrorCode::sensor, {"temperature"}));
}

TEST_CASE("a temperature sensor claims no GPIO line: the kernel's driver owns it") {
    auto kit = open_sim_kit();
    auto temperature = kit->open_temperature_sensor("temperature");
    auto again = kit->open_temperature_sensor("temperature");  // no "already in use"
    CHECK(again->temperature() == temperature->temperature());
    CHECK_FALSE(kit->backend().owner_of("GPIO4").has_value());
}

// ---- HumidityTemperatureSensor -----------------------------------------------------------------

TEST_CASE("a DHT reads temperature and humidity") {
    auto kit = open_sim_kit();
    auto climate = kit->open_humidity_temperature_sensor("climate");
    auto reading = climate->read();
    CHECK(reading.temperature_c == 21.5);
    CHECK(reading.humidity_percent == 45.0);

    kit->set_sensor("climate", "temperature", 18.5);
    kit->set_sensor("climate", "humidity", 60.0);
    reading = climate->read();
    CHECK(reading.temperature_c == 18.5);
    CHECK(reading.humidity_percent == 60.0);

    kit->set_sensor("climate", "humidity", SimValue::curve({{0, 40}, {4, 80}}));
    kit->advance(1);
    reading = climate->read();
    CHECK(reading.humidity_percent == Approx(50));
    CHECK(reading.temperature_c == 18.5);
}

TEST_CASE("a DHT's humidity must be a percentage") {
    auto kit = open_sim_kit();
    auto climate = kit->open_humidity_temperature_sensor("climate");
    CHECK_THROWS_MATCHES(kit->set_sensor("climate", "humidity", 120.0), Error,
                         IsError(ErrorCode::bad_value, {"humidity", "'climate'", "120"}));
    CHECK(climate->read().humidity_percent == 45.0);
}

TEST_CASE("a broken DHT is an Error(sensor) naming the part") {
    auto kit = open_sim_kit();
    auto climate = kit->open_humidity_temperature_sensor("climate");
    kit->set_sensor_fault("climate", true);
    CHECK_THROWS_MATCHES(climate->read(), Error, IsError(ErrorCode::sensor, {"'climate'", "did not answer"}));
    kit->set_sensor_fault("climate", false);
    CHECK_NOTHROW(climate->read());
}

TEST_CASE("a DHT opened by its GPIO number reads its part's sensor") {
    auto kit = open_sim_kit();
    auto climate = kit->open_humidity_temperature_sensor(25);
    CHECK(climate->description() == "the climate sensor on GPIO25");
    kit->set_sensor("climate", "humidity", 70.0);
    CHECK(climate->read().humidity_percent == 70.0);
}

// ---- no real GPIO here -------------------------------------------------------------------------

TEST_CASE("a kit on real GPIO cannot be made where there is no GPIO chip") {
    berrykit::test::TempDir empty_dev;  // a /dev with no gpiochip*
    KitOptions options = berrykit::test::sim_kit_options(/*manual_clock=*/false);
    options.backend = "gpiod";
    options.dev_root = empty_dev.path();
    if (gpiod_backend_built()) {
        CHECK_THROWS_MATCHES(Kit::open(options), Error,
                             IsError(ErrorCode::gpio, {"no GPIO chip", empty_dev.path().string(), "simulated"}));
    } else {
        CHECK_THROWS_MATCHES(Kit::open(options), Error, IsError(ErrorCode::unsupported, {"libgpiod", "simulated"}));
    }
    // A manual clock is the simulated board's alone, whatever the machine has.
    options.manual_clock = true;
    CHECK_THROWS_MATCHES(Kit::open(options), Error, IsError(ErrorCode::unsupported, {"manual clock"}));
}
