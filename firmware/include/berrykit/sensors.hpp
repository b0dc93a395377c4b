// berrykit — sensors the kernel reads for us.
//
// A DS18B20 is read through the kernel's 1-Wire driver (w1-gpio + w1-therm) and a DHT11/DHT22
// through its dht11 IIO driver: user space cannot time a DHT's microsecond pulses reliably, the
// kernel can. SysfsSensorBus (sysfs_sensors.hpp) reads the real files; the simulated board has
// its own SensorBus with the same errors.
#pragma once

#include <string>

namespace berrykit {

struct ClimateReading {
    double temperature_c = 0;
    double humidity_percent = 0;
};

class SensorBus {
public:
    virtual ~SensorBus() = default;
    // Temperature in °C of the DS18B20 called `part`. `device` is its 1-Wire id
    // ("28-00000a1b2c3d") or "auto" for the only one there. Throws Error(sensor) naming the part.
    virtual double read_ds18b20(const std::string& part, const std::string& device) = 0;
    // Temperature and humidity of the DHT11/DHT22 called `part`. `device` is its IIO device
    // ("iio:device0") or "auto" for the dht11 driver's device on `line` (or the only one).
    virtual ClimateReading read_dht(const std::string& part, const std::string& device, const std::string& line) = 0;
};

}  // namespace berrykit
