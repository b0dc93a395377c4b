#include "berrykit/backend.hpp"

#include "berrykit/error.hpp"
#include "berrykit/event_loop.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace berrykit {

const char* to_string(Bias bias) noexcept {
    switch (bias) {
        case Bias::none: return "none";
        case Bias::pull_up: return "up";
        case Bias::pull_down: return "down";
    }
    return "none";
}

namespace {

bool edge_wanted(Edge edges, bool rising) noexcept {
    return edges == Edge::both || (rising ? edges == Edge::rising : edges == Edge::falling);
}

std::string describe(const LineInfo& line, const std::string& owner) { return line.name + " (" + owner + ")"; }

}  // namespace

// A reader of an input line that another pin holds (Backend::share_input). It reads the holder's
// line and gets the holder's raw edges (Pin::deliver_edge), which it debounces itself.
class SharedInputPin final : public Pin {
public:
    SharedInputPin(Backend& backend, LineInfo line, std::string owner, Pin& holder)
        : Pin(backend, std::move(line), std::move(owner)), holder_(&holder) {
        holds_line_ = false;
        holder.readers_.push_back(this);
    }
    ~SharedInputPin() override { close(); }

    // The holder is closing: this reader has no line any more.
    void holder_closed() noexcept { holder_ = nullptr; }

protected:
    void do_make_output(bool) override {
        throw Error(ErrorCode::part_in_use, line().name + " is shared by every program that reads it, through " +
                                                (holder_ ? holder_->owner() : std::string("berrykitd")) +
                                                ", so it cannot be made an output");
    }
    void do_make_input(Bias bias, Edge) override {
        const Pin& holder = held();
        if (bias != holder.bias()) {
            throw Error(ErrorCode::bad_value,
                        "the pull of " + line().name + " (" + holder.owner() + ") is " + to_string(holder.bias()) +
                            ", set by the board for every program that shares it, so it "
                            "cannot be " +
                            to_string(bias) + " for one program: leave the pull as the board has it");
        }
    }
    void do_write(bool) override {
        throw Error(ErrorCode::gpio, line().name + " is an input shared by every program, so it cannot be switched");
    }
    bool do_read() override { return held().read(); }
    void do_close() noexcept override {
        if (!holder_) return;
        auto& readers = holder_->readers_;
        readers.erase(std::remove(readers.begin(), readers.end(), this), readers.end());
        holder_ = nullptr;
    }

private:
    Pin& held() const {
        if (!holder_) {
            throw Error(ErrorCode::closed, line().name + " is no longer held by anyone, so " + owner() +
                                               " cannot read it: open the part again");
        }
        return *holder_;
    }

    Pin* holder_;
};

std::string already_in_use(const std::string& line, const std::string& holder, const std::string& wanted) {
    return line + " is already in use by " + holder + ", so it cannot be " + wanted +
           " too. Close the other one first (call its close()), or use a different pin.";
}

// ---- Pin -------------------------------------------------------------------------------------

Pin::Pin(Backend& backend, LineInfo line, std::string owner)
    : backend_(backend), line_(std::move(line)), owner_(std::move(owner)) {}

Pin::~Pin() = default;  // derived classes call close() in their destructors, while they still exist

void Pin::check_open() const {
    if (closed_) {
        throw Error(ErrorCode::closed, describe(line_, owner_) +
                                           " was closed and cannot be used any more: "
                                           "open the part again to use it");
    }
}

void Pin::make_output(bool initial) {
    std::lock_guard guard(backend_.lock());
    check_open();
    cancel_pwm_timer();
    pwm_ = {};
    if (window_timer_) backend_.scheduler().cancel(window_timer_);
    window_timer_ = 0;
    in_window_ = false;
    do_make_output(initial);
    output_ = true;
    bias_ = Bias::none;
    edges_ = Edge::none;
}

void Pin::make_input(Bias bias, Edge edges) {
    std::lock_guard guard(backend_.lock());
    check_open();
    cancel_pwm_timer();
    pwm_ = {};
    if (window_timer_) backend_.scheduler().cancel(window_timer_);
    window_timer_ = 0;
    in_window_ = false;
    do_make_input(bias, edges);
    output_ = false;
    bias_ = bias;
    edges_ = edges;
    last_reported_level_ = do_read();
}

void Pin::write(bool level) {
    std::lock_guard guard(backend_.lock());
    check_open();
    if (!output_) {
        throw Error(ErrorCode::gpio, describe(line_, owner_) + " is an input, so it cannot be switched on or off");
    }
    if (pwm_.active) {
        cancel_pwm_timer();
        pwm_ = {};
    }
    do_write(level);
}

bool Pin::read() {
    std::lock_guard guard(backend_.lock());
    check_open();
    return do_read();
}

void Pin::on_edge(EdgeHandler handler, Nanos debounce) {
    std::lock_guard guard(backend_.lock());
    check_open();
    if (debounce < Nanos{0}) {
        throw Error(ErrorCode::bad_value, "the bounce time for " + describe(line_, owner_) + " cannot be negative");
    }
    handler_ = std::move(handler);
    debounce_ = debounce;
}

void Pin::deliver_edge(const EdgeEvent& event) {
    if (closed_) return;
    // Every reader gets the raw edge and debounces it itself; a copy, as a reader's handler may
    // close a reader.
    if (!readers_.empty()) {
        const std::vector<SharedInputPin*> readers = readers_;
        for (SharedInputPin* reader : readers) {
            if (std::find(readers_.begin(), readers_.end(), reader) != readers_.end()) {
                static_cast<Pin*>(reader)->deliver_edge(event);
            }
        }
    }
    if (debounce_ > Nanos{0}) {
        if (in_window_) return;  // bounce: the end of the window catches the final level up
        if (event.rising == last_reported_level_) return;
        in_window_ = true;
        window_timer_ = backend_.scheduler().call_at(event.time + debounce_, [this] { debounce_window_ended(); });
    } else if (event.rising == last_reported_level_) {
        return;  // no change of level (a lost edge in between): nothing to report
    }
    last_reported_level_ = event.rising;
    if (handler_ && edge_wanted(edges_, event.rising)) {
        // Called through a copy: the handler may close this pin, which drops handler_ while the
        // handler is still running.
        const EdgeHandler handler = handler_;
        handler(event);
    }
}

void Pin::debounce_window_ended() {
    window_timer_ = 0;
    in_window_ = false;
    if (closed_ || output_) return;
    const bool level = do_read();
    if (level != last_reported_level_) {
        // The line settled on the other level while we were not listening: report that once.
        deliver_edge(EdgeEvent{level, backend_.clock().now()});
    }
}

void Pin::set_pwm(double frequency_hz, double duty) {
    std::lock_guard guard(backend_.lock());
    check_open();
    if (!output_) {
        throw Error(ErrorCode::gpio, describe(line_, owner_) + " is an input, so it cannot do PWM");
    }
    if (!std::isfinite(frequency_hz) || frequency_hz <= 0 || frequency_hz > 1'000'000) {
        throw Error(ErrorCode::bad_value, "the PWM frequency for " + describe(line_, owner_) +
                                              " must be between 0 and 1000000 Hz, got " + to_text(frequency_hz));
    }
    if (!std::isfinite(duty) || duty < 0 || duty > 1) {
        throw Error(ErrorCode::bad_value,
                    "the PWM duty for " + describe(line_, owner_) + " must be between 0 and 1, got " + to_text(duty));
    }
    if (has_hardware_pwm()) {
        do_hardware_pwm(frequency_hz, duty);
        pwm_ = Pwm{true, true, frequency_hz, duty, 0};
        return;
    }
    const bool was_cycling = pwm_.active && pwm_.timer != 0;
    pwm_.active = true;
    pwm_.hardware = false;
    pwm_.frequency = frequency_hz;
    pwm_.duty = duty;
    if (duty == 0.0 || duty == 1.0) {
        cancel_pwm_timer();
        do_write(duty == 1.0);
        return;
    }
    // A new duty or frequency takes effect from the next cycle; a cycle already running keeps
    // its phase, so changing brightness smoothly does not flicker.
    if (!was_cycling) software_pwm_cycle(backend_.clock().now());
}

void Pin::software_pwm_cycle(Nanos cycle_start) {
    pwm_.timer = 0;
    const Nanos period = from_seconds(1.0 / pwm_.frequency);
    const Nanos on_time = from_seconds(pwm_.duty / pwm_.frequency);
    do_write(true);
    pwm_.timer = backend_.scheduler().call_at(cycle_start + on_time, [this, cycle_start, period] {
        do_write(false);
        Nanos next = cycle_start + period;
        const Nanos now = backend_.clock().now();
        if (next + period < now) next = now;  // fell behind (a busy machine): skip, do not race
        pwm_.timer = backend_.scheduler().call_at(next, [this, next] { software_pwm_cycle(next); });
    });
}

void Pin::cancel_pwm_timer() noexcept {
    if (pwm_.timer) backend_.scheduler().cancel(pwm_.timer);
    pwm_.timer = 0;
}

void Pin::stop_pwm(bool level) {
    std::lock_guard guard(backend_.lock());
    check_open();
    cancel_pwm_timer();
    pwm_ = {};
    if (output_) do_write(level);
}

void Pin::do_hardware_pwm(double, double) { throw Error(ErrorCode::unsupported, line_.name + " has no hardware PWM"); }

void Pin::close() noexcept {
    std::lock_guard guard(backend_.lock());
    if (closed_) return;
    cancel_pwm_timer();
    if (window_timer_) backend_.scheduler().cancel(window_timer_);
    window_timer_ = 0;
    handler_ = nullptr;
    for (SharedInputPin* reader : readers_) reader->holder_closed();
    readers_.clear();
    do_close();
    closed_ = true;
    if (holds_line_) backend_.release(line_.name);
}

// ---- Backend ---------------------------------------------------------------------------------

Backend::Backend(std::unique_ptr<Clock> clock) : clock_(std::move(clock)), scheduler_(*clock_) {}

Backend::~Backend() = default;

LineInfo Backend::find_line(std::string_view name) const {
    if (auto line = lookup(name)) return *line;
    throw Error(ErrorCode::unknown_part, "there is no line called '" + std::string(name) +
                                             "' on this board: lines are called GPIO2 to GPIO27, "
                                             "like the labels next to the Raspberry Pi's header pins");
}

LineInfo Backend::find_line(int bcm) const {
    if (bcm < 0 || bcm > 27) {
        throw Error(ErrorCode::unknown_part, "there is no GPIO " + std::to_string(bcm) +
                                                 " on a Raspberry Pi: use a GPIO number from 2 to 27 "
                                                 "(the number after 'GPIO' on the pin's label)");
    }
    const std::string name = "GPIO" + std::to_string(bcm);
    if (auto line = lookup(name)) return *line;
    throw Error(ErrorCode::unknown_part,
                "GPIO " + std::to_string(bcm) + " is not on this board: use a GPIO number from 2 to 27");
}

std::unique_ptr<Pin> Backend::claim(const LineInfo& line, const std::string& owner) {
    std::lock_guard guard(lock_);
    if (const auto it = owners_.find(line.name); it != owners_.end()) {
        throw Error(ErrorCode::part_in_use, already_in_use(line.name, it->second, owner));
    }
    owners_.emplace(line.name, owner);
    try {
        auto pin = open_pin(line, owner);
        pins_[line.name] = pin.get();
        return pin;
    } catch (...) {
        owners_.erase(line.name);
        throw;
    }
}

std::unique_ptr<Pin> Backend::share_input(const LineInfo& line, const std::string& owner) {
    std::lock_guard guard(lock_);
    const auto it = pins_.find(line.name);
    if (it == pins_.end()) {
        throw Error(ErrorCode::part_in_use, line.name + " is not read by anyone yet, so " + owner +
                                                " cannot share it: open it on its own instead");
    }
    if (it->second->is_output()) {
        throw Error(ErrorCode::part_in_use, line.name + " is an output used by " + it->second->owner() + ", so " +
                                                owner + " cannot read it as an input");
    }
    return std::make_unique<SharedInputPin>(*this, line, owner, *it->second);
}

std::optional<std::string> Backend::owner_of(std::string_view line_name) const {
    std::lock_guard guard(lock_);
    if (const auto it = owners_.find(line_name); it != owners_.end()) return it->second;
    return std::nullopt;
}

void Backend::release(const std::string& line_name) noexcept {
    std::lock_guard guard(lock_);
    owners_.erase(line_name);
    pins_.erase(line_name);
}

void Backend::advance(Nanos dt) {
    auto* manual = dynamic_cast<ManualClock*>(clock_.get());
    if (!manual) {
        throw Error(ErrorCode::unsupported,
                    "advance() only works when the simulated board's clock is manual; "
                    "this board's clock runs in real time");
    }
    if (dt < Nanos{0}) throw Error(ErrorCode::bad_value, "advance() needs a time of 0 seconds or more");
    std::lock_guard guard(lock_);
    const Nanos target = manual->now() + dt;
    while (const auto next = scheduler_.next_deadline()) {
        if (*next > target) break;
        if (*next > manual->now()) manual->set(*next);
        scheduler_.run_due(manual->now());
    }
    manual->set(target);
}

void Backend::attach(EventLoop& loop) { loop_ = &loop; }

}  // namespace berrykit
