#include "berrykit/outputs.hpp"

#include "berrykit/error.hpp"
#include "berrykit/kit.hpp"

#include <cmath>

namespace berrykit {

namespace {

Color lerp(const Color& from, const Color& to, double progress) {
    Color out{};
    for (std::size_t i = 0; i < 3; ++i) out[i] = from[i] + (to[i] - from[i]) * progress;
    return out;
}

Color grey(double v) { return Color{v, v, v}; }

bool board_active_high(const PartBinding& binding, std::optional<bool> requested) {
    return requested.value_or(binding.def.active_high);
}

}  // namespace

// ---- Animation -------------------------------------------------------------------------------

Animation::Animation(Scheduler& scheduler, std::vector<Step> steps, std::optional<int> repeats,
                     std::function<void(const Color&)> apply, std::function<void()> on_done, double fps)
    : scheduler_(scheduler),
      steps_(std::move(steps)),
      repeats_(repeats),
      apply_(std::move(apply)),
      on_done_(std::move(on_done)),
      frame_period_(from_seconds(1.0 / fps)) {}

Animation::~Animation() { stop(); }

void Animation::start() {
    stop();
    if (repeats_ && *repeats_ <= 0) {
        // Played no times: nothing to show, and frame() would play a first cycle before it
        // counts one.
        if (on_done_) on_done_();
        return;
    }
    const Nanos now = scheduler_.clock().now();
    frame(0, 0, now, now);
}

void Animation::stop() noexcept {
    if (timer_) scheduler_.cancel(timer_);
    timer_ = 0;
}

void Animation::frame(std::size_t cycle, std::size_t step, Nanos step_start, Nanos frame_time) {
    timer_ = 0;
    // Walk past every step that has already ended (zero-length steps, or a late timer).
    for (;;) {
        if (step == steps_.size()) {
            ++cycle;
            step = 0;
            if (steps_.empty() || (repeats_ && cycle >= static_cast<std::size_t>(*repeats_))) {
                if (!steps_.empty()) apply_(steps_.back().to);
                if (on_done_) on_done_();
                return;
            }
        }
        const Nanos end = step_start + from_seconds(steps_[step].seconds);
        if (frame_time < end) break;
        step_start = end;
        ++step;
    }
    const Step& s = steps_[step];
    const Nanos end = step_start + from_seconds(s.seconds);
    const bool fade = s.from != s.to;
    Nanos next = end;
    if (fade) {
        const double progress = to_seconds(frame_time - step_start) / s.seconds;
        apply_(lerp(s.from, s.to, progress));
        next = std::min(end, frame_time + frame_period_);
    } else {
        apply_(s.from);
    }
    timer_ = scheduler_.call_at(next, [this, cycle, step, step_start, next] { frame(cycle, step, step_start, next); });
}

// ---- OutputDevice ----------------------------------------------------------------------------

bool OutputDevice::is_animating() const {
    std::lock_guard guard(backend().lock());
    return animation_ && animation_->running();
}

bool OutputDevice::wait_for_animation(std::optional<double> timeout) {
    return wait_until([this] { return !(animation_ && animation_->running()); }, timeout);
}

void OutputDevice::play(std::vector<Animation::Step> steps, std::optional<int> repeats, bool fades) {
    if (repeats && *repeats < 0) {
        throw Error(ErrorCode::bad_value,
                    "the number of times for " + description() + " must be 0 or more, got " + std::to_string(*repeats));
    }
    double total = 0;
    for (const auto& s : steps) total += s.seconds;
    if (total <= 0 && !repeats) {
        throw Error(ErrorCode::bad_value,
                    "a blink of " + description() + " that lasts 0 seconds would never end: give it some time");
    }
    stop_animation();
    animation_ = std::make_unique<Animation>(
        backend().scheduler(), std::move(steps), repeats, [this](const Color& value) { apply(value); },
        [this] { notify_changed(); }, fades ? 25.0 : 1.0);
    animation_->start();
}

void OutputDevice::stop_animation() noexcept {
    if (animation_) animation_->stop();
}

void OutputDevice::release() noexcept { animation_.reset(); }

void OutputDevice::check_times(std::initializer_list<std::pair<const char*, double>> times) const {
    // Checked here, before the running animation is replaced: from_seconds() would refuse a time
    // too long for the clock only once the new animation starts, with the old one already gone.
    // A cap of about 31 years per step also keeps a whole cycle's deadlines inside Nanos.
    constexpr double longest = 1e9;
    for (const auto& [name, seconds] : times) {
        if (!std::isfinite(seconds) || seconds < 0) {
            throw Error(ErrorCode::bad_value, std::string(name) + " for " + description() +
                                                  " must be 0 seconds or more, got " + to_text(seconds));
        }
        if (seconds > longest) {
            throw Error(ErrorCode::bad_value, std::string(name) + " for " + description() +
                                                  " must be at most 1000000000 seconds (31 years), got " +
                                                  to_text(seconds));
        }
    }
}

// ---- DigitalOutputDevice ---------------------------------------------------------------------

DigitalOutputDevice::DigitalOutputDevice(std::shared_ptr<Kit> kit, PartBinding binding, Options options)
    : OutputDevice(std::move(kit), std::move(binding)),
      active_high_(board_active_high(this->binding(), options.active_high)),
      value_(options.initial_value) {
    std::lock_guard guard(backend().lock());
    pin_ = claim();
    pin_->make_output(value_ == active_high_);
}

DigitalOutputDevice::~DigitalOutputDevice() { close(); }

void DigitalOutputDevice::write(bool value) {
    if (value == value_) return;
    value_ = value;
    pin_->write(value == active_high_);
}

void DigitalOutputDevice::on() { set_value(true); }
void DigitalOutputDevice::off() { set_value(false); }

void DigitalOutputDevice::toggle() {
    std::lock_guard guard(backend().lock());
    check_open();
    stop_animation();
    write(!value_);
}

void DigitalOutputDevice::set_value(bool value) {
    std::lock_guard guard(backend().lock());
    check_open();
    stop_animation();
    write(value);
}

bool DigitalOutputDevice::is_active() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return value_;
}

void DigitalOutputDevice::blink(double on_time, double off_time, std::optional<int> n) {
    std::lock_guard guard(backend().lock());
    check_open();
    check_times({{"on_time", on_time}, {"off_time", off_time}});
    play({{on_time, grey(1), grey(1)}, {off_time, grey(0), grey(0)}}, n, false);
}

void DigitalOutputDevice::apply(const Color& value) { write(value[0] >= 0.5); }

void DigitalOutputDevice::release() noexcept {
    OutputDevice::release();
    if (pin_) pin_->close();
}

// ---- PwmOutputDevice -------------------------------------------------------------------------

namespace {

void check_level(const std::string& description, double value, const char* what) {
    if (!std::isfinite(value) || value < 0 || value > 1) {
        throw Error(ErrorCode::bad_value, "the " + std::string(what) + " of " + description +
                                              " must be between 0 and 1, got " + to_text(value));
    }
}

void check_frequency(const std::string& description, double hz) {
    if (!std::isfinite(hz) || hz <= 0 || hz > 10000) {
        throw Error(ErrorCode::bad_value, "the frequency of " + description +
                                              " must be between 0 and 10000 Hz (100 is usual), got " + to_text(hz));
    }
}

std::vector<Animation::Step> fade_steps(double on_time, double off_time, double fade_in, double fade_out,
                                        const Color& on, const Color& off) {
    std::vector<Animation::Step> steps;
    if (fade_in > 0) steps.push_back({fade_in, off, on});
    if (on_time > 0) steps.push_back({on_time, on, on});
    if (fade_out > 0) steps.push_back({fade_out, on, off});
    if (off_time > 0) steps.push_back({off_time, off, off});
    if (steps.empty()) steps.push_back({0, off, off});
    return steps;
}

}  // namespace

PwmOutputDevice::PwmOutputDevice(std::shared_ptr<Kit> kit, PartBinding binding, Options options)
    : OutputDevice(std::move(kit), std::move(binding)),
      active_high_(board_active_high(this->binding(), options.active_high)),
      value_(options.initial_value),
      frequency_(options.frequency) {
    check_level(description(), value_, "brightness");
    check_frequency(description(), frequency_);
    std::lock_guard guard(backend().lock());
    pin_ = claim();
    pin_->make_output(!active_high_);
    pin_->set_pwm(frequency_, active_high_ ? value_ : 1 - value_);
}

PwmOutputDevice::~PwmOutputDevice() { close(); }

void PwmOutputDevice::write(double value) {
    if (value == value_ && pin_->pwm_active()) return;
    value_ = value;
    pin_->set_pwm(frequency_, active_high_ ? value : 1 - value);
}

void PwmOutputDevice::on() { set_value(1); }
void PwmOutputDevice::off() { set_value(0); }

void PwmOutputDevice::toggle() {
    std::lock_guard guard(backend().lock());
    check_open();
    stop_animation();
    write(1 - value_);
}

void PwmOutputDevice::set_value(double value) {
    std::lock_guard guard(backend().lock());
    check_open();
    check_level(description(), value, "brightness");
    stop_animation();
    write(value);
}

double PwmOutputDevice::value() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return value_;
}

bool PwmOutputDevice::is_active() const { return value() > 0; }

double PwmOutputDevice::frequency() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return frequency_;
}

void PwmOutputDevice::set_frequency(double hz) {
    std::lock_guard guard(backend().lock());
    check_open();
    check_frequency(description(), hz);
    frequency_ = hz;
    pin_->set_pwm(frequency_, active_high_ ? value_ : 1 - value_);
}

void PwmOutputDevice::blink(double on_time, double off_time, double fade_in_time, double fade_out_time,
                            std::optional<int> n) {
    std::lock_guard guard(backend().lock());
    check_open();
    check_times({{"on_time", on_time},
                 {"off_time", off_time},
                 {"fade_in_time", fade_in_time},
                 {"fade_out_time", fade_out_time}});
    play(fade_steps(on_time, off_time, fade_in_time, fade_out_time, grey(1), grey(0)), n,
         fade_in_time > 0 || fade_out_time > 0);
}

void PwmOutputDevice::pulse(double fade_in_time, double fade_out_time, std::optional<int> n) {
    blink(0, 0, fade_in_time, fade_out_time, n);
}

void PwmOutputDevice::apply(const Color& value) { write(std::clamp(value[0], 0.0, 1.0)); }

void PwmOutputDevice::release() noexcept {
    OutputDevice::release();
    if (pin_) pin_->close();
}

// ---- RgbLed ----------------------------------------------------------------------------------

RgbLed::RgbLed(std::shared_ptr<Kit> kit, PartBinding binding, Options options)
    : OutputDevice(std::move(kit), std::move(binding)),
      active_high_(board_active_high(this->binding(), options.active_high)),
      pwm_(options.pwm),
      frequency_(options.frequency),
      value_(options.initial_value) {
    check_color(value_, "colour");
    check_frequency(description(), frequency_);
    std::lock_guard guard(backend().lock());
    static constexpr const char* roles[] = {"red", "green", "blue"};
    for (std::size_t i = 0; i < 3; ++i) {
        pins_[i] = claim(roles[i]);
        const double level = value_[i];
        if (pwm_) {
            pins_[i]->make_output(!active_high_);
            pins_[i]->set_pwm(frequency_, active_high_ ? level : 1 - level);
        } else {
            pins_[i]->make_output((level >= 0.5) == active_high_);
        }
    }
}

RgbLed::~RgbLed() { close(); }

void RgbLed::check_color(const Color& color, const char* what) const {
    static constexpr const char* names[] = {"red", "green", "blue"};
    for (std::size_t i = 0; i < 3; ++i) {
        if (!std::isfinite(color[i]) || color[i] < 0 || color[i] > 1) {
            throw Error(ErrorCode::bad_value, std::string("the ") + names[i] + " part of the " + what + " for " +
                                                  description() + " must be between 0 and 1, got " + to_text(color[i]));
        }
        if (!pwm_ && color[i] != 0 && color[i] != 1) {
            throw Error(ErrorCode::bad_value, description() +
                                                  " was opened with pwm=False, so each colour can "
                                                  "only be 0 or 1, got " +
                                                  to_text(color[i]));
        }
    }
}

void RgbLed::write(const Color& value) {
    for (std::size_t i = 0; i < 3; ++i) {
        if (value[i] == value_[i]) continue;
        if (pwm_) {
            pins_[i]->set_pwm(frequency_, active_high_ ? value[i] : 1 - value[i]);
        } else {
            pins_[i]->write((value[i] >= 0.5) == active_high_);
        }
    }
    value_ = value;
}

void RgbLed::on() { set_color({1, 1, 1}); }
void RgbLed::off() { set_color({0, 0, 0}); }

void RgbLed::toggle() {
    std::lock_guard guard(backend().lock());
    check_open();
    stop_animation();
    write({1 - value_[0], 1 - value_[1], 1 - value_[2]});
}

void RgbLed::set_color(const Color& color) {
    std::lock_guard guard(backend().lock());
    check_open();
    check_color(color, "colour");
    stop_animation();
    write(color);
}

Color RgbLed::color() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return value_;
}

bool RgbLed::is_active() const {
    const Color c = color();
    return c[0] > 0 || c[1] > 0 || c[2] > 0;
}

void RgbLed::blink(double on_time, double off_time, double fade_in_time, double fade_out_time, const Color& on_color,
                   const Color& off_color, std::optional<int> n) {
    std::lock_guard guard(backend().lock());
    check_open();
    check_times({{"on_time", on_time},
                 {"off_time", off_time},
                 {"fade_in_time", fade_in_time},
                 {"fade_out_time", fade_out_time}});
    check_color(on_color, "on_color");
    check_color(off_color, "off_color");
    const bool fades = fade_in_time > 0 || fade_out_time > 0;
    if (fades && !pwm_) {
        throw Error(ErrorCode::bad_value, description() + " was opened with pwm=False, so it cannot fade");
    }
    play(fade_steps(on_time, off_time, fade_in_time, fade_out_time, on_color, off_color), n, fades);
}

void RgbLed::pulse(double fade_in_time, double fade_out_time, const Color& on_color, const Color& off_color,
                   std::optional<int> n) {
    blink(0, 0, fade_in_time, fade_out_time, on_color, off_color, n);
}

void RgbLed::apply(const Color& value) {
    Color clamped{};
    for (std::size_t i = 0; i < 3; ++i) clamped[i] = std::clamp(value[i], 0.0, 1.0);
    if (!pwm_) {
        for (auto& c : clamped) c = c >= 0.5 ? 1.0 : 0.0;
    }
    write(clamped);
}

void RgbLed::release() noexcept {
    OutputDevice::release();
    for (auto& pin : pins_) {
        if (pin) pin->close();
    }
}

}  // namespace berrykit
