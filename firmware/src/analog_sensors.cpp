#include "berrykit/analog_sensors.hpp"

#include "berrykit/error.hpp"
#include "berrykit/kit.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace berrykit {

namespace {

// A light measurement every 50 ms and a distance every 60 ms (the HC-SR04's datasheet asks for
// 60 ms between triggers so an old echo is not heard twice).
constexpr Nanos light_drain = std::chrono::milliseconds(5);
constexpr Nanos trigger_pulse = std::chrono::microseconds(10);
// The HC-SR04 holds echo high for about 38 ms when nothing reflects; we give up a bit later.
constexpr Nanos echo_out_of_range = std::chrono::milliseconds(38);
constexpr Nanos echo_timeout = std::chrono::milliseconds(50);

void check_positive(const std::string& description, const char* what, double value, double max) {
    if (!std::isfinite(value) || value <= 0 || value > max) {
        throw Error(ErrorCode::bad_value, std::string(what) + " for " + description +
                                              " must be more than 0 and at most " + to_text(max) + ", got " +
                                              to_text(value));
    }
}

}  // namespace

// ---- SmoothedSensor --------------------------------------------------------------------------

SmoothedSensor::SmoothedSensor(std::shared_ptr<Kit> kit, PartBinding binding, std::size_t queue_len, double threshold,
                               EventKind activated, EventKind deactivated)
    : Device(std::move(kit), std::move(binding)),
      queue_len_(queue_len),
      threshold_(threshold),
      activated_(activated),
      deactivated_(deactivated) {
    if (queue_len_ < 1 || queue_len_ > 100) {
        throw Error(ErrorCode::bad_value,
                    "queue_len for " + description() + " must be between 1 and 100, got " + std::to_string(queue_len_));
    }
}

std::optional<double> SmoothedSensor::latest() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return smoothed_;
}

bool SmoothedSensor::wait_for_reading(std::optional<double> timeout) {
    return wait_until([this] { return smoothed_.has_value(); }, timeout);
}

bool SmoothedSensor::wait_for(bool active, std::optional<double> timeout) {
    return wait_until([this, active] { return smoothed_.has_value() && active_ == active; }, timeout);
}

bool SmoothedSensor::is_active() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return active_;
}

double SmoothedSensor::threshold() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return threshold_;
}

void SmoothedSensor::set_threshold(double threshold) {
    std::lock_guard guard(backend().lock());
    check_open();
    validate_threshold(threshold);
    threshold_ = threshold;
}

void SmoothedSensor::validate_threshold(double threshold) const {
    if (!std::isfinite(threshold) || threshold < 0) {
        throw Error(ErrorCode::bad_value,
                    "the threshold for " + description() + " must be 0 or more, got " + to_text(threshold));
    }
}

std::uint64_t SmoothedSensor::measurements() const {
    std::lock_guard guard(backend().lock());
    return measurements_;
}

void SmoothedSensor::add_measurement(double value, Nanos time) {
    recent_.push_back(value);
    while (recent_.size() > queue_len_) recent_.pop_front();
    smoothed_ = std::accumulate(recent_.begin(), recent_.end(), 0.0) / static_cast<double>(recent_.size());
    const bool first = measurements_++ == 0;
    const bool active = active_for(*smoothed_);
    if (first) {
        active_ = active;  // the state it starts in is not an event
    } else if (active != active_) {
        active_ = active;
        emit(active ? activated_ : deactivated_, time);
        return;
    }
    notify_changed();
}

// ---- LightSensor -----------------------------------------------------------------------------

LightSensor::LightSensor(std::shared_ptr<Kit> kit, PartBinding binding, Options options)
    : SmoothedSensor(std::move(kit), std::move(binding), options.queue_len, options.threshold, EventKind::light,
                     EventKind::dark),
      limit_(0) {
    // Checked before from_seconds, whose own error for NaN would not name the part.
    check_positive(description(), "charge_time_limit", options.charge_time_limit, 1.0);
    limit_ = from_seconds(options.charge_time_limit);
    // At least drain + the longest charge, so one measurement ends before the next begins.
    check_positive(description(), "period", options.period, 3600.0);
    period_ = std::max(from_seconds(options.period), light_drain + limit_);
    validate_threshold(options.threshold);
    std::lock_guard guard(backend().lock());
    if (this->binding().shared) {
        source_ = dynamic_cast<LightSensor*>(this->kit().holder_of(this->binding().lines.begin()->second.name));
        if (!source_) {
            throw Error(ErrorCode::part_in_use,
                        description() + " is not measured by anyone yet, so it cannot be shared");
        }
        if (limit_ > source_->limit_) {
            throw Error(ErrorCode::bad_value,
                        "charge_time_limit for " + description() + " can be at most " +
                            to_text(to_seconds(source_->limit_)) +
                            " here: berrykitd measures it for every program and waits that long for a charge, got " +
                            to_text(options.charge_time_limit));
        }
        source_->followers_.push_back(this);
        return;
    }
    pin_ = claim();
    pin_->make_output(false);
    pin_->on_edge([this](const EdgeEvent& event) {
        if (charging_ && event.rising) charged(event.time);
    });
    start_drain();
}

LightSensor::~LightSensor() { close(); }

void LightSensor::start_drain() {
    charging_ = false;
    const Nanos cycle_start = backend().clock().now();
    pin_->make_output(false);
    timer_ = backend().scheduler().call_at(cycle_start + light_drain, [this] {
        timer_ = 0;
        start_charge();
    });
}

void LightSensor::start_charge() {
    charge_start_ = backend().clock().now();
    charging_ = true;
    pin_->make_input(Bias::none, Edge::rising);
    if (pin_->read()) {  // so bright the capacitor charged before we looked
        charged(charge_start_);
        return;
    }
    timer_ = backend().scheduler().call_at(charge_start_ + limit_, [this] {
        timer_ = 0;
        charged(charge_start_ + limit_);
    });
}

void LightSensor::charged(Nanos time) {
    if (!charging_) return;
    charging_ = false;
    if (timer_) backend().scheduler().cancel(timer_);
    timer_ = 0;
    measured(std::clamp(time - charge_start_, Nanos{0}, limit_), time);
    const Nanos next = std::max(charge_start_ - light_drain + period_, backend().clock().now());
    timer_ = backend().scheduler().call_at(next, [this] {
        timer_ = 0;
        start_drain();
    });
}

void LightSensor::measured(Nanos charge, Nanos time) {
    add_measurement(1.0 - to_seconds(std::min(charge, limit_)) / to_seconds(limit_), time);
    for (LightSensor* follower : std::vector<LightSensor*>(followers_)) follower->measured(charge, time);
}

void LightSensor::release() noexcept {
    if (source_) {
        auto& followers = source_->followers_;
        followers.erase(std::remove(followers.begin(), followers.end(), this), followers.end());
        source_ = nullptr;
    }
    for (LightSensor* follower : followers_) follower->source_ = nullptr;
    followers_.clear();
    if (timer_) backend().scheduler().cancel(timer_);
    timer_ = 0;
    charging_ = false;
    if (pin_) pin_->close();
}

// ---- DistanceSensor --------------------------------------------------------------------------

DistanceSensor::DistanceSensor(std::shared_ptr<Kit> kit, PartBinding binding, Options options)
    : SmoothedSensor(std::move(kit), std::move(binding), options.queue_len, options.threshold_distance,
                     EventKind::in_range, EventKind::out_of_range),
      max_distance_(options.max_distance) {
    check_positive(description(), "max_distance", options.max_distance, 4.0);
    validate_threshold(options.threshold_distance);
    // The HC-SR04 wants 60 ms between triggers, so an old echo is not heard twice.
    check_positive(description(), "period", options.period, 3600.0);
    period_ = std::max(from_seconds(options.period), std::chrono::duration_cast<Nanos>(std::chrono::milliseconds(60)));
    std::lock_guard guard(backend().lock());
    if (this->binding().shared) {
        source_ = dynamic_cast<DistanceSensor*>(this->kit().holder_of(this->binding().lines.at("echo").name));
        if (!source_) {
            throw Error(ErrorCode::part_in_use,
                        description() + " is not measured by anyone yet, so it cannot be shared");
        }
        source_->followers_.push_back(this);
        return;
    }
    trigger_ = claim("trigger");
    echo_ = claim("echo");
    trigger_->make_output(false);
    echo_->make_input(Bias::none, Edge::both);
    echo_->on_edge([this](const EdgeEvent& event) { echo_edge(event); });
    trigger();
}

DistanceSensor::~DistanceSensor() { close(); }

double DistanceSensor::max_distance() const {
    std::lock_guard guard(backend().lock());
    check_open();
    return max_distance_;
}

void DistanceSensor::set_max_distance(double metres) {
    std::lock_guard guard(backend().lock());
    check_open();
    check_positive(description(), "max_distance", metres, 4.0);
    max_distance_ = metres;
}

void DistanceSensor::trigger() {
    cycle_start_ = backend().clock().now();
    echo_rise_.reset();
    trigger_->write(true);
    timer_ = backend().scheduler().call_at(cycle_start_ + trigger_pulse, [this] {
        trigger_->write(false);
        waiting_ = true;
        timer_ = backend().scheduler().call_at(cycle_start_ + trigger_pulse + echo_timeout, [this] {
            timer_ = 0;
            finish(std::nullopt, backend().clock().now());
        });
    });
}

void DistanceSensor::echo_edge(const EdgeEvent& event) {
    if (!waiting_) return;
    if (event.rising) {
        echo_rise_ = event.time;
        return;
    }
    if (!echo_rise_) return;
    const Nanos width = event.time - *echo_rise_;
    if (width >= echo_out_of_range) {
        finish(std::nullopt, event.time);
    } else {
        finish(to_seconds(width) * speed_of_sound / 2.0, event.time);
    }
}

void DistanceSensor::finish(std::optional<double> distance, Nanos time) {
    waiting_ = false;
    if (timer_) backend().scheduler().cancel(timer_);
    timer_ = 0;
    measured(distance, time);
    const Nanos next = std::max(cycle_start_ + period_, backend().clock().now());
    timer_ = backend().scheduler().call_at(next, [this] {
        timer_ = 0;
        trigger();
    });
}

void DistanceSensor::measured(std::optional<double> distance, Nanos time) {
    add_measurement(std::min(distance.value_or(max_distance_), max_distance_), time);
    for (DistanceSensor* follower : std::vector<DistanceSensor*>(followers_)) follower->measured(distance, time);
}

void DistanceSensor::release() noexcept {
    if (source_) {
        auto& followers = source_->followers_;
        followers.erase(std::remove(followers.begin(), followers.end(), this), followers.end());
        source_ = nullptr;
    }
    for (DistanceSensor* follower : followers_) follower->source_ = nullptr;
    followers_.clear();
    if (timer_) backend().scheduler().cancel(timer_);
    timer_ = 0;
    waiting_ = false;
    if (trigger_) trigger_->close();
    if (echo_) echo_->close();
}

}  // namespace berrykit
