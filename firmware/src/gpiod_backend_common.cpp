// What every build has, with or without libgpiod: chip discovery, the errno → Error translation
// and the "was it built" answers. Kept apart from the libgpiod sources so it is always compiled,
// and so always tested.
#include "berrykit/gpiod_backend.hpp"

#include "gpiod_backend_internal.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#ifndef BERRYKIT_GPIOD_API
#error "BERRYKIT_GPIOD_API must be set by firmware/CMakeLists.txt (0, 1 or 2)"
#endif

namespace berrykit {

namespace detail {

namespace {

// The N of "gpiochip<N>", or nothing.
std::optional<unsigned> chip_number(const std::string& file_name) {
    constexpr std::string_view prefix = "gpiochip";
    if (file_name.size() <= prefix.size() || file_name.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    unsigned number = 0;
    const char* first = file_name.data() + prefix.size();
    const char* last = file_name.data() + file_name.size();
    const auto [end, error] = std::from_chars(first, last, number);
    if (error != std::errc{} || end != last) return std::nullopt;
    return number;
}

}  // namespace

std::vector<std::filesystem::path> find_gpio_chips(const std::filesystem::path& dev_root) {
    std::vector<std::pair<unsigned, std::filesystem::path>> chips;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dev_root, ec), end; !ec && it != end; it.increment(ec)) {
        const auto number = chip_number(it->path().filename().string());
        if (!number) continue;
        // A character device, not merely the name: a stray file called gpiochip0 (a test, a
        // backup) must not make a laptop look like a Pi and hide the simulated board.
        std::error_code type_ec;
        if (!std::filesystem::is_character_file(it->path(), type_ec)) continue;
        chips.emplace_back(*number, it->path());
    }
    // By number: with two chips naming a line alike, the lower-numbered one wins every time.
    std::sort(chips.begin(), chips.end());
    std::vector<std::filesystem::path> paths;
    paths.reserve(chips.size());
    for (auto& chip : chips) paths.push_back(std::move(chip.second));
    return paths;
}

std::optional<int> bcm_from_line_name(std::string_view name) {
    constexpr std::string_view prefix = "GPIO";
    if (name.size() <= prefix.size() || name.substr(0, prefix.size()) != prefix) return std::nullopt;
    int number = 0;
    const char* first = name.data() + prefix.size();
    const char* last = name.data() + name.size();
    if (*first == '+' || *first == '-') return std::nullopt;
    const auto [end, error] = std::from_chars(first, last, number);
    if (error != std::errc{} || end != last) return std::nullopt;
    return number;
}

LineDirectory::LineDirectory(std::filesystem::path dev_root, ProbeChip probe)
    : dev_root_(std::move(dev_root)), probe_(std::move(probe)) {}

std::optional<LineInfo> LineDirectory::lookup(std::string_view name) const {
    {
        std::lock_guard guard(lock_);
        if (const auto it = cache_.find(name); it != cache_.end()) return it->second;
    }
    auto found = search_chips(name);
    if (found) {
        std::lock_guard guard(lock_);
        cache_.insert_or_assign(found->name, *found);
    }
    return found;
}

std::optional<LineInfo> LineDirectory::search_chips(std::string_view name) const {
    if (name.empty()) return std::nullopt;
    const std::string wanted(name);
    int first_error = 0;
    std::filesystem::path failed_chip;
    for (const auto& chip_path : find_gpio_chips(dev_root_)) {
        const ChipProbe probe = probe_(chip_path, wanted);
        if (probe.offset) {
            return LineInfo{wanted, bcm_from_line_name(wanted).value_or(-1), chip_path.filename().string(),
                            *probe.offset};
        }
        if (probe.error != ENOENT && first_error == 0) {
            first_error = probe.error;
            failed_chip = chip_path;
        }
    }
    if (first_error != 0) throw gpiod_error(first_error, "look for it on " + failed_chip.string(), wanted, "");
    return std::nullopt;
}

LineInfo LineDirectory::open(const LineInfo& line, const std::string& owner,
                             const std::function<int(const LineInfo&)>& open_line) const {
    int errnum = open_line(line);
    if (errnum == 0) return line;
    if (errnum != ENOENT) throw gpiod_error(errnum, "claim it", line.name, owner);
    {
        std::lock_guard guard(lock_);
        cache_.erase(line.name);
    }
    const auto found = lookup(line.name);
    if (!found) throw gpiod_error(ENOENT, "claim it", line.name, owner);
    errnum = open_line(*found);
    if (errnum != 0) throw gpiod_error(errnum, "claim it", line.name, owner);
    return *found;
}

std::string input_action(Bias bias, bool edges) {
    std::string action = "claim it as an input";
    if (bias == Bias::pull_up) action += " with pull-up";
    if (bias == Bias::pull_down) action += " with pull-down";
    if (edges) action += ", watching its edges";
    return action;
}

Error no_gpio_chip_error(const std::filesystem::path& dev_root) {
    return Error(ErrorCode::gpio, "no GPIO chip found in " + dev_root.string() +
                                      ": is this a Raspberry Pi? To practise without one, use the simulated "
                                      "board (BERRYKIT_BOARD=sim)");
}

}  // namespace detail

bool gpiod_backend_built() noexcept { return BERRYKIT_GPIOD_API != 0; }

int gpiod_api_version() noexcept { return BERRYKIT_GPIOD_API; }

bool gpio_chips_present(const std::filesystem::path& dev_root) { return !detail::find_gpio_chips(dev_root).empty(); }

Error gpiod_error(int errnum, std::string_view action, std::string_view line, std::string_view owner) {
    std::string who(line);
    if (!owner.empty()) who = line.empty() ? std::string(owner) : who + " (" + std::string(owner) + ")";
    const std::string tried = who + ": could not " + std::string(action);
    switch (errnum) {
        case EBUSY:
            return Error(ErrorCode::part_in_use, who +
                                                     " is already used by another program: stop the other program "
                                                     "(or the berrykit daemon) and try again");
        case EACCES:
        case EPERM:
            return Error(ErrorCode::gpio, tried +
                                              " because you are not allowed to use the GPIO: add yourself to the "
                                              "'gpio' group (sudo adduser $USER gpio) and log in again");
        case ENOENT:
            return Error(ErrorCode::unknown_part,
                         tried +
                             " because this board's GPIO chips have no such line: check the line's name in "
                             "the board file (a Raspberry Pi's are called GPIO2 to GPIO27)");
        case ENODEV:
            return Error(ErrorCode::gpio, tried +
                                              " because the GPIO chip went away (its driver was removed): "
                                              "start the program again, and restart the Raspberry Pi if "
                                              "that does not help");
        case EINVAL:
            return Error(ErrorCode::gpio, tried +
                                              ": the GPIO chip said no to that request, so this chip or "
                                              "kernel cannot do it (pull-up and pull-down need Linux 5.5 "
                                              "or newer)");
        case ENOTTY:
            // libgpiod's answer for a device file that is not a GPIO chip.
            return Error(ErrorCode::gpio, tried +
                                              " because that device is not a GPIO chip: is this a Raspberry "
                                              "Pi? To practise without one, use the simulated board "
                                              "(BERRYKIT_BOARD=sim)");
        default:
            return Error(ErrorCode::gpio, tried + ": " + std::generic_category().message(errnum) + " (error " +
                                              std::to_string(errnum) +
                                              "): try again, and ask for help if it "
                                              "keeps happening");
    }
}

#if BERRYKIT_GPIOD_API == 0
std::unique_ptr<Backend> make_gpiod_backend(const GpiodOptions&) {
    throw Error(ErrorCode::unsupported,
                "this berrykit was built without libgpiod, so it cannot use a real Raspberry Pi's GPIO: "
                "install libgpiod-dev and rebuild berrykit (or use the simulated board: BERRYKIT_BOARD=sim)");
}
#endif

}  // namespace berrykit
