// berrykit — what the libgpiod backend's sources share (not installed, not part of the API).
#pragma once

#include "berrykit/backend.hpp"
#include "berrykit/error.hpp"
#include "berrykit/event_loop.hpp"
#include "berrykit/gpiod_backend.hpp"
#include "berrykit/sysfs_sensors.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace berrykit::detail {

// The GPIO chips under `dev_root`: character devices called gpiochip<N>, in order of N
// (gpiochip2 before gpiochip10). A plain file, a folder or a "gpiochip" without a number is not
// a chip. Symlinks are followed, as udev's /dev/gpiochipN links are. A missing folder has none.
std::vector<std::filesystem::path> find_gpio_chips(const std::filesystem::path& dev_root);

// The BCM number in a Raspberry Pi line name: "GPIO17" → 17. Nothing for other names ("ID_SDA",
// "GPIO", "GPIO17a").
std::optional<int> bcm_from_line_name(std::string_view name);

// What looking for a named line on one chip found: its offset, or the errno (ENOENT when the chip
// has no line of that name, or is gone).
struct ChipProbe {
    std::optional<unsigned> offset;
    int error = 0;
};
using ProbeChip = std::function<ChipProbe(const std::filesystem::path& chip_path, const std::string& name)>;

// Lines by name across every chip under dev_root, each remembered once found. The libgpiod API
// only differs in how one chip is probed. Thread-safe: lookup() may run outside the board lock.
class LineDirectory {
public:
    LineDirectory(std::filesystem::path dev_root, ProbeChip probe);

    // The line called `name` on the lowest-numbered chip that has it, or nothing. A chip that
    // could not be looked at (permission, not a GPIO chip) is reported by gpiod_error only if no
    // other chip has the line: "no such line" would send a child hunting for a wiring mistake.
    std::optional<LineInfo> lookup(std::string_view name) const;

    // Opens `line` for `owner` with `open`, which returns 0 or the errno. When the chip or the
    // line on it is gone (ENOENT: the chips were renumbered since the lookup, a GPIO expander
    // came or went), looks everywhere again once. Returns the line as opened; throws gpiod_error.
    LineInfo open(const LineInfo& line, const std::string& owner,
                  const std::function<int(const LineInfo&)>& open_line) const;

    const std::filesystem::path& dev_root() const noexcept { return dev_root_; }

private:
    std::optional<LineInfo> search_chips(std::string_view name) const;

    std::filesystem::path dev_root_;
    ProbeChip probe_;
    mutable std::mutex lock_;
    mutable std::map<std::string, LineInfo, std::less<>> cache_;
};

// What claiming an input is called in error messages: "claim it as an input with pull-up,
// watching its edges".
std::string input_action(Bias bias, bool edges);

// make_gpiod_backend's answer when `dev_root` has no GPIO chip.
Error no_gpio_chip_error(const std::filesystem::path& dev_root);

// What the 1.x and the 2.x backend have alike: the real clock, the sysfs sensors, lines by name,
// and the open pins whose edge fds the loop watches. `PinType` has watch_edges(EventLoop&) and
// stop_watching(); a pin calls forget() when it closes.
template <typename PinType>
class GpiodBackendBase : public Backend {
public:
    std::string kind() const override { return "gpiod"; }
    SensorBus& sensors() override { return sensors_; }

    void attach(EventLoop& loop) override {
        std::lock_guard guard(lock());
        for (auto* pin : pins_) pin->stop_watching();  // from an earlier loop, if any
        Backend::attach(loop);
        for (auto* pin : pins_) pin->watch_edges(loop);
    }

    void forget(PinType* pin) noexcept { pins_.erase(pin); }

protected:
    GpiodBackendBase(GpiodOptions options, ProbeChip probe)
        : Backend(std::make_unique<SteadyClock>()),
          options_(std::move(options)),
          sensors_(SysfsSensorBus::Options{.root = options_.sysfs_root, .overlay = options_.overlay}),
          lines_(options_.dev_root, std::move(probe)) {}

    std::optional<LineInfo> lookup(std::string_view name) const override { return lines_.lookup(name); }

    const GpiodOptions& options() const noexcept { return options_; }
    const LineDirectory& lines() const noexcept { return lines_; }
    std::unique_ptr<Pin> remember(std::unique_ptr<PinType> pin) {
        pins_.insert(pin.get());
        return pin;
    }

private:
    GpiodOptions options_;
    SysfsSensorBus sensors_;
    LineDirectory lines_;
    std::set<PinType*> pins_;  // open pins, to watch their edges when a loop is attached
};

}  // namespace berrykit::detail
