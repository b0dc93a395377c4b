// berrykit — sensors read from the kernel's sysfs files.
//
// The root is injectable ("/sys" on a Pi), so tests build a tree of real-format files in a
// temporary folder and read it with the same code.
//
//   DS18B20: <root>/bus/w1/devices/28-*/w1_slave, two lines:
//       "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES"
//       "72 01 4b 46 7f ff 0e 10 57 t=23125"        (m°C)
//     A kernel without w1_slave has <root>/bus/w1/devices/28-*/temperature ("23125") instead.
//     A failed CRC ("NO"), nine zero bytes (no answer) or 85 °C (the value before the first
//     conversion) are read again, up to `attempts` times.
//   DHT11/22: <root>/bus/iio/devices/iio:deviceN/{name, in_temp_input, in_humidityrelative_input}
//       name is "dht11@<gpio in hex>" (the driver serves DHT22 too), values in m°C and m%RH.
//       A read can fail with EIO, ETIMEDOUT or EAGAIN when the sensor's reply was garbled: retried.
//
// Reads are plain blocking reads of sysfs files: the kernel bounds them (a DS18B20 conversion
// takes about 0.75 s, a DHT answer times out after about 1 s), so none can hang.
#pragma once

#include "berrykit/clock.hpp"
#include "berrykit/sensors.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace berrykit {

// Reads a whole sysfs file. Throws std::system_error carrying the errno (ENOENT, EACCES, EIO…)
// and naming the file.
std::string read_sysfs_file(const std::filesystem::path& file);

class SysfsSensorBus final : public SensorBus {
public:
    struct Options {
        std::filesystem::path root = "/sys";
        int attempts = 5;  // reads tried before giving up on a garbled reply (at least 1)
        // The wait before each retry. A DHT needs a moment before it will measure again; tests
        // set 0.
        Nanos retry_pause = std::chrono::milliseconds(500);
        // How a file is read; it must throw as read_sysfs_file does. Tests wrap the real read to
        // make it fail the way a sensor does. Empty means read_sysfs_file.
        std::function<std::string(const std::filesystem::path&)> read_file = nullptr;
        // The kit's device-tree overlay ("berrykit-classroom"): a sensor that is not found asks
        // for it in config.txt. Empty: it asks for the kernel's own w1-gpio / dht11 overlays.
        std::string overlay;
    };
    SysfsSensorBus() : SysfsSensorBus(Options{}) {}
    // Throws Error(bad_value) for attempts < 1 or a negative retry_pause.
    explicit SysfsSensorBus(Options options);

    // `device` is the 1-Wire id ("28-00000a1b2c3d") or "auto" (or empty) for the only DS18B20.
    double read_ds18b20(const std::string& part, const std::string& device) override;
    // `device` is "iio:deviceN" or "auto" (or empty): the only dht11 device, or, with several,
    // the one whose name ends in "@<hex BCM number of `line`>" ("GPIO17" → "dht11@11").
    ClimateReading read_dht(const std::string& part, const std::string& device, const std::string& line) override;

private:
    void pause_before_retry() const;
    // How a sensor's driver is switched on, for "was not found" messages: the kit's overlay when
    // there is one, else the kernel's own.
    std::string kit_overlay_is_on() const;
    std::string w1_is_on() const;

    Options options_;
};

// Parses a w1_slave file's text into °C. Throws Error(sensor) naming `part` on a failed CRC
// ("NO"), a missing "t=", nine zero bytes (the sensor did not answer), or the 85 °C power-on
// value that means the sensor never converted.
double parse_w1_slave(std::string_view text, const std::string& part);

}  // namespace berrykit
