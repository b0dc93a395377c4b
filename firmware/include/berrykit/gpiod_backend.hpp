// berrykit — the libgpiod backend (a real Raspberry Pi, or any Linux GPIO chip).
//
// Lines are found by name ("GPIO17") on whichever /dev/gpiochipN has them — the Pi 5 moved its
// header from chip 4 to chip 0, names did not move. Outputs are requested with their initial
// level, inputs with bias and edge events; edges are read from the line's event fd by the event
// loop (no polling) and carry the kernel's CLOCK_MONOTONIC timestamp. Every libgpiod failure
// becomes one Error(gpio) whose message names the part and the line, in gpiod_error().
//
// Two sources implement it: gpiod_backend_v1.cpp (libgpiod 1.6's C API, Bookworm) and
// gpiod_backend_v2.cpp (libgpiod 2.x's C++ bindings, Trixie). CMake compiles the one FindLibgpiod
// detects; scripts/build-gpiod2.sh builds against a private 2.x beside the system's 1.6. They
// behave alike, but for one thing: on 2.x a change of direction or bias changes the held request
// in place, where 1.x lets the line go and requests it again (so, for a moment, another program
// could take it).
#pragma once

#include "berrykit/backend.hpp"
#include "berrykit/error.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace berrykit {

struct GpiodOptions {
    std::string consumer = "berrykit";          // shown by gpioinfo as the line's user
    std::filesystem::path dev_root = "/dev";    // where gpiochipN devices are
    std::filesystem::path sysfs_root = "/sys";  // for the 1-Wire and IIO sensors
    // The kit's device-tree overlay for this board ("berrykit-classroom"), which a sensor that is
    // not found asks for; empty: it asks for the kernel's own w1-gpio / dht11 overlays.
    std::string overlay;
};

// True when this build has a libgpiod backend; the API it was built for (1 or 2, 0 for none).
bool gpiod_backend_built() noexcept;
int gpiod_api_version() noexcept;

// True when `dev_root` holds at least one GPIO chip: a character device called gpiochip<N>
// (symlinks followed). A plain file or folder of that name is not a chip, so it does not make a
// laptop look like a Pi.
bool gpio_chips_present(const std::filesystem::path& dev_root = "/dev");

// Opens the backend. Throws Error(unsupported) when built without libgpiod, and Error(gpio)
// when there is no GPIO chip to open. Lines are claimed at once (as they are, direction
// unchanged) so another program holding one is reported by claim(); changing direction releases
// and requests the line again. Close every pin before the backend goes; the EventLoop given to
// attach() must outlive the pins, whose edge fds it watches.
std::unique_ptr<Backend> make_gpiod_backend(const GpiodOptions& options = {});

// The one place an errno from libgpiod becomes an Error: `action` is what we tried, said of the
// line ("claim it as an output", "switch it on or off", "read it"), `owner` the part ("the LED
// 'red'"; may be empty when no part asked). Messages read "GPIO17 (the LED 'red'): could not
// <action> because …". EBUSY becomes part_in_use ("used by another program"), EACCES/EPERM says
// to join the gpio group, ENOENT is unknown_part, ENODEV says the chip went away, EINVAL names
// the request, ENOTTY says the device is not a GPIO chip; anything else is gpio with strerror.
Error gpiod_error(int errnum, std::string_view action, std::string_view line, std::string_view owner);

}  // namespace berrykit
