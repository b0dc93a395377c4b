// The backend conformance suite on the libgpiod backend, under a real kernel's gpio-sim chips.
//
// It runs where gpio-sim chips exist: in the test VM (scripts/vm-test.sh, tests/vm/init), whose
// chip A has the lines GPIO0 … GPIO27 and chip B SPARE0 … SPARE3. Elsewhere it says so and exits
// with 77, which CTest reports as skipped (never as passed).
//
// The world outside the pins is gpio-sim's sysfs side: an input is driven by writing pull-up or
// pull-down to the line's sim_gpioN/pull, and what an output shows is read from sim_gpioN/value.
// Lines are found through gpio-sim's configfs tree (each line's name, each bank's chip), so the
// bench does not depend on the order the chips came up in.
//
// Besides the shared suite: a line on the second chip found by name, a line held by another
// process, and a name that no chip has.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "backend_bench.hpp"
#include "error_matchers.hpp"

#include "berrykit/backend.hpp"
#include "berrykit/error.hpp"
#include "berrykit/event_loop.hpp"
#include "berrykit/gpiod_backend.hpp"

#include <fcntl.h>
#include <linux/gpio.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace fs = std::filesystem;

namespace {

using namespace berrykit;
using namespace std::chrono_literals;

const fs::path gpio_sim_config = "/sys/kernel/config/gpio-sim";

// One gpio-sim line: its chip ("gpiochip0"), offset, and the sysfs folder of its simulator side.
struct SimLine {
    std::string chip;
    unsigned offset = 0;
    fs::path sysfs;
};

std::string read_word(const fs::path& path) {
    std::ifstream in(path);
    std::string word;
    in >> word;
    return word;
}

// Every named line of every live gpio-sim chip, by name.
std::map<std::string, SimLine> find_sim_lines() {
    std::map<std::string, SimLine> lines;
    std::error_code error;
    if (!fs::is_directory(gpio_sim_config, error)) return lines;
    for (const auto& chip : fs::directory_iterator(gpio_sim_config, error)) {
        if (read_word(chip.path() / "live") != "1") continue;
        for (const auto& bank : fs::directory_iterator(chip.path(), error)) {
            const std::string chip_name = read_word(bank.path() / "chip_name");
            if (!bank.is_directory() || chip_name.empty()) continue;
            for (const auto& line : fs::directory_iterator(bank.path(), error)) {
                const std::string folder = line.path().filename().string();
                const std::string name = read_word(line.path() / "name");
                if (folder.rfind("line", 0) != 0 || name.empty()) continue;
                const unsigned offset = static_cast<unsigned>(std::stoul(folder.substr(4)));
                lines[name] =
                    SimLine{chip_name, offset,
                            fs::path("/sys/bus/gpio/devices") / chip_name / ("sim_gpio" + std::to_string(offset))};
            }
        }
    }
    return lines;
}

const std::map<std::string, SimLine>& sim_lines() {
    static const std::map<std::string, SimLine> lines = find_sim_lines();
    return lines;
}

const SimLine& sim_line(const std::string& name) {
    const auto it = sim_lines().find(name);
    if (it == sim_lines().end()) throw std::runtime_error("no gpio-sim line called " + name);
    return it->second;
}

void write_sysfs(const fs::path& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write '" + text + "' to " + path.string());
}

// The bias the consumer asked for on a line, as the kernel reports it (GPIO uAPI v2 line info:
// works whichever libgpiod the backend was built for, and while the line is requested).
bool pulled_up(const SimLine& line) {
    const int fd = ::open(("/dev/" + line.chip).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open /dev/" + line.chip + ": " + std::strerror(errno));
    gpio_v2_line_info info{};
    info.offset = line.offset;
    const int result = ::ioctl(fd, GPIO_V2_GET_LINEINFO_IOCTL, &info);
    const int errnum = errno;
    ::close(fd);
    if (result != 0)
        throw std::runtime_error("cannot read the line info of " + line.chip + ": " + std::strerror(errnum));
    return (info.flags & GPIO_V2_LINE_FLAG_BIAS_PULL_UP) != 0;
}

conformance::LineDriver gpio_sim_driver() {
    return conformance::LineDriver{
        [](const std::string& name, bool level) {
            write_sysfs(sim_line(name).sysfs / "pull", level ? "pull-up" : "pull-down");
        },
        // Let go: the line follows the pin's own pull again (pull-down when it asked for none).
        [](const std::string& name) {
            const SimLine& line = sim_line(name);
            write_sysfs(line.sysfs / "pull", pulled_up(line) ? "pull-up" : "pull-down");
        },
        [](const std::string& name) {
            const std::string value = read_word(sim_line(name).sysfs / "value");
            if (value != "0" && value != "1") {
                throw std::runtime_error("unexpected '" + value + "' in " + sim_line(name).sysfs.string() + "/value");
            }
            return value == "1" ? 1.0 : 0.0;
        },
    };
}

// The libgpiod backend with a real clock and an event loop on its own thread, as berrykitd runs it.
struct GpiodRealClock {
    static conformance::Bench make() {
        conformance::Bench bench;
        bench.backend = make_gpiod_backend();
        // Every line starts from the same place: pulled down, as a fresh gpio-sim line is.
        for (const auto& [name, line] : sim_lines()) write_sysfs(line.sysfs / "pull", "pull-down");
        auto loop = std::make_shared<EventLoop>(bench.backend->lock(), bench.backend->scheduler());
        bench.backend->attach(*loop);
        loop->start();
        bench.keep_alive = std::move(loop);
        bench.lines = gpio_sim_driver();
        bench.advance = [](Nanos dt) { std::this_thread::sleep_for(dt); };
        return bench;
    }
};

}  // namespace

#define BERRYKIT_CONFORMANCE_BENCHES GpiodRealClock
#include "backend_conformance.hpp"

// ---- beyond the shared suite: what only a real kernel has --------------------------------------

namespace {

using berrykit::testing::IsError;

const std::string second_chip_line = "SPARE2";
const std::string second_chip_input = "SPARE1";

// Another program holding a line: a child process with a gpiod backend of its own. It claims
// the line as an output, says so through a pipe, and lets go when the parent closes its end.
class OtherProgram {
public:
    explicit OtherProgram(const std::string& line) {
        int ready[2];
        int hold[2];
        if (::pipe2(ready, O_CLOEXEC) != 0 || ::pipe2(hold, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        // Forked while this process has one thread (the suite's loops are joined between tests).
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            ::close(ready[0]);
            ::close(hold[1]);
            char status = 'x';
            try {
                auto backend = make_gpiod_backend();
                auto pin = backend->claim(backend->find_line(line), "another program's LED");
                pin->make_output(true);
                status = 'k';
                (void)!::write(ready[1], &status, 1);
                char byte;
                (void)!::read(hold[0], &byte, 1);  // until the parent closes its end
                pin->close();
            } catch (const std::exception& e) {
                std::cerr << "the other program could not hold " << line << ": " << e.what() << "\n";
                (void)!::write(ready[1], &status, 1);
            }
            ::_exit(0);
        }
        ::close(ready[1]);
        ::close(hold[0]);
        hold_ = hold[1];
        char status = 0;
        const bool told = ::read(ready[0], &status, 1) == 1;
        ::close(ready[0]);
        holding_ = told && status == 'k';
    }
    ~OtherProgram() { stop(); }
    OtherProgram(const OtherProgram&) = delete;
    OtherProgram& operator=(const OtherProgram&) = delete;

    bool holding() const noexcept { return holding_; }

    // Lets go of the line and waits for the process to end.
    void stop() {
        if (hold_ >= 0) ::close(hold_);
        hold_ = -1;
        if (pid_ > 0) {
            int status = 0;
            ::waitpid(pid_, &status, 0);
        }
        pid_ = -1;
    }

private:
    pid_t pid_ = -1;
    int hold_ = -1;
    bool holding_ = false;
};

}  // namespace

TEST_CASE("gpio-sim: a line on the second chip is found by name, and works", "[gpiod]") {
    conformance::Bench bench = GpiodRealClock::make();
    const LineInfo first = bench.backend->find_line(conformance::first_line);
    const LineInfo spare = bench.backend->find_line(second_chip_line);
    CHECK(spare.name == second_chip_line);
    CHECK(spare.chip == sim_line(second_chip_line).chip);
    CHECK(spare.offset == sim_line(second_chip_line).offset);
    CHECK(spare.chip != first.chip);
    CHECK(spare.bcm == -1);  // not a header pin: it has no BCM number

    auto led = bench.backend->claim(spare, "the LED 'spare'");
    led->make_output(true);
    CHECK(bench.lines.shown(second_chip_line) == 1.0);
    led->write(false);
    CHECK(bench.lines.shown(second_chip_line) == 0.0);

    conformance::EdgeRecorder recorder;
    bench.lines.release(second_chip_input);
    auto button = claim(bench, second_chip_input, "the button 'spare'");
    button->on_edge(recorder.handler());
    button->make_input(Bias::pull_down, Edge::rising);
    bench.lines.drive(second_chip_input, true);
    const auto events = recorder.wait_for(1, bench.patience);
    REQUIRE(events.size() == 1);
    CHECK(events[0].rising);
    CHECK(button->read());
}

TEST_CASE("gpio-sim: a line another program holds is refused, naming the line and the other program", "[gpiod]") {
    // The other program first: no bench, so no event loop thread, while it forks.
    OtherProgram other(conformance::first_line);
    REQUIRE(other.holding());

    conformance::Bench bench = GpiodRealClock::make();
    CHECK_THROWS_MATCHES(
        claim(bench, conformance::first_line, "the LED 'red'"), Error,
        IsError(ErrorCode::part_in_use, {conformance::first_line, "the LED 'red'", "used by another program"}));
    // The refusal leaves no reservation behind, and the other program's output stands.
    CHECK_FALSE(bench.backend->owner_of(conformance::first_line).has_value());
    CHECK(bench.lines.shown(conformance::first_line) == 1.0);

    // Once the other program has gone, the line is free.
    other.stop();
    auto red = claim(bench, conformance::first_line, "the LED 'red'");
    red->make_output(false);
    CHECK(bench.lines.shown(conformance::first_line) == 0.0);
}

TEST_CASE("gpio-sim: a name no chip has is an unknown part, named in the error", "[gpiod]") {
    conformance::Bench bench = GpiodRealClock::make();
    const std::string name = GENERATE(as<std::string>{}, "SPARE9", "GPIO28", "BUTTON");
    CHECK_THROWS_MATCHES(bench.backend->find_line(name), Error,
                         IsError(ErrorCode::unknown_part, {"no line called '" + name + "'"}));
}

// ---- main: run only where gpio-sim is -----------------------------------------------------------

int main(int argc, char* argv[]) {
    constexpr int skipped = 77;  // SKIP_RETURN_CODE in tests/CMakeLists.txt
    Catch::Session session;
    if (const int error = session.applyCommandLine(argc, argv); error != 0) return error;
    const auto& config = session.configData();
    const bool only_listing = config.listTests || config.listTestNamesOnly || config.listTags || config.showHelp;
    if (!only_listing) {
        if (!gpiod_backend_built()) {
            std::cout << "test_gpiod_conformance: skipped: this build has no libgpiod backend\n";
            return skipped;
        }
        if (sim_lines().empty()) {
            std::cout << "test_gpiod_conformance: skipped: no gpio-sim chip here (" << gpio_sim_config.string()
                      << " has none); run it in the test VM: scripts/vm-test.sh " << argv[0] << "\n";
            return skipped;
        }
        for (const std::string& needed : {conformance::first_line, conformance::second_line, conformance::third_line,
                                          second_chip_line, second_chip_input}) {
            if (!sim_lines().count(needed)) {
                std::cout << "test_gpiod_conformance: the gpio-sim chips here have no line called " << needed
                          << " (tests/vm/init makes GPIO0 … GPIO27 and SPARE0 … SPARE3)\n";
                return 1;
            }
        }
    }
    return session.run();
}
