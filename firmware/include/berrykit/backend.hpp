// berrykit — the GPIO backend interface.
//
// A backend owns three things, in one place each (as gpiozero's pin factory does):
//   * line lookup, by line name ("GPIO17") or by BCM number (17);
//   * reservations: a line has one owner, and "already in use by …" is raised only in claim();
//   * the clock and its timers, guarded by the board lock.
// A Pin is one claimed line. It is configured in one step (an output gets its initial level in
// the same request, so the line never glitches), reports edges with the time they happened,
// debounces in software, and does PWM (hardware where the backend has it, else software timers).
//
// Two backends implement this: SimBackend (sim_backend.hpp) and the libgpiod backend
// (gpiod_backend.hpp). One conformance suite (tests/cpp/backend_conformance.hpp) runs on both.
#pragma once

#include "berrykit/clock.hpp"
#include "berrykit/scheduler.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berrykit {

class EventLoop;
class SensorBus;

enum class Bias { none, pull_up, pull_down };
enum class Edge { none, rising, falling, both };
const char* to_string(Bias bias) noexcept;

// "GPIO17 is already in use by the LED 'red', so it cannot be the LED 'red' too. …": the one
// wording of a line two devices want (Backend::claim, and berrykitd for a program's second device).
std::string already_in_use(const std::string& line, const std::string& holder, const std::string& wanted);

struct LineInfo {
    std::string name;  // the line's name: "GPIO17"
    int bcm = -1;      // 17; -1 when the name is not GPIO<n>
    std::string chip;  // "gpiochip0", or "sim"
    unsigned offset = 0;
};

struct EdgeEvent {
    bool rising = false;
    Nanos time{0};  // when it happened, on the backend's clock (the kernel's timestamp on a Pi)
};

class Backend;
class SharedInputPin;

class Pin {
public:
    using EdgeHandler = std::function<void(const EdgeEvent&)>;

    virtual ~Pin();
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;

    const LineInfo& line() const noexcept { return line_; }
    // Who holds the line, as a kid would say it: "the LED 'red'".
    const std::string& owner() const noexcept { return owner_; }
    Backend& backend() const noexcept { return backend_; }

    // Output with its initial level, in one step.
    void make_output(bool initial);
    // Input with a bias. Edges are reported to the handler given to on_edge().
    void make_input(Bias bias, Edge edges = Edge::none);
    void write(bool level);
    bool read();
    bool is_output() const noexcept { return output_; }
    // The bias asked for by make_input (none for an output).
    Bias bias() const noexcept { return bias_; }

    // Edge handler, called with the board lock held. With a `debounce` window, an edge is
    // reported at once and further edges are ignored until the window ends; then the line is read
    // and, if it differs from the last reported level, one catch-up edge is reported, so the
    // reported state always ends up matching the line.
    void on_edge(EdgeHandler handler, Nanos debounce = Nanos{0});

    // PWM at `frequency_hz` (> 0) with `duty` 0..1 on an output. Hardware PWM where the backend
    // has it, else software PWM on the backend's timers (duty 0 and 1 need no timers).
    void set_pwm(double frequency_hz, double duty);
    // Ends PWM and holds `level`.
    void stop_pwm(bool level);
    bool pwm_active() const noexcept { return pwm_.active; }
    double pwm_duty() const noexcept { return pwm_.duty; }
    double pwm_frequency() const noexcept { return pwm_.frequency; }
    virtual bool has_hardware_pwm() const noexcept { return false; }

    // Releases the line and its reservation. Idempotent. Using the pin afterwards throws
    // Error(closed).
    void close() noexcept;
    bool is_closed() const noexcept { return closed_; }

protected:
    Pin(Backend& backend, LineInfo line, std::string owner);

    virtual void do_make_output(bool initial) = 0;
    virtual void do_make_input(Bias bias, Edge edges) = 0;
    virtual void do_write(bool level) = 0;
    virtual bool do_read() = 0;
    // Only called when has_hardware_pwm() is true.
    virtual void do_hardware_pwm(double frequency_hz, double duty);
    virtual void do_close() noexcept = 0;

    // Backends report every raw edge here, with the board lock held. Debounce happens here.
    void deliver_edge(const EdgeEvent& event);
    // Throws Error(closed) naming the line and owner.
    void check_open() const;

private:
    friend class SharedInputPin;
    void software_pwm_cycle(Nanos cycle_start);
    void cancel_pwm_timer() noexcept;
    void debounce_window_ended();

    Backend& backend_;
    LineInfo line_;
    std::string owner_;
    bool closed_ = false;
    bool output_ = false;
    Bias bias_ = Bias::none;
    Edge edges_ = Edge::none;
    // Pins that share this input (Backend::share_input): each gets every raw edge, before this
    // pin's debounce, and debounces on its own.
    std::vector<SharedInputPin*> readers_;
    bool holds_line_ = true;  // false for a SharedInputPin: closing it leaves the line to its holder

    EdgeHandler handler_;
    Nanos debounce_{0};
    bool in_window_ = false;
    bool last_reported_level_ = false;
    Scheduler::TimerId window_timer_ = 0;

    struct Pwm {
        bool active = false;
        bool hardware = false;
        double frequency = 0;
        double duty = 0;
        Scheduler::TimerId timer = 0;
    } pwm_;
};

class Backend {
public:
    virtual ~Backend();
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;

    // "sim" or "gpiod".
    virtual std::string kind() const = 0;

    // Finds a line by its name ("GPIO17"). Throws Error(unknown_part) naming it.
    LineInfo find_line(std::string_view name) const;
    // Finds a line by BCM number (17 → "GPIO17"). Throws Error(unknown_part) for numbers that are
    // not on the Pi's header.
    LineInfo find_line(int bcm) const;

    // Claims a line for `owner` ("the LED 'red'"). The one place that raises "already in use":
    // Error(part_in_use), naming the line and who holds it.
    std::unique_ptr<Pin> claim(const LineInfo& line, const std::string& owner);
    // A second reader of an input line that another pin holds (berrykitd gives each program its
    // own button on the line its own button holds). The new pin sees every edge of the line with
    // its own edge handler and debounce; it cannot write, and make_input must ask for the bias
    // the line already has (the pull is one resistor, shared by every reader). Error(part_in_use)
    // when no pin holds the line or it is an output.
    std::unique_ptr<Pin> share_input(const LineInfo& line, const std::string& owner);
    // Who holds a line now, if anyone.
    std::optional<std::string> owner_of(std::string_view line_name) const;

    Clock& clock() noexcept { return *clock_; }
    Scheduler& scheduler() noexcept { return scheduler_; }
    // The board lock: devices, pins, timers and edge handlers all run under it. Recursive, so a
    // timer may call device methods.
    std::recursive_mutex& lock() noexcept { return lock_; }

    // With a ManualClock: moves time forward by `dt`, running each timer at its own deadline (the
    // clock reads that deadline while it runs). Throws Error(unsupported) on a real clock.
    void advance(Nanos dt);

    // Sensors read through the kernel's drivers (1-Wire, IIO), or the simulated ones.
    virtual SensorBus& sensors() = 0;

    // Hands the backend the loop that will run its timers and watch its line fds. Called once,
    // before pins are claimed, by whoever owns the loop.
    virtual void attach(EventLoop& loop);
    EventLoop* loop() const noexcept { return loop_; }

protected:
    explicit Backend(std::unique_ptr<Clock> clock);

    // A line by name, or nothing if this board has no such line.
    virtual std::optional<LineInfo> lookup(std::string_view name) const = 0;
    // Opens a claimed line. Reservation is already done; throwing here undoes it.
    virtual std::unique_ptr<Pin> open_pin(const LineInfo& line, const std::string& owner) = 0;

private:
    friend class Pin;
    void release(const std::string& line_name) noexcept;

    std::unique_ptr<Clock> clock_;
    Scheduler scheduler_;
    mutable std::recursive_mutex lock_;
    std::map<std::string, std::string, std::less<>> owners_;  // line name → owner
    std::map<std::string, Pin*, std::less<>> pins_;           // line name → the pin that holds it
    EventLoop* loop_ = nullptr;
};

}  // namespace berrykit
