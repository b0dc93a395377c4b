// SysfsSensorBus against trees of real-format sysfs files in a temporary folder, and with a file
// reader that fails the way the kernel's drivers do (EIO, ETIMEDOUT, EAGAIN, EACCES).
#include "berrykit/error.hpp"
#include "berrykit/sysfs_sensors.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include "error_matchers.hpp"

#include <cerrno>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <variant>

using berrykit::ClimateReading;
using berrykit::Error;
using berrykit::ErrorCode;
using berrykit::SysfsSensorBus;
using berrykit::test::TempDir;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using berrykit::testing::code_of;
using berrykit::testing::error_from;

namespace {

// A w1_slave file as w1_therm writes it.
std::string w1_slave(long millidegrees, bool crc_ok = true) {
    const std::string bytes = "72 01 4b 46 7f ff 0e 10 57";
    return bytes + " : crc=57 " + (crc_ok ? "YES" : "NO") + "\n" + bytes + " t=" + std::to_string(millidegrees) + "\n";
}

// A /sys with a 1-Wire bus master (always there once w1-gpio is loaded) and no sensors yet.
struct SysTree {
    TempDir dir;
    SysTree() { fs::create_directories(dir.path() / "bus/w1/devices/w1_bus_master1"); }

    fs::path add_ds18b20(const std::string& id, const std::string& w1_slave_text) const {
        return dir.write("bus/w1/devices/" + id + "/w1_slave", w1_slave_text);
    }
    fs::path add_iio(const std::string& device, const std::string& name, const std::string& temp = "23000",
                     const std::string& humidity = "45500") const {
        const std::string folder = "bus/iio/devices/" + device + "/";
        dir.write(folder + "name", name + "\n");
        dir.write(folder + "in_temp_input", temp + "\n");
        dir.write(folder + "in_humidityrelative_input", humidity + "\n");
        return dir.path() / folder;
    }
    SysfsSensorBus::Options options() const {
        SysfsSensorBus::Options options;
        options.root = dir.path();
        options.retry_pause = berrykit::Nanos{0};
        return options;
    }
};

// A file reader that answers from a script per file name (a text or an errno, in turn), then
// reads the real file. Counts every read by file name.
class ScriptedReader {
public:
    using Answer = std::variant<std::string, int>;

    void script(const std::string& file_name, std::deque<Answer> answers) {
        state_->scripts[file_name] = std::move(answers);
    }
    int reads_of(const std::string& file_name) const {
        const auto it = state_->reads.find(file_name);
        return it == state_->reads.end() ? 0 : it->second;
    }
    int total_reads() const {
        int total = 0;
        for (const auto& [name, count] : state_->reads) total += count;
        return total;
    }
    std::function<std::string(const fs::path&)> reader() const {
        return [state = state_](const fs::path& file) -> std::string {
            const std::string name = file.filename().string();
            ++state->reads[name];
            auto& answers = state->scripts[name];
            if (answers.empty()) return berrykit::read_sysfs_file(file);
            const Answer answer = answers.front();
            answers.pop_front();
            if (const int* errnum = std::get_if<int>(&answer)) {
                throw std::system_error(*errnum, std::generic_category(), file.string());
            }
            return std::get<std::string>(answer);
        };
    }

private:
    struct State {
        std::map<std::string, std::deque<Answer>> scripts;
        std::map<std::string, int> reads;
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

// Runs `action` as a user who is not root, when this test runs as root: root reads any file
// whatever its permissions, so a chmod 000 file would not be unreadable to it. That user may
// look into `dir` (mkdtemp makes it private), as anyone may look into /sys.
template <typename Action>
void as_ordinary_user(const TempDir& dir, Action&& action) {
    if (::geteuid() != 0) {
        action();
        return;
    }
    fs::permissions(dir.path(),
                    fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec,
                    fs::perm_options::add);
    constexpr uid_t nobody = 65534;
    REQUIRE(::seteuid(nobody) == 0);
    try {
        action();
    } catch (...) {
        REQUIRE(::seteuid(0) == 0);
        throw;
    }
    REQUIRE(::seteuid(0) == 0);
}

}  // namespace

// ---- parse_w1_slave ---------------------------------------------------------------------------

TEST_CASE("parse_w1_slave turns the kernel's millidegrees into degrees Celsius") {
    CHECK(berrykit::parse_w1_slave(w1_slave(23125), "temperature") == Approx(23.125));
    CHECK(berrykit::parse_w1_slave(w1_slave(0), "temperature") == Approx(0.0));
    CHECK(berrykit::parse_w1_slave(w1_slave(100000), "temperature") == Approx(100.0));
}

TEST_CASE("parse_w1_slave reads temperatures below freezing") {
    CHECK(berrykit::parse_w1_slave(w1_slave(-1062), "temperature") == Approx(-1.062));
    CHECK(berrykit::parse_w1_slave(w1_slave(-55000), "temperature") == Approx(-55.0));
}

TEST_CASE("parse_w1_slave refuses a reading whose CRC failed, naming the sensor") {
    const Error e = error_from([] { berrykit::parse_w1_slave(w1_slave(23125, false), "fridge"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(),
               Contains("the temperature sensor 'fridge'") && Contains("garbled") && Contains("check its wires"));
}

TEST_CASE("parse_w1_slave refuses a file without a temperature") {
    const Error e = error_from([] {
        berrykit::parse_w1_slave("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57\n", "fridge");
    });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("'fridge'") && Contains("cannot understand"));
    CHECK_THROWS_AS(berrykit::parse_w1_slave("", "fridge"), Error);
    CHECK_THROWS_AS(berrykit::parse_w1_slave(w1_slave(23125).substr(0, 40), "fridge"), Error);
}

TEST_CASE("parse_w1_slave refuses 85 degrees, the value before the first measurement") {
    const Error e = error_from([] { berrykit::parse_w1_slave(w1_slave(85000), "fridge"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("'fridge'") && Contains("85 °C"));
    // Just beside it is an ordinary reading.
    CHECK(berrykit::parse_w1_slave(w1_slave(84937), "fridge") == Approx(84.937));
}

TEST_CASE("parse_w1_slave refuses nine zero bytes, which pass the CRC but mean no sensor answered") {
    const std::string zeros = "00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n";
    const Error e = error_from([&] { berrykit::parse_w1_slave(zeros, "fridge"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("'fridge'") && Contains("no answer"));
}

// ---- DS18B20 through the 1-Wire tree ---------------------------------------------------------

TEST_CASE("a DS18B20 is read from its w1_slave file, found automatically when it is the only one") {
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(21500));
    SysfsSensorBus bus(sys.options());
    CHECK(bus.read_ds18b20("temperature", "auto") == Approx(21.5));
    CHECK(bus.read_ds18b20("temperature", "") == Approx(21.5));
}

TEST_CASE("a DS18B20 given by id is read from its own folder") {
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(21500));
    sys.add_ds18b20("28-3c01d607d0c3", w1_slave(-3250));
    SysfsSensorBus bus(sys.options());
    CHECK(bus.read_ds18b20("inside", "28-00000a1b2c3d") == Approx(21.5));
    CHECK(bus.read_ds18b20("outside", "28-3c01d607d0c3") == Approx(-3.25));
}

TEST_CASE("a DS18B20 with no sensor connected says to check the wires and the 1-Wire overlay") {
    SysTree with_bus;     // w1-gpio loaded, nothing on the bus
    TempDir without_bus;  // 1-Wire not switched on at all
    for (const fs::path& root : {with_bus.dir.path(), without_bus.path()}) {
        SysfsSensorBus::Options options;
        options.root = root;
        SysfsSensorBus bus(options);
        const Error e = error_from([&] { bus.read_ds18b20("temperature", "auto"); });
        CHECK(code_of(e) == "sensor");
        CHECK(std::string(e.what()) ==
              "the temperature sensor 'temperature' was not found: check its wires and that the 1-Wire interface "
              "is on (dtoverlay=w1-gpio in /boot/firmware/config.txt)");
    }
}

TEST_CASE("with the kit's overlay known, a missing sensor asks for that overlay, not the kernel's own") {
    TempDir empty;
    SysfsSensorBus::Options options;
    options.root = empty.path();
    options.overlay = "berrykit-classroom";
    SysfsSensorBus bus(options);
    const std::string overlay_is_on =
        "the kit's overlay is on (dtoverlay=berrykit-classroom in /boot/firmware/config.txt; sudo "
        "scripts/install-pi.sh puts it in place)";
    const Error temperature = error_from([&] { bus.read_ds18b20("temperature", "auto"); });
    CHECK(code_of(temperature) == "sensor");
    CHECK(std::string(temperature.what()) ==
          "the temperature sensor 'temperature' was not found: check its wires and that " + overlay_is_on);
    const Error by_id = error_from([&] { bus.read_ds18b20("fridge", "28-000000000bad"); });
    CHECK_THAT(by_id.what(),
               Contains("(28-000000000bad) was not found") && Contains(overlay_is_on + ". ") && !Contains("w1-gpio"));
    const Error climate = error_from([&] { bus.read_dht("climate", "auto", "GPIO25"); });
    CHECK(code_of(climate) == "sensor");
    CHECK(std::string(climate.what()) ==
          "the climate sensor 'climate' was not found: check its wires and that " + overlay_is_on);
}

TEST_CASE("'auto' with two DS18B20s lists both and says to put the id in the board file") {
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(21500));
    sys.add_ds18b20("28-3c01d607d0c3", w1_slave(-3250));
    SysfsSensorBus bus(sys.options());
    const Error e = error_from([&] { bus.read_ds18b20("temperature", "auto"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("2 temperature sensors") && Contains("28-00000a1b2c3d") &&
                             Contains("28-3c01d607d0c3") && Contains("'temperature'") &&
                             Contains("board file as \"device\""));
}

TEST_CASE("a DS18B20 id that is not connected is not found, and the message lists the connected ones") {
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(21500));
    SysfsSensorBus bus(sys.options());
    const Error e = error_from([&] { bus.read_ds18b20("fridge", "28-000000000bad"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("the temperature sensor 'fridge' (28-000000000bad) was not found") &&
                             Contains("dtoverlay=w1-gpio") && Contains("Connected: 28-00000a1b2c3d"));
}

TEST_CASE("a DS18B20 id that is not a 1-Wire id is refused before any file is read") {
    SysTree sys;
    sys.dir.write("secret/w1_slave", w1_slave(21500));
    ScriptedReader reader;
    auto options = sys.options();
    options.read_file = reader.reader();
    SysfsSensorBus bus(options);
    for (const std::string id : {"../../../secret", "28-00000a1b2c3d/..", "28-xyz", "fridge"}) {
        const Error e = error_from([&] { bus.read_ds18b20("fridge", id); });
        CHECK(code_of(e) == "sensor");
        CHECK_THAT(e.what(), Contains("'fridge'") && Contains("'" + id + "'") && Contains("28-00000a1b2c3d"));
    }
    CHECK(reader.total_reads() == 0);
}

TEST_CASE("a kernel without w1_slave is read through the DS18B20's temperature file") {
    SysTree sys;
    sys.dir.write("bus/w1/devices/28-00000a1b2c3d/temperature", "-1062\n");
    SysfsSensorBus bus(sys.options());
    CHECK(bus.read_ds18b20("temperature", "auto") == Approx(-1.062));
}

TEST_CASE("a DS18B20 reading with a failed CRC is read again") {
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(19000));
    ScriptedReader reader;
    reader.script("w1_slave", {w1_slave(99999, false), w1_slave(99999, false)});
    auto options = sys.options();
    options.read_file = reader.reader();
    SysfsSensorBus bus(options);
    CHECK(bus.read_ds18b20("temperature", "auto") == Approx(19.0));
    CHECK(reader.reads_of("w1_slave") == 3);
}

TEST_CASE("a DS18B20 reading of 85 degrees just after power-on is read again") {
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(19000));
    ScriptedReader reader;
    reader.script("w1_slave", {w1_slave(85000)});
    auto options = sys.options();
    options.read_file = reader.reader();
    SysfsSensorBus bus(options);
    CHECK(bus.read_ds18b20("temperature", "auto") == Approx(19.0));
    CHECK(reader.reads_of("w1_slave") == 2);
}

TEST_CASE("a DS18B20 whose CRC always fails gives up after the attempts, saying how often it tried") {
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(19000, false));
    ScriptedReader reader;
    auto options = sys.options();
    options.read_file = reader.reader();
    options.attempts = GENERATE(1, 2, 5);
    SysfsSensorBus bus(options);
    const Error e = error_from([&] { bus.read_ds18b20("fridge", "auto"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("the temperature sensor 'fridge' (28-00000a1b2c3d)") && Contains("garbled") &&
                             Contains(std::to_string(options.attempts) + " times in a row") &&
                             Contains("4.7 kOhm resistor"));
    CHECK(reader.reads_of("w1_slave") == options.attempts);
}

TEST_CASE("a DS18B20 stuck at 85 degrees gives up after the attempts") {
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(85000));
    SysfsSensorBus bus(sys.options());
    const Error e = error_from([&] { bus.read_ds18b20("fridge", "auto"); });
    CHECK_THAT(e.what(), Contains("'fridge'") && Contains("85 °C") && Contains("5 times in a row"));
}

TEST_CASE("a DS18B20 read that fails with EIO, ETIMEDOUT or EAGAIN is tried again") {
    const int errnum = GENERATE(EIO, ETIMEDOUT, EAGAIN);
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(19000));
    ScriptedReader reader;
    reader.script("w1_slave", {errnum, errnum, errnum});
    auto options = sys.options();
    options.read_file = reader.reader();
    SysfsSensorBus bus(options);
    CHECK(bus.read_ds18b20("temperature", "auto") == Approx(19.0));
    CHECK(reader.reads_of("w1_slave") == 4);
}

TEST_CASE("a DS18B20 read that keeps failing with EIO gives up after the attempts") {
    SysTree sys;
    sys.add_ds18b20("28-00000a1b2c3d", w1_slave(19000));
    ScriptedReader reader;
    reader.script("w1_slave", {EIO, EIO, EIO, EIO, EIO, EIO, EIO});
    auto options = sys.options();
    options.read_file = reader.reader();
    SysfsSensorBus bus(options);
    const Error e = error_from([&] { bus.read_ds18b20("fridge", "auto"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("'fridge'") && Contains("did not answer properly") && Contains("5 times in a row"));
    CHECK(reader.reads_of("w1_slave") == 5);
}

TEST_CASE("a DS18B20 file this program may not read is reported at once, naming the part and the file") {
    SysTree sys;
    const fs::path file = sys.add_ds18b20("28-00000a1b2c3d", w1_slave(19000));
    ScriptedReader reader;
    reader.script("w1_slave", {EACCES});
    auto options = sys.options();
    options.read_file = reader.reader();
    SysfsSensorBus bus(options);
    const Error e = error_from([&] { bus.read_ds18b20("fridge", "auto"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(),
               Contains("the temperature sensor 'fridge'") && Contains(file.string()) && Contains("not allowed"));
    CHECK(reader.reads_of("w1_slave") == 1);
}

TEST_CASE("a real DS18B20 file without read permission is reported, naming the part and the file") {
    SysTree sys;
    const fs::path file = sys.add_ds18b20("28-00000a1b2c3d", w1_slave(19000));
    fs::permissions(file, fs::perms::none);
    SysfsSensorBus bus(sys.options());
    as_ordinary_user(sys.dir, [&] {
        const Error e = error_from([&] { bus.read_ds18b20("fridge", "auto"); });
        CHECK(code_of(e) == "sensor");
        CHECK_THAT(e.what(), Contains("the temperature sensor 'fridge'") && Contains(file.string()) &&
                                 Contains("not allowed") && Contains("Permission denied"));
    });
}

// ---- DHT11/DHT22 through IIO -----------------------------------------------------------------

TEST_CASE("a DHT is read from the dht11 driver's IIO device, in degrees and percent") {
    SysTree sys;
    sys.add_iio("iio:device0", "dht11@4", "23000", "45500");
    SysfsSensorBus bus(sys.options());
    const ClimateReading reading = bus.read_dht("climate", "auto", "GPIO4");
    CHECK(reading.temperature_c == Approx(23.0));
    CHECK(reading.humidity_percent == Approx(45.5));
}

TEST_CASE("the only DHT is used whatever its name's GPIO says (old overlays name it dht11@0)") {
    SysTree sys;
    sys.add_iio("iio:device0", "dht11@0", "-1200", "80000");
    SysfsSensorBus bus(sys.options());
    const ClimateReading reading = bus.read_dht("climate", "auto", "GPIO4");
    CHECK(reading.temperature_c == Approx(-1.2));
    CHECK(reading.humidity_percent == Approx(80.0));
}

TEST_CASE("with two DHTs the one on the part's line is found from the GPIO number in hex") {
    SysTree sys;
    sys.add_iio("iio:device0", "dht11@4", "20000", "40000");
    sys.add_iio("iio:device1", "dht11@11", "30000", "60000");  // GPIO17 is 0x11
    SysfsSensorBus bus(sys.options());
    CHECK(bus.read_dht("garden", "auto", "GPIO17").temperature_c == Approx(30.0));
    CHECK(bus.read_dht("garden", "auto", "GPIO17").humidity_percent == Approx(60.0));
    CHECK(bus.read_dht("room", "auto", "GPIO4").temperature_c == Approx(20.0));
}

TEST_CASE("with two DHTs and none on the part's line, the message lists them") {
    SysTree sys;
    sys.add_iio("iio:device0", "dht11@4", "20000", "40000");
    sys.add_iio("iio:device1", "dht11@11", "30000", "60000");
    SysfsSensorBus bus(sys.options());
    // GPIO22 is 0x16: "@22" would be the wrong (decimal) match.
    sys.add_iio("iio:device2", "dht11@22", "10000", "10000");
    const Error e = error_from([&] { bus.read_dht("garden", "auto", "GPIO22"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("3 climate sensors") && Contains("iio:device0 (dht11@4)") &&
                             Contains("iio:device1 (dht11@11)") && Contains("GPIO22") && Contains("'garden'") &&
                             Contains("\"device\""));
}

TEST_CASE("IIO devices of other drivers are not taken for a DHT") {
    SysTree sys;
    sys.add_iio("iio:device0", "mcp3008");
    SysfsSensorBus bus(sys.options());
    const Error e = error_from([&] { bus.read_dht("climate", "auto", "GPIO4"); });
    CHECK(code_of(e) == "sensor");
    CHECK(std::string(e.what()) ==
          "the climate sensor 'climate' was not found: check its wires and that dtoverlay=dht11,gpiopin=4 is in "
          "/boot/firmware/config.txt");

    sys.add_iio("iio:device1", "dht11@11", "30000", "60000");
    CHECK(bus.read_dht("climate", "auto", "GPIO17").temperature_c == Approx(30.0));
}

TEST_CASE("a missing DHT names the overlay line with the part's own GPIO") {
    TempDir empty;
    SysfsSensorBus::Options options;
    options.root = empty.path();
    SysfsSensorBus bus(options);
    const Error e = error_from([&] { bus.read_dht("greenhouse", "auto", "GPIO17"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(),
               Contains("the climate sensor 'greenhouse' was not found") && Contains("dtoverlay=dht11,gpiopin=17"));
}

TEST_CASE("a DHT given by IIO device is read from that device, and a wrong one is explained") {
    SysTree sys;
    sys.add_iio("iio:device0", "mcp3008");
    sys.add_iio("iio:device1", "dht11@4", "21000", "50000");
    SysfsSensorBus bus(sys.options());
    CHECK(bus.read_dht("climate", "iio:device1", "GPIO4").humidity_percent == Approx(50.0));

    const Error not_dht = error_from([&] { bus.read_dht("climate", "iio:device0", "GPIO4"); });
    CHECK(code_of(not_dht) == "sensor");
    CHECK_THAT(not_dht.what(),
               Contains("'climate'") && Contains("iio:device0") && Contains("'mcp3008'") && Contains("not a DHT"));

    const Error missing = error_from([&] { bus.read_dht("climate", "iio:device7", "GPIO4"); });
    CHECK_THAT(missing.what(), Contains("the climate sensor 'climate' was not found") && Contains("iio:device7"));

    const Error not_a_device = error_from([&] { bus.read_dht("climate", "../../../etc", "GPIO4"); });
    CHECK_THAT(not_a_device.what(), Contains("'climate'") && Contains("'../../../etc'") && Contains("iio:device0"));
}

TEST_CASE("a DHT read garbled with EIO, ETIMEDOUT or EAGAIN is tried again") {
    const int errnum = GENERATE(EIO, ETIMEDOUT, EAGAIN);
    SysTree sys;
    sys.add_iio("iio:device0", "dht11@4", "23000", "45500");
    ScriptedReader reader;
    reader.script("in_temp_input", {errnum, errnum});
    reader.script("in_humidityrelative_input", {errnum});
    auto options = sys.options();
    options.read_file = reader.reader();
    SysfsSensorBus bus(options);
    const ClimateReading reading = bus.read_dht("climate", "auto", "GPIO4");
    CHECK(reading.temperature_c == Approx(23.0));
    CHECK(reading.humidity_percent == Approx(45.5));
    // Two failed temperatures, then a temperature whose humidity failed, then both.
    CHECK(reader.reads_of("in_temp_input") == 4);
    CHECK(reader.reads_of("in_humidityrelative_input") == 2);
}

TEST_CASE("a DHT that never answers gives up after the attempts, saying what to check") {
    SysTree sys;
    sys.add_iio("iio:device0", "dht11@11");
    ScriptedReader reader;
    reader.script("in_temp_input", {ETIMEDOUT, ETIMEDOUT, ETIMEDOUT, ETIMEDOUT, ETIMEDOUT, ETIMEDOUT});
    auto options = sys.options();
    options.read_file = reader.reader();
    options.attempts = 3;
    SysfsSensorBus bus(options);
    const Error e = error_from([&] { bus.read_dht("greenhouse", "auto", "GPIO17"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("the climate sensor 'greenhouse'") && Contains("did not answer properly") &&
                             Contains("3 times in a row") && Contains("GPIO17"));
    CHECK(reader.reads_of("in_temp_input") == 3);
}

TEST_CASE("a DHT file this program may not read is reported at once, naming the part and the file") {
    SysTree sys;
    const fs::path folder = sys.add_iio("iio:device0", "dht11@4");
    ScriptedReader reader;
    reader.script("in_humidityrelative_input", {EPERM});
    auto options = sys.options();
    options.read_file = reader.reader();
    SysfsSensorBus bus(options);
    const Error e = error_from([&] { bus.read_dht("climate", "auto", "GPIO4"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("the climate sensor 'climate'") &&
                             Contains((folder / "in_humidityrelative_input").string()) && Contains("not allowed"));
    CHECK(reader.reads_of("in_humidityrelative_input") == 1);
}

TEST_CASE("a real DHT file without read permission is reported, naming the part and the file") {
    SysTree sys;
    const fs::path folder = sys.add_iio("iio:device0", "dht11@4");
    fs::permissions(folder / "in_temp_input", fs::perms::none);
    SysfsSensorBus bus(sys.options());
    as_ordinary_user(sys.dir, [&] {
        const Error e = error_from([&] { bus.read_dht("climate", "iio:device0", "GPIO4"); });
        CHECK(code_of(e) == "sensor");
        CHECK_THAT(e.what(), Contains("the climate sensor 'climate'") &&
                                 Contains((folder / "in_temp_input").string()) && Contains("not allowed"));
    });
}

TEST_CASE("a DHT value that is not a number is reported, not taken as zero") {
    SysTree sys;
    sys.add_iio("iio:device0", "dht11@4", "hot", "45500");
    SysfsSensorBus bus(sys.options());
    const Error e = error_from([&] { bus.read_dht("climate", "auto", "GPIO4"); });
    CHECK(code_of(e) == "sensor");
    CHECK_THAT(e.what(), Contains("'climate'") && Contains("'hot'"));
}

// ---- options and the file reader -------------------------------------------------------------

TEST_CASE("a sensor bus needs at least one attempt and no negative pause") {
    SysfsSensorBus::Options options;
    options.attempts = 0;
    CHECK(code_of(error_from([&] { SysfsSensorBus bus(options); })) == "bad_value");
    options.attempts = 1;
    options.retry_pause = berrykit::Nanos{-1};
    CHECK(code_of(error_from([&] { SysfsSensorBus bus(options); })) == "bad_value");
}

TEST_CASE("read_sysfs_file reads a whole file and reports a missing one with its errno and path") {
    TempDir dir;
    const fs::path file = dir.write("a/value", std::string(10000, 'x') + "\n");
    CHECK(berrykit::read_sysfs_file(file).size() == 10001);
    try {
        berrykit::read_sysfs_file(dir.path() / "nothing");
        FAIL("reading a missing file did not throw");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == ENOENT);
        CHECK_THAT(e.what(), Contains((dir.path() / "nothing").string()));
    }
}
