// berrykit — digital input devices: Button and MotionSensor (PIR).
//
// State comes from edges reported by the backend (the kernel's edge events on a Pi), debounced
// in software, so `is_active` always agrees with the events a program has seen. Each event
// carries the time the edge happened, not the time it was handled.
#pragma once

#include "berrykit/device.hpp"

#include <memory>
#include <optional>

namespace berrykit {

class DigitalInputDevice : public Device {
public:
    struct Options {
        std::optional<Bias> pull;           // default: the board's setting
        std::optional<bool> active_high;    // default: low is active with a pull-up, else high
        std::optional<double> bounce_time;  // seconds; default: the board's setting
    };

    bool is_active() const;
    // Seconds since the device last became active, or nothing while inactive.
    std::optional<double> active_time() const;
    // Waits until the device is (or is not) active. False on timeout (seconds on the board's clock).
    bool wait_for(bool active, std::optional<double> timeout);

protected:
    DigitalInputDevice(std::shared_ptr<Kit> kit, PartBinding binding, Options options, EventKind activated,
                       EventKind deactivated);
    // Called with the board lock held when the debounced state changes.
    virtual void changed(bool active, Nanos time);
    void release() noexcept override;

    std::unique_ptr<Pin> pin_;
    bool active_ = false;
    Nanos active_since_{0};

private:
    bool active_high_ = true;
    EventKind activated_;
    EventKind deactivated_;
};

class Button final : public DigitalInputDevice {
public:
    struct Options {
        DigitalInputDevice::Options input;
        std::optional<double> hold_time;  // seconds before `held`; default: the board's (1 s)
        bool hold_repeat = false;         // `held` again every hold_time while held
    };
    Button(std::shared_ptr<Kit> kit, PartBinding binding, Options options);
    ~Button() override;

    bool is_held() const;
    // Seconds the button has been held past hold_time, or nothing.
    std::optional<double> held_time() const;
    double hold_time() const;
    void set_hold_time(double seconds);
    bool hold_repeat() const;
    void set_hold_repeat(bool repeat);

private:
    void changed(bool active, Nanos time) override;
    void release() noexcept override;
    void schedule_hold(Nanos at);

    Nanos hold_time_{0};
    bool hold_repeat_ = false;
    bool held_ = false;
    Scheduler::TimerId hold_timer_ = 0;
};

class MotionSensor final : public DigitalInputDevice {
public:
    MotionSensor(std::shared_ptr<Kit> kit, PartBinding binding, DigitalInputDevice::Options options);
    ~MotionSensor() override;
};

}  // namespace berrykit
