// berrykit — what every device (LED, button, sensor) shares.
//
// A device is opened through a Kit (kit.hpp), which resolves the part ("red", or GPIO 17) to its
// lines and settings, claims the lines, and keeps a register of open devices so closing the kit
// closes them all. Every public method of a device takes the board lock, so devices may be used
// from any thread. After close() every method throws Error(closed), naming the part.
#pragma once

#include "berrykit/backend.hpp"
#include "berrykit/board.hpp"
#include "berrykit/event_queue.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace berrykit {

class Kit;

// What a Kit resolved a part reference to.
struct PartBinding {
    std::string part;                       // "red", or "GPIO17" for a bare line
    std::string description;                // "the LED 'red'", or "the LED on GPIO17"
    std::map<std::string, LineInfo> lines;  // role ("line", "red", "trigger", …) → line
    PartDef def;                            // the board's settings, or defaults for a bare line
    // A second device on a part another device already holds: its input lines are shared
    // (Backend::share_input), and a light or distance sensor takes the holder's measurements
    // instead of measuring itself. berrykitd opens one per program, so each program's button has
    // its own hold time and bounce time, and each sensor its own smoothing and threshold.
    bool shared = false;
};

class Device {
public:
    virtual ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    std::uint64_t id() const noexcept { return id_; }
    const std::string& part() const noexcept { return binding_.part; }
    // How messages name this device: "the LED 'red'".
    const std::string& description() const noexcept { return binding_.description; }
    const PartBinding& binding() const noexcept { return binding_; }
    Kit& kit() const noexcept { return *kit_; }

    // Releases the device's lines and stops its timers. Idempotent.
    void close() noexcept;
    bool is_closed() const noexcept { return closed_; }

protected:
    Device(std::shared_ptr<Kit> kit, PartBinding binding);

    Backend& backend() const noexcept;
    // Throws Error(closed): "the LED 'red' was closed: …".
    void check_open() const;
    // Queues an event for the program and wakes anyone waiting on the device.
    void emit(EventKind kind, Nanos time);
    // Wakes anyone waiting for this device's state to change.
    void notify_changed();
    // Waits (without the board lock) until `ready` is true under the lock, or `timeout` seconds
    // pass on the board's clock. Returns what `ready` said last.
    bool wait_until(const std::function<bool()>& ready, std::optional<double> timeout);
    // Claims a line for this device, named after it.
    std::unique_ptr<Pin> claim(const std::string& role = "line");

    // Derived classes stop timers and close pins here (with the board lock held).
    virtual void release() noexcept = 0;

private:
    std::shared_ptr<Kit> kit_;
    PartBinding binding_;
    std::uint64_t id_;
    std::atomic<bool> closed_{false};  // written under the board lock, read from any thread
};

}  // namespace berrykit
