// berrykit — output devices: LED and Buzzer (on/off), PWMLED (brightness), RGBLED (colour).
//
// Blinks, fades and pulses run inside the core on the board's timers, at absolute deadlines, so
// a blink keeps time even when the program is busy, and with a manual clock a test can assert
// the exact pattern from the simulated line's history.
#pragma once

#include "berrykit/device.hpp"

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace berrykit {

using Color = std::array<double, 3>;  // red, green, blue, each 0..1; one-channel devices use [0]

// A sequence of steps played on the board's timers: each step goes from one value to another
// over its duration (a fade, at `fps` frames per second) or holds one value. Played `repeats`
// times, or forever; when it ends it leaves the last step's value and calls `on_done`.
class Animation {
public:
    struct Step {
        double seconds;
        Color from;
        Color to;
    };
    Animation(Scheduler& scheduler, std::vector<Step> steps, std::optional<int> repeats,
              std::function<void(const Color&)> apply, std::function<void()> on_done, double fps = 25.0);
    ~Animation();
    Animation(const Animation&) = delete;
    Animation& operator=(const Animation&) = delete;

    void start();
    void stop() noexcept;  // leaves the current value; does not call on_done
    bool running() const noexcept { return timer_ != 0; }

private:
    void frame(std::size_t cycle, std::size_t step, Nanos step_start, Nanos frame_time);

    Scheduler& scheduler_;
    std::vector<Step> steps_;
    std::optional<int> repeats_;
    std::function<void(const Color&)> apply_;
    std::function<void()> on_done_;
    Nanos frame_period_;
    Scheduler::TimerId timer_ = 0;
};

// Common to every output: background animations and waiting for them to end.
class OutputDevice : public Device {
public:
    bool is_animating() const;
    // Waits until a blink/pulse with a count ends. False on timeout.
    bool wait_for_animation(std::optional<double> timeout);

protected:
    using Device::Device;
    void play(std::vector<Animation::Step> steps, std::optional<int> repeats, bool fades);
    void stop_animation() noexcept;
    virtual void apply(const Color& value) = 0;
    void release() noexcept override;
    void check_times(std::initializer_list<std::pair<const char*, double>> times) const;

private:
    std::unique_ptr<Animation> animation_;
};

// An LED or a buzzer: on or off.
class DigitalOutputDevice final : public OutputDevice {
public:
    struct Options {
        std::optional<bool> active_high;  // default: the board's setting
        bool initial_value = false;
    };
    DigitalOutputDevice(std::shared_ptr<Kit> kit, PartBinding binding, Options options);
    ~DigitalOutputDevice() override;

    void on();
    void off();
    void toggle();
    void set_value(bool value);
    bool is_active() const;
    bool active_high() const noexcept { return active_high_; }
    // Blinks in the background: on for on_time, off for off_time, n times (forever if empty).
    void blink(double on_time, double off_time, std::optional<int> n);

private:
    void apply(const Color& value) override;
    void write(bool value);
    void release() noexcept override;

    std::unique_ptr<Pin> pin_;
    bool active_high_ = true;
    bool value_ = false;
};

// An LED dimmed with PWM: value 0 (off) .. 1 (full brightness).
class PwmOutputDevice final : public OutputDevice {
public:
    struct Options {
        std::optional<bool> active_high;
        double initial_value = 0;
        double frequency = 100;  // Hz
    };
    PwmOutputDevice(std::shared_ptr<Kit> kit, PartBinding binding, Options options);
    ~PwmOutputDevice() override;

    void on();
    void off();
    void toggle();  // value becomes 1 - value
    void set_value(double value);
    double value() const;
    bool is_active() const;  // value > 0
    double frequency() const;
    void set_frequency(double hz);
    void blink(double on_time, double off_time, double fade_in_time, double fade_out_time, std::optional<int> n);
    void pulse(double fade_in_time, double fade_out_time, std::optional<int> n);

private:
    void apply(const Color& value) override;
    void write(double value);
    void release() noexcept override;

    std::unique_ptr<Pin> pin_;
    bool active_high_ = true;
    double value_ = 0;
    double frequency_ = 100;
};

// A three-colour LED (common cathode by default; active_high=false for common anode).
class RgbLed final : public OutputDevice {
public:
    struct Options {
        std::optional<bool> active_high;
        Color initial_value{0, 0, 0};
        bool pwm = true;  // false: each colour only on or off
        double frequency = 100;
    };
    RgbLed(std::shared_ptr<Kit> kit, PartBinding binding, Options options);
    ~RgbLed() override;

    void on();  // white
    void off();
    void toggle();  // each colour c becomes 1 - c
    void set_color(const Color& color);
    Color color() const;
    bool is_active() const;
    void blink(double on_time, double off_time, double fade_in_time, double fade_out_time, const Color& on_color,
               const Color& off_color, std::optional<int> n);
    void pulse(double fade_in_time, double fade_out_time, const Color& on_color, const Color& off_color,
               std::optional<int> n);

private:
    void apply(const Color& value) override;
    void write(const Color& value);
    void release() noexcept override;
    void check_color(const Color& color, const char* what) const;

    std::array<std::unique_ptr<Pin>, 3> pins_;
    bool active_high_ = true;
    bool pwm_ = true;
    double frequency_ = 100;
    Color value_{0, 0, 0};
};

}  // namespace berrykit
