// berrykit — the simulated board.
//
// A real backend, not a test double: a Raspberry Pi 40-pin header whose GPIO lines carry the Pi's
// names (GPIO2 … GPIO27), the same reservations and errors as the libgpiod backend, and a clock
// that runs in real time or stands still until advanced (tests). Every line keeps a history of
// its level changes as (seconds since the board started, value); PWM shows its duty as the value.
// The outside world is driven from here: press a button (drive its line), wave at the PIR, and
// the circuits of the kit's analogue sensors (an LDR charging a capacitor, an HC-SR04's echo)
// answer the pins as the real parts do, from values that are set or follow a curve over time.
#pragma once

#include "berrykit/backend.hpp"
#include "berrykit/sensors.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace berrykit {

struct Sample {
    double seconds = 0;  // since the board started
    double value = 0;    // 0 or 1, or the PWM duty
    bool operator==(const Sample&) const = default;
};

// A quantity of the simulated world: a constant, or a curve of (seconds, value) points that it
// follows by straight lines, starting when it was set; after the last point it holds the last
// value, or starts over if `repeat`.
class SimValue {
public:
    SimValue(double constant = 0) : points_{{0.0, constant}} {}  // NOLINT: implicit on purpose
    static SimValue curve(std::vector<std::pair<double, double>> points, bool repeat = false);
    double at(double seconds_since_set) const;
    bool is_curve() const noexcept { return points_.size() > 1; }
    // The (seconds, value) points; one point for a constant.
    const std::vector<std::pair<double, double>>& points() const noexcept { return points_; }

private:
    std::vector<std::pair<double, double>> points_;
    bool repeat_ = false;
};

class SimBackend final : public Backend {
public:
    struct Options {
        bool manual_clock = false;
        std::size_t history_limit = 100000;  // samples kept per line; the oldest go first
        // True: PWM is the line's duty (as the Pi's PWM hardware). False: PWM toggles the line on
        // the board's timers, as on a line without PWM hardware (tests of software PWM use this).
        bool hardware_pwm = true;
    };
    SimBackend() : SimBackend(Options{}) {}
    explicit SimBackend(Options options);
    ~SimBackend() override;

    std::string kind() const override { return "sim"; }
    SensorBus& sensors() override;

    // --- the outside world ---------------------------------------------------------------
    // Drives a line from outside, as a button or a PIR does: an input pin on it sees the level
    // (and an edge, stamped with the clock's time) at once.
    void drive(std::string_view line, bool level);
    // Stops driving the line: it follows its pull again (a floating line reads 0).
    void undrive(std::string_view line);
    // The level on the line now: the output level, the PWM duty, or the input level.
    double level(std::string_view line) const;
    // What the outside world drives the line to (a pressed button), or nothing.
    std::optional<bool> driven(std::string_view line) const;
    // Every change of the line's level, whoever made it (a pin, a drive, a circuit), oldest first.
    // An output's initial level is always there, even when it matches the level before. A closed
    // pin lets its line go: it follows what drives it, or floats (0).
    std::vector<Sample> history(std::string_view line) const;
    void clear_history(std::string_view line);
    // Samples dropped from the front of the line's history because of `history_limit`.
    std::uint64_t history_dropped(std::string_view line) const;
    // Called with the line's name (with the board lock held, on whichever thread made it) for
    // every level change a line's history records. One observer at a time; an empty function
    // removes it. It must not block: a watcher such as the classroom page notes the change and
    // returns.
    void set_line_observer(std::function<void(const std::string& line)> observer);

    // --- circuits of the kit's sensors ------------------------------------------------------
    // An LDR with a capacitor on `line` (gpiozero's LightSensor wiring). When a pin on the line
    // turns from output-low to input, the line rises after a charge time of
    // `charge_time_limit * (1 - light)`, light being the value of (part, "light") from 0 (dark)
    // to 1 (bright). Fully dark never rises.
    void wire_light_sensor(const std::string& part, std::string_view line, Nanos charge_time_limit);
    // An HC-SR04: when `trigger` falls after being high for at least 10 µs, `echo` rises 200 µs
    // later and stays high for the sound's round trip to (part, "distance") metres at 343 m/s.
    // Beyond 4 m the echo stays high for 38 ms, as the real sensor's "nothing there" does.
    void wire_distance_sensor(const std::string& part, std::string_view trigger, std::string_view echo);

    // --- sensor values --------------------------------------------------------------------------
    // Sets (part, quantity): quantities are "temperature" (°C), "humidity" (%RH), "light" (0..1)
    // and "distance" (m). A curve starts from the clock's time now.
    void set_value(const std::string& part, const std::string& quantity, SimValue value);
    // The value now, or the quantity's default (21.5 °C, 45 %RH, light 0.5, 0.5 m) if never set.
    double value(const std::string& part, const std::string& quantity) const;
    // Makes the part's sensor fail as a missing or broken one would (true), or work again.
    void set_sensor_fault(const std::string& part, bool faulty);

    // Seconds since the board started, on its clock.
    double seconds() const;

protected:
    std::optional<LineInfo> lookup(std::string_view name) const override;
    std::unique_ptr<Pin> open_pin(const LineInfo& line, const std::string& owner) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    friend struct SimBackendAccess;
};

// The Raspberry Pi 40-pin header's GPIO lines that the simulated board has: GPIO2 … GPIO27.
bool is_sim_header_line(std::string_view name) noexcept;

}  // namespace berrykit
