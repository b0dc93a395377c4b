// berrykit — sensors read from the kernel's sysfs files.
//
// The root is injectable ("/sys" on a Pi), so tests build a tree of real-format files in a
// temporary folder and read it with the same code.
//
//   DS18B20: <root>/bus/w1/devices/28-*/w1_slave, two lines:
//       "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES"
//       "72 01 4b 46 7f ff 0e 10 57 t=23125"        (m°C)
//   DHT11/22: <root>/bus/iio/devices/iio:deviceN/{name, in_temp_input, in_humidityrelative_input}
//       name is "dht11@<gpio in hex>" (the driver serves DHT22 too), values in m°C and m%RH.
//       A read can fail with EIO or ETIMEDOUT when the sensor's reply was garbled: retried.
#pragma once

#include "berrykit/sensors.hpp"

#include <filesystem>
#include <string_view>

namespace berrykit {

class SysfsSensorBus final : public SensorBus {
public:
    struct Options {
        std::filesystem::path root = "/sys";
        int attempts = 5;  // reads tried before giving up on a garbled reply
    };
    SysfsSensorBus() : SysfsSensorBus(Options{}) {}
    explicit SysfsSensorBus(Options options);

    double read_ds18b20(const std::string& part, const std::string& device) override;
    ClimateReading read_dht(const std::string& part, const std::string& device,
                            const std::string& line) override;

private:
    Options options_;
};

// Parses a w1_slave file's text into °C. Throws Error(sensor) naming `part` on a failed CRC
// ("NO"), a missing "t=", or the 85 °C power-on value that means the sensor never converted.
double parse_w1_slave(std::string_view text, const std::string& part);

}  // namespace berrykit
