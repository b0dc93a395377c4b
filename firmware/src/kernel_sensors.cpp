#include "berrykit/kernel_sensors.hpp"

#include "berrykit/kit.hpp"

namespace berrykit {

TemperatureSensor::TemperatureSensor(std::shared_ptr<Kit> kit, PartBinding binding)
    : Device(std::move(kit), std::move(binding)) {}

TemperatureSensor::~TemperatureSensor() { close(); }

double TemperatureSensor::temperature() {
    {
        std::lock_guard guard(backend().lock());
        check_open();
    }
    // No board lock here: a real DS18B20 read takes up to 750 ms while the kernel converts.
    return backend().sensors().read_ds18b20(part(), binding().def.device);
}

HumidityTemperatureSensor::HumidityTemperatureSensor(std::shared_ptr<Kit> kit, PartBinding binding)
    : Device(std::move(kit), std::move(binding)) {}

HumidityTemperatureSensor::~HumidityTemperatureSensor() { close(); }

ClimateReading HumidityTemperatureSensor::read() {
    {
        std::lock_guard guard(backend().lock());
        check_open();
    }
    const auto line = binding().lines.find("line");
    return backend().sensors().read_dht(part(), binding().def.device,
                                        line == binding().lines.end() ? std::string() : line->second.name);
}

}  // namespace berrykit
