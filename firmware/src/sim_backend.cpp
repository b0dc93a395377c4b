#include "berrykit/sim_backend.hpp"

#include "berrykit/error.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

namespace berrykit {

namespace {

using namespace std::chrono_literals;

constexpr int first_header_gpio = 2;
constexpr int last_header_gpio = 27;

// What the HC-SR04 does, from its datasheet.
constexpr Nanos shortest_trigger = 10us;
constexpr Nanos echo_delay = 200us;
constexpr Nanos echo_when_nothing_there = 38ms;
constexpr double farthest_echo_metres = 4.0;
constexpr double speed_of_sound = 343.0;  // m/s in air at 20 °C

// A capacitor never charges in zero time; this also keeps the rise after the switch to input.
constexpr Nanos quickest_charge = 1us;

// "GPIO17" → 17. Nothing for anything else, including "GPIO017" and "gpio17": line names are
// exact on a real chip too.
std::optional<int> header_gpio_number(std::string_view name) noexcept {
    constexpr std::string_view prefix = "GPIO";
    if (name.size() <= prefix.size() || name.size() > prefix.size() + 2) return std::nullopt;
    if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
    const std::string_view digits = name.substr(prefix.size());
    if (digits.size() > 1 && digits.front() == '0') return std::nullopt;
    int number = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        number = number * 10 + (c - '0');
    }
    if (number < first_header_gpio || number > last_header_gpio) return std::nullopt;
    return number;
}

struct QuantityRule {
    std::string_view name;
    double fallback;  // the value before anyone sets one
    double lowest;
    double highest;
    std::string_view allowed;  // the range, in words
};

constexpr double unbounded = std::numeric_limits<double>::infinity();

constexpr std::array<QuantityRule, 4> quantity_rules{{
    {"temperature", 21.5, -unbounded, unbounded, "a number of degrees Celsius"},
    {"humidity", 45.0, 0.0, 100.0, "between 0 and 100 (percent)"},
    {"light", 0.5, 0.0, 1.0, "between 0 (dark) and 1 (bright)"},
    {"distance", 0.5, 0.0, unbounded, "0 metres or more"},
}};

const QuantityRule& quantity_rule(std::string_view quantity) {
    for (const auto& rule : quantity_rules) {
        if (rule.name == quantity) return rule;
    }
    throw Error(ErrorCode::bad_value, "the simulated board has nothing called '" + std::string(quantity) +
                                          "' to set: use temperature, humidity, light or distance");
}

bool is_high(double level) noexcept { return level >= 0.5; }

}  // namespace

// ---- SimValue --------------------------------------------------------------------------------

SimValue SimValue::curve(std::vector<std::pair<double, double>> points, bool repeat) {
    if (points.empty()) {
        throw Error(ErrorCode::bad_value, "a curve needs at least one point (seconds, value)");
    }
    for (std::size_t i = 0; i < points.size(); ++i) {
        const auto [seconds, value] = points[i];
        const std::string which = "point " + std::to_string(i + 1) + " of the curve";
        if (!std::isfinite(seconds) || !std::isfinite(value)) {
            throw Error(ErrorCode::bad_value, which + " is not a number: use numbers for its seconds and its value");
        }
        if (seconds < 0) {
            throw Error(ErrorCode::bad_value,
                        which + " is at " + to_text(seconds) + " seconds: a curve starts at 0 seconds, when it is set");
        }
        if (i > 0 && seconds < points[i - 1].first) {
            throw Error(ErrorCode::bad_value, which + " (at " + to_text(seconds) + " s) comes before point " +
                                                  std::to_string(i) + " (at " + to_text(points[i - 1].first) +
                                                  " s): put the points in time order");
        }
    }
    SimValue result;
    result.points_ = std::move(points);
    result.repeat_ = repeat;
    return result;
}

double SimValue::at(double seconds_since_set) const {
    const double period = points_.back().first;
    double t = seconds_since_set;
    if (repeat_ && period > 0 && t >= period) t = std::fmod(t, period);
    if (t <= points_.front().first) return points_.front().second;
    if (t >= period) return points_.back().second;
    // The first point later than t; the one before it is at or before t, so the span is not 0
    // even where two points share a time (a step).
    const auto after = std::upper_bound(points_.begin(), points_.end(), t,
                                        [](double time, const auto& point) { return time < point.first; });
    const auto before = std::prev(after);
    const double fraction = (t - before->first) / (after->first - before->first);
    return before->second + fraction * (after->second - before->second);
}

// ---- the board's insides -----------------------------------------------------------------------

namespace sim_detail {

class SimPin;

// An LDR charging a capacitor on a line.
struct LightCircuit {
    std::string part;
    Nanos charge_time_limit{0};
    Scheduler::TimerId charge_timer = 0;
};

// An HC-SR04, kept on its trigger line.
struct DistanceCircuit {
    std::string part;
    int echo_bcm = 0;
    std::optional<Nanos> trigger_high_since;
    bool measuring = false;  // the real sensor ignores triggers until its echo has ended
};

enum class PinMode { none, input, output };

struct Line {
    LineInfo info;
    SimPin* pin = nullptr;  // the open pin on the line, if any
    PinMode mode = PinMode::none;
    double output_value = 0;  // 0, 1 or the PWM duty, while mode is output
    Bias bias = Bias::none;
    std::optional<bool> driven;  // what the outside world drives the line to
    double level = 0;            // what the line shows now, as recorded in history
    std::deque<Sample> history;
    std::uint64_t dropped = 0;
    std::optional<LightCircuit> light;
    std::optional<DistanceCircuit> distance;
};

struct SetValue {
    SimValue value;
    Nanos set_at{0};
};

class World;

class SimSensorBus final : public SensorBus {
public:
    explicit SimSensorBus(World& world) : world_(world) {}
    double read_ds18b20(const std::string& part, const std::string& device) override;
    ClimateReading read_dht(const std::string& part, const std::string& device, const std::string& line) override;

private:
    World& world_;
};

// Everything the simulated board knows. Every method expects the board lock to be held.
class World {
public:
    World(SimBackend& board, const SimBackend::Options& options)
        : board_(board), options_(options), start_(board.clock().now()), sensors_(*this) {
        for (int bcm = first_header_gpio; bcm <= last_header_gpio; ++bcm) {
            const auto offset = static_cast<unsigned>(bcm);
            lines_[offset].info = LineInfo{"GPIO" + std::to_string(bcm), bcm, "sim", offset};
        }
    }

    // Told the name of every line whose level changes (SimBackend::set_line_observer).
    std::function<void(const std::string&)> line_observer;

    const SimBackend::Options& options() const noexcept { return options_; }
    SimSensorBus& sensors() noexcept { return sensors_; }
    std::recursive_mutex& lock() noexcept { return board_.lock(); }
    Nanos now() noexcept { return board_.clock().now(); }
    double seconds() noexcept { return to_seconds(now() - start_); }

    std::optional<LineInfo> lookup(std::string_view name) const {
        if (const auto bcm = header_gpio_number(name)) return lines_[static_cast<std::size_t>(*bcm)].info;
        return std::nullopt;
    }

    // Throws Error(unknown_part) with the same words as Backend::find_line.
    Line& line_named(std::string_view name) {
        const LineInfo info = board_.find_line(name);
        return lines_[static_cast<std::size_t>(info.bcm)];
    }

    Line& line_number(int bcm) { return lines_[static_cast<std::size_t>(bcm)]; }

    // Works out the line's level again; a change is recorded, shown to circuits, and reported
    // to an input pin on the line as an edge (when `report_edge`). `always_record` records the
    // level even when it did not change (an output's initial level). `at` is when the change
    // happened, if not now: see drive.
    void settle(Line& line, bool report_edge, bool always_record = false, std::optional<Nanos> at = std::nullopt);

    // The outside world pushes the line (a button, a PIR, a circuit's output). A circuit's
    // scheduled change passes `at`, the time it was due: the edge carries that time, as a real
    // edge carries the kernel's timestamp, so a busy computer that runs the timer late does not
    // make an echo look shorter or a capacitor charge look slower.
    void drive(Line& line, std::optional<bool> level, std::optional<Nanos> at = std::nullopt) {
        line.driven = level;
        settle(line, true, false, at);
    }

    void clear_history(Line& line) {
        line.history.clear();
        line.dropped = 0;
    }

    // --- what the pins do to their lines --------------------------------------------------
    void pin_opened(Line& line, SimPin& pin) {
        line.pin = &pin;
        line.mode = PinMode::none;
    }
    void pin_made_output(Line& line, bool initial) {
        stop_charging(line);
        line.mode = PinMode::output;
        line.output_value = initial ? 1.0 : 0.0;
        // The first output level starts the history; after that only changes are recorded, so a
        // part berrykitd hands from its own device to a program's at the same level shows no step.
        settle(line, false, line.history.empty());
    }
    void pin_made_input(Line& line, Bias bias) {
        const PinMode before = line.mode;
        line.mode = PinMode::input;
        line.bias = bias;
        if (before == PinMode::output && line.light) start_charging(line);
        // Turning an output into an input is not an edge from outside: Pin::make_input reads the
        // level afresh. A pull changed on an input is, as on a real line with edge detection.
        settle(line, before == PinMode::input);
    }
    void pin_wrote(Line& line, double value) {
        line.output_value = value;
        settle(line, false);
    }
    void pin_closed(Line& line) {
        stop_charging(line);
        line.pin = nullptr;
        line.mode = PinMode::none;
        line.bias = Bias::none;
        // A released line floats (or follows what drives it), as gpiozero leaves a closed pin.
        settle(line, false);
    }

    // --- circuits -----------------------------------------------------------------------------
    void wire_light_sensor(Line& line, const std::string& part, Nanos charge_time_limit) {
        stop_charging(line);
        line.light = LightCircuit{part, charge_time_limit, 0};
    }

    void wire_distance_sensor(Line& trigger, Line& echo, const std::string& part) {
        trigger.distance = DistanceCircuit{part, echo.info.bcm, std::nullopt, false};
        // The sensor's echo output is push-pull: it holds the line low between echoes.
        drive(echo, false);
    }

    // --- values ---------------------------------------------------------------------------------
    void set_value(const std::string& part, const std::string& quantity, SimValue value) {
        const QuantityRule& rule = quantity_rule(quantity);
        for (const auto& [seconds, number] : value.points()) {
            if (!std::isfinite(number) || number < rule.lowest || number > rule.highest) {
                throw Error(ErrorCode::bad_value, "the " + std::string(rule.name) + " of '" + part + "' must be " +
                                                      std::string(rule.allowed) + ", got " + to_text(number));
            }
        }
        values_.insert_or_assign(std::make_pair(part, quantity), SetValue{std::move(value), now()});
    }

    double value(const std::string& part, const std::string& quantity) {
        const QuantityRule& rule = quantity_rule(quantity);
        const auto it = values_.find(std::make_pair(part, quantity));
        if (it == values_.end()) return rule.fallback;
        return it->second.value.at(to_seconds(now() - it->second.set_at));
    }

    void set_sensor_fault(const std::string& part, bool faulty) {
        if (faulty) {
            faulty_parts_.insert(part);
        } else {
            faulty_parts_.erase(part);
        }
    }
    bool is_faulty(const std::string& part) const { return faulty_parts_.count(part) != 0; }

private:
    double level_of(const Line& line) const {
        if (line.mode == PinMode::output) return line.output_value;
        if (line.driven) return *line.driven ? 1.0 : 0.0;
        return line.bias == Bias::pull_up ? 1.0 : 0.0;
    }

    void record(Line& line, double value) {
        if (line_observer) line_observer(line.info.name);
        line.history.push_back(Sample{seconds(), value});
        while (line.history.size() > options_.history_limit) {
            line.history.pop_front();
            ++line.dropped;
        }
    }

    void level_changed(Line& line, double before);
    void start_charging(Line& line);
    void stop_charging(Line& line) {
        if (line.light && line.light->charge_timer) {
            board_.scheduler().cancel(line.light->charge_timer);
            line.light->charge_timer = 0;
        }
    }
    void start_echo(DistanceCircuit& circuit, int trigger_bcm);

    SimBackend& board_;
    SimBackend::Options options_;

    Nanos start_;
    std::array<Line, last_header_gpio + 1> lines_{};  // indexed by BCM number; 0 and 1 unused
    std::map<std::pair<std::string, std::string>, SetValue> values_;
    std::set<std::string, std::less<>> faulty_parts_;
    SimSensorBus sensors_;
};

class SimPin final : public Pin {
public:
    SimPin(SimBackend& board, World& world, Line& line, const std::string& owner)
        : Pin(board, line.info, owner), world_(world), line_(line) {
        world_.pin_opened(line_, *this);
    }
    ~SimPin() override { close(); }

    bool has_hardware_pwm() const noexcept override { return world_.options().hardware_pwm; }

    // The board reports its line's level changes here, with the board lock held.
    void report_edge(bool rising, Nanos time) { deliver_edge(EdgeEvent{rising, time}); }

protected:
    void do_make_output(bool initial) override { world_.pin_made_output(line_, initial); }
    void do_make_input(Bias bias, Edge) override { world_.pin_made_input(line_, bias); }
    void do_write(bool level) override { world_.pin_wrote(line_, level ? 1.0 : 0.0); }
    bool do_read() override { return is_high(line_.level); }
    void do_hardware_pwm(double, double duty) override { world_.pin_wrote(line_, duty); }
    void do_close() noexcept override { world_.pin_closed(line_); }

private:
    World& world_;
    Line& line_;
};

void World::settle(Line& line, bool report_edge, bool always_record, std::optional<Nanos> at) {
    const double before = line.level;
    const double after = level_of(line);
    const bool changed = after != before;
    if (!changed && !always_record) return;
    line.level = after;
    record(line, after);
    if (!changed) return;
    level_changed(line, before);
    // Last, because an edge handler may do anything, even close the pin.
    if (report_edge && line.pin && line.mode == PinMode::input && is_high(before) != is_high(after)) {
        line.pin->report_edge(is_high(after), at.value_or(now()));
    }
}

void World::level_changed(Line& line, double before) {
    if (!line.distance) return;
    DistanceCircuit& circuit = *line.distance;
    if (!is_high(before) && is_high(line.level)) {
        circuit.trigger_high_since = now();
    } else if (is_high(before) && !is_high(line.level)) {
        const auto high_since = std::exchange(circuit.trigger_high_since, std::nullopt);
        if (high_since && now() - *high_since >= shortest_trigger && !circuit.measuring) {
            start_echo(circuit, line.info.bcm);
        }
    }
}

void World::start_echo(DistanceCircuit& circuit, int trigger_bcm) {
    circuit.measuring = true;
    const double metres = value(circuit.part, "distance");
    const Nanos width =
        metres > farthest_echo_metres ? echo_when_nothing_there : from_seconds(2.0 * metres / speed_of_sound);
    const Nanos rise = now() + echo_delay;
    const int echo_bcm = circuit.echo_bcm;
    auto& scheduler = board_.scheduler();
    scheduler.call_at(rise, [this, echo_bcm, rise] { drive(line_number(echo_bcm), true, rise); });
    scheduler.call_at(rise + width, [this, echo_bcm, trigger_bcm, fall = rise + width] {
        Line& trigger = line_number(trigger_bcm);
        if (trigger.distance) trigger.distance->measuring = false;
        drive(line_number(echo_bcm), false, fall);
    });
}

void World::start_charging(Line& line) {
    LightCircuit& circuit = *line.light;
    // The output just emptied the capacitor, which now holds the line low while it charges.
    line.driven = false;
    const double light = value(circuit.part, "light");
    if (light <= 0) return;  // in the dark the LDR passes no current: the line never rises
    const auto charge = Nanos{std::llround(static_cast<double>(circuit.charge_time_limit.count()) * (1.0 - light))};
    const int bcm = line.info.bcm;
    const Nanos full = now() + std::max(charge, quickest_charge);
    circuit.charge_timer = board_.scheduler().call_at(full, [this, bcm, full] {
        Line& charged = line_number(bcm);
        if (charged.light) charged.light->charge_timer = 0;
        drive(charged, true, full);
    });
}

double SimSensorBus::read_ds18b20(const std::string& part, const std::string&) {
    std::lock_guard guard(world_.lock());
    if (world_.is_faulty(part)) {
        throw Error(ErrorCode::sensor, "the temperature sensor '" + part +
                                           "' did not answer: check that it is plugged in and its wires are on "
                                           "the right pins");
    }
    return world_.value(part, "temperature");
}

ClimateReading SimSensorBus::read_dht(const std::string& part, const std::string&, const std::string&) {
    std::lock_guard guard(world_.lock());
    if (world_.is_faulty(part)) {
        throw Error(ErrorCode::sensor, "the temperature and humidity sensor '" + part +
                                           "' did not answer: check that it is plugged in and its wires are on "
                                           "the right pins");
    }
    return ClimateReading{world_.value(part, "temperature"), world_.value(part, "humidity")};
}

}  // namespace sim_detail

// ---- SimBackend ------------------------------------------------------------------------------

struct SimBackend::Impl : sim_detail::World {
    using World::World;
};

namespace {

std::unique_ptr<Clock> make_clock(bool manual) {
    if (manual) return std::make_unique<ManualClock>();
    return std::make_unique<SteadyClock>();
}

}  // namespace

SimBackend::SimBackend(Options options)
    : Backend(make_clock(options.manual_clock)), impl_(std::make_unique<Impl>(*this, options)) {}

SimBackend::~SimBackend() = default;

SensorBus& SimBackend::sensors() { return impl_->sensors(); }

void SimBackend::drive(std::string_view line, bool level) {
    std::lock_guard guard(lock());
    impl_->drive(impl_->line_named(line), level);
}

void SimBackend::undrive(std::string_view line) {
    std::lock_guard guard(lock());
    impl_->drive(impl_->line_named(line), std::nullopt);
}

double SimBackend::level(std::string_view line) const {
    std::lock_guard guard(impl_->lock());
    return impl_->line_named(line).level;
}

std::optional<bool> SimBackend::driven(std::string_view line) const {
    std::lock_guard guard(impl_->lock());
    return impl_->line_named(line).driven;
}

std::vector<Sample> SimBackend::history(std::string_view line) const {
    std::lock_guard guard(impl_->lock());
    const auto& samples = impl_->line_named(line).history;
    return {samples.begin(), samples.end()};
}

void SimBackend::clear_history(std::string_view line) {
    std::lock_guard guard(lock());
    impl_->clear_history(impl_->line_named(line));
}

void SimBackend::set_line_observer(std::function<void(const std::string& line)> observer) {
    std::lock_guard guard(lock());
    impl_->line_observer = std::move(observer);
}

std::uint64_t SimBackend::history_dropped(std::string_view line) const {
    std::lock_guard guard(impl_->lock());
    return impl_->line_named(line).dropped;
}

void SimBackend::wire_light_sensor(const std::string& part, std::string_view line, Nanos charge_time_limit) {
    std::lock_guard guard(lock());
    if (charge_time_limit <= Nanos{0}) {
        throw Error(ErrorCode::bad_value, "the light sensor '" + part + "' needs a charge time of more than 0 seconds");
    }
    impl_->wire_light_sensor(impl_->line_named(line), part, charge_time_limit);
}

void SimBackend::wire_distance_sensor(const std::string& part, std::string_view trigger, std::string_view echo) {
    std::lock_guard guard(lock());
    auto& trigger_line = impl_->line_named(trigger);
    auto& echo_line = impl_->line_named(echo);
    if (&trigger_line == &echo_line) {
        throw Error(ErrorCode::bad_value, "the distance sensor '" + part +
                                              "' needs its trigger and its echo on two "
                                              "different lines, but both are on " +
                                              trigger_line.info.name);
    }
    impl_->wire_distance_sensor(trigger_line, echo_line, part);
}

void SimBackend::set_value(const std::string& part, const std::string& quantity, SimValue value) {
    std::lock_guard guard(lock());
    impl_->set_value(part, quantity, std::move(value));
}

double SimBackend::value(const std::string& part, const std::string& quantity) const {
    std::lock_guard guard(impl_->lock());
    return impl_->value(part, quantity);
}

void SimBackend::set_sensor_fault(const std::string& part, bool faulty) {
    std::lock_guard guard(lock());
    impl_->set_sensor_fault(part, faulty);
}

double SimBackend::seconds() const {
    std::lock_guard guard(impl_->lock());
    return impl_->seconds();
}

std::optional<LineInfo> SimBackend::lookup(std::string_view name) const { return impl_->lookup(name); }

std::unique_ptr<Pin> SimBackend::open_pin(const LineInfo& line, const std::string& owner) {
    std::lock_guard guard(lock());
    auto& sim_line = impl_->line_named(line.name);
    return std::make_unique<sim_detail::SimPin>(*this, *impl_, sim_line, owner);
}

bool is_sim_header_line(std::string_view name) noexcept { return header_gpio_number(name).has_value(); }

}  // namespace berrykit
