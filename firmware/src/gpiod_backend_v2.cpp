// The libgpiod backend on libgpiod 2.x (Raspberry Pi OS Trixie ships 2.2; Debian bookworm-backports
// 2.1), through its C++ bindings (gpiod.hpp, libgpiodcxx). Built only when FindLibgpiod finds the
// 2.x API (BERRYKIT_GPIOD_API == 2).
//
// Where it differs from gpiod_backend_v1.cpp, on purpose:
//   * A change of direction or bias is one reconfigure_lines() on the request the pin holds, not
//     a release and a new request: the line is never let go, so no other program can take it in
//     between, and a change the kernel refuses leaves the old request in place.
//   * Debounce stays in Pin (software), as on 1.x: the kernel's debounce (2.x's
//     debounce_period) reports an edge only once the line has been still for the period, where
//     Pin::on_edge promises the first edge at once. One behaviour on both APIs and on the
//     simulated board is worth more than the few wake-ups the kernel would save.
#include "berrykit/gpiod_backend.hpp"

#include "berrykit/event_loop.hpp"
#include "berrykit/sysfs_sensors.hpp"
#include "gpiod_backend_internal.hpp"

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <gpiod.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#if BERRYKIT_GPIOD_API != 2
#error "gpiod_backend_v2.cpp is for the libgpiod 2.x API only"
#endif

namespace berrykit {

namespace {

// libgpiodcxx reports every failure of the kernel or the C library as std::system_error holding
// the errno; this is where it becomes our Error (through gpiod_error, the one translation).
template <typename Call>
auto call_gpiod(Call&& call, std::string_view action, std::string_view line, std::string_view owner) {
    try {
        return call();
    } catch (const std::system_error& e) {
        throw gpiod_error(e.code().value(), action, line, owner);
    }
}

// The errno a failed libgpiodcxx call left, for callers that want to decide before throwing.
template <typename Call>
int errno_of(Call&& call) {
    try {
        call();
        return 0;
    } catch (const std::system_error& e) {
        return e.code().value();
    }
}

// Opens a chip. libgpiod 2.x checks that a device is a GPIO chip before it opens it and answers
// ENODEV for one that is not (/dev/null, a tty), where 1.x answered ENOTTY from the first ioctl;
// ENODEV means "the chip went away" everywhere else, so it is said as 1.x said it.
gpiod::chip open_chip(const std::filesystem::path& path) {
    try {
        return gpiod::chip(path);
    } catch (const std::system_error& e) {
        if (e.code().value() == ENODEV) throw std::system_error(ENOTTY, std::generic_category(), e.what());
        throw;
    }
}

gpiod::line::bias to_gpiod(Bias bias) noexcept {
    switch (bias) {
        case Bias::pull_up: return gpiod::line::bias::PULL_UP;
        // No pull is asked for explicitly: a pull left on by the last program would otherwise
        // stay, and a "floating" input would not float.
        case Bias::none: return gpiod::line::bias::DISABLED;
        case Bias::pull_down: return gpiod::line::bias::PULL_DOWN;
    }
    return gpiod::line::bias::AS_IS;
}

gpiod::line::value to_gpiod(bool level) noexcept {
    return level ? gpiod::line::value::ACTIVE : gpiod::line::value::INACTIVE;
}

// The settings a pin holds, so the reported state and a refused change can be reasoned about.
struct Settings {
    gpiod::line::direction direction = gpiod::line::direction::AS_IS;
    gpiod::line::bias bias = gpiod::line::bias::AS_IS;
    bool edges = false;
    bool initial = false;

    gpiod::line_settings to_gpiod() const {
        gpiod::line_settings settings;
        settings.set_direction(direction).set_bias(bias);
        if (edges) {
            // Both edges whatever was asked: Pin filters them, and its debounce needs every raw
            // edge to know where the line settled. CLOCK_MONOTONIC is the kernel's default and
            // the clock SteadyClock reads; said here so a changed default cannot move it.
            settings.set_edge_detection(gpiod::line::edge::BOTH).set_event_clock(gpiod::line::clock::MONOTONIC);
        }
        if (direction == gpiod::line::direction::OUTPUT) settings.set_output_value(berrykit::to_gpiod(initial));
        return settings;
    }
};

class GpiodBackend;

class GpiodPin final : public Pin {
public:
    GpiodPin(GpiodBackend& backend, LineInfo line, std::string owner, gpiod::chip chip, std::string consumer);
    ~GpiodPin() override { close(); }

    // Starts reading edges on `loop`, if this pin has them and is not watched yet.
    void watch_edges(EventLoop& loop);
    void stop_watching() noexcept;

private:
    void do_make_output(bool initial) override;
    void do_make_input(Bias bias, Edge edges) override;
    void do_write(bool level) override;
    bool do_read() override;
    void do_close() noexcept override;

    // Changes the request in place. If the kernel refuses, the request keeps its settings and the
    // error (naming `action`) is thrown, so a refused change leaves the pin as it was.
    void reconfigure(const Settings& wanted, const std::string& action);
    // Reads and drops the edges queued on the request's fd.
    void discard_queued_edges() noexcept;
    void read_edges();
    gpiod::line_request& request();

    GpiodBackend& gpiod_;
    gpiod::chip chip_;
    std::optional<gpiod::line_request> request_;
    Settings current_;
    gpiod::edge_event_buffer events_{16};
    std::optional<EventLoop::WatchId> watch_;
    // Bumped by every change and by close: a handler that reconfigures or closes the pin ends the
    // reading of the batch of events it came from.
    std::uint64_t generation_ = 0;
};

class GpiodBackend final : public detail::GpiodBackendBase<GpiodPin> {
public:
    explicit GpiodBackend(GpiodOptions options) : GpiodBackendBase(std::move(options), probe_chip) {}

protected:
    std::unique_ptr<Pin> open_pin(const LineInfo& line, const std::string& owner) override {
        std::optional<gpiod::chip> chip;
        LineInfo info = lines().open(line, owner, [&](const LineInfo& candidate) {
            return errno_of([&] {
                chip.emplace(open_chip(options().dev_root / candidate.chip));
                // The same name at the same offset: a renumbered chip is looked for again.
                if (chip->get_line_offset_from_name(candidate.name) != static_cast<int>(candidate.offset)) {
                    throw std::system_error(ENOENT, std::generic_category());
                }
            });
        });
        auto pin = std::make_unique<GpiodPin>(*this, std::move(info), owner, std::move(*chip), options().consumer);
        return remember(std::move(pin));
    }

private:
    // get_line_offset_from_name answers -1 for "not on this chip".
    static detail::ChipProbe probe_chip(const std::filesystem::path& chip_path, const std::string& name) {
        int offset = -1;
        const int errnum = errno_of([&] { offset = open_chip(chip_path).get_line_offset_from_name(name); });
        if (errnum != 0) return {std::nullopt, errnum};
        if (offset < 0) return {std::nullopt, ENOENT};
        return {static_cast<unsigned>(offset), 0};
    }
};

GpiodPin::GpiodPin(GpiodBackend& backend, LineInfo line, std::string owner, gpiod::chip chip, std::string consumer)
    : Pin(backend, std::move(line), std::move(owner)), gpiod_(backend), chip_(std::move(chip)) {
    // Claim the line now, as it is: another program holding it is reported by claim(), where
    // the part is named, and nothing about the line changes until the device configures it.
    request_.emplace(call_gpiod(
        [&] {
            return chip_.prepare_request()
                .set_consumer(consumer)
                .add_line_settings(this->line().offset, current_.to_gpiod())
                .do_request();
        },
        "claim it", this->line().name, this->owner()));
    // Non-blocking: a wake-up with nothing to read (POLLERR, a spurious wake) must not stop the
    // loop, which every other line and timer shares. The fd is the request's for its whole life.
    const int fd = request_->fd();
    if (const int fl = ::fcntl(fd, F_GETFL); fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

gpiod::line_request& GpiodPin::request() {
    // Pin::check_open() runs before every do_*, so a closed pin never gets here; this is the
    // guard for a request lost some other way.
    if (!request_) throw gpiod_error(ENODEV, "use it", line().name, owner());
    return *request_;
}

void GpiodPin::reconfigure(const Settings& wanted, const std::string& action) {
    gpiod::line_config config;
    config.add_line_settings(line().offset, wanted.to_gpiod());
    // Edges queued under the old settings go first (the kernel keeps them across a change); once
    // the new ones are in place, an edge is the line's own and is kept.
    discard_queued_edges();
    call_gpiod([&] { request().reconfigure_lines(config); }, action, line().name, owner());
    current_ = wanted;
    ++generation_;
    if (!current_.edges) {
        discard_queued_edges();
        stop_watching();
    } else if (EventLoop* loop = backend().loop()) {
        watch_edges(*loop);
    }
}

void GpiodPin::do_make_output(bool initial) {
    reconfigure(Settings{gpiod::line::direction::OUTPUT, gpiod::line::bias::AS_IS, false, initial},
                "claim it as an output");
}

void GpiodPin::do_make_input(Bias bias, Edge edges) {
    reconfigure(Settings{gpiod::line::direction::INPUT, to_gpiod(bias), edges != Edge::none, false},
                detail::input_action(bias, edges != Edge::none));
}

void GpiodPin::do_write(bool level) {
    call_gpiod([&] { request().set_value(line().offset, to_gpiod(level)); }, "switch it on or off", line().name,
               owner());
}

bool GpiodPin::do_read() {
    return call_gpiod([&] { return request().get_value(line().offset); }, "read it", line().name, owner()) ==
           gpiod::line::value::ACTIVE;
}

void GpiodPin::watch_edges(EventLoop& loop) {
    if (!request_ || !current_.edges || watch_) return;
    watch_ = loop.watch(request_->fd(), [this] { read_edges(); });
}

void GpiodPin::stop_watching() noexcept {
    if (!watch_) return;
    if (EventLoop* loop = backend().loop()) loop->unwatch(*watch_);
    watch_.reset();
}

void GpiodPin::discard_queued_edges() noexcept {
    // The fd is non-blocking: reading stops at EAGAIN once the queue is empty.
    try {
        while (request_ && request_->read_edge_events(events_) > 0) {
        }
    } catch (const std::system_error&) {
    }
}

void GpiodPin::read_edges() {
    // One read per wake-up: whatever is left over makes the fd readable again, and the loop
    // comes back after serving the other lines.
    std::size_t count = 0;
    try {
        count = request().read_edge_events(events_);
    } catch (const std::system_error& e) {
        const int errnum = e.code().value();
        if (errnum == EAGAIN || errnum == EINTR) return;
        // A broken event fd stays readable: unwatched, or the loop would spin on it.
        stop_watching();
        throw gpiod_error(errnum, "read its edges", line().name, owner());
    }
    // Copied out first: a handler may reconfigure the pin, which reads into the same buffer.
    std::vector<EdgeEvent> edges;
    edges.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const gpiod::edge_event& event = events_.get_event(static_cast<unsigned>(i));
        edges.push_back(EdgeEvent{event.type() == gpiod::edge_event::event_type::RISING_EDGE,
                                  Nanos{static_cast<std::int64_t>(event.timestamp_ns().ns())}});
    }
    const std::uint64_t generation = generation_;
    for (const EdgeEvent& edge : edges) {
        deliver_edge(edge);
        if (generation != generation_) return;
    }
}

void GpiodPin::do_close() noexcept {
    stop_watching();
    ++generation_;
    if (request_) {
        try {
            request_->release();
        } catch (const std::exception&) {
            // Releasing only closes the request's fd; nothing is left to undo.
        }
        request_.reset();
    }
    try {
        chip_.close();
    } catch (const std::exception&) {
    }
    gpiod_.forget(this);
}

}  // namespace

std::unique_ptr<Backend> make_gpiod_backend(const GpiodOptions& options) {
    if (!gpio_chips_present(options.dev_root)) throw detail::no_gpio_chip_error(options.dev_root);
    return std::make_unique<GpiodBackend>(options);
}

}  // namespace berrykit
