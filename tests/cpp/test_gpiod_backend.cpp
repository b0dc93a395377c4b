// The libgpiod backend without a GPIO chip: chip discovery, the errno → Error translation, what
// the build reports, and the real libgpiod refusing a device that is not a chip. With a chip, the
// backend is tested under a real kernel (gpio-sim in a VM); its logic against a stand-in libgpiod
// is in test_gpiod_backend_fake.cpp.
#include "berrykit/error.hpp"
#include "berrykit/gpiod_backend.hpp"
#include "berrykit/sensors.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include "error_matchers.hpp"

#include <cerrno>
#include <string>

#ifndef BERRYKIT_EXPECTED_GPIOD_API
#error "tests/CMakeLists.txt sets BERRYKIT_EXPECTED_GPIOD_API"
#endif

using berrykit::Error;
using berrykit::GpiodOptions;
using berrykit::test::TempDir;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using berrykit::testing::code_of;
using berrykit::testing::error_from;

namespace {

// A character device that is not a GPIO chip: /dev/null, under a gpiochip name.
void fake_chip_node(const TempDir& dev, const std::string& name) { fs::create_symlink("/dev/null", dev.path() / name); }

}  // namespace

// ---- gpio_chips_present ----------------------------------------------------------------------

TEST_CASE("an empty or missing /dev has no GPIO chips") {
    TempDir dev;
    CHECK_FALSE(berrykit::gpio_chips_present(dev.path()));
    CHECK_FALSE(berrykit::gpio_chips_present(dev.path() / "not-there"));
}

TEST_CASE("a plain file or a folder called gpiochip0 is not a GPIO chip") {
    TempDir dev;
    dev.write("gpiochip0", "");
    fs::create_directory(dev.path() / "gpiochip1");
    CHECK_FALSE(berrykit::gpio_chips_present(dev.path()));
}

TEST_CASE("a character device called gpiochip<N> counts as a GPIO chip, symlinks followed") {
    TempDir dev;
    fake_chip_node(dev, "gpiochip4");
    CHECK(berrykit::gpio_chips_present(dev.path()));
}

TEST_CASE("a character device is a chip only under a gpiochip<N> name") {
    TempDir dev;
    for (const char* name : {"gpiochip", "gpiochipX", "gpiochip0.old", "gpiochip-1", "xgpiochip0", "null"}) {
        fake_chip_node(dev, name);
    }
    CHECK_FALSE(berrykit::gpio_chips_present(dev.path()));
}

// ---- gpiod_error -----------------------------------------------------------------------------

TEST_CASE("EBUSY says another program uses the line, naming the line and the part") {
    const Error e = berrykit::gpiod_error(EBUSY, "claim it", "GPIO17", "the LED 'red'");
    CHECK(code_of(e) == "part_in_use");
    CHECK(std::string(e.what()) ==
          "GPIO17 (the LED 'red') is already used by another program: stop the other program (or the berrykit "
          "daemon) and try again");
}

TEST_CASE("EACCES and EPERM say to join the gpio group") {
    const int errnum = GENERATE(EACCES, EPERM);
    const Error e = berrykit::gpiod_error(errnum, "claim it as an output", "GPIO17", "the LED 'red'");
    CHECK(code_of(e) == "gpio");
    CHECK(std::string(e.what()) ==
          "GPIO17 (the LED 'red'): could not claim it as an output because you are not allowed to use the GPIO: "
          "add yourself to the 'gpio' group (sudo adduser $USER gpio) and log in again");
}

TEST_CASE("ENOENT means the chips have no such line: an unknown part") {
    const Error e = berrykit::gpiod_error(ENOENT, "claim it", "GPIO99", "the button 'go'");
    CHECK(code_of(e) == "unknown_part");
    CHECK_THAT(e.what(), Contains("GPIO99 (the button 'go')") && Contains("no such line") && Contains("board file") &&
                             Contains("GPIO2 to GPIO27"));
}

TEST_CASE("ENODEV says the GPIO chip went away") {
    const Error e = berrykit::gpiod_error(ENODEV, "read it", "GPIO4", "the button 'go'");
    CHECK(code_of(e) == "gpio");
    CHECK_THAT(e.what(), Contains("GPIO4 (the button 'go'): could not read it") && Contains("chip went away") &&
                             Contains("start the program again"));
}

TEST_CASE("EINVAL names the request the chip refused") {
    const Error e = berrykit::gpiod_error(EINVAL, "claim it as an input with pull-up, watching its edges", "GPIO4",
                                          "the button 'go'");
    CHECK(code_of(e) == "gpio");
    CHECK_THAT(e.what(), Contains("GPIO4 (the button 'go'): could not claim it as an input with pull-up, "
                                  "watching its edges") &&
                             Contains("said no"));
}

TEST_CASE("ENOTTY says the device is not a GPIO chip and points to the simulated board") {
    const Error e = berrykit::gpiod_error(ENOTTY, "look for it on /dev/gpiochip0", "GPIO17", "");
    CHECK(code_of(e) == "gpio");
    CHECK_THAT(e.what(), Contains("GPIO17: could not look for it on /dev/gpiochip0") && Contains("not a GPIO chip") &&
                             Contains("BERRYKIT_BOARD=sim"));
}

TEST_CASE("any other errno is a gpio error with the system's words for it") {
    const Error e = berrykit::gpiod_error(EIO, "switch it on or off", "GPIO17", "the LED 'red'");
    CHECK(code_of(e) == "gpio");
    CHECK_THAT(e.what(),
               Contains("GPIO17 (the LED 'red'): could not switch it on or off") && Contains("Input/output error"));
}

TEST_CASE("every gpiod_error names the line and the part, and leaves out an empty part") {
    const int errnum = GENERATE(EBUSY, EACCES, EPERM, ENOENT, ENODEV, EINVAL, ENOTTY, EIO, ENOMEM, 0);
    const Error with_part = berrykit::gpiod_error(errnum, "read it", "GPIO22", "the motion sensor 'hall'");
    CHECK_THAT(with_part.what(), Contains("GPIO22 (the motion sensor 'hall')"));
    const Error without_part = berrykit::gpiod_error(errnum, "read it", "GPIO22", "");
    CHECK_THAT(without_part.what(), Contains("GPIO22"));
    CHECK_THAT(without_part.what(), !Contains("()") && !Contains("GPIO22 ("));
    CHECK(without_part.code() == with_part.code());
}

// ---- the build and make_gpiod_backend --------------------------------------------------------

TEST_CASE("the build reports the libgpiod API it was built for") {
    CHECK(berrykit::gpiod_api_version() == BERRYKIT_EXPECTED_GPIOD_API);
    CHECK(berrykit::gpiod_backend_built() == (BERRYKIT_EXPECTED_GPIOD_API != 0));
}

TEST_CASE("make_gpiod_backend with no GPIO chip says so and points to the simulated board") {
    TempDir dev;
    dev.write("gpiochip0", "not a chip");
    GpiodOptions options;
    options.dev_root = dev.path();
    const Error e = error_from([&] { berrykit::make_gpiod_backend(options); });
    if (berrykit::gpiod_backend_built()) {
        CHECK(code_of(e) == "gpio");
        CHECK(std::string(e.what()) == "no GPIO chip found in " + dev.path().string() +
                                           ": is this a Raspberry Pi? To practise without one, use the "
                                           "simulated board (BERRYKIT_BOARD=sim)");
    } else {
        CHECK(code_of(e) == "unsupported");
        CHECK_THAT(e.what(), Contains("built without libgpiod") && Contains("install libgpiod-dev and rebuild"));
    }
}

TEST_CASE("libgpiod refuses a device that is not a GPIO chip, and the message says so") {
    if (!berrykit::gpiod_backend_built()) {
        SUCCEED("this build has no libgpiod backend");
        return;
    }
    TempDir dev;
    fake_chip_node(dev, "gpiochip0");
    GpiodOptions options;
    options.dev_root = dev.path();
    const auto backend = berrykit::make_gpiod_backend(options);
    CHECK(backend->kind() == "gpiod");
    for (const Error& e :
         {error_from([&] { backend->find_line("GPIO17"); }), error_from([&] { backend->find_line(17); })}) {
        CHECK(code_of(e) == "gpio");
        CHECK_THAT(e.what(),
                   Contains("GPIO17") && Contains((dev.path() / "gpiochip0").string()) && Contains("not a GPIO chip"));
    }
}

TEST_CASE("the gpiod backend reads its sensors from its sysfs root") {
    if (!berrykit::gpiod_backend_built()) {
        SUCCEED("this build has no libgpiod backend");
        return;
    }
    TempDir dev;
    fake_chip_node(dev, "gpiochip0");
    TempDir sys;
    sys.write("bus/w1/devices/28-00000a1b2c3d/w1_slave",
              "72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n");
    GpiodOptions options;
    options.dev_root = dev.path();
    options.sysfs_root = sys.path();
    const auto backend = berrykit::make_gpiod_backend(options);
    CHECK(backend->sensors().read_ds18b20("temperature", "auto") == Approx(23.125));
}
