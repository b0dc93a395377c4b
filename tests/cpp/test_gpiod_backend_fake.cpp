// The libgpiod 1.x backend's own logic against a stand-in for libgpiod's C API: which requests it
// makes (flags, initial levels, consumer), when it releases and re-requests, how edges travel from
// the event fd through the EventLoop with the kernel's timestamps, and how failures are reported.
//
// The stand-in is this file's own definitions of the gpiod_* functions the backend calls: the
// linker takes them before libgpiod.so's, for this executable only. That is why these tests are
// not in test_gpiod_backend.cpp, which runs the real libgpiod. This is a unit test of one layer;
// the proof that the backend drives a kernel GPIO chip is the VM test with gpio-sim.
#include "berrykit/backend.hpp"
#include "berrykit/error.hpp"
#include "berrykit/event_loop.hpp"
#include "berrykit/gpiod_backend.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include "error_matchers.hpp"

#ifndef BERRYKIT_EXPECTED_GPIOD_API
#error "tests/CMakeLists.txt sets BERRYKIT_EXPECTED_GPIOD_API"
#endif

#if BERRYKIT_EXPECTED_GPIOD_API == 1

#include <fcntl.h>
#include <gpiod.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fake {

// One request the backend made, as the kernel would see it.
struct Request {
    int type = 0;
    int flags = 0;
    int value = 0;
    std::string consumer;
};

struct Line {
    std::string name;
    int level = 0;                 // the line's level: driven by an output, or by the outside world
    bool held_by_other = false;    // another program holds it: requests fail with EBUSY
    int refused_flags = 0;         // requests with any of these flags fail with EINVAL
    int value_errno = 0;           // get/set value fail with this
    int events_errno = 0;          // reading events fails with this
    gpiod_line* holder = nullptr;  // the handle that holds the request
    Request current;
    std::vector<Request> history;
    int event_read_fd = -1;
    int event_write_fd = -1;
};

struct Chip {
    std::vector<Line> lines;
    int open_errno = 0;
    int opens = 0;
    int open_handles = 0;
};

struct World {
    std::mutex lock;
    std::map<std::string, Chip> chips;  // by device path
    int empty_event_reads = 0;          // reads of an event fd that had nothing: a stale watch
};

World world;

Line& line(const std::string& chip_path, const std::string& name) {
    for (auto& l : world.chips.at(chip_path).lines) {
        if (l.name == name) return l;
    }
    throw std::logic_error("the fake has no line " + name);
}

void close_events(Line& l) {
    if (l.event_read_fd >= 0) ::close(l.event_read_fd);
    if (l.event_write_fd >= 0) ::close(l.event_write_fd);
    l.event_read_fd = l.event_write_fd = -1;
}

}  // namespace fake

struct gpiod_line {
    fake::Line* line;
    unsigned offset;
};

struct gpiod_chip {
    fake::Chip* chip;
    std::vector<std::unique_ptr<gpiod_line>> lines;
};

namespace {

void release_locked(gpiod_line* handle) {
    fake::Line& l = *handle->line;
    if (l.holder != handle) return;
    fake::close_events(l);
    l.holder = nullptr;
}

}  // namespace

extern "C" {

struct gpiod_chip* gpiod_chip_open(const char* path) {
    std::lock_guard guard(fake::world.lock);
    const auto it = fake::world.chips.find(path);
    if (it == fake::world.chips.end()) {
        errno = ENOENT;
        return nullptr;
    }
    fake::Chip& chip = it->second;
    ++chip.opens;
    if (chip.open_errno) {
        errno = chip.open_errno;
        return nullptr;
    }
    auto* handle = new gpiod_chip{&chip, {}};
    for (unsigned i = 0; i < chip.lines.size(); ++i) {
        handle->lines.push_back(std::make_unique<gpiod_line>(gpiod_line{&chip.lines[i], i}));
    }
    ++chip.open_handles;
    return handle;
}

void gpiod_chip_close(struct gpiod_chip* chip) {
    std::lock_guard guard(fake::world.lock);
    for (auto& handle : chip->lines) release_locked(handle.get());  // as closing the chip fd does
    --chip->chip->open_handles;
    delete chip;
}

struct gpiod_line* gpiod_chip_find_line(struct gpiod_chip* chip, const char* name) {
    std::lock_guard guard(fake::world.lock);
    for (auto& handle : chip->lines) {
        if (handle->line->name == name) return handle.get();
    }
    errno = ENOENT;
    return nullptr;
}

unsigned int gpiod_line_offset(struct gpiod_line* line) { return line->offset; }

int gpiod_line_request(struct gpiod_line* handle, const struct gpiod_line_request_config* config, int default_val) {
    std::lock_guard guard(fake::world.lock);
    fake::Line& l = *handle->line;
    if (l.holder || l.held_by_other) {
        errno = EBUSY;
        return -1;
    }
    if (config->flags & l.refused_flags) {
        errno = EINVAL;
        return -1;
    }
    l.holder = handle;
    l.current = fake::Request{config->request_type, config->flags, default_val, config->consumer};
    l.history.push_back(l.current);
    if (config->request_type == GPIOD_LINE_REQUEST_DIRECTION_OUTPUT) l.level = default_val;
    if (config->request_type == GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
        // A number no earlier request had (the kernel would often reuse one): a watch left on
        // an old request's fd then misses the new request's edges, as it can on a real Pi.
        static int next_fd = 100;
        l.event_read_fd = ::fcntl(fds[0], F_DUPFD_CLOEXEC, next_fd);
        next_fd = l.event_read_fd + 1 > 900 ? 100 : l.event_read_fd + 1;
        ::close(fds[0]);
        l.event_write_fd = fds[1];
    }
    return 0;
}

void gpiod_line_release(struct gpiod_line* line) {
    std::lock_guard guard(fake::world.lock);
    release_locked(line);
}

int gpiod_line_get_value(struct gpiod_line* line) {
    std::lock_guard guard(fake::world.lock);
    fake::Line& l = *line->line;
    if (l.holder != line) {
        errno = EPERM;
        return -1;
    }
    if (l.value_errno) {
        errno = l.value_errno;
        return -1;
    }
    return l.level;
}

int gpiod_line_set_value(struct gpiod_line* line, int value) {
    std::lock_guard guard(fake::world.lock);
    fake::Line& l = *line->line;
    if (l.holder != line || l.current.type != GPIOD_LINE_REQUEST_DIRECTION_OUTPUT) {
        errno = EPERM;
        return -1;
    }
    if (l.value_errno) {
        errno = l.value_errno;
        return -1;
    }
    l.level = value;
    return 0;
}

int gpiod_line_event_get_fd(struct gpiod_line* line) {
    std::lock_guard guard(fake::world.lock);
    fake::Line& l = *line->line;
    if (l.holder != line || l.event_read_fd < 0) {
        errno = EPERM;
        return -1;
    }
    return l.event_read_fd;
}

int gpiod_line_event_read_fd_multiple(int fd, struct gpiod_line_event* events, unsigned int num_events) {
    std::lock_guard guard(fake::world.lock);
    for (auto& [path, chip] : fake::world.chips) {
        for (auto& l : chip.lines) {
            if (l.event_read_fd != fd || fd < 0) continue;
            if (l.events_errno) {
                errno = l.events_errno;
                return -1;
            }
            const ssize_t n = ::read(fd, events, num_events * sizeof(gpiod_line_event));
            if (n < 0) {
                if (errno == EAGAIN) ++fake::world.empty_event_reads;
                return -1;
            }
            return static_cast<int>(static_cast<std::size_t>(n) / sizeof(gpiod_line_event));
        }
    }
    ++fake::world.empty_event_reads;  // an fd no line has: a watch that outlived its request
    errno = EBADF;
    return -1;
}

}  // extern "C"

namespace {

using berrykit::Bias;
using berrykit::Edge;
using berrykit::EdgeEvent;
using berrykit::Error;
using berrykit::Nanos;
using berrykit::Pin;
using berrykit::test::TempDir;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;
using berrykit::testing::code_of;
using berrykit::testing::error_from;
using namespace std::chrono_literals;

constexpr int both_edges = GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES;
constexpr int output = GPIOD_LINE_REQUEST_DIRECTION_OUTPUT;
constexpr int input = GPIOD_LINE_REQUEST_DIRECTION_INPUT;
constexpr int as_is = GPIOD_LINE_REQUEST_DIRECTION_AS_IS;
constexpr int pull_up = static_cast<int>(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP);
constexpr int pull_down = static_cast<int>(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN);
constexpr int bias_disable = static_cast<int>(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE);

fake::Line named(std::string name) {
    fake::Line line;
    line.name = std::move(name);
    return line;
}

// A /dev with two chips, as a Pi 5 has: gpiochip0 with a few named lines and no GPIO17,
// gpiochip1 with the header's GPIO0…GPIO27 at offsets 0…27. The device nodes are character
// devices (links to /dev/null) so chip discovery finds them; the stand-in libgpiod answers for
// their paths.
struct FakeBoard {
    TempDir dev;
    std::string chip0 = (dev.path() / "gpiochip0").string();
    std::string chip1 = (dev.path() / "gpiochip1").string();

    FakeBoard() {
        fs::create_symlink("/dev/null", chip0);
        fs::create_symlink("/dev/null", chip1);
        std::lock_guard guard(fake::world.lock);
        fake::world.chips.clear();
        fake::world.empty_event_reads = 0;
        for (const char* name : {"ID_SDA", "ID_SCL", "LED_ACT"}) fake::world.chips[chip0].lines.push_back(named(name));
        for (int bcm = 0; bcm < 28; ++bcm)
            fake::world.chips[chip1].lines.push_back(named("GPIO" + std::to_string(bcm)));
    }
    ~FakeBoard() {
        std::lock_guard guard(fake::world.lock);
        for (auto& [path, chip] : fake::world.chips) {
            for (auto& l : chip.lines) fake::close_events(l);
        }
        fake::world.chips.clear();
    }

    std::unique_ptr<berrykit::Backend> backend() const {
        berrykit::GpiodOptions options;
        options.dev_root = dev.path();
        options.consumer = "berrykit-test";
        return berrykit::make_gpiod_backend(options);
    }

    // Reads the stand-in's state under its lock.
    template <typename Look>
    auto look(const std::string& chip, const std::string& name, Look&& look_at) const {
        std::lock_guard guard(fake::world.lock);
        return look_at(fake::line(chip, name));
    }
    fake::Request current(const std::string& name) const {
        return look(chip1, name, [](fake::Line& l) { return l.current; });
    }
    bool held(const std::string& name) const {
        return look(chip1, name, [](fake::Line& l) { return l.holder != nullptr; });
    }
    int level(const std::string& name) const {
        return look(chip1, name, [](fake::Line& l) { return l.level; });
    }
    void set_level(const std::string& name, int level) const {
        look(chip1, name, [&](fake::Line& l) {
            l.level = level;
            return 0;
        });
    }
    // The kernel reports an edge on the line: its level changes and an event is queued.
    void edge(const std::string& name, bool rising, Nanos when) const {
        look(chip1, name, [&](fake::Line& l) {
            l.level = rising ? 1 : 0;
            REQUIRE(l.event_write_fd >= 0);
            gpiod_line_event event{};
            event.ts.tv_sec = static_cast<time_t>(when.count() / 1'000'000'000);
            event.ts.tv_nsec = static_cast<long>(when.count() % 1'000'000'000);
            event.event_type = rising ? GPIOD_LINE_EVENT_RISING_EDGE : GPIOD_LINE_EVENT_FALLING_EDGE;
            REQUIRE(::write(l.event_write_fd, &event, sizeof event) == static_cast<ssize_t>(sizeof event));
            return 0;
        });
    }
    fake::Chip chip_state(const std::string& chip) const {
        std::lock_guard guard(fake::world.lock);
        return fake::world.chips.at(chip);
    }
    int empty_event_reads() const {
        std::lock_guard guard(fake::world.lock);
        return fake::world.empty_event_reads;
    }
};

// Edges a handler saw, waited for from the test's thread.
class EdgeLog {
public:
    Pin::EdgeHandler handler() {
        return [this](const EdgeEvent& event) {
            std::lock_guard guard(lock_);
            edges_.push_back(event);
            changed_.notify_all();
        };
    }
    // Waits (up to a generous limit; the edges normally arrive in microseconds) for `count`.
    bool wait_for(std::size_t count) {
        std::unique_lock guard(lock_);
        return changed_.wait_for(guard, 5s, [&] { return edges_.size() >= count; });
    }
    std::vector<EdgeEvent> edges() {
        std::lock_guard guard(lock_);
        return edges_;
    }

private:
    std::mutex lock_;
    std::condition_variable changed_;
    std::vector<EdgeEvent> edges_;
};

// The loop that watches the backend's line fds, on its own thread.
struct RunningLoop {
    berrykit::EventLoop loop;
    std::mutex errors_lock;
    std::vector<std::string> errors;

    explicit RunningLoop(berrykit::Backend& backend, bool attach = true) : loop(backend.lock(), backend.scheduler()) {
        loop.set_error_handler([this](const std::string& message) {
            std::lock_guard guard(errors_lock);
            errors.push_back(message);
        });
        if (attach) backend.attach(loop);
        loop.start();
    }
    ~RunningLoop() { loop.stop(); }
    std::vector<std::string> reported() {
        std::lock_guard guard(errors_lock);
        return errors;
    }
};

}  // namespace

// ---- finding lines ---------------------------------------------------------------------------

TEST_CASE("a line is found by name on whichever chip has it, with its BCM number") {
    FakeBoard board;
    const auto backend = board.backend();
    CHECK(backend->kind() == "gpiod");
    const auto gpio17 = backend->find_line("GPIO17");
    CHECK(gpio17.name == "GPIO17");
    CHECK(gpio17.chip == "gpiochip1");
    CHECK(gpio17.offset == 17);
    CHECK(gpio17.bcm == 17);
    CHECK(backend->find_line(4).name == "GPIO4");
    const auto id_sda = backend->find_line("ID_SDA");
    CHECK(id_sda.chip == "gpiochip0");
    CHECK(id_sda.bcm == -1);
}

TEST_CASE("a line no chip has is an unknown part") {
    FakeBoard board;
    const auto backend = board.backend();
    CHECK(code_of(error_from([&] { backend->find_line("GPIO99"); })) == "unknown_part");
    CHECK(code_of(error_from([&] { backend->find_line("red"); })) == "unknown_part");
}

TEST_CASE("a line found once is remembered, not searched for on every chip again") {
    FakeBoard board;
    const auto backend = board.backend();
    backend->find_line("GPIO17");
    const int opens = board.chip_state(board.chip1).opens;
    backend->find_line("GPIO17");
    backend->find_line(17);
    CHECK(board.chip_state(board.chip1).opens == opens);
}

TEST_CASE("a chip this user may not open is reported with what to do, not as 'no such line'") {
    FakeBoard board;
    {
        std::lock_guard guard(fake::world.lock);
        fake::world.chips[board.chip1].open_errno = EACCES;
    }
    const auto backend = board.backend();
    const Error e = error_from([&] { backend->find_line("GPIO17"); });
    CHECK(code_of(e) == "gpio");
    CHECK_THAT(e.what(), Contains("GPIO17") && Contains(board.chip1) && Contains("'gpio' group"));
    // A line on a chip that does open is still found.
    CHECK(backend->find_line("LED_ACT").chip == "gpiochip0");
}

TEST_CASE("a line is found again when the chips were renumbered after it was looked up") {
    FakeBoard board;
    const auto backend = board.backend();
    const auto looked_up = backend->find_line("GPIO17");
    {
        std::lock_guard guard(fake::world.lock);
        std::swap(fake::world.chips[board.chip0].lines, fake::world.chips[board.chip1].lines);
    }
    const auto pin = backend->claim(looked_up, "the LED 'red'");
    CHECK(pin->line().chip == "gpiochip0");
    CHECK(pin->line().offset == 17);
    CHECK(board.look(board.chip0, "GPIO17", [](fake::Line& l) { return l.holder != nullptr; }));
}

// ---- requests --------------------------------------------------------------------------------

TEST_CASE("claiming takes the line at once, as it is, under the consumer's name") {
    FakeBoard board;
    board.set_level("GPIO17", 1);
    const auto backend = board.backend();
    const auto pin = backend->claim(backend->find_line("GPIO17"), "the LED 'red'");
    CHECK(board.held("GPIO17"));
    CHECK(board.current("GPIO17").type == as_is);
    CHECK(board.current("GPIO17").consumer == "berrykit-test");
    CHECK(board.level("GPIO17") == 1);  // unchanged until the device configures it
    CHECK(pin->read());
}

TEST_CASE("an output is requested with its initial level in one step, then switched") {
    FakeBoard board;
    const auto backend = board.backend();
    const auto pin = backend->claim(backend->find_line("GPIO17"), "the LED 'red'");
    pin->make_output(true);
    const auto request = board.current("GPIO17");
    CHECK(request.type == output);
    CHECK(request.value == 1);
    CHECK(request.flags == 0);
    CHECK(board.level("GPIO17") == 1);
    pin->write(false);
    CHECK(board.level("GPIO17") == 0);
    CHECK_FALSE(pin->read());
}

TEST_CASE("an input is requested with its bias, and reads the line") {
    const auto [bias, flags] = GENERATE(std::pair{Bias::pull_up, pull_up}, std::pair{Bias::pull_down, pull_down},
                                        std::pair{Bias::none, bias_disable});
    FakeBoard board;
    const auto backend = board.backend();
    const auto pin = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    pin->make_input(bias);
    CHECK(board.current("GPIO4").type == input);
    CHECK(board.current("GPIO4").flags == flags);
    board.set_level("GPIO4", 1);
    CHECK(pin->read());
    board.set_level("GPIO4", 0);
    CHECK_FALSE(pin->read());
}

TEST_CASE("a line another program holds is reported by claim, and the reservation is undone") {
    FakeBoard board;
    board.look(board.chip1, "GPIO17", [](fake::Line& l) { return l.held_by_other = true; });
    const auto backend = board.backend();
    const auto line = backend->find_line("GPIO17");
    const Error e = error_from([&] { backend->claim(line, "the LED 'red'"); });
    CHECK(code_of(e) == "part_in_use");
    CHECK(std::string(e.what()) ==
          "GPIO17 (the LED 'red') is already used by another program: stop the other program (or the berrykit "
          "daemon) and try again");
    CHECK_FALSE(backend->owner_of("GPIO17"));

    board.look(board.chip1, "GPIO17", [](fake::Line& l) { return l.held_by_other = false; });
    const auto pin = backend->claim(line, "the LED 'red'");
    CHECK(board.held("GPIO17"));
}

TEST_CASE("a change the chip refuses names the request and leaves the line as it was") {
    FakeBoard board;
    board.look(board.chip1, "GPIO4", [](fake::Line& l) { return l.refused_flags = pull_down; });
    const auto backend = board.backend();
    const auto pin = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    pin->make_output(true);
    const Error e = error_from([&] { pin->make_input(Bias::pull_down); });
    CHECK(code_of(e) == "gpio");
    CHECK_THAT(e.what(), Contains("GPIO4 (the button 'go'): could not claim it as an input with pull-down") &&
                             Contains("said no"));
    CHECK(board.held("GPIO4"));
    CHECK(board.current("GPIO4").type == output);
    CHECK(board.level("GPIO4") == 1);
    CHECK(pin->is_output());
    pin->write(false);
    CHECK(board.level("GPIO4") == 0);
}

TEST_CASE("a pin whose line was taken during a refused change says so on its next use") {
    FakeBoard board;
    const auto backend = board.backend();
    const auto pin = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    pin->make_output(false);
    // The chip refuses the change, and another program takes the line while it is let go.
    board.look(board.chip1, "GPIO4", [](fake::Line& l) {
        l.refused_flags = pull_up;
        return 0;
    });
    {
        std::lock_guard guard(fake::world.lock);
        fake::line(board.chip1, "GPIO4").held_by_other = true;
    }
    CHECK_THROWS_AS(pin->make_input(Bias::pull_up), Error);
    const Error e = error_from([&] { pin->write(true); });
    CHECK(code_of(e) == "gpio");
    CHECK_THAT(e.what(), Contains("GPIO4 (the button 'go')") && Contains("open it again"));
}

TEST_CASE("a read when the chip went away says so, naming the part") {
    FakeBoard board;
    const auto backend = board.backend();
    const auto pin = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    pin->make_input(Bias::pull_up);
    board.look(board.chip1, "GPIO4", [](fake::Line& l) { return l.value_errno = ENODEV; });
    const Error e = error_from([&] { pin->read(); });
    CHECK(code_of(e) == "gpio");
    CHECK_THAT(e.what(), Contains("GPIO4 (the button 'go'): could not read it") && Contains("went away"));
}

TEST_CASE("closing releases the line and the chip, once, and the pin cannot be used afterwards") {
    FakeBoard board;
    const auto backend = board.backend();
    const auto line = backend->find_line("GPIO17");
    auto pin = backend->claim(line, "the LED 'red'");
    pin->make_output(true);
    pin->close();
    pin->close();
    CHECK_FALSE(board.held("GPIO17"));
    CHECK(board.chip_state(board.chip1).open_handles == 0);
    CHECK(code_of(error_from([&] { pin->write(false); })) == "closed");
    const auto again = backend->claim(line, "the LED 'blue'");
    CHECK(board.held("GPIO17"));
}

// ---- edges -----------------------------------------------------------------------------------

TEST_CASE("edges come from the line's event fd through the loop, with the kernel's timestamps") {
    FakeBoard board;
    board.set_level("GPIO4", 1);
    const auto backend = board.backend();
    RunningLoop running(*backend);
    const auto pin = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    EdgeLog log;
    pin->on_edge(log.handler());
    pin->make_input(Bias::pull_up, Edge::both);
    CHECK(board.current("GPIO4").type == both_edges);
    CHECK(board.current("GPIO4").flags == pull_up);

    board.edge("GPIO4", false, 12s + 500ms);
    board.edge("GPIO4", true, 12s + 750ms + 3ns);
    REQUIRE(log.wait_for(2));
    const auto edges = log.edges();
    REQUIRE(edges.size() == 2);
    CHECK_FALSE(edges[0].rising);
    CHECK(edges[0].time == 12s + 500ms);
    CHECK(edges[1].rising);
    CHECK(edges[1].time == 12s + 750ms + 3ns);
    CHECK(running.reported().empty());
}

TEST_CASE("both edges are requested even when one is wanted, and the pin reports only that one") {
    FakeBoard board;
    board.set_level("GPIO4", 1);
    const auto backend = board.backend();
    RunningLoop running(*backend);
    const auto pin = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    EdgeLog log;
    pin->on_edge(log.handler());
    pin->make_input(Bias::pull_up, Edge::falling);
    CHECK(board.current("GPIO4").type == both_edges);

    board.edge("GPIO4", false, 1s);
    board.edge("GPIO4", true, 2s);
    board.edge("GPIO4", false, 3s);
    REQUIRE(log.wait_for(2));
    const auto edges = log.edges();
    REQUIRE(edges.size() == 2);
    CHECK(edges[0].time == 1s);
    CHECK(edges[1].time == 3s);
}

TEST_CASE("edges requested before the loop is attached are watched once it is") {
    FakeBoard board;
    const auto backend = board.backend();
    RunningLoop running(*backend, false);  // made first: it must outlive the pins it watches
    const auto pin = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    EdgeLog log;
    pin->on_edge(log.handler());
    pin->make_input(Bias::pull_down, Edge::rising);
    board.edge("GPIO4", true, 5s);  // waits in the kernel's queue

    backend->attach(running.loop);
    REQUIRE(log.wait_for(1));
    CHECK(log.edges().front().time == 5s);
}

TEST_CASE("a light sensor's switch from output to input with edges re-requests the line and gets edges") {
    FakeBoard board;
    const auto backend = board.backend();
    RunningLoop running(*backend);
    const auto pin = backend->claim(backend->find_line("GPIO18"), "the light sensor 'eye'");
    EdgeLog log;
    pin->on_edge(log.handler());
    for (int cycle = 0; cycle < 3; ++cycle) {
        pin->make_output(false);  // empty the capacitor
        CHECK(board.current("GPIO18").type == output);
        pin->make_input(Bias::none, Edge::rising);  // time its charging
        CHECK(board.current("GPIO18").type == both_edges);
        board.edge("GPIO18", true, std::chrono::seconds(10 + cycle));
        REQUIRE(log.wait_for(static_cast<std::size_t>(cycle) + 1));
    }
    CHECK(log.edges().back().time == 12s);
    const auto history = board.look(board.chip1, "GPIO18", [](fake::Line& l) { return l.history; });
    REQUIRE(history.size() == 7);
    CHECK(history[0].type == as_is);
    // Each old request's fd was unwatched: no watch read an fd that had nothing for it.
    CHECK(board.empty_event_reads() == 0);
    CHECK(running.reported().empty());
}

TEST_CASE("a handler that closes its pin ends the reading of the events after it") {
    FakeBoard board;
    const auto backend = board.backend();
    RunningLoop running(*backend);
    std::unique_ptr<Pin> pin = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    EdgeLog log;
    const auto record = log.handler();
    Pin* raw = pin.get();
    pin->on_edge([&record, raw](const EdgeEvent& event) {
        record(event);
        raw->close();
    });
    pin->make_input(Bias::pull_down, Edge::both);
    // Three edges queued before the loop reads any of them.
    {
        std::lock_guard guard(backend->lock());
        board.edge("GPIO4", true, 1s);
        board.edge("GPIO4", false, 2s);
        board.edge("GPIO4", true, 3s);
    }
    REQUIRE(log.wait_for(1));
    // The loop's next turn would report a late second edge; wait for one more event elsewhere.
    const auto other = backend->claim(backend->find_line("GPIO5"), "the button 'stop'");
    EdgeLog other_log;
    other->on_edge(other_log.handler());
    other->make_input(Bias::pull_down, Edge::both);
    board.edge("GPIO5", true, 4s);
    REQUIRE(other_log.wait_for(1));
    CHECK(log.edges().size() == 1);
    CHECK(pin->is_closed());
    CHECK_FALSE(board.held("GPIO4"));
    CHECK(running.reported().empty());
}

TEST_CASE("a handler that reconfigures its pin gets no edges from the old request") {
    FakeBoard board;
    const auto backend = board.backend();
    RunningLoop running(*backend);
    const auto pin = backend->claim(backend->find_line("GPIO18"), "the light sensor 'eye'");
    EdgeLog log;
    const auto record = log.handler();
    Pin* raw = pin.get();
    // As a light sensor does: the first rising edge ends the timing; the capacitor is emptied
    // and the timing starts again.
    pin->on_edge([&record, raw](const EdgeEvent& event) {
        record(event);
        raw->make_output(false);
        raw->make_input(Bias::none, Edge::both);
    });
    pin->make_input(Bias::none, Edge::both);
    {
        std::lock_guard guard(backend->lock());
        board.edge("GPIO18", true, 1s);
        board.edge("GPIO18", false, 2s);
        board.edge("GPIO18", true, 3s);
    }
    REQUIRE(log.wait_for(1));
    // Let the loop finish its turn: another line's edge comes after it.
    const auto other = backend->claim(backend->find_line("GPIO5"), "the button 'stop'");
    EdgeLog other_log;
    other->on_edge(other_log.handler());
    other->make_input(Bias::pull_down, Edge::both);
    board.edge("GPIO5", true, 4s);
    REQUIRE(other_log.wait_for(1));
    CHECK(log.edges().size() == 1);
    CHECK(board.current("GPIO18").type == both_edges);
    CHECK(running.reported().empty());
}

TEST_CASE("a burst of edges larger than one read is delivered in full, and the loop goes on") {
    FakeBoard board;
    const auto backend = board.backend();
    RunningLoop running(*backend);
    const auto busy = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    EdgeLog log;
    busy->on_edge(log.handler());
    busy->make_input(Bias::pull_down, Edge::both);
    const auto other = backend->claim(backend->find_line("GPIO5"), "the button 'stop'");
    EdgeLog other_log;
    other->on_edge(other_log.handler());
    other->make_input(Bias::pull_down, Edge::both);

    // Sixteen edges fill one read exactly (a bouncing switch), and a seventeenth starts another.
    const int burst = GENERATE(16, 17, 40);
    {
        std::lock_guard guard(backend->lock());
        for (int i = 0; i < burst; ++i) board.edge("GPIO4", i % 2 == 0, std::chrono::milliseconds(i));
    }
    REQUIRE(log.wait_for(static_cast<std::size_t>(burst)));
    board.edge("GPIO5", true, 1s);
    const bool loop_went_on = other_log.wait_for(1);
    if (!loop_went_on) board.edge("GPIO4", burst % 2 == 0, 2s);  // frees a loop stuck reading, so the test can end
    CHECK(loop_went_on);
    const auto edges = log.edges();
    CHECK(edges.size() == static_cast<std::size_t>(burst));
    CHECK(edges.back().time == std::chrono::milliseconds(burst - 1));
}

TEST_CASE("a broken event fd is reported once, naming the part, and no longer watched") {
    FakeBoard board;
    const auto backend = board.backend();
    RunningLoop running(*backend);
    const auto broken = backend->claim(backend->find_line("GPIO4"), "the button 'go'");
    broken->make_input(Bias::pull_down, Edge::both);
    const auto working = backend->claim(backend->find_line("GPIO5"), "the button 'stop'");
    EdgeLog log;
    working->on_edge(log.handler());
    working->make_input(Bias::pull_down, Edge::both);

    board.look(board.chip1, "GPIO4", [](fake::Line& l) { return l.events_errno = ENODEV; });
    board.edge("GPIO4", true, 1s);  // readable from now on: a loop still watching it would spin
    // Two turns of the loop later the working line's edge is through; a spinning watch would
    // have reported its error again on each.
    board.edge("GPIO5", true, 2s);
    REQUIRE(log.wait_for(1));
    board.edge("GPIO5", false, 3s);
    REQUIRE(log.wait_for(2));
    const auto reported = running.reported();
    REQUIRE(reported.size() == 1);
    CHECK_THAT(reported.front(),
               Contains("GPIO4 (the button 'go'): could not read its edges") && Contains("went away"));
}

#else

// The 2.x backend goes through libgpiodcxx, which calls some forty functions of libgpiod 2.x's C
// API on opaque objects (settings, configs, buffers): a stand-in for all of them would be a
// second libgpiod to keep right. Its proof is the conformance suite under a real kernel (VM).
TEST_CASE("the libgpiod 1.x backend's logic is not tested: this build has no libgpiod 1.x backend") { SUCCEED(); }

#endif
