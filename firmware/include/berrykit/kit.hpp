// berrykit — a kit: one backend, one board definition, the event loop, and the open devices.
//
// This is what a program holds: it opens parts by their kit name ("red") or by BCM number (17),
// checks that the part is of the kind asked for, and wires up the simulated board's sensor
// circuits. With a real clock the event loop runs on a thread of its own ("berrykit-loop");
// with a manual clock nothing runs until advance().
#pragma once

#include "berrykit/analog_sensors.hpp"
#include "berrykit/backend.hpp"
#include "berrykit/board.hpp"
#include "berrykit/event_loop.hpp"
#include "berrykit/event_queue.hpp"
#include "berrykit/inputs.hpp"
#include "berrykit/kernel_sensors.hpp"
#include "berrykit/outputs.hpp"
#include "berrykit/sim_backend.hpp"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace berrykit {

struct KitOptions {
    std::string backend = "auto";     // "sim", "gpiod", or "auto": gpiod where a GPIO chip exists
    std::string board = "classroom";  // a board name (searched in board_dirs) or a path to a .json
    std::vector<std::filesystem::path> board_dirs;
    bool manual_clock = false;  // simulated board only: time moves only on advance()
    // With a manual clock the kit has an event loop only when loop_thread is false (berrykitd
    // runs it for its sockets; the board's timers still run only on advance()).
    std::size_t history_limit = 100000;
    // With a real clock, run the event loop on a thread of its own (scripts). berrykitd says
    // false and runs loop() itself, on its main thread, with its client sockets on it too.
    bool loop_thread = true;
    std::filesystem::path dev_root = "/dev";
    std::filesystem::path sysfs_root = "/sys";
};

// A part by its kit name ("red", "GPIO17") or by BCM number (17).
using PartRef = std::variant<std::string, int>;

class Kit : public std::enable_shared_from_this<Kit> {
public:
    static std::shared_ptr<Kit> open(const KitOptions& options);
    ~Kit();
    Kit(const Kit&) = delete;
    Kit& operator=(const Kit&) = delete;

    const std::string& backend_kind() const noexcept { return backend_kind_; }
    // Why this backend was chosen, for a warning when "auto" fell back to the simulated board.
    const std::string& backend_reason() const noexcept { return backend_reason_; }
    Backend& backend() noexcept { return *backend_; }
    SimBackend* sim() noexcept { return sim_; }  // nullptr on a real board
    const BoardDefinition& board() const noexcept { return board_; }
    EventQueue& events() noexcept { return events_; }
    // The event loop that runs the board's timers and line events (nullptr with a manual clock).
    EventLoop* loop() noexcept { return loop_.get(); }

    // Resolves a part reference to its lines and settings. `accepted` are the part types the
    // caller can drive; `kind` is what the caller is ("LED"). Errors for kids:
    //   unknown_part: "there is no part called 'redd' on the classroom board. Did you mean 'red'? …"
    //   wrong_type:   "'button' is a button, not an LED: …"
    PartBinding resolve(const PartRef& ref, std::initializer_list<PartType> accepted, const std::string& kind) const;

    std::shared_ptr<DigitalOutputDevice> open_led(const PartRef& ref, DigitalOutputDevice::Options options);
    std::shared_ptr<DigitalOutputDevice> open_buzzer(const PartRef& ref, DigitalOutputDevice::Options options);
    std::shared_ptr<PwmOutputDevice> open_pwm_led(const PartRef& ref, PwmOutputDevice::Options options);
    std::shared_ptr<RgbLed> open_rgb_led(const PartRef& ref, RgbLed::Options options);
    // An RGB LED on three BCM numbers.
    std::shared_ptr<RgbLed> open_rgb_led(int red, int green, int blue, RgbLed::Options options);
    std::shared_ptr<Button> open_button(const PartRef& ref, Button::Options options);
    std::shared_ptr<MotionSensor> open_motion_sensor(const PartRef& ref, DigitalInputDevice::Options options);
    std::shared_ptr<LightSensor> open_light_sensor(const PartRef& ref, LightSensor::Options options);
    // A distance sensor by kit name, or by its two BCM numbers (echo, trigger) as gpiozero takes them.
    std::shared_ptr<DistanceSensor> open_distance_sensor(const PartRef& ref, DistanceSensor::Options options);
    std::shared_ptr<DistanceSensor> open_distance_sensor(int echo, int trigger, DistanceSensor::Options options);
    std::shared_ptr<TemperatureSensor> open_temperature_sensor(const PartRef& ref);
    std::shared_ptr<HumidityTemperatureSensor> open_humidity_temperature_sensor(const PartRef& ref);

    // Seconds since the kit started, on the board's clock.
    double seconds() const;
    bool manual_clock() const noexcept;
    // Manual clock: moves time forward, running every timer at its deadline.
    void advance(double seconds);

    // Waits (without the board lock) until `ready` (checked with the board lock held) is true or
    // `timeout` seconds pass on the board's clock. With a manual clock, time passes only when
    // another thread calls advance(). Returns what `ready` said last.
    bool wait_until(const std::function<bool()>& ready, std::optional<double> timeout);
    // Wakes every wait_until (devices call it when their state changes).
    void notify();

    // Closes every device and stops the event loop. Idempotent; the kit cannot be used after.
    void close();
    bool is_closed() const noexcept { return closed_; }

    // --- the simulated board's outside world, by part name (Error(unsupported) on a real board) ---
    void press(const std::string& part);    // a button or a PIR: drive its line active
    void release(const std::string& part);  // let go: the line follows its pull again
    // Press `after` seconds from now (at once if 0), on the board's timers as a real press comes
    // from the kernel, and release `seconds` later.
    void hold(const std::string& part, double seconds, double after = 0);
    void trigger_motion(const std::string& part, double seconds);  // PIR active for a while
    // Sets a sensor: temperature (°C) for a ds18b20; temperature or humidity for a dht; light
    // (0..1) for a light_sensor; distance (m) for a distance_sensor. `quantity` may be empty for
    // parts with one quantity.
    void set_sensor(const std::string& part, const std::string& quantity, SimValue value);
    void set_sensor_fault(const std::string& part, bool faulty);
    // The part's line history; `role` picks one line of a multi-line part ("red" of an RGB LED).
    std::vector<Sample> history(const PartRef& ref, const std::string& role = "");
    void clear_history(const PartRef& ref, const std::string& role = "");
    // Samples the history lost at its front (the backend's history_limit) since it began.
    std::uint64_t history_dropped(const PartRef& ref, const std::string& role = "");

    // The open device that holds a line (not a shared one), if any.
    Device* holder_of(const std::string& line_name) const;
    // Called (from any thread, with the board lock held) whenever a device's state may have
    // changed, as wait_until is woken: berrykitd re-checks the waits its programs asked for.
    void set_on_notify(std::function<void()> hook);

    // Internal: device registration.
    std::uint64_t register_device(Device* device);
    void unregister_device(std::uint64_t id) noexcept;

private:
    explicit Kit(const KitOptions& options);
    SimBackend& require_sim(const char* what);
    const PartDef& sim_part(const std::string& part, std::initializer_list<PartType> types, const char* what) const;
    void wire_simulated_circuits();
    PartBinding bind_lines(PartType type, const std::string& kind, const std::map<std::string, int>& pins) const;
    // Drives (or, with nothing, stops driving) a simulated line after `delay`, and then, with
    // `release_after`, stops driving it that much later. Replaces any change already waiting for
    // that line, so a second press or wave is not cut short by the first.
    void drive_later(const std::string& line, Nanos delay, std::optional<bool> level,
                     std::optional<Nanos> release_after = std::nullopt);
    void cancel_pending_drive(const std::string& line);

    KitOptions options_;
    std::unique_ptr<Backend> backend_;
    SimBackend* sim_ = nullptr;
    std::string backend_kind_;
    std::string backend_reason_;
    BoardDefinition board_;
    EventQueue events_;
    std::unique_ptr<EventLoop> loop_;
    Nanos start_{0};

    std::map<std::uint64_t, Device*> devices_;                 // guarded by the board lock
    std::map<std::string, Scheduler::TimerId> pending_drive_;  // line → waiting sim change; board lock
    std::uint64_t next_device_id_ = 1;
    std::atomic<bool> closed_{false};  // written under the board lock, read from any thread

    std::function<void()> on_notify_;  // set before devices run; board lock
    std::atomic<std::uint64_t> generation_{0};
    std::mutex wait_mutex_;
    std::condition_variable wait_cv_;
};

}  // namespace berrykit
