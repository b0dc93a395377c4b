// berrykit — sensors measured by timing edges: LightSensor (LDR + capacitor) and
// DistanceSensor (HC-SR04).
//
// Both measure continuously on the board's timers, like gpiozero's background threads but with
// no thread: a measurement is a few timers and edge events. The reading is the mean of the last
// `queue_len` measurements.
//
//   LightSensor: the pin drains the capacitor (output low), turns to input and times how long the
//   LDR takes to charge it past the logic threshold (the rising edge's timestamp). Bright light
//   charges fast: value = 1 - charge_time / charge_time_limit, 0 (dark) .. 1 (bright).
//   DistanceSensor: a 10 µs pulse on trigger; the echo line stays high for the sound's round trip;
//   distance = echo width × 343 m/s ÷ 2, from the echo's edge timestamps.
//
// A shared sensor (PartBinding::shared: berrykitd's sensor for one program) measures nothing
// itself: it takes each measurement of the sensor that holds the part, and smooths it with its
// own queue_len, threshold and max_distance (or charge_time_limit, up to the holder's).
#pragma once

#include "berrykit/device.hpp"

#include <deque>
#include <memory>
#include <optional>
#include <vector>

namespace berrykit {

class SmoothedSensor : public Device {
public:
    // The latest smoothed value, or nothing before the first measurement.
    std::optional<double> latest() const;
    // Waits for the first measurement. False on timeout.
    bool wait_for_reading(std::optional<double> timeout);
    // Waits until the sensor is (or is not) "active" (light detected / something in range).
    bool wait_for(bool active, std::optional<double> timeout);
    bool is_active() const;
    double threshold() const;
    void set_threshold(double threshold);
    std::uint64_t measurements() const;

protected:
    SmoothedSensor(std::shared_ptr<Kit> kit, PartBinding binding, std::size_t queue_len, double threshold,
                   EventKind activated, EventKind deactivated);
    // Adds one measurement (with the board lock held) and emits an event when the active state flips.
    void add_measurement(double value, Nanos time);
    virtual bool active_for(double value) const = 0;
    void validate_threshold(double threshold) const;

    std::size_t queue_len_;
    double threshold_;

private:
    std::deque<double> recent_;
    std::optional<double> smoothed_;
    bool active_ = false;
    std::uint64_t measurements_ = 0;
    EventKind activated_;
    EventKind deactivated_;
};

class LightSensor final : public SmoothedSensor {
public:
    struct Options {
        std::size_t queue_len = 5;
        double charge_time_limit = 0.01;  // seconds; charging slower than this reads as dark (0)
        double threshold = 0.1;           // light_detected when value > threshold
        double period = 0.05;             // seconds from one measurement to the next (0.02 .. 3600)
    };
    LightSensor(std::shared_ptr<Kit> kit, PartBinding binding, Options options);
    ~LightSensor() override;
    double charge_time_limit() const noexcept { return to_seconds(limit_); }

private:
    bool active_for(double value) const override { return value > threshold_; }
    void release() noexcept override;
    void start_drain();
    void start_charge();
    void charged(Nanos time);
    // One measurement (how long the capacitor took to charge, at most the holder's limit), for
    // this sensor and every shared one that follows it.
    void measured(Nanos charge, Nanos time);

    LightSensor* source_ = nullptr;        // shared: the sensor that measures for this one
    std::vector<LightSensor*> followers_;  // the shared sensors this one measures for
    std::unique_ptr<Pin> pin_;
    Nanos limit_;
    Nanos period_;
    Nanos charge_start_{0};
    bool charging_ = false;
    Scheduler::TimerId timer_ = 0;
};

class DistanceSensor final : public SmoothedSensor {
public:
    struct Options {
        std::size_t queue_len = 3;
        double max_distance = 1.0;        // metres; readings beyond it read as max_distance
        double threshold_distance = 0.3;  // in_range when distance < threshold_distance
        double period = 0.06;             // seconds from one trigger to the next (0.06 .. 3600)
    };
    DistanceSensor(std::shared_ptr<Kit> kit, PartBinding binding, Options options);
    ~DistanceSensor() override;
    double max_distance() const;
    void set_max_distance(double metres);

    static constexpr double speed_of_sound = 343.0;  // m/s in air at 20 °C

private:
    bool active_for(double value) const override { return value < threshold_; }
    void release() noexcept override;
    void trigger();
    void echo_edge(const EdgeEvent& event);
    void finish(std::optional<double> distance, Nanos time);
    // One measurement (nothing: no echo in range), for this sensor and every shared follower,
    // each clamping it to its own max_distance.
    void measured(std::optional<double> distance, Nanos time);

    DistanceSensor* source_ = nullptr;
    std::vector<DistanceSensor*> followers_;
    std::unique_ptr<Pin> trigger_;
    std::unique_ptr<Pin> echo_;
    double max_distance_;
    Nanos period_;
    Nanos cycle_start_{0};
    std::optional<Nanos> echo_rise_;
    bool waiting_ = false;
    Scheduler::TimerId timer_ = 0;
};

}  // namespace berrykit
