// berrykit — what the libgpiod backend's sources share (not installed, not part of the API).
#pragma once

#include <filesystem>
#include <optional>
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

}  // namespace berrykit::detail
