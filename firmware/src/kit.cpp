#include "berrykit/kit.hpp"

#include "berrykit/error.hpp"
#include "berrykit/gpiod_backend.hpp"

#include <algorithm>
#include <sstream>

namespace berrykit {

namespace {

// The Python class a kid uses for each part type, for "open it with Button('button')" hints.
const char* class_for(PartType type) noexcept {
    switch (type) {
        case PartType::led: return "LED";
        case PartType::buzzer: return "Buzzer";
        case PartType::rgb_led: return "RGBLED";
        case PartType::button: return "Button";
        case PartType::motion_sensor: return "MotionSensor";
        case PartType::light_sensor: return "LightSensor";
        case PartType::distance_sensor: return "DistanceSensor";
        case PartType::ds18b20: return "TemperatureSensor";
        case PartType::dht11:
        case PartType::dht22: return "HumidityTemperatureSensor";
    }
    return "?";
}

std::string a_or_an(const std::string& word) {
    const bool vowel = !word.empty() && std::string("AEIOUaeiou").find(word[0]) != std::string::npos;
    // "an LED", "an RGB LED": initialisms that start with a vowel sound
    const bool vowel_sound = vowel || word.rfind("LED", 0) == 0 || word.rfind("RGB", 0) == 0;
    return (vowel_sound ? "an " : "a ") + word;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

PartDef bare_part_def(PartType type) {
    PartDef def;
    def.type = type;
    if (type == PartType::button) def.pull = Bias::pull_up;
    return def;
}

}  // namespace

std::shared_ptr<Kit> Kit::open(const KitOptions& options) { return std::shared_ptr<Kit>(new Kit(options)); }

Kit::Kit(const KitOptions& options) : options_(options) {
    board_ = load_board(find_board(options.board, options.board_dirs));

    std::string backend = options.backend;
    if (backend == "auto") {
        if (!gpiod_backend_built()) {
            backend = "sim";
            backend_reason_ = "this berrykit was built without libgpiod, so it uses the simulated board";
        } else if (!gpio_chips_present(options.dev_root)) {
            backend = "sim";
            backend_reason_ = "this computer has no GPIO pins (no " + (options.dev_root / "gpiochip*").string() +
                              "), so berrykit uses the simulated board";
        } else {
            backend = "gpiod";
            backend_reason_ = "found GPIO chips in " + options.dev_root.string();
        }
    } else {
        backend_reason_ = "asked for the '" + backend + "' board";
    }

    if (backend == "sim") {
        SimBackend::Options sim_options;
        sim_options.manual_clock = options.manual_clock;
        sim_options.history_limit = options.history_limit;
        auto sim = std::make_unique<SimBackend>(sim_options);
        sim_ = sim.get();
        backend_ = std::move(sim);
    } else if (backend == "gpiod") {
        if (options.manual_clock) {
            throw Error(ErrorCode::unsupported, "a manual clock only works on the simulated board, not on real GPIO");
        }
        GpiodOptions gpiod_options;
        gpiod_options.dev_root = options.dev_root;
        gpiod_options.sysfs_root = options.sysfs_root;
        gpiod_options.overlay = kit_overlay(board_.name);
        backend_ = make_gpiod_backend(gpiod_options);
    } else {
        throw Error(ErrorCode::bad_value, "there is no board backend called '" + backend +
                                              "': use 'sim' (the simulated board) or "
                                              "'gpiod' (real GPIO pins)");
    }
    backend_kind_ = backend_->kind();
    start_ = backend_->clock().now();
    if (sim_) wire_simulated_circuits();
    if (!backend_->clock().is_manual() || !options.loop_thread) {
        loop_ = std::make_unique<EventLoop>(backend_->lock(), backend_->scheduler());
        backend_->attach(*loop_);
        if (options.loop_thread) loop_->start();
    }
}

Kit::~Kit() { close(); }

void Kit::wire_simulated_circuits() {
    for (const auto& part : board_.parts) {
        if (part.type == PartType::light_sensor) {
            sim_->wire_light_sensor(part.name, part.line(), from_seconds(LightSensor::Options{}.charge_time_limit));
        } else if (part.type == PartType::distance_sensor) {
            sim_->wire_distance_sensor(part.name, part.line("trigger"), part.line("echo"));
        }
    }
}

PartBinding Kit::resolve(const PartRef& ref, std::initializer_list<PartType> accepted, const std::string& kind) const {
    const auto accepts = [&](PartType type) {
        return std::find(accepted.begin(), accepted.end(), type) != accepted.end();
    };
    PartBinding binding;
    std::string line_name;
    if (const auto* name = std::get_if<std::string>(&ref)) {
        if (const PartDef* def = board_.find(*name)) {
            if (!accepts(def->type)) {
                throw Error(ErrorCode::wrong_type,
                            "'" + *name + "' is " + a_or_an(to_friendly(def->type)) + ", not " + a_or_an(kind) +
                                ": open it with " + class_for(def->type) + "(\"" + *name + "\")",
                            *name, class_for(def->type));
            }
            binding.part = *name;
            binding.description = "the " + kind + " '" + *name + "'";
            binding.def = *def;
            for (const auto& [role, line] : def->lines) binding.lines[role] = backend_->find_line(line);
            return binding;
        }
        if (!is_header_line(*name)) {
            std::ostringstream message;
            message << "there is no part called '" << *name << "' on the " << board_.name << " board.";
            const PartDef* closest = nullptr;
            std::size_t best = 3;  // suggest only near misses
            for (const auto& part : board_.parts) {
                const std::size_t d = edit_distance(*name, part.name);
                if (d < best) {
                    best = d;
                    closest = &part;
                }
            }
            if (closest) message << " Did you mean '" << closest->name << "'?";
            message << " The parts are:";
            for (std::size_t i = 0; i < board_.parts.size(); ++i) {
                message << (i ? ", " : " ") << board_.parts[i].name;
            }
            message << ". You can also use a GPIO number, like " << class_for(*accepted.begin()) << "(17).";
            throw Error(ErrorCode::unknown_part, message.str(), *name, closest ? closest->name : std::string());
        }
        line_name = *name;
    } else {
        line_name = backend_->find_line(std::get<int>(ref)).name;
    }
    const LineInfo line = backend_->find_line(line_name);
    binding.part = line.name;
    binding.description = "the " + kind + " on " + line.name;
    binding.lines["line"] = line;
    // A bare line that the board has a part on keeps that part's wiring (an LED wired to 3.3 V
    // stays active-low), as long as it is the kind of part asked for.
    const PartDef* def = board_.find_by_line(line.name);
    if (def && accepts(def->type) && def->lines.size() == 1) {
        binding.def = *def;
    } else {
        binding.def = bare_part_def(*accepted.begin());
        binding.def.name = line.name;
        binding.def.lines["line"] = line.name;
    }
    return binding;
}

namespace {
void require_open(bool closed) {
    if (closed) throw Error(ErrorCode::closed, "this berrykit board was closed: start your program again");
}
}  // namespace

std::shared_ptr<DigitalOutputDevice> Kit::open_led(const PartRef& ref, DigitalOutputDevice::Options options) {
    require_open(closed_);
    return std::make_shared<DigitalOutputDevice>(shared_from_this(), resolve(ref, {PartType::led}, "LED"), options);
}

std::shared_ptr<DigitalOutputDevice> Kit::open_buzzer(const PartRef& ref, DigitalOutputDevice::Options options) {
    require_open(closed_);
    return std::make_shared<DigitalOutputDevice>(shared_from_this(), resolve(ref, {PartType::buzzer}, "buzzer"),
                                                 options);
}

std::shared_ptr<PwmOutputDevice> Kit::open_pwm_led(const PartRef& ref, PwmOutputDevice::Options options) {
    require_open(closed_);
    return std::make_shared<PwmOutputDevice>(shared_from_this(), resolve(ref, {PartType::led}, "LED"), options);
}

std::shared_ptr<RgbLed> Kit::open_rgb_led(const PartRef& ref, RgbLed::Options options) {
    require_open(closed_);
    if (std::holds_alternative<int>(ref) || is_header_line(std::get<std::string>(ref))) {
        throw Error(ErrorCode::wrong_type,
                    "an RGB LED uses three pins, so open it by its name in the kit "
                    "(like RGBLED(\"rgb\")) or give all three: RGBLED(red=5, green=6, blue=13)");
    }
    return std::make_shared<RgbLed>(shared_from_this(), resolve(ref, {PartType::rgb_led}, "RGB LED"), options);
}

std::shared_ptr<Button> Kit::open_button(const PartRef& ref, Button::Options options) {
    require_open(closed_);
    return std::make_shared<Button>(shared_from_this(), resolve(ref, {PartType::button}, "button"), options);
}

std::shared_ptr<MotionSensor> Kit::open_motion_sensor(const PartRef& ref, DigitalInputDevice::Options options) {
    require_open(closed_);
    return std::make_shared<MotionSensor>(shared_from_this(), resolve(ref, {PartType::motion_sensor}, "motion sensor"),
                                          options);
}

std::shared_ptr<LightSensor> Kit::open_light_sensor(const PartRef& ref, LightSensor::Options options) {
    require_open(closed_);
    return std::make_shared<LightSensor>(shared_from_this(), resolve(ref, {PartType::light_sensor}, "light sensor"),
                                         options);
}

std::shared_ptr<DistanceSensor> Kit::open_distance_sensor(const PartRef& ref, DistanceSensor::Options options) {
    require_open(closed_);
    if (std::holds_alternative<int>(ref) || is_header_line(std::get<std::string>(ref))) {
        throw Error(ErrorCode::wrong_type,
                    "a distance sensor uses two pins, so open it by its name in the kit "
                    "(like DistanceSensor(\"distance\")) or give both: "
                    "DistanceSensor(echo=24, trigger=23)");
    }
    return std::make_shared<DistanceSensor>(shared_from_this(),
                                            resolve(ref, {PartType::distance_sensor}, "distance sensor"), options);
}

PartBinding Kit::bind_lines(PartType type, const std::string& kind, const std::map<std::string, int>& pins) const {
    PartBinding binding;
    std::string names;
    for (const auto& [role, bcm] : pins) {
        binding.lines[role] = backend_->find_line(bcm);
        names += (names.empty() ? "" : ", ") + binding.lines[role].name;
    }
    binding.part = binding.lines.begin()->second.name;
    binding.description = "the " + kind + " on " + names;
    binding.def = bare_part_def(type);
    binding.def.name = binding.part;
    for (const auto& [role, line] : binding.lines) binding.def.lines[role] = line.name;
    return binding;
}

std::shared_ptr<DistanceSensor> Kit::open_distance_sensor(int echo, int trigger, DistanceSensor::Options options) {
    require_open(closed_);
    return std::make_shared<DistanceSensor>(
        shared_from_this(),
        bind_lines(PartType::distance_sensor, "distance sensor", {{"echo", echo}, {"trigger", trigger}}), options);
}

std::shared_ptr<RgbLed> Kit::open_rgb_led(int red, int green, int blue, RgbLed::Options options) {
    require_open(closed_);
    return std::make_shared<RgbLed>(
        shared_from_this(), bind_lines(PartType::rgb_led, "RGB LED", {{"red", red}, {"green", green}, {"blue", blue}}),
        options);
}

std::shared_ptr<TemperatureSensor> Kit::open_temperature_sensor(const PartRef& ref) {
    require_open(closed_);
    return std::make_shared<TemperatureSensor>(shared_from_this(),
                                               resolve(ref, {PartType::ds18b20}, "temperature sensor"));
}

std::shared_ptr<HumidityTemperatureSensor> Kit::open_humidity_temperature_sensor(const PartRef& ref) {
    require_open(closed_);
    return std::make_shared<HumidityTemperatureSensor>(
        shared_from_this(), resolve(ref, {PartType::dht22, PartType::dht11}, "climate sensor"));
}

double Kit::seconds() const {
    std::lock_guard guard(backend_->lock());  // a manual clock moves in another thread's advance()
    return to_seconds(backend_->clock().now() - start_);
}

bool Kit::manual_clock() const noexcept { return backend_->clock().is_manual(); }

void Kit::advance(double seconds) {
    require_open(closed_);
    backend_->advance(from_seconds(seconds));
    notify();
}

bool Kit::wait_until(const std::function<bool()>& ready, std::optional<double> timeout) {
    if (timeout && (!(*timeout >= 0))) {
        throw Error(ErrorCode::bad_value, "a timeout must be 0 seconds or more");
    }
    const Clock& clock = backend_->clock();
    const bool has_deadline = timeout.has_value();
    Nanos deadline{0};
    if (has_deadline) {
        // Under the board lock: a manual clock moves in another thread's advance().
        std::lock_guard guard(backend_->lock());
        deadline = clock.now() + from_seconds(*timeout);
    }
    for (;;) {
        const std::uint64_t seen = generation_.load();
        {
            std::lock_guard guard(backend_->lock());
            if (ready()) return true;
            if (closed_) return false;
            if (has_deadline && clock.now() >= deadline) return false;
        }
        std::unique_lock wait_guard(wait_mutex_);
        const auto changed = [&] { return generation_.load() != seen; };
        if (has_deadline && !clock.is_manual()) {
            wait_cv_.wait_for(wait_guard, deadline - clock.now(), changed);
        } else {
            wait_cv_.wait(wait_guard, changed);
        }
    }
}

void Kit::notify() {
    generation_.fetch_add(1);
    if (on_notify_) on_notify_();
    { std::lock_guard guard(wait_mutex_); }  // a waiter between its check and its wait sees the change
    wait_cv_.notify_all();
}

void Kit::close() {
    {
        std::lock_guard guard(backend_->lock());
        if (closed_) return;
        const auto devices = devices_;
        for (const auto& [id, device] : devices) device->close();
        closed_ = true;
    }
    if (loop_) loop_->stop();  // outside the board lock: the loop's thread needs it to finish
    events_.close();
    notify();
}

Device* Kit::holder_of(const std::string& line_name) const {
    std::lock_guard guard(backend_->lock());
    for (const auto& [id, device] : devices_) {
        if (device->binding().shared || device->is_closed()) continue;
        for (const auto& [role, line] : device->binding().lines) {
            if (line.name == line_name) return device;
        }
    }
    return nullptr;
}

void Kit::set_on_notify(std::function<void()> hook) {
    std::lock_guard guard(backend_->lock());
    on_notify_ = std::move(hook);
}

std::uint64_t Kit::register_device(Device* device) {
    std::lock_guard guard(backend_->lock());
    const std::uint64_t id = next_device_id_++;
    devices_.emplace(id, device);
    return id;
}

void Kit::unregister_device(std::uint64_t id) noexcept {
    std::lock_guard guard(backend_->lock());
    devices_.erase(id);
}

// ---- the simulated board's outside world -----------------------------------------------------

SimBackend& Kit::require_sim(const char* what) {
    require_open(closed_);
    if (!sim_) {
        throw Error(ErrorCode::unsupported, std::string(what) +
                                                " only works on the simulated board; "
                                                "on a real board, use the real part");
    }
    return *sim_;
}

const PartDef& Kit::sim_part(const std::string& part, std::initializer_list<PartType> types, const char* what) const {
    const PartDef* def = board_.find(part);
    if (!def) {
        (void)resolve(part, types, what);  // throws the friendly "no part called …" error
        throw Error(ErrorCode::unknown_part, "there is no part called '" + part + "' on the " + board_.name + " board");
    }
    if (std::find(types.begin(), types.end(), def->type) == types.end()) {
        throw Error(ErrorCode::wrong_type,
                    "'" + part + "' is " + a_or_an(to_friendly(def->type)) + ", not " + a_or_an(what));
    }
    return *def;
}

void Kit::drive_later(const std::string& line, Nanos delay, std::optional<bool> level,
                      std::optional<Nanos> release_after) {
    cancel_pending_drive(line);
    pending_drive_[line] = backend_->scheduler().call_later(delay, [this, line, level, release_after] {
        pending_drive_.erase(line);
        if (level) {
            sim_->drive(line, *level);
        } else {
            sim_->undrive(line);
        }
        if (release_after) drive_later(line, *release_after, std::nullopt);
        notify();
    });
}

void Kit::cancel_pending_drive(const std::string& line) {
    if (const auto it = pending_drive_.find(line); it != pending_drive_.end()) {
        backend_->scheduler().cancel(it->second);
        pending_drive_.erase(it);
    }
}

void Kit::press(const std::string& part) {
    SimBackend& sim = require_sim("press()");
    const PartDef& def = sim_part(part, {PartType::button, PartType::motion_sensor}, "button");
    std::lock_guard guard(backend_->lock());
    cancel_pending_drive(def.line());
    // A button pulled up connects its line to ground when pressed; one pulled down, to 3.3 V.
    sim.drive(def.line(), def.pull != Bias::pull_up);
    notify();
}

void Kit::release(const std::string& part) {
    SimBackend& sim = require_sim("release()");
    const PartDef& def = sim_part(part, {PartType::button, PartType::motion_sensor}, "button");
    std::lock_guard guard(backend_->lock());
    cancel_pending_drive(def.line());
    sim.undrive(def.line());
    notify();
}

void Kit::hold(const std::string& part, double seconds, double after) {
    require_sim("hold()");
    const PartDef& def = sim_part(part, {PartType::button}, "button");
    const Nanos duration = from_seconds(seconds);
    const Nanos delay = from_seconds(after);
    if (duration < Nanos{0} || delay < Nanos{0}) {
        throw Error(ErrorCode::bad_value, "hold() needs times of 0 seconds or more");
    }
    std::lock_guard guard(backend_->lock());
    const std::string line = def.line();
    const bool pressed_level = def.pull != Bias::pull_up;
    if (delay == Nanos{0}) {
        press(part);
        drive_later(line, duration, std::nullopt);
    } else {
        // Pressed by the board's own timers, as a real press comes from the kernel.
        drive_later(line, delay, pressed_level, duration);
    }
}

void Kit::trigger_motion(const std::string& part, double seconds) {
    SimBackend& sim = require_sim("trigger_motion()");
    const PartDef& def = sim_part(part, {PartType::motion_sensor}, "motion sensor");
    const Nanos duration = from_seconds(seconds);
    if (duration < Nanos{0}) throw Error(ErrorCode::bad_value, "trigger_motion() needs a time of 0 seconds or more");
    std::lock_guard guard(backend_->lock());
    const std::string line = def.line();
    sim.drive(line, true);
    drive_later(line, duration, std::nullopt);  // a second wave keeps it going from now
    notify();
}

void Kit::set_sensor(const std::string& part, const std::string& quantity, SimValue value) {
    SimBackend& sim = require_sim("set_sensor()");
    const PartDef& def = sim_part(
        part, {PartType::ds18b20, PartType::dht11, PartType::dht22, PartType::light_sensor, PartType::distance_sensor},
        "sensor");
    std::string q = quantity;
    std::vector<std::string> allowed;
    switch (def.type) {
        case PartType::ds18b20: allowed = {"temperature"}; break;
        case PartType::dht11:
        case PartType::dht22: allowed = {"temperature", "humidity"}; break;
        case PartType::light_sensor: allowed = {"light"}; break;
        case PartType::distance_sensor: allowed = {"distance"}; break;
        default: break;
    }
    if (q.empty()) {
        if (allowed.size() != 1) {
            throw Error(ErrorCode::bad_value, "'" + part +
                                                  "' measures temperature and humidity: say which one, "
                                                  "like set_sensor(\"" +
                                                  part + "\", humidity=60)");
        }
        q = allowed.front();
    }
    if (std::find(allowed.begin(), allowed.end(), q) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : " or ") + a;
        throw Error(ErrorCode::bad_value, "'" + part + "' does not measure " + q + "; it measures " + list);
    }
    sim.set_value(part, q, std::move(value));
    notify();
}

void Kit::set_sensor_fault(const std::string& part, bool faulty) {
    SimBackend& sim = require_sim("set_sensor_fault()");
    (void)sim_part(part, {PartType::ds18b20, PartType::dht11, PartType::dht22}, "sensor");
    sim.set_sensor_fault(part, faulty);
}

namespace {
std::string history_line(const BoardDefinition& board, Backend& backend, const PartRef& ref, const std::string& role) {
    if (const auto* name = std::get_if<std::string>(&ref)) {
        if (const PartDef* def = board.find(*name)) {
            if (!role.empty()) return def->line(role);
            if (def->lines.size() == 1) return def->lines.begin()->second;
            std::string roles;
            for (const auto& [r, line] : def->lines) roles += (roles.empty() ? "" : ", ") + r;
            throw Error(ErrorCode::bad_value, "'" + *name + "' has more than one line (" + roles +
                                                  "): say which one, like history(\"" + *name + "\", \"" +
                                                  def->lines.begin()->first + "\")");
        }
        return backend.find_line(*name).name;
    }
    return backend.find_line(std::get<int>(ref)).name;
}
}  // namespace

std::uint64_t Kit::history_dropped(const PartRef& ref, const std::string& role) {
    SimBackend& sim = require_sim("history()");
    return sim.history_dropped(history_line(board_, *backend_, ref, role));
}

std::vector<Sample> Kit::history(const PartRef& ref, const std::string& role) {
    SimBackend& sim = require_sim("history()");
    return sim.history(history_line(board_, *backend_, ref, role));
}

void Kit::clear_history(const PartRef& ref, const std::string& role) {
    SimBackend& sim = require_sim("clear_history()");
    sim.clear_history(history_line(board_, *backend_, ref, role));
}

}  // namespace berrykit
