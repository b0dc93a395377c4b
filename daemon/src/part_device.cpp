#include "part_device.hpp"

#include "request.hpp"

#include "berrykit/analog_sensors.hpp"
#include "berrykit/error.hpp"
#include "berrykit/inputs.hpp"
#include "berrykit/kernel_sensors.hpp"
#include "berrykit/outputs.hpp"

#include <algorithm>

namespace berrykit::daemon {

using nlohmann::json;

namespace {

json optional_json(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

// Checks a program's options for a class: every key must be one the class takes.
void check_options(const json& options, const std::string& what, std::initializer_list<const char*> known) {
    if (options.is_null()) return;
    if (!options.is_object()) refuse("bad_request", "\"options\" must be an object, got " + describe_json(options));
    for (const auto& [key, value] : options.items()) {
        if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
            std::string list;
            std::size_t i = 0;
            for (const char* k : known) list += std::string(i++ ? (i == known.size() ? " and " : ", ") : "") + k;
            refuse("bad_request",
                   what + " has no option \"" + key.substr(0, 40) + "\"" +
                       (known.size() ? ": its options are " + list : std::string(": it takes no options")),
                   json{{"hint", key}});
        }
    }
}

const json& none() {
    static const json null_value;
    return null_value;
}

const json& options_or_none(const json& options) { return options.is_object() ? options : none(); }

std::optional<double> opt_number(const json& options, const char* name) {
    return options.is_object() ? optional_number(options, name) : std::nullopt;
}
std::optional<bool> opt_bool(const json& options, const char* name) {
    return options.is_object() ? optional_bool(options, name) : std::nullopt;
}

bool is_full_or_off(double value) { return value == 0.0 || value == 1.0; }

// ---- outputs -------------------------------------------------------------------------------

class DigitalPart final : public PartDevice {
public:
    DigitalPart(std::string as, std::shared_ptr<DigitalOutputDevice> device)
        : PartDevice(std::move(as)), device_(std::move(device)) {}
    Device& device() override { return *device_; }
    bool is_output() const override { return true; }
    json state() const override {
        return json{{"value", device_->is_active() ? 1 : 0}, {"animating", device_->is_animating()}};
    }
    void set(const json& value) override {
        if (!(value.is_boolean() || (value.is_number() && (value == 0 || value == 1)))) {
            refuse("bad_request",
                   "\"value\" for " + device_->description() + " is 1 (on) or 0 (off), got " + describe_json(value));
        }
        device_->set_value(value.is_boolean() ? value.get<bool>() : value.get<double>() == 1);
    }
    void blink(const json& request, bool pulse) override {
        if (pulse || number_field(request, "fade_in_time", 0) != 0 || number_field(request, "fade_out_time", 0) != 0) {
            refuse("wrong_type", device_->description() +
                                     " can only be on or off, so it cannot fade: open it as a "
                                     "PWMLED to fade it");
        }
        device_->blink(number_field(request, "on_time", 1), number_field(request, "off_time", 1),
                       count_field(request, "n"));
    }
    std::function<bool()> until(const std::string& what) override {
        if (what == "animation_done") return [d = device_] { return !d->is_animating(); };
        return PartDevice::until(what);
    }
    bool steady() const override { return !device_->is_animating(); }
    void rest() override { device_->off(); }

private:
    std::shared_ptr<DigitalOutputDevice> device_;
};

class PwmPart final : public PartDevice {
public:
    explicit PwmPart(std::shared_ptr<PwmOutputDevice> device) : PartDevice("pwm_led"), device_(std::move(device)) {}
    Device& device() override { return *device_; }
    bool is_output() const override { return true; }
    json state() const override {
        return json{
            {"value", device_->value()}, {"frequency", device_->frequency()}, {"animating", device_->is_animating()}};
    }
    void set(const json& value) override {
        if (!value.is_number() && !value.is_boolean()) {
            refuse("bad_request", "\"value\" for an LED is a brightness from 0 to 1, got " + describe_json(value));
        }
        device_->set_value(value.is_boolean() ? (value.get<bool>() ? 1.0 : 0.0) : value.get<double>());
    }
    void blink(const json& request, bool pulse) override {
        const double on = number_field(request, "on_time", pulse ? 0 : 1);
        const double off = number_field(request, "off_time", pulse ? 0 : 1);
        const double in = number_field(request, "fade_in_time", pulse ? 1 : 0);
        const double out = number_field(request, "fade_out_time", pulse ? 1 : 0);
        const auto n = count_field(request, "n");
        if (pulse) {
            device_->pulse(in, out, n);
        } else {
            device_->blink(on, off, in, out, n);
        }
    }
    void set_frequency(double hz) override { device_->set_frequency(hz); }
    std::function<bool()> until(const std::string& what) override {
        if (what == "animation_done") return [d = device_] { return !d->is_animating(); };
        return PartDevice::until(what);
    }
    bool steady() const override { return !device_->is_animating() && is_full_or_off(device_->value()); }
    void rest() override {
        device_->off();
        device_->set_frequency(100);  // the next program starts from the default, as in-process
    }

private:
    std::shared_ptr<PwmOutputDevice> device_;
};

class RgbPart final : public PartDevice {
public:
    explicit RgbPart(std::shared_ptr<RgbLed> device) : PartDevice("rgb_led"), device_(std::move(device)) {}
    Device& device() override { return *device_; }
    bool is_output() const override { return true; }
    json state() const override {
        const Color c = device_->color();
        return json{{"value", json::array({c[0], c[1], c[2]})}, {"animating", device_->is_animating()}};
    }
    void set(const json& value) override { device_->set_color(color_field(json{{"value", value}}, "value", Color{})); }
    void blink(const json& request, bool pulse) override {
        const double in = number_field(request, "fade_in_time", pulse ? 1 : 0);
        const double out = number_field(request, "fade_out_time", pulse ? 1 : 0);
        const Color on = color_field(request, "on_color", Color{1, 1, 1});
        const Color off = color_field(request, "off_color", Color{0, 0, 0});
        const auto n = count_field(request, "n");
        if (pulse) {
            device_->pulse(in, out, on, off, n);
        } else {
            device_->blink(number_field(request, "on_time", 1), number_field(request, "off_time", 1), in, out, on, off,
                           n);
        }
    }
    std::function<bool()> until(const std::string& what) override {
        if (what == "animation_done") return [d = device_] { return !d->is_animating(); };
        return PartDevice::until(what);
    }
    bool steady() const override {
        const Color c = device_->color();
        return !device_->is_animating() && std::all_of(c.begin(), c.end(), is_full_or_off);
    }
    void rest() override { device_->off(); }

private:
    std::shared_ptr<RgbLed> device_;
};

// ---- inputs --------------------------------------------------------------------------------

std::function<bool()> active_check(const std::shared_ptr<DigitalInputDevice>& device, const std::string& what) {
    if (what == "active") return [device] { return device->is_active(); };
    if (what == "inactive") return [device] { return !device->is_active(); };
    return nullptr;
}

class ButtonPart final : public PartDevice {
public:
    explicit ButtonPart(std::shared_ptr<Button> device) : PartDevice("button"), device_(std::move(device)) {}
    Device& device() override { return *device_; }
    json state() const override {
        return json{{"pressed", device_->is_active()},   {"active_time", optional_json(device_->active_time())},
                    {"held", device_->is_held()},        {"held_time", optional_json(device_->held_time())},
                    {"hold_time", device_->hold_time()}, {"hold_repeat", device_->hold_repeat()}};
    }
    void configure(const json& settings) override {
        check_options(settings, device_->description(), {"hold_time", "hold_repeat"});
        if (const auto t = optional_number(settings, "hold_time")) device_->set_hold_time(*t);
        if (const auto r = optional_bool(settings, "hold_repeat")) device_->set_hold_repeat(*r);
    }
    std::function<bool()> until(const std::string& what) override {
        if (auto check = active_check(device_, what)) return check;
        return PartDevice::until(what);
    }

private:
    std::shared_ptr<Button> device_;
};

class MotionPart final : public PartDevice {
public:
    explicit MotionPart(std::shared_ptr<MotionSensor> device)
        : PartDevice("motion_sensor"), device_(std::move(device)) {}
    Device& device() override { return *device_; }
    json state() const override {
        return json{{"motion", device_->is_active()}, {"active_time", optional_json(device_->active_time())}};
    }
    std::function<bool()> until(const std::string& what) override {
        if (auto check = active_check(device_, what)) return check;
        return PartDevice::until(what);
    }

private:
    std::shared_ptr<MotionSensor> device_;
};

// ---- sensors -------------------------------------------------------------------------------

std::function<bool()> smoothed_check(const std::shared_ptr<SmoothedSensor>& device, const std::string& what) {
    if (what == "reading") return [device] { return device->latest().has_value(); };
    if (what == "active") return [device] { return device->latest().has_value() && device->is_active(); };
    if (what == "inactive") return [device] { return device->latest().has_value() && !device->is_active(); };
    return nullptr;
}

class LightPart final : public PartDevice {
public:
    explicit LightPart(std::shared_ptr<LightSensor> device) : PartDevice("light_sensor"), device_(std::move(device)) {}
    Device& device() override { return *device_; }
    json state() const override {
        return json{{"value", optional_json(device_->latest())},
                    {"active", device_->is_active()},
                    {"threshold", device_->threshold()},
                    {"measurements", device_->measurements()},
                    {"charge_time_limit", device_->charge_time_limit()}};
    }
    void configure(const json& settings) override {
        check_options(settings, device_->description(), {"threshold"});
        if (const auto t = optional_number(settings, "threshold")) device_->set_threshold(*t);
    }
    std::function<bool()> until(const std::string& what) override {
        if (auto check = smoothed_check(device_, what)) return check;
        return PartDevice::until(what);
    }

private:
    std::shared_ptr<LightSensor> device_;
};

class DistancePart final : public PartDevice {
public:
    explicit DistancePart(std::shared_ptr<DistanceSensor> device)
        : PartDevice("distance_sensor"), device_(std::move(device)) {}
    Device& device() override { return *device_; }
    json state() const override {
        return json{{"value", optional_json(device_->latest())},
                    {"active", device_->is_active()},
                    {"threshold", device_->threshold()},
                    {"measurements", device_->measurements()},
                    {"max_distance", device_->max_distance()}};
    }
    json read() override { return json{{"value", optional_json(device_->latest())}, {"unit", "m"}}; }
    void configure(const json& settings) override {
        check_options(settings, device_->description(), {"threshold_distance", "max_distance"});
        if (const auto t = optional_number(settings, "threshold_distance")) device_->set_threshold(*t);
        if (const auto m = optional_number(settings, "max_distance")) device_->set_max_distance(*m);
    }
    std::function<bool()> until(const std::string& what) override {
        if (auto check = smoothed_check(device_, what)) return check;
        return PartDevice::until(what);
    }

private:
    std::shared_ptr<DistanceSensor> device_;
};

class TemperaturePart final : public PartDevice {
public:
    explicit TemperaturePart(std::shared_ptr<TemperatureSensor> device)
        : PartDevice("temperature_sensor"), device_(std::move(device)) {}
    Device& device() override { return *device_; }
    json state() const override { return json::object(); }
    json read() override { return json{{"value", device_->temperature()}, {"unit", "°C"}}; }

private:
    std::shared_ptr<TemperatureSensor> device_;
};

class ClimatePart final : public PartDevice {
public:
    explicit ClimatePart(std::shared_ptr<HumidityTemperatureSensor> device)
        : PartDevice("climate_sensor"), device_(std::move(device)) {}
    Device& device() override { return *device_; }
    json state() const override { return json::object(); }
    json read() override {
        const ClimateReading r = device_->read();
        return json{{"temperature", r.temperature_c}, {"humidity", r.humidity_percent}};
    }

private:
    std::shared_ptr<HumidityTemperatureSensor> device_;
};

std::optional<Bias> pull_of(const json& options) {
    const auto up = opt_bool(options, "pull_up");
    if (!up) return std::nullopt;
    return *up ? Bias::pull_up : Bias::pull_down;
}

DigitalInputDevice::Options input_options(const json& options) {
    return {pull_of(options), opt_bool(options, "active_high"), opt_number(options, "bounce_time")};
}

std::size_t queue_len_of(const json& options, std::size_t fallback) {
    if (!options.is_object()) return fallback;
    const auto n = count_field(options, "queue_len");
    if (!n) return fallback;
    if (*n < 1) refuse("bad_request", "\"queue_len\" must be 1 or more, got " + std::to_string(*n));
    return static_cast<std::size_t>(*n);
}

}  // namespace

PartDevice::~PartDevice() = default;

void PartDevice::cannot(const std::string& what) const {
    auto& self = const_cast<PartDevice&>(*this);
    refuse("wrong_type", self.device().description() + " cannot " + what, json{{"part", self.device().part()}});
}

void PartDevice::set(const json&) { cannot("be set: only LEDs, RGB LEDs and buzzers can"); }
void PartDevice::blink(const json&, bool pulse) { cannot(pulse ? "pulse" : "blink"); }
void PartDevice::set_frequency(double) { cannot("have a PWM frequency: only an LED opened as a PWMLED has one"); }
json PartDevice::read() { return json{{"state", state()}}; }
void PartDevice::configure(const json& settings) { check_options(settings, device().description(), {}); }
std::function<bool()> PartDevice::until(const std::string& what) {
    cannot("be waited for until \"" + what.substr(0, 40) + "\"");
}

const std::vector<std::string>& device_classes() {
    static const std::vector<std::string> classes{"led",           "pwm_led",         "buzzer",
                                                  "rgb_led",       "button",          "motion_sensor",
                                                  "light_sensor",  "distance_sensor", "temperature_sensor",
                                                  "climate_sensor"};
    return classes;
}

std::string board_class(PartType type) {
    switch (type) {
        case PartType::led: return "pwm_led";
        case PartType::buzzer: return "buzzer";
        case PartType::rgb_led: return "rgb_led";
        case PartType::button: return "button";
        case PartType::motion_sensor: return "motion_sensor";
        case PartType::light_sensor: return "light_sensor";
        case PartType::distance_sensor: return "distance_sensor";
        case PartType::ds18b20: return "temperature_sensor";
        case PartType::dht11:
        case PartType::dht22: return "climate_sensor";
    }
    return "pwm_led";
}

PartBinding resolve_as(const Kit& kit, const PartRef& ref, const std::string& as) {
    if (as == "led") return kit.resolve(ref, {PartType::led}, "LED");
    if (as == "pwm_led") return kit.resolve(ref, {PartType::led}, "LED");
    if (as == "buzzer") return kit.resolve(ref, {PartType::buzzer}, "buzzer");
    if (as == "rgb_led") return kit.resolve(ref, {PartType::rgb_led}, "RGB LED");
    if (as == "button") return kit.resolve(ref, {PartType::button}, "button");
    if (as == "motion_sensor") return kit.resolve(ref, {PartType::motion_sensor}, "motion sensor");
    if (as == "light_sensor") return kit.resolve(ref, {PartType::light_sensor}, "light sensor");
    if (as == "distance_sensor") return kit.resolve(ref, {PartType::distance_sensor}, "distance sensor");
    if (as == "temperature_sensor") return kit.resolve(ref, {PartType::ds18b20}, "temperature sensor");
    if (as == "climate_sensor") return kit.resolve(ref, {PartType::dht22, PartType::dht11}, "climate sensor");
    std::string list;
    for (const auto& c : device_classes()) list += (list.empty() ? "" : ", ") + c;
    refuse("bad_request", "there is no device class \"" + as.substr(0, 40) + "\": \"as\" is one of " + list);
}

std::unique_ptr<PartDevice> open_part_device(Kit& kit, const std::string& as, const PartBinding& binding,
                                             const json& options) {
    const std::shared_ptr<Kit> k = kit.shared_from_this();
    const std::string& what = binding.description;
    if (as == "led" || as == "buzzer") {
        check_options(options, what, {"active_high", "initial_value"});
        const auto initial = opt_bool(options, "initial_value");
        return std::make_unique<DigitalPart>(
            as,
            std::make_shared<DigitalOutputDevice>(
                k, binding, DigitalOutputDevice::Options{opt_bool(options, "active_high"), initial.value_or(false)}));
    }
    if (as == "pwm_led") {
        check_options(options, what, {"active_high", "initial_value", "frequency"});
        return std::make_unique<PwmPart>(std::make_shared<PwmOutputDevice>(
            k, binding,
            PwmOutputDevice::Options{opt_bool(options, "active_high"), opt_number(options, "initial_value").value_or(0),
                                     opt_number(options, "frequency").value_or(100)}));
    }
    if (as == "rgb_led") {
        check_options(options, what, {"active_high", "initial_value", "pwm"});
        return std::make_unique<RgbPart>(std::make_shared<RgbLed>(
            k, binding,
            RgbLed::Options{opt_bool(options, "active_high"),
                            color_field(options_or_none(options).is_object() ? options : json::object(),
                                        "initial_value", Color{0, 0, 0}),
                            opt_bool(options, "pwm").value_or(true), 100.0}));
    }
    if (as == "button") {
        check_options(options, what, {"pull_up", "active_high", "bounce_time", "hold_time", "hold_repeat"});
        return std::make_unique<ButtonPart>(
            std::make_shared<Button>(k, binding,
                                     Button::Options{input_options(options), opt_number(options, "hold_time"),
                                                     opt_bool(options, "hold_repeat").value_or(false)}));
    }
    if (as == "motion_sensor") {
        check_options(options, what, {"pull_up", "active_high", "bounce_time"});
        return std::make_unique<MotionPart>(std::make_shared<MotionSensor>(k, binding, input_options(options)));
    }
    if (as == "light_sensor") {
        check_options(options, what, {"queue_len", "charge_time_limit", "threshold"});
        LightSensor::Options light;
        light.queue_len = queue_len_of(options, light.queue_len);
        light.charge_time_limit = opt_number(options, "charge_time_limit").value_or(light.charge_time_limit);
        light.threshold = opt_number(options, "threshold").value_or(light.threshold);
        return std::make_unique<LightPart>(std::make_shared<LightSensor>(k, binding, light));
    }
    if (as == "distance_sensor") {
        check_options(options, what, {"queue_len", "max_distance", "threshold_distance"});
        DistanceSensor::Options distance;
        distance.queue_len = queue_len_of(options, distance.queue_len);
        distance.max_distance = opt_number(options, "max_distance").value_or(distance.max_distance);
        distance.threshold_distance = opt_number(options, "threshold_distance").value_or(distance.threshold_distance);
        return std::make_unique<DistancePart>(std::make_shared<DistanceSensor>(k, binding, distance));
    }
    if (as == "temperature_sensor") {
        check_options(options, what, {});
        return std::make_unique<TemperaturePart>(std::make_shared<TemperatureSensor>(k, binding));
    }
    if (as == "climate_sensor") {
        check_options(options, what, {});
        return std::make_unique<ClimatePart>(std::make_shared<HumidityTemperatureSensor>(k, binding));
    }
    (void)resolve_as(kit, binding.part, as);  // refuses the unknown class in words
    refuse("bad_request", "there is no device class \"" + as + "\"");
}

}  // namespace berrykit::daemon
