// berrykit — sensors the kernel reads: TemperatureSensor (DS18B20 over 1-Wire) and
// HumidityTemperatureSensor (DHT11/DHT22 through the dht11 IIO driver).
//
// A read can take most of a second on a real DS18B20 (the kernel waits for the conversion), so it
// runs without the board lock: other parts and the event loop carry on meanwhile.
#pragma once

#include "berrykit/device.hpp"
#include "berrykit/sensors.hpp"

namespace berrykit {

class TemperatureSensor final : public Device {
public:
    TemperatureSensor(std::shared_ptr<Kit> kit, PartBinding binding);
    ~TemperatureSensor() override;
    double temperature();  // °C

private:
    void release() noexcept override {}
};

class HumidityTemperatureSensor final : public Device {
public:
    HumidityTemperatureSensor(std::shared_ptr<Kit> kit, PartBinding binding);
    ~HumidityTemperatureSensor() override;
    ClimateReading read();

private:
    void release() noexcept override {}
};

}  // namespace berrykit
