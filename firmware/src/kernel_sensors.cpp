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
    // The board's part name, also when opened by number: the simulated board keeps its values by
    // part ("temperature"), and the part is what messages name.
    return backend().sensors().read_ds18b20(binding().def.name, binding().def.device);
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
    return backend().sensors().read_dht(binding().def.name, binding().def.device,
                                        line == binding().lines.end() ? std::string() : line->second.name);
}

}  // namespace berrykit
