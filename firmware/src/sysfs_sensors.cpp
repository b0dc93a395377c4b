#include "berrykit/sysfs_sensors.hpp"

#include "berrykit/error.hpp"
#include "gpiod_backend_internal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace berrykit {

namespace {

namespace fs = std::filesystem;

// sysfs attributes are at most a page; anything much bigger means `root` points somewhere odd.
constexpr std::size_t max_sysfs_file = 64 * 1024;

constexpr const char* ds18b20_wiring =
    "check its wires (3.3 V, ground, and data with a 4.7 kOhm resistor to 3.3 V) and try again";

std::string temperature_part(const std::string& part) { return "the temperature sensor '" + part + "'"; }
std::string climate_part(const std::string& part) { return "the climate sensor '" + part + "'"; }

std::string trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

// A whole number (sysfs prints m°C and m%RH as integers), or nothing.
std::optional<long> parse_integer(std::string_view text) {
    const std::string number = trimmed(text);
    long value = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || error != std::errc{} || end != number.data() + number.size()) return std::nullopt;
    return value;
}

// For error messages: what the sensor said, short and on one line.
std::string said(std::string_view text) {
    std::string shown = trimmed(text.substr(0, 80));
    std::replace(shown.begin(), shown.end(), '\n', ' ');
    return "'" + shown + "'";
}

// The kernel's drivers return these when one exchange with the sensor went wrong (a garbled
// reply, no reply in time, the bus busy); the next read usually works.
bool is_transient(int errnum) { return errnum == EIO || errnum == ETIMEDOUT || errnum == EAGAIN; }
bool is_missing(int errnum) { return errnum == ENOENT || errnum == ENODEV; }
bool is_denied(int errnum) { return errnum == EACCES || errnum == EPERM; }
std::string no_proper_answer(int errnum) {
    return "did not answer properly (" + std::generic_category().message(errnum) + ")";
}

// One outcome of a sensor read: a value, or why not and whether another try can help.
struct Reading {
    std::optional<double> value;
    std::string problem;  // finishes "the temperature sensor 'x' …"
    bool retry = false;
};

Reading bad_reading(std::string problem, bool retry) { return Reading{std::nullopt, std::move(problem), retry}; }

Reading celsius_from_millidegrees(long millidegrees) {
    // 85.000 °C is what the scratchpad holds from power-on until a conversion finishes: the
    // sensor was reset (power dipped) just before the read. A real 85 °C is rare in a classroom,
    // and if it is real the next read says it again.
    if (millidegrees == 85000) {
        return bad_reading("read 85 °C, the value it has before it has measured anything (its power dipped)", true);
    }
    return Reading{static_cast<double>(millidegrees) / 1000.0, {}, false};
}

Reading parse_w1_text(std::string_view text) {
    const auto newline = text.find('\n');
    const std::string_view crc_line = text.substr(0, newline);
    const std::string_view value_line =
        newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    const auto crc = crc_line.find("crc=");
    const auto t = value_line.find("t=");
    if (crc == std::string_view::npos || t == std::string_view::npos) {
        return bad_reading("gave an answer berrykit cannot understand: " + said(text), false);
    }
    const std::string after_crc = trimmed(crc_line.substr(crc + 4));  // "57 YES"
    const auto space = after_crc.find(' ');
    const std::string verdict = space == std::string::npos ? std::string{} : trimmed(after_crc.substr(space));
    if (verdict == "NO") return bad_reading("gave a garbled answer (its check number did not match)", true);
    if (verdict != "YES") return bad_reading("gave an answer berrykit cannot understand: " + said(text), false);
    // Nine zero bytes pass the CRC (the CRC of zeros is zero), but a real DS18B20 never sends
    // them: its configuration byte always has its low five bits set. The data wire read nothing.
    if (crc_line.substr(0, crc_line.find(':')).find_first_not_of("0 ") == std::string_view::npos) {
        return bad_reading("gave no answer (it read all zeros)", true);
    }
    const auto millidegrees = parse_integer(value_line.substr(t + 2));
    if (!millidegrees) return bad_reading("gave an answer berrykit cannot understand: " + said(text), false);
    return celsius_from_millidegrees(*millidegrees);
}

// The folders in `dir` whose names start with `prefix`, sorted. A missing folder has none.
std::vector<std::string> entries_starting_with(const fs::path& dir, std::string_view prefix) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.compare(0, prefix.size(), prefix) == 0) names.push_back(std::move(name));
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string joined(const std::vector<std::string>& names) {
    std::string text;
    for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
    return text;
}

// "28-" then twelve hex digits (any family code, so DS1822 and DS1825 ids also pass): it must
// stay a folder name under the 1-Wire devices, never a path.
bool looks_like_w1_id(std::string_view id) {
    if (id.size() != 15 || id[2] != '-') return false;
    for (std::size_t i = 0; i < id.size(); ++i) {
        if (i != 2 && !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
    }
    return true;
}

bool looks_like_iio_device(std::string_view device) {
    constexpr std::string_view prefix = "iio:device";
    if (device.size() <= prefix.size() || device.substr(0, prefix.size()) != prefix) return false;
    return device.find_first_not_of("0123456789", prefix.size()) == std::string_view::npos;
}

std::string hex(int number) {
    char text[16];
    const auto [end, error] = std::to_chars(text, text + sizeof text, number, 16);
    return error == std::errc{} ? std::string(text, end) : std::string{};
}

// The errors every sensor read shares, so the two sensors word them alike.
Error unreadable(const std::string& who, const fs::path& file, int errnum) {
    if (is_denied(errnum)) {
        return Error(ErrorCode::sensor, who + " cannot be read: this program is not allowed to read " + file.string() +
                                            " (" + std::generic_category().message(errnum) +
                                            "): run it as a user who may, or ask whoever set up this Raspberry Pi");
    }
    return Error(ErrorCode::sensor, who + " could not be read from " + file.string() + ": " +
                                        std::generic_category().message(errnum) + ": check its wires and try again");
}

// Reads `file` through `read`; the errno on failure instead of the text.
struct FileText {
    std::string text;
    int error = 0;
};

FileText try_read(const std::function<std::string(const fs::path&)>& read, const fs::path& file) {
    try {
        return FileText{read(file), 0};
    } catch (const std::system_error& e) {
        // A reader that throws without an errno still fails the read, as an I/O error.
        return FileText{{}, e.code().value() != 0 ? e.code().value() : EIO};
    }
}

}  // namespace

std::string read_sysfs_file(const fs::path& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), file.string());
    std::string text;
    char buffer[4096];
    int error = 0;
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = errno;
            break;
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > max_sysfs_file) {
            error = EFBIG;
            break;
        }
    }
    ::close(fd);
    if (error) throw std::system_error(error, std::generic_category(), file.string());
    return text;
}

double parse_w1_slave(std::string_view text, const std::string& part) {
    const Reading reading = parse_w1_text(text);
    if (reading.value) return *reading.value;
    throw Error(ErrorCode::sensor, temperature_part(part) + " " + reading.problem + ": " + ds18b20_wiring);
}

SysfsSensorBus::SysfsSensorBus(Options options) : options_(std::move(options)) {
    if (options_.attempts < 1) {
        throw Error(ErrorCode::bad_value,
                    "a sensor needs at least 1 attempt to be read, got " + std::to_string(options_.attempts));
    }
    if (options_.retry_pause < Nanos{0}) {
        throw Error(ErrorCode::bad_value, "the pause between sensor reads cannot be negative");
    }
    if (!options_.read_file) options_.read_file = read_sysfs_file;
}

std::string SysfsSensorBus::kit_overlay_is_on() const {
    return "the kit's overlay is on (dtoverlay=" + options_.overlay +
           " in /boot/firmware/config.txt; sudo scripts/install-pi.sh puts it in place)";
}

std::string SysfsSensorBus::w1_is_on() const {
    if (!options_.overlay.empty()) return kit_overlay_is_on();
    return "the 1-Wire interface is on (dtoverlay=w1-gpio in /boot/firmware/config.txt)";
}

void SysfsSensorBus::pause_before_retry() const {
    if (options_.retry_pause > Nanos{0}) std::this_thread::sleep_for(options_.retry_pause);
}

double SysfsSensorBus::read_ds18b20(const std::string& part, const std::string& device) {
    const std::string who = temperature_part(part);
    const fs::path devices = options_.root / "bus" / "w1" / "devices";
    const std::string not_found = who + " was not found: check its wires and that " + w1_is_on();
    std::string id = device;
    if (device.empty() || device == "auto") {
        const auto found = entries_starting_with(devices, "28-");
        if (found.empty()) throw Error(ErrorCode::sensor, not_found);
        if (found.size() > 1) {
            throw Error(ErrorCode::sensor,
                        "there are " + std::to_string(found.size()) + " temperature sensors on the 1-Wire bus (" +
                            joined(found) + "), so berrykit cannot tell which one is '" + part +
                            "': put its id in the board file as \"device\", for example \"device\": \"" +
                            found.front() + "\"");
        }
        id = found.front();
    } else if (!looks_like_w1_id(device)) {
        throw Error(ErrorCode::sensor, who + " has the device id '" + device +
                                           "', which is not a 1-Wire id: one looks like 28-00000a1b2c3d "
                                           "(the folder names in /sys/bus/w1/devices)");
    }

    const fs::path folder = devices / id;
    std::string last_problem;
    for (int attempt = 0; attempt < options_.attempts; ++attempt) {
        if (attempt > 0) pause_before_retry();
        fs::path file = folder / "w1_slave";
        FileText read_result = try_read(options_.read_file, file);
        bool plain_number = false;
        if (read_result.error == ENOENT) {
            // Newer w1_therm drivers also offer `temperature` (just the m°C); use it where the
            // older file is missing.
            file = folder / "temperature";
            read_result = try_read(options_.read_file, file);
            plain_number = true;
        }
        if (is_missing(read_result.error)) {
            const auto present = entries_starting_with(devices, "28-");
            throw Error(ErrorCode::sensor, who + " (" + id +
                                               ") was not found: check its wires, its id in the board file, and that " +
                                               w1_is_on() + ". " +
                                               (present.empty() ? std::string("No temperature sensor is connected.")
                                                                : "Connected: " + joined(present) + "."));
        }
        if (is_transient(read_result.error)) {
            last_problem = no_proper_answer(read_result.error);
            continue;
        }
        if (read_result.error) throw unreadable(who, file, read_result.error);

        Reading reading;
        if (plain_number) {
            const auto millidegrees = parse_integer(read_result.text);
            reading = millidegrees
                          ? celsius_from_millidegrees(*millidegrees)
                          : bad_reading("gave an answer berrykit cannot understand: " + said(read_result.text), false);
        } else {
            reading = parse_w1_text(read_result.text);
        }
        if (reading.value) return *reading.value;
        if (!reading.retry) throw Error(ErrorCode::sensor, who + " (" + id + ") " + reading.problem);
        last_problem = reading.problem;
    }
    throw Error(ErrorCode::sensor, who + " (" + id + ") " + last_problem + ", " + std::to_string(options_.attempts) +
                                       " times in a row: " + ds18b20_wiring);
}

ClimateReading SysfsSensorBus::read_dht(const std::string& part, const std::string& device, const std::string& line) {
    const std::string who = climate_part(part);
    const fs::path devices = options_.root / "bus" / "iio" / "devices";
    const auto bcm = detail::bcm_from_line_name(line);
    const std::string not_found =
        who + " was not found: check its wires and that " +
        (options_.overlay.empty()
             ? "dtoverlay=dht11,gpiopin=" + std::to_string(bcm.value_or(4)) + " is in /boot/firmware/config.txt"
             : kit_overlay_is_on());
    // An IIO device's name, or nothing when it has none we can read (another driver's device
    // can be unreadable; it is not ours either way).
    const auto name_of = [&](const std::string& iio_device) -> std::optional<std::string> {
        const FileText name = try_read(options_.read_file, devices / iio_device / "name");
        if (name.error) return std::nullopt;
        return trimmed(name.text);
    };
    const auto is_dht = [](const std::string& name) { return name.compare(0, 5, "dht11") == 0; };

    std::string chosen;
    if (device.empty() || device == "auto") {
        std::vector<std::pair<std::string, std::string>> found;  // (iio:deviceN, dht11@4)
        for (const auto& iio_device : entries_starting_with(devices, "iio:device")) {
            if (auto name = name_of(iio_device); name && is_dht(*name)) found.emplace_back(iio_device, *name);
        }
        if (found.empty()) throw Error(ErrorCode::sensor, not_found);
        if (found.size() == 1) {
            chosen = found.front().first;
        } else {
            // The dht11 driver names its device after the device-tree node, whose address is
            // the GPIO number in hex: "dht11@11" is the one on GPIO17.
            const std::string wanted = bcm ? "@" + hex(*bcm) : std::string{};
            std::vector<std::string> listed;
            for (const auto& [iio_device, name] : found) {
                listed.push_back(iio_device + " (" + name + ")");
                if (!wanted.empty() && name.size() > wanted.size() &&
                    name.compare(name.size() - wanted.size(), wanted.size(), wanted) == 0) {
                    chosen = iio_device;
                }
            }
            if (chosen.empty()) {
                throw Error(ErrorCode::sensor,
                            "there are " + std::to_string(found.size()) + " climate sensors (" + joined(listed) +
                                ") and none is on " +
                                (line.empty() ? std::string("the line of '" + part + "'") : line) +
                                ", so berrykit cannot tell which one is '" + part +
                                "': check the line in the board file, or put the sensor's device there as "
                                "\"device\", for example \"device\": \"" +
                                found.front().first + "\"");
            }
        }
    } else {
        if (!looks_like_iio_device(device)) {
            throw Error(ErrorCode::sensor, who + " has the device '" + device +
                                               "', which is not an IIO device: one looks like iio:device0 "
                                               "(the folder names in /sys/bus/iio/devices)");
        }
        chosen = device;
        const auto name = name_of(device);
        if (!name) throw Error(ErrorCode::sensor, not_found + " (there is no " + device + ")");
        if (!is_dht(*name)) {
            throw Error(ErrorCode::sensor, who + " is set to " + device + ", but that is a '" + *name +
                                               "', not a DHT sensor: check \"device\" in the board file");
        }
    }

    const fs::path folder = devices / chosen;
    std::string last_problem;
    for (int attempt = 0; attempt < options_.attempts; ++attempt) {
        if (attempt > 0) pause_before_retry();
        ClimateReading reading;
        bool retry = false;
        for (const auto& [file_name, value] : {std::pair{"in_temp_input", &reading.temperature_c},
                                               std::pair{"in_humidityrelative_input", &reading.humidity_percent}}) {
            const fs::path file = folder / file_name;
            const FileText read_result = try_read(options_.read_file, file);
            if (is_transient(read_result.error)) {
                last_problem = no_proper_answer(read_result.error);
                retry = true;
                break;
            }
            if (is_missing(read_result.error)) throw Error(ErrorCode::sensor, not_found);
            if (read_result.error) throw unreadable(who, file, read_result.error);
            const auto milli = parse_integer(read_result.text);
            if (!milli) {
                throw Error(ErrorCode::sensor, who + " gave an answer berrykit cannot understand in " + file.string() +
                                                   ": " + said(read_result.text));
            }
            *value = static_cast<double>(*milli) / 1000.0;
        }
        if (!retry) return reading;
    }
    throw Error(ErrorCode::sensor, who + " " + last_problem + ", " + std::to_string(options_.attempts) +
                                       " times in a row: check its wires (data to " +
                                       (bcm ? line : std::string("its GPIO")) +
                                       ", with a 10 kOhm resistor to 3.3 V) and try again in a few seconds");
}

}  // namespace berrykit
