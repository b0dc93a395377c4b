// The libgpiod backend on libgpiod 1.x (Debian and Raspberry Pi OS Bookworm ship 1.6), through
// its C API. Built only when FindLibgpiod finds the 1.x API (BERRYKIT_GPIOD_API == 1).
#include "berrykit/gpiod_backend.hpp"

#include "berrykit/event_loop.hpp"
#include "berrykit/sysfs_sensors.hpp"
#include "gpiod_backend_internal.hpp"

#include <fcntl.h>
#include <gpiod.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#if BERRYKIT_GPIOD_API != 1
#error "gpiod_backend_v1.cpp is for the libgpiod 1.x API only"
#endif

namespace berrykit {

namespace {

struct ChipCloser {
    void operator()(gpiod_chip* chip) const noexcept { gpiod_chip_close(chip); }
};
using ChipHandle = std::unique_ptr<gpiod_chip, ChipCloser>;

// libgpiod 1.x takes its request flags as an int; its enum values are unsigned longs.
constexpr int flag(unsigned long value) noexcept { return static_cast<int>(value); }

int bias_flags(Bias bias) noexcept {
    switch (bias) {
        case Bias::pull_up: return flag(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP);
        // No pull is asked for explicitly: a pull left on by the last program would otherwise
        // stay, and a "floating" input would not float.
        case Bias::none: return flag(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE);
        case Bias::pull_down: return flag(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN);
    }
    return 0;
}

// Since Linux 5.7 the kernel stamps GPIO events with CLOCK_MONOTONIC, the clock SteadyClock reads.
Nanos from_timespec(const timespec& ts) noexcept {
    return Nanos{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
}

// A chip and one of its lines, found by the line's name. The line belongs to the chip handle.
struct OpenLine {
    ChipHandle chip;
    gpiod_line* line = nullptr;
    int error = 0;  // the errno when there is no line (ENOENT: no such chip, or not on it)
};

class GpiodBackend;

// The kernel request a pin holds, so a failed change can put the previous one back.
struct Request {
    int type = GPIOD_LINE_REQUEST_DIRECTION_AS_IS;
    int flags = 0;
    int value = 0;
};

class GpiodPin final : public Pin {
public:
    GpiodPin(GpiodBackend& backend, LineInfo line, std::string owner, OpenLine open, std::string consumer);
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

    // Releases the line and requests it again as `wanted`: libgpiod 1.x cannot change an event
    // request in place. If the kernel refuses, the previous request is put back and the error
    // (naming `action`) thrown, so a refused change leaves the pin as it was.
    void rerequest(const Request& wanted, const std::string& action);
    bool request(const Request& wanted);
    // Unwatches and gives the line back to the kernel; the chip stays open.
    void release_line() noexcept;
    // Throws when the line was lost by a refused change (see rerequest).
    void check_held() const;
    void read_edges();

    GpiodBackend& gpiod_;
    OpenLine open_;
    std::string consumer_;
    Request current_;
    bool held_ = false;  // the kernel request is ours (not after close, or a change refused twice)
    int event_fd_ = -1;
    std::optional<EventLoop::WatchId> watch_;
    // Bumped by every release: a handler that reconfigures or closes the pin ends the reading
    // of the old request's events (the rest of that batch belongs to a request that is gone).
    std::uint64_t generation_ = 0;
};

class GpiodBackend final : public detail::GpiodBackendBase<GpiodPin> {
public:
    explicit GpiodBackend(GpiodOptions options) : GpiodBackendBase(std::move(options), probe_chip) {}

protected:
    std::unique_ptr<Pin> open_pin(const LineInfo& line, const std::string& owner) override {
        OpenLine open;
        LineInfo info = lines().open(line, owner, [&](const LineInfo& candidate) {
            open = open_line(options().dev_root / candidate.chip, candidate.name);
            return open.line ? 0 : open.error;
        });
        auto pin = std::make_unique<GpiodPin>(*this, std::move(info), owner, std::move(open), options().consumer);
        return remember(std::move(pin));
    }

private:
    // Opens `chip_path` and finds `name` on it.
    static OpenLine open_line(const std::filesystem::path& chip_path, const std::string& name) {
        OpenLine open{ChipHandle(gpiod_chip_open(chip_path.c_str())), nullptr, 0};
        if (open.chip) open.line = gpiod_chip_find_line(open.chip.get(), name.c_str());
        if (!open.line) open.error = errno;
        return open;
    }

    // ENOENT from find_line is "not on this chip".
    static detail::ChipProbe probe_chip(const std::filesystem::path& chip_path, const std::string& name) {
        const OpenLine open = open_line(chip_path, name);
        if (!open.line) return {std::nullopt, open.error};
        return {gpiod_line_offset(open.line), 0};
    }
};

GpiodPin::GpiodPin(GpiodBackend& backend, LineInfo line, std::string owner, OpenLine open, std::string consumer)
    : Pin(backend, std::move(line), std::move(owner)),
      gpiod_(backend),
      open_(std::move(open)),
      consumer_(std::move(consumer)) {
    // Claim the line now, as it is: another program holding it is reported by claim(), where
    // the part is named, and nothing about the line changes until the device configures it.
    if (!request(current_)) throw gpiod_error(errno, "claim it", this->line().name, this->owner());
}

bool GpiodPin::request(const Request& wanted) {
    const gpiod_line_request_config config{consumer_.c_str(), wanted.type, wanted.flags};
    if (gpiod_line_request(open_.line, &config, wanted.value) != 0) return false;
    held_ = true;
    current_ = wanted;
    if (wanted.type == GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES) {
        event_fd_ = gpiod_line_event_get_fd(open_.line);
        // Non-blocking: a wake-up with nothing to read (POLLERR, a spurious wake) must not stop
        // the loop, which every other line and timer shares.
        if (const int fl = ::fcntl(event_fd_, F_GETFL); fl >= 0) ::fcntl(event_fd_, F_SETFL, fl | O_NONBLOCK);
        if (EventLoop* loop = backend().loop(); loop && event_fd_ >= 0) watch_edges(*loop);
    }
    return true;
}

void GpiodPin::rerequest(const Request& wanted, const std::string& action) {
    if (current_.type == GPIOD_LINE_REQUEST_DIRECTION_OUTPUT) {
        // Put an output back at the level it had, not at the level it was first given.
        if (const int level = gpiod_line_get_value(open_.line); level >= 0) current_.value = level;
    }
    const Request previous = current_;
    release_line();
    if (request(wanted)) return;
    const int errnum = errno;
    // Best effort: if the old request cannot be had back either (another program took the line
    // in between), the pin says so on its next use.
    request(previous);
    throw gpiod_error(errnum, action, line().name, owner());
}

void GpiodPin::do_make_output(bool initial) {
    rerequest(Request{GPIOD_LINE_REQUEST_DIRECTION_OUTPUT, 0, initial ? 1 : 0}, "claim it as an output");
}

void GpiodPin::do_make_input(Bias bias, Edge edges) {
    // Both edges whatever was asked: Pin filters them, and its debounce needs every raw edge to
    // know where the line settled.
    const int type = edges == Edge::none ? GPIOD_LINE_REQUEST_DIRECTION_INPUT : GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES;
    rerequest(Request{type, bias_flags(bias), 0}, detail::input_action(bias, edges != Edge::none));
}

void GpiodPin::check_held() const {
    if (held_) return;
    throw Error(ErrorCode::gpio, line().name + " (" + owner() +
                                     ") was let go when a change to it failed, and "
                                     "berrykit could not get it back: close the part and open it again");
}

void GpiodPin::do_write(bool level) {
    check_held();
    if (gpiod_line_set_value(open_.line, level ? 1 : 0) != 0) {
        throw gpiod_error(errno, "switch it on or off", line().name, owner());
    }
}

bool GpiodPin::do_read() {
    check_held();
    const int level = gpiod_line_get_value(open_.line);
    if (level < 0) throw gpiod_error(errno, "read it", line().name, owner());
    return level == 1;
}

void GpiodPin::watch_edges(EventLoop& loop) {
    if (event_fd_ < 0 || watch_) return;
    watch_ = loop.watch(event_fd_, [this] { read_edges(); });
}

void GpiodPin::stop_watching() noexcept {
    if (!watch_) return;
    if (EventLoop* loop = backend().loop()) loop->unwatch(*watch_);
    watch_.reset();
}

void GpiodPin::read_edges() {
    // One read per wake-up: whatever is left over makes the fd readable again, and the loop
    // comes back after serving the other lines.
    std::array<gpiod_line_event, 16> events{};
    const int n = gpiod_line_event_read_fd_multiple(event_fd_, events.data(), static_cast<unsigned>(events.size()));
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        const int errnum = errno;
        // A broken event fd stays readable: unwatched, or the loop would spin on it.
        stop_watching();
        throw gpiod_error(errnum, "read its edges", line().name, owner());
    }
    const std::uint64_t generation = generation_;
    for (int i = 0; i < n; ++i) {
        const auto& event = events[static_cast<std::size_t>(i)];
        deliver_edge(EdgeEvent{event.event_type == GPIOD_LINE_EVENT_RISING_EDGE, from_timespec(event.ts)});
        if (generation != generation_) return;
    }
}

void GpiodPin::release_line() noexcept {
    stop_watching();
    if (held_) gpiod_line_release(open_.line);
    held_ = false;
    event_fd_ = -1;
    ++generation_;
}

void GpiodPin::do_close() noexcept {
    release_line();
    open_.chip.reset();
    gpiod_.forget(this);
}

}  // namespace

std::unique_ptr<Backend> make_gpiod_backend(const GpiodOptions& options) {
    if (!gpio_chips_present(options.dev_root)) {
        throw detail::no_gpio_chip_error(options.dev_root);
    }
    return std::make_unique<GpiodBackend>(options);
}

}  // namespace berrykit
