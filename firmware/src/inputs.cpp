#include "berrykit/inputs.hpp"

#include "berrykit/error.hpp"
#include "berrykit/kit.hpp"

#include <cmath>
#include <string>

namespace berrykit {

namespace {

void check_seconds(const std::string& description, const char* what, double seconds, double max) {
    if (!std::isfinite(seconds) || seconds < 0 || seconds > max) {
        throw Error(ErrorCode::bad_value, std::string(what) + " for " + description + " must be between 0 and " +
                                              to_text(max) + " seconds, got " + to_text(seconds));
    }
}

}  // namespace

// ---- DigitalInputDevice ----------------------------------------------------------------------

DigitalInputDevice::DigitalInputDevice(std::shared_ptr<Kit> kit, PartBinding binding, Options options,
                                       EventKind activated, EventKind deactivated)
    : Device(std::move(kit), std::move(binding)), activated_(activated), deactivated_(deactivated) {
    const Bias pull = options.pull.value_or(this->binding().def.pull);
    active_high_ = options.active_high.value_or(pull != Bias::pull_up);
    const double bounce = options.bounce_time.value_or(this->binding().def.bounce_time);
    check_seconds(description(), "bounce_time", bounce, 1);

    std::lock_guard guard(backend().lock());
    pin_ = claim();
    pin_->make_input(pull, Edge::both);
    pin_->on_edge([this](const EdgeEvent& event) { changed(event.rising == active_high_, event.time); },
                  from_seconds(bounce));
    active_ = pin_->read() == active_high_;
    if (active_) active_since_ = backend().clock().now();
}

bool DigitalInputDevice::is_active() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return active_;
}

std::optional<double> DigitalInputDevice::active_time() const {
    std::lock_guard guard(backend().lock());
    check_open();
    if (!active_) return std::nullopt;
    return to_seconds(backend().clock().now() - active_since_);
}

bool DigitalInputDevice::wait_for(bool active, std::optional<double> timeout) {
    return wait_until([this, active] { return active_ == active; }, timeout);
}

void DigitalInputDevice::changed(bool active, Nanos time) {
    if (active == active_) return;
    active_ = active;
    if (active) active_since_ = time;
    emit(active ? activated_ : deactivated_, time);
}

void DigitalInputDevice::release() noexcept {
    if (pin_) pin_->close();
}

// ---- Button ----------------------------------------------------------------------------------

Button::Button(std::shared_ptr<Kit> kit, PartBinding binding, Options options)
    : DigitalInputDevice(std::move(kit), std::move(binding), options.input, EventKind::pressed, EventKind::released),
      hold_repeat_(options.hold_repeat) {
    const double hold = options.hold_time.value_or(this->binding().def.hold_time);
    if (!std::isfinite(hold) || hold <= 0 || hold > 60) {
        throw Error(ErrorCode::bad_value, "hold_time for " + description() +
                                              " must be more than 0 and at most 60 seconds, got " + to_text(hold));
    }
    hold_time_ = from_seconds(hold);
    std::lock_guard guard(backend().lock());
    if (active_) schedule_hold(active_since_ + hold_time_);
}

Button::~Button() { close(); }

void Button::changed(bool active, Nanos time) {
    if (active == active_) return;
    if (hold_timer_) backend().scheduler().cancel(hold_timer_);
    hold_timer_ = 0;
    held_ = false;
    DigitalInputDevice::changed(active, time);
    if (active) schedule_hold(time + hold_time_);
}

void Button::schedule_hold(Nanos at) {
    hold_timer_ = backend().scheduler().call_at(at, [this, at] {
        hold_timer_ = 0;
        held_ = true;
        emit(EventKind::held, at);
        if (hold_repeat_) schedule_hold(at + hold_time_);
    });
}

bool Button::is_held() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return held_;
}

std::optional<double> Button::held_time() const {
    std::lock_guard guard(backend().lock());
    check_open();
    if (!held_) return std::nullopt;
    return to_seconds(backend().clock().now() - active_since_ - hold_time_);
}

double Button::hold_time() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return to_seconds(hold_time_);
}

void Button::set_hold_time(double seconds) {
    std::lock_guard guard(backend().lock());
    check_open();
    if (!std::isfinite(seconds) || seconds <= 0 || seconds > 60) {
        throw Error(ErrorCode::bad_value, "hold_time for " + description() +
                                              " must be more than 0 and at most 60 seconds, got " + to_text(seconds));
    }
    hold_time_ = from_seconds(seconds);
}

bool Button::hold_repeat() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return hold_repeat_;
}

void Button::set_hold_repeat(bool repeat) {
    std::lock_guard guard(backend().lock());
    check_open();
    hold_repeat_ = repeat;
}

void Button::release() noexcept {
    if (hold_timer_) backend().scheduler().cancel(hold_timer_);
    hold_timer_ = 0;
    DigitalInputDevice::release();
}

// ---- MotionSensor ----------------------------------------------------------------------------

MotionSensor::MotionSensor(std::shared_ptr<Kit> kit, PartBinding binding, DigitalInputDevice::Options options)
    : DigitalInputDevice(std::move(kit), std::move(binding), options, EventKind::motion, EventKind::no_motion) {}

MotionSensor::~MotionSensor() { close(); }

}  // namespace berrykit
