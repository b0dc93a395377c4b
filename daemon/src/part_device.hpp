// berrykitd — the devices it holds for the board's parts and for its programs (daemon-internal).
//
// Every part has one device berrykitd holds for the board (the page, `berrykit`, the cloud and
// the samplers use it). A program that opens a part gets its own device, of the class its script
// asked for, with the script's options, made by the same C++ classes a script uses in-process:
// an output's replaces the board's while the program holds it (one owner at a time); an input's
// or a sensor's shares the line with the board's (Backend::share_input, a shared sensor), so two
// programs with different hold times on one button each get what they asked for.
//
// A PartDevice says what its device does in the local API's words (daemon/PROTOCOL.md): its
// state, set, blink, read, its settings, and the conditions a program can wait for.
#pragma once

#include "berrykit/kit.hpp"

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace berrykit::daemon {

class PartDevice {
public:
    virtual ~PartDevice();
    PartDevice(const PartDevice&) = delete;
    PartDevice& operator=(const PartDevice&) = delete;

    virtual Device& device() = 0;
    // The class it was opened as: "led", "pwm_led", "buzzer", "rgb_led", "button", …
    const std::string& as() const noexcept { return as_; }
    virtual bool is_output() const { return false; }

    // Its state as get, parts and the page show it.
    virtual nlohmann::json state() const = 0;
    virtual void set(const nlohmann::json& value);
    virtual void blink(const nlohmann::json& request, bool pulse);
    virtual void set_frequency(double hz);
    virtual nlohmann::json read();
    // Changes settings a script can change after opening (hold_time, threshold, …).
    virtual void configure(const nlohmann::json& settings);
    // What the wait request waits for ("active", "inactive", "reading", "animation_done"), as a
    // check to make with the board lock held.
    virtual std::function<bool()> until(const std::string& what);
    // True when an output stays as it is with no one running it: steady, fully on or off.
    virtual bool steady() const { return true; }
    // Back to rest: off, and the default PWM frequency.
    virtual void rest() {}

    void close() noexcept { device().close(); }

protected:
    explicit PartDevice(std::string as) : as_(std::move(as)) {}
    [[noreturn]] void cannot(const std::string& what) const;

private:
    std::string as_;
};

// The classes a program may open a part as, in the order PROTOCOL.md lists them.
const std::vector<std::string>& device_classes();
// What a part of this type is opened as when berrykitd holds it for the board.
std::string board_class(PartType type);
// Resolves a part reference for a class, with the kit's own errors ("'rgb' is an RGB LED, not an
// LED: open it with RGBLED(\"rgb\")"). Refuses an unknown class by name.
PartBinding resolve_as(const Kit& kit, const PartRef& ref, const std::string& as);
// Opens a device of class `as` on `binding`, with a program's `options` (an object of the
// script's keyword arguments: active_high, initial_value, hold_time, queue_len, …; an unknown
// one is refused, naming it).
std::unique_ptr<PartDevice> open_part_device(Kit& kit, const std::string& as, const PartBinding& binding,
                                             const nlohmann::json& options);

}  // namespace berrykit::daemon
