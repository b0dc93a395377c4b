// The classroom page (daemon/include/berrykit/daemon/web.hpp): its HTTP API on 127.0.0.1, talked to
// with cpp-httplib's client, in front of berrykitd's server on the simulated board, whose event
// loop runs on its own thread; programs reach the same server through its Unix socket.
#include "berrykit/daemon/web.hpp"

#include <httplib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "berrykit/daemon/server.hpp"
#include "berrykit/error.hpp"
#include "berrykit/gpiod_backend.hpp"
#include "berrykit/kit.hpp"
#include "error_matchers.hpp"
#include "line_client.hpp"
#include "sim_daemon.hpp"
#include "temp_dir.hpp"

using berrykit::Error;
using berrykit::ErrorCode;
using berrykit::Kit;
using berrykit::KitOptions;
using berrykit::daemon::Server;
using berrykit::daemon::ServerOptions;
using berrykit::daemon::WebOptions;
using berrykit::daemon::WebView;
using berrykit::testing::error_from;
using nlohmann::json;
using Daemon = berrykit::testing::SimDaemon;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using SteadyClock = std::chrono::steady_clock;

// Asks `ready` again and again until it says yes or `timeout` passes; returns its last answer.
bool eventually(const std::function<bool()>& ready, std::chrono::milliseconds timeout = 2s) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
        if (ready()) return true;
        if (SteadyClock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
}

using Client = berrykit::test::LineClient;

WebOptions any_port(std::size_t max_pages = 32) {
    WebOptions options;
    options.port = 0;
    options.max_pages = max_pages;
    return options;
}

// Stops the page, giving up after `timeout`: a stop() that never returns fails the test instead of
// hanging it (the thread stuck in it is left behind, with the page it holds).
bool stop_within(const std::shared_ptr<WebView>& web, std::chrono::seconds timeout) {
    auto done = std::make_shared<std::promise<void>>();
    auto stopped = done->get_future();
    std::thread stopper([web, done] {
        web->stop();
        done->set_value();
    });
    if (stopped.wait_for(timeout) != std::future_status::ready) {
        stopper.detach();
        return false;
    }
    stopper.join();
    return true;
}

// Starts the page on the kit's loop thread, as web.hpp asks once the loop runs; rethrows what it threw.
// The error is copied on the loop's thread and thrown again here: an exception_ptr handed from
// one thread to another is freed inside libstdc++, where ThreadSanitizer cannot see it ordered.
void start_on_loop(Kit& kit, WebView& web) {
    std::promise<std::optional<Error>> started;
    kit.loop()->post([&] {
        try {
            web.start();
            started.set_value(std::nullopt);
        } catch (const Error& e) {
            started.set_value(e);
        }
    });
    if (const std::optional<Error> error = started.get_future().get()) throw *error;
}

// berrykitd on the simulated board with its classroom page, as main starts them: the page is the
// server's watcher before the server starts, and starts after it.
struct Classroom {
    std::shared_ptr<WebView> web;  // before `daemon`: the daemon's start-up hook makes it
    Daemon daemon;

    explicit Classroom(WebOptions options = any_port(), ServerOptions server_options = {})
        : daemon(std::move(server_options), [this, options](Server& server) {
              web = std::make_shared<WebView>(daemon.kit, server, options);
              server.set_watcher(web);
          }) {
        start_on_loop(*daemon.kit, *web);
    }
    ~Classroom() {
        if (!stop_within(web, 10s)) FAIL_CHECK("WebView::stop() has not returned after 10 s");
    }
    Classroom(const Classroom&) = delete;
    Classroom& operator=(const Classroom&) = delete;

    unsigned port() const { return web->port(); }
};

// ---- HTTP --------------------------------------------------------------------------------------

struct Reply {
    int status = 0;
    std::string type;  // Content-Type
    std::string text;
    json body;  // the text as JSON, or discarded
};

httplib::Client http_client(unsigned port) {
    httplib::Client client("127.0.0.1", static_cast<int>(port));
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(10, 0);
    client.set_write_timeout(10, 0);
    return client;
}

Reply reply_of(const httplib::Result& result) {
    INFO("the HTTP request failed: " << httplib::to_string(result.error()));
    REQUIRE(result);
    Reply reply;
    reply.status = result->status;
    reply.type = result->get_header_value("Content-Type");
    reply.text = result->body;
    reply.body = json::parse(result->body, nullptr, false);
    return reply;
}

Reply get(unsigned port, const std::string& path, const httplib::Headers& headers = {}) {
    auto client = http_client(port);
    return reply_of(client.Get(path, headers));
}

Reply post(unsigned port, const std::string& path, const std::string& body,
           const std::string& content_type = "application/json", const httplib::Headers& headers = {}) {
    auto client = http_client(port);
    return reply_of(client.Post(path, headers, body, content_type));
}

Reply post(unsigned port, const std::string& path, const json& body) { return post(port, path, body.dump()); }

json board(unsigned port) {
    Reply reply = get(port, "/api/board");
    REQUIRE(reply.status == 200);
    REQUIRE(reply.body.is_object());
    return reply.body;
}

// A part as a message shows it: from the list of a whole picture, or from the "parts" object of a
// change; null if the message does not mention it.
json part_in(const json& message, const std::string& name) {
    const auto parts = message.find("parts");
    if (parts == message.end()) return nullptr;
    if (parts->is_array()) {
        for (const json& part : *parts) {
            if (part.value("name", "") == name) return part;
        }
        return nullptr;
    }
    return parts->value(name, json(nullptr));
}

json board_part(unsigned port, const std::string& name) {
    const json part = part_in(board(port), name);
    REQUIRE_FALSE(part.is_null());
    return part;
}

// What a part looks like to the page, without what the world changes by itself (the light and
// distance sensors' measurements): its state, owner and sliders.
json looks(const json& part) {
    return json{{"state", part.value("state", json(nullptr))},
                {"owner", part.value("owner", json(nullptr))},
                {"controls", part.value("controls", json(nullptr))}};
}

double control_value(const json& part, const std::string& quantity) {
    for (const json& control : part.at("controls")) {
        if (control.at("quantity") == quantity) return control.at("value").get<double>();
    }
    FAIL("'" << part.value("name", "") << "' has no " << quantity << " slider: " << part.dump());
    return 0;
}

bool logged(const json& picture, const std::string& part, const std::string& text) {
    for (const json& entry : picture.at("log")) {
        if (entry.value("part", "") == part && entry.value("text", "") == text) return true;
    }
    return false;
}

// An open /api/events stream, read on a thread of its own: every "data:" message, parsed.
class EventStream {
public:
    explicit EventStream(unsigned port) : client_(http_client(port)) {
        client_.set_read_timeout(60, 0);  // far longer than the page's keep-alive comments
        // httplib's client builds its regular expressions on first use, inside a library that
        // ThreadSanitizer does not see, so it cannot see what orders that first use before the
        // next thread's: ThreadSanitizer would call two streams' threads a race. One request here,
        // before any stream's thread starts, builds them first.
        REQUIRE(client_.Get("/api/board"));
        thread_ = std::thread([this] {
            client_.Get(
                "/api/events",
                [this](const httplib::Response& response) {
                    std::lock_guard guard(mutex_);
                    status_ = response.status;
                    type_ = response.get_header_value("Content-Type");
                    arrived_.notify_all();
                    return true;
                },
                [this](const char* data, std::size_t size) { return take(data, size); });
            std::lock_guard guard(mutex_);
            ended_ = true;
            arrived_.notify_all();
        });
    }
    ~EventStream() { close(); }
    EventStream(const EventStream&) = delete;
    EventStream& operator=(const EventStream&) = delete;

    // Stops reading and hangs up, as a closed browser tab does.
    void close() {
        stop_ = true;
        // The receiver says stop at the next message; the client's stop() ends a wait for one.
        // Again until it ends: a stop() before the request is under way does nothing.
        while (!wait_ended(20ms)) client_.stop();
        if (thread_.joinable()) thread_.join();
    }

    bool wait_ended(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return arrived_.wait_for(lock, timeout, [this] { return ended_; });
    }

    // The status of the reply, once its head arrived (0 before).
    int status() {
        std::unique_lock lock(mutex_);
        arrived_.wait_for(lock, 5s, [this] { return status_ != 0 || ended_; });
        return status_;
    }
    std::string type() {
        status();
        std::lock_guard guard(mutex_);
        return type_;
    }

    std::size_t count() {
        std::lock_guard guard(mutex_);
        return messages_.size();
    }
    std::vector<json> messages() {
        std::lock_guard guard(mutex_);
        return messages_;
    }

    // The first message from number `from` on for which `wanted` says yes, waiting up to `timeout`.
    std::optional<json> find(const std::function<bool(const json&)>& wanted, std::size_t from = 0,
                             std::chrono::milliseconds timeout = 2s) {
        std::unique_lock lock(mutex_);
        std::size_t next = from;
        std::optional<json> found;
        arrived_.wait_for(lock, timeout, [&] {
            for (; next < messages_.size(); ++next) {
                if (wanted(messages_[next])) {
                    found = messages_[next];
                    return true;
                }
            }
            return ended_;
        });
        return found;
    }
    // The first message (the whole picture), waiting for it.
    json first() {
        const auto message = find([](const json&) { return true; });
        REQUIRE(message.has_value());
        return *message;
    }

private:
    bool take(const char* data, std::size_t size) {
        if (stop_) return false;
        std::lock_guard guard(mutex_);
        buffer_.append(data, size);
        for (std::size_t end; (end = buffer_.find("\n\n")) != std::string::npos;) {
            std::istringstream event(buffer_.substr(0, end));
            buffer_.erase(0, end + 2);
            for (std::string line; std::getline(event, line);) {
                if (line.rfind("data: ", 0) == 0) messages_.push_back(json::parse(line.substr(6)));
            }
        }
        arrived_.notify_all();
        return !stop_;
    }

    httplib::Client client_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable arrived_;
    std::string buffer_;
    std::vector<json> messages_;
    int status_ = 0;
    std::string type_;
    bool ended_ = false;
};

// The value of the part's state as the message shows it, or nothing if it does not mention it.
std::optional<double> value_in(const json& message, const std::string& part) {
    json shown = part_in(message, part);
    if (shown.is_null() || !shown["state"]["value"].is_number()) return std::nullopt;
    return shown["state"]["value"].get<double>();
}

// What the messages from `from` on said about a part's value: how many mentioned it, and the last.
struct Mentions {
    std::size_t count = 0;
    std::optional<double> last;
};
Mentions mentions_of(const std::vector<json>& messages, std::size_t from, const std::string& part) {
    Mentions seen;
    for (std::size_t i = from; i < messages.size(); ++i) {
        if (const auto value = value_in(messages[i], part)) {
            ++seen.count;
            seen.last = value;
        }
    }
    return seen;
}

// The outputs as the simulated board has them: each line's level.
std::vector<double> output_levels(Kit& kit) {
    std::vector<double> levels;
    for (const char* line : {"GPIO17", "GPIO27", "GPIO22", "GPIO5", "GPIO6", "GPIO13", "GPIO18"}) {
        levels.push_back(kit.sim()->level(line));
    }
    return levels;
}

// The light and distance sensors measure once an hour: after their first measurement, a board that
// nobody touches stays exactly as it is (a measurement every 50 ms may wobble in its last digit).
ServerOptions still_sensors() {
    ServerOptions options;
    options.sensor_periods = {{"light", 3600}, {"distance", 3600}};
    return options;
}

// Waits until the light and distance sensors have made their first measurements.
void wait_until_quiet(unsigned port) {
    REQUIRE(eventually(
        [&] {
            json picture = board(port);
            return part_in(picture, "light")["state"]["value"].is_number() &&
                   part_in(picture, "distance")["state"]["value"].is_number();
        },
        5s));
}

// A program turns the amber LED on and off, about 30 ms apart, until `done` says yes or `timeout` passes;
// returns what `done` said last.
bool while_amber_blinks(Client& program, const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    REQUIRE(program.request({{"op", "claim"}, {"part", "amber"}})["ok"] == true);
    bool on = false;
    return eventually(
        [&] {
            on = !on;
            program.request({{"op", "set"}, {"part", "amber"}, {"value", on}});
            std::this_thread::sleep_for(25ms);
            return done();
        },
        timeout);
}

}  // namespace

// ---- the page's files --------------------------------------------------------------------------

TEST_CASE("the page, its script and its style are served with their types") {
    Classroom classroom;
    Reply page = get(classroom.port(), "/");
    CHECK(page.status == 200);
    CHECK_THAT(page.type, Catch::StartsWith("text/html"));
    CHECK_THAT(page.text, Catch::Contains("<html") && Catch::Contains("/app.js") && Catch::Contains("/style.css"));

    Reply script = get(classroom.port(), "/app.js");
    CHECK(script.status == 200);
    CHECK_THAT(script.type, Catch::StartsWith("text/javascript"));
    CHECK_THAT(script.text, Catch::Contains("/api/events"));

    Reply style = get(classroom.port(), "/style.css");
    CHECK(style.status == 200);
    CHECK_THAT(style.type, Catch::StartsWith("text/css"));
    CHECK_FALSE(style.text.empty());
}

TEST_CASE("a path the page does not have is a 404 whose JSON error names the path") {
    Classroom classroom;
    for (const std::string path : {"/index.php", "/api/parts", "/app.js/x"}) {
        INFO(path);
        Reply reply = get(classroom.port(), path);
        CHECK(reply.status == 404);
        CHECK_THAT(reply.type, Catch::StartsWith("application/json"));
        REQUIRE(reply.body.is_object());
        CHECK(reply.body["ok"] == false);
        CHECK(reply.body["error"]["code"] == "not_found");
        CHECK_THAT(reply.body["error"]["message"].get<std::string>(), Catch::Contains(path));
    }
}

// ---- /api/board --------------------------------------------------------------------------------

TEST_CASE("the board request shows the board and every part of its file, in the file's order") {
    Classroom classroom;
    json picture = board(classroom.port());
    CHECK(picture["board"]["name"] == "classroom");
    CHECK_THAT(picture["board"]["description"].get<std::string>(), Catch::Contains("classroom kit"));
    CHECK(picture["backend"] == "sim");
    CHECK(picture["device"] == "berrykit");

    // The board file's order, as the teacher wrote it (an ordered_json keeps it).
    std::ifstream file(fs::path(BERRYKIT_SOURCE_DIR) / "firmware" / "boards" / "classroom.json");
    const auto board_file = nlohmann::ordered_json::parse(file);
    std::vector<std::string> expected;
    for (const auto& [name, part] : board_file.at("parts").items()) expected.push_back(name);
    REQUIRE(expected.size() == 12);

    std::vector<std::string> shown;
    for (const json& part : picture.at("parts")) shown.push_back(part.at("name"));
    CHECK(shown == expected);
    json button = part_in(picture, "button");
    CHECK(button["type"] == "button");
    CHECK(button["label"] == "first push button");
    CHECK(button["state"]["pressed"] == false);
    CHECK(button["owner"] == nullptr);
}

TEST_CASE("the board request gives each LED its colour from the board file") {
    Classroom classroom;
    json picture = board(classroom.port());
    std::vector<std::string> drawn;
    for (const std::string name : {"red", "amber", "green"}) {
        INFO(name);
        json led = part_in(picture, name);
        CHECK(led["color_name"] == name);
        const std::string color = led.value("color", "");
        REQUIRE(color.size() == 7);
        CHECK(color[0] == '#');
        CHECK(color.find_first_not_of("0123456789abcdefABCDEF", 1) == std::string::npos);
        drawn.push_back(color);
    }
    CHECK(drawn[0] != drawn[1]);
    CHECK(drawn[1] != drawn[2]);
    CHECK(drawn[0] != drawn[2]);
    // Only LEDs have a colour, and only sensors have sliders.
    CHECK_FALSE(part_in(picture, "button").contains("color"));
    CHECK_FALSE(part_in(picture, "red").contains("controls"));
    CHECK_FALSE(part_in(picture, "button").contains("controls"));
}

TEST_CASE("the board request gives each sensor its sliders, with ranges and the simulated values") {
    Classroom classroom;
    json picture = board(classroom.port());

    json temperature = part_in(picture, "temperature").at("controls");
    REQUIRE(temperature.size() == 1);
    CHECK(temperature[0]["quantity"] == "temperature");
    CHECK(temperature[0]["min"] == -20);
    CHECK(temperature[0]["max"] == 50);
    CHECK(temperature[0]["unit"] == "°C");
    CHECK(temperature[0]["value"] == 21.5);  // the simulated board's default

    json climate = part_in(picture, "climate").at("controls");
    REQUIRE(climate.size() == 2);
    CHECK(climate[0]["quantity"] == "temperature");
    CHECK(climate[1]["quantity"] == "humidity");
    CHECK(climate[1]["min"] == 0);
    CHECK(climate[1]["max"] == 100);
    CHECK(climate[1]["unit"] == "%");
    CHECK(climate[1]["value"] == 45.0);

    json light = part_in(picture, "light").at("controls");
    REQUIRE(light.size() == 1);
    CHECK(light[0]["quantity"] == "light");
    CHECK(light[0]["min"] == 0);
    CHECK(light[0]["max"] == 1);

    json distance = part_in(picture, "distance").at("controls");
    REQUIRE(distance.size() == 1);
    CHECK(distance[0]["quantity"] == "distance");
    CHECK(distance[0]["unit"] == "m");
}

TEST_CASE("without the cloud bridge the board request says the cloud is off, and nothing more") {
    Classroom classroom;
    json picture = board(classroom.port());
    CHECK(picture["cloud"] == json{{"enabled", false}});
    CHECK(picture["readings"] == json::array());
}

// ---- what programs do shows on the page --------------------------------------------------------

TEST_CASE("an LED a program sets through the socket shows in the board request and the event stream") {
    Classroom classroom;
    EventStream stream(classroom.port());
    json first = stream.first();
    CHECK(value_in(first, "red") == 0.0);

    Client program(classroom.daemon.socket);
    program.request({{"op", "hello"}, {"program", "traffic.py"}});
    REQUIRE(program.request({{"op", "claim"}, {"part", "red"}})["ok"] == true);
    REQUIRE(program.request({{"op", "set"}, {"part", "red"}, {"value", 1}})["ok"] == true);

    auto lit = stream.find([](const json& m) { return value_in(m, "red") == 1.0; }, 1);
    REQUIRE(lit.has_value());
    CHECK(part_in(*lit, "red")["owner"]["program"] == "traffic.py");

    json red = board_part(classroom.port(), "red");
    CHECK(red["state"]["value"] == 1.0);
    CHECK(red["owner"]["program"] == "traffic.py");
    CHECK(red["owner"]["pid"] == ::getpid());
    CHECK(logged(board(classroom.port()), "red", "traffic.py (pid " + std::to_string(::getpid()) + ") took red"));
}

TEST_CASE("an LED a program blinks goes on and off in the event stream") {
    Classroom classroom;
    EventStream stream(classroom.port());
    stream.first();

    Client program(classroom.daemon.socket);
    program.request({{"op", "claim"}, {"part", "green"}});
    REQUIRE(program.request({{"op", "blink"}, {"part", "green"}, {"on_time", 0.1}, {"off_time", 0.1}})["ok"] == true);

    auto on = stream.find([](const json& m) { return value_in(m, "green") == 1.0; }, 1);
    REQUIRE(on.has_value());
    const auto later = stream.count();
    CHECK(stream.find([](const json& m) { return value_in(m, "green") == 0.0; }, later).has_value());
    CHECK(stream.find([](const json& m) { return value_in(m, "green") == 1.0; }, later).has_value());
}

TEST_CASE("the event stream starts with the whole picture, then sends only the parts that changed") {
    Classroom classroom;
    EventStream stream(classroom.port());
    CHECK(stream.status() == 200);
    CHECK_THAT(stream.type(), Catch::StartsWith("text/event-stream"));

    json first = stream.first();
    CHECK(first["full"] == true);
    CHECK(first["board"]["name"] == "classroom");
    REQUIRE(first["parts"].is_array());
    CHECK(first["parts"].size() == 12);
    CHECK(first.contains("log"));
    CHECK(first.contains("cloud"));
    CHECK(first["version"].is_number_unsigned());

    Client program(classroom.daemon.socket);
    program.request({{"op", "claim"}, {"part", "amber"}});
    program.request({{"op", "set"}, {"part", "amber"}, {"value", 0.5}});
    auto change = stream.find([](const json& m) { return value_in(m, "amber") == 0.5; }, 1);
    REQUIRE(change.has_value());
    INFO(change->dump());
    CHECK_FALSE(change->contains("full"));
    CHECK_FALSE(change->contains("board"));
    REQUIRE((*change)["parts"].is_object());
    for (const char* still :
         {"red", "green", "rgb", "buzzer", "button", "button2", "motion", "temperature", "climate"}) {
        CHECK_FALSE((*change)["parts"].contains(still));
    }
    CHECK((*change)["version"].get<std::uint64_t>() > first["version"].get<std::uint64_t>());
    // What changed comes with the part's state and owner, enough for the page to redraw it.
    CHECK((*change)["parts"]["amber"].contains("owner"));
}

TEST_CASE("two pages open at once both see a change") {
    Classroom classroom;
    EventStream one(classroom.port()), two(classroom.port());
    one.first();
    two.first();

    Client program(classroom.daemon.socket);
    program.request({{"op", "claim"}, {"part", "rgb"}});
    program.request({{"op", "set"}, {"part", "rgb"}, {"value", {1, 0, 1}}});
    const auto purple = [](const json& m) {
        json rgb = part_in(m, "rgb");
        return !rgb.is_null() && rgb["state"]["value"] == json{1.0, 0.0, 1.0};
    };
    CHECK(one.find(purple, 1).has_value());
    CHECK(two.find(purple, 1).has_value());
}

TEST_CASE("pages() counts the open event streams, and a closed page stops counting at the next change") {
    Classroom classroom;
    CHECK(classroom.web->pages() == 0);
    auto one = std::make_unique<EventStream>(classroom.port());
    one->first();
    EventStream two(classroom.port());
    two.first();
    CHECK(classroom.web->pages() == 2);

    one->close();
    Client program(classroom.daemon.socket);
    CHECK(while_amber_blinks(
        program, [&] { return classroom.web->pages() == 1; }, 5s));
    two.close();
    CHECK(while_amber_blinks(
        program, [&] { return classroom.web->pages() == 0; }, 5s));
}

TEST_CASE("a page closed while nothing on the board changes stops counting within about 5 seconds") {
    Classroom classroom(any_port(), still_sensors());
    wait_until_quiet(classroom.port());
    EventStream stream(classroom.port());
    stream.first();
    CHECK(classroom.web->pages() == 1);

    stream.close();
    const auto closed = SteadyClock::now();
    const bool gone = eventually([&] { return classroom.web->pages() == 0; }, 6s);
    INFO("pages() is " << classroom.web->pages() << " after "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - closed).count()
                       << " ms");
    CHECK(gone);
}

TEST_CASE("a program toggling an LED thousands of times sends far fewer messages, ending in its last state") {
    Classroom classroom;
    EventStream stream(classroom.port());
    stream.first();

    Client program(classroom.daemon.socket);
    REQUIRE(program.request({{"op", "claim"}, {"part", "red"}})["ok"] == true);
    const std::size_t before = stream.count();
    classroom.daemon.kit->sim()->clear_history("GPIO17");

    constexpr int changes = 2001;  // on, off, …, on
    std::vector<json> toggles;
    for (int i = 0; i < changes; ++i) toggles.push_back({{"op", "set"}, {"part", "red"}, {"value", i % 2 == 0}});
    for (const json& reply : program.pipeline(toggles)) REQUIRE(reply.value("ok", false));
    CHECK(classroom.daemon.kit->sim()->history("GPIO17").size() == std::size_t(changes));

    const auto last_red = [&] { return mentions_of(stream.messages(), before, "red").last; };
    CHECK(eventually([&] { return last_red() == 1.0; }));
    std::this_thread::sleep_for(100ms);  // nothing stale comes after it
    CHECK(last_red() == 1.0);
    CHECK(board_part(classroom.port(), "red")["state"]["value"] == 1.0);

    const std::size_t about_red = mentions_of(stream.messages(), before, "red").count;
    INFO(about_red << " messages about red for " << changes << " changes");
    CHECK(about_red >= 1);
    CHECK(about_red < 2000);
}

TEST_CASE("an LED set over and over, one request after another, gets at most one message per 16 ms frame") {
    Classroom classroom;
    EventStream stream(classroom.port());
    stream.first();
    Client program(classroom.daemon.socket);
    REQUIRE(program.request({{"op", "claim"}, {"part", "red"}})["ok"] == true);
    const std::size_t before = stream.count();

    // Each request waits for its reply, so each change reaches the page on its own turn of the loop.
    const auto started = SteadyClock::now();
    constexpr int changes = 3001;  // on, off, …, on
    for (int i = 0; i < changes; ++i) {
        REQUIRE(program.request({{"op", "set"}, {"part", "red"}, {"value", i % 2 == 0}})["ok"] == true);
    }
    std::size_t about_red = 0;
    const auto count = [&] {
        const Mentions red = mentions_of(stream.messages(), before, "red");
        about_red = red.count;
        return red.last == 1.0;
    };
    CHECK(eventually(count));
    const auto frames =
        std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started).count() / 16;
    INFO(about_red << " messages about red for " << changes << " changes in " << frames << " frames of 16 ms");
    // Every message came at least 16 ms after the one before, all of them after the first change.
    CHECK(about_red <= std::size_t(frames) + 1);
    CHECK(about_red < std::size_t(changes));
}

// ---- what the page may do ----------------------------------------------------------------------

TEST_CASE("pressing and letting go of the button on the page changes its state and logs it") {
    Classroom classroom;
    Client program(classroom.daemon.socket);

    Reply pressed = post(classroom.port(), "/api/press", json{{"part", "button"}});
    CHECK(pressed.status == 200);
    CHECK(pressed.body == json{{"ok", true}});
    CHECK(program.request({{"op", "get"}, {"part", "button"}})["state"]["pressed"] == true);
    CHECK(eventually([&] {
        json picture = board(classroom.port());
        return part_in(picture, "button")["state"]["pressed"] == true &&
               logged(picture, "button", "button was pressed");
    }));

    Reply released = post(classroom.port(), "/api/release", json{{"part", "button"}});
    CHECK(released.status == 200);
    CHECK_FALSE(classroom.daemon.kit->sim()->driven("GPIO21").has_value());
    // The button's 20 ms bounce time may hold the let-go back that long.
    CHECK(eventually([&] {
        return program.request({{"op", "get"}, {"part", "button"}})["state"]["pressed"] == false;
    }));
    CHECK(eventually([&] {
        json picture = board(classroom.port());
        return part_in(picture, "button")["state"]["pressed"] == false &&
               logged(picture, "button", "button was let go");
    }));
}

TEST_CASE("pressing the motion sensor on the page makes it see motion until let go") {
    Classroom classroom;
    CHECK(post(classroom.port(), "/api/press", json{{"part", "motion"}}).status == 200);
    CHECK(eventually([&] { return board_part(classroom.port(), "motion")["state"]["motion"] == true; }));
    CHECK(post(classroom.port(), "/api/release", json{{"part", "motion"}}).status == 200);
    CHECK(eventually([&] { return board_part(classroom.port(), "motion")["state"]["motion"] == false; }));
}

TEST_CASE("the temperature slider sets the temperature that programs read") {
    Classroom classroom;
    Reply reply = post(classroom.port(), "/api/sensor", json{{"part", "temperature"}, {"value", 30}});
    CHECK(reply.status == 200);
    CHECK(reply.body["ok"] == true);
    CHECK(eventually([&] { return control_value(board_part(classroom.port(), "temperature"), "temperature") == 30; }));

    Client program(classroom.daemon.socket);
    json read = program.request({{"op", "read"}, {"part", "temperature"}});
    CHECK(read["value"] == 30.0);
    CHECK(read["unit"] == "°C");
}

TEST_CASE("the climate sensor's humidity slider sets the humidity, and leaves its temperature") {
    Classroom classroom;
    Reply reply =
        post(classroom.port(), "/api/sensor", json{{"part", "climate"}, {"quantity", "humidity"}, {"value", 60}});
    CHECK(reply.status == 200);
    CHECK(eventually([&] { return control_value(board_part(classroom.port(), "climate"), "humidity") == 60; }));
    CHECK(control_value(board_part(classroom.port(), "climate"), "temperature") == 21.5);

    Client program(classroom.daemon.socket);
    json read = program.request({{"op", "read"}, {"part", "climate"}});
    CHECK(read["humidity"] == 60.0);
    CHECK(read["temperature"] == 21.5);
}

TEST_CASE("the light slider sets the light that the light sensor then measures") {
    Classroom classroom;
    CHECK(post(classroom.port(), "/api/sensor", json{{"part", "light"}, {"value", 0.2}}).status == 200);
    CHECK(eventually([&] { return control_value(board_part(classroom.port(), "light"), "light") == 0.2; }));
    json light;
    CHECK(eventually(
        [&] {
            light = board_part(classroom.port(), "light");
            return light["state"]["value"].is_number() && std::abs(light["state"]["value"].get<double>() - 0.2) < 0.03;
        },
        5s));
    INFO(light.dump());
}

// ---- what the page may not do ------------------------------------------------------------------

TEST_CASE("a POST that is not JSON, not an object or from another site is refused and presses nothing") {
    Classroom classroom;
    const unsigned port = classroom.port();
    const json before = looks(board_part(port, "button"));
    struct Case {
        const char* what;
        std::string body;
        std::string type;
        httplib::Headers headers;
        int status;
        const char* code;
        const char* words;
    };
    const std::vector<Case> cases = {
        {"not JSON", "press the button", "application/json", {}, 400, "bad_json", "not JSON"},
        {"a form", "part=button", "application/x-www-form-urlencoded", {}, 400, "bad_request", "application/json"},
        {"plain text", R"({"part": "button"})", "text/plain", {}, 400, "bad_request", "application/json"},
        {"from another site",
         R"({"part": "button"})",
         "application/json",
         {{"Origin", "http://evil.example"}},
         403,
         "forbidden",
         "classroom page"},
        {"a list", R"(["button"])", "application/json", {}, 400, "bad_request", "object"},
        {"no part", R"({})", "application/json", {}, 400, "bad_request", "which part"},
        {"a part that is a number", R"({"part": 21})", "application/json", {}, 400, "bad_request", "which part"},
        {"more than the part", R"({"part": "button", "hold": 5})", "application/json", {}, 400, "bad_request", "hold"},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        Reply reply = post(port, "/api/press", c.body, c.type, c.headers);
        CHECK(reply.status == c.status);
        CHECK(reply.body["ok"] == false);
        CHECK(reply.body["error"]["code"] == c.code);
        CHECK_THAT(reply.body["error"]["message"].get<std::string>(), Catch::Contains(c.words));
    }
    CHECK_FALSE(classroom.daemon.kit->sim()->driven("GPIO21").has_value());
    CHECK(looks(board_part(port, "button")) == before);

    // The page itself (its own origin) may.
    Reply own = post(port, "/api/press", R"({"part": "button"})", "application/json",
                     {{"Origin", "http://127.0.0.1:" + std::to_string(port)}});
    CHECK(own.status == 200);
    CHECK(classroom.daemon.kit->sim()->driven("GPIO21").has_value());
}

TEST_CASE("pressing a part the board does not have, or one that is not pressed, says why and changes nothing") {
    Classroom classroom;
    const unsigned port = classroom.port();
    const json red_before = looks(board_part(port, "red"));

    Reply unknown = post(port, "/api/press", json{{"part", "buton"}});
    CHECK(unknown.status == 404);
    CHECK(unknown.body["error"]["code"] == "unknown_part");
    CHECK_THAT(unknown.body["error"]["message"].get<std::string>(), Catch::Contains("'buton'"));

    Reply led = post(port, "/api/press", json{{"part", "red"}});
    CHECK(led.status == 400);
    CHECK(led.body["error"]["code"] == "wrong_type");
    CHECK_THAT(led.body["error"]["message"].get<std::string>(), Catch::Contains("'red'"));
    CHECK(post(port, "/api/release", json{{"part", "red"}}).body["error"]["code"] == "wrong_type");

    Reply sensor = post(port, "/api/press", json{{"part", "temperature"}});
    CHECK(sensor.status == 400);
    CHECK(sensor.body["error"]["code"] == "wrong_type");

    CHECK(classroom.daemon.kit->sim()->level("GPIO17") == 0.0);
    CHECK(looks(board_part(port, "red")) == red_before);
}

TEST_CASE("a slider request that is out of range, of the wrong kind or for the wrong part says why and sets nothing") {
    Classroom classroom;
    const unsigned port = classroom.port();
    const json temperature_before = looks(board_part(port, "temperature"));
    const json climate_before = looks(board_part(port, "climate"));
    const json button_before = looks(board_part(port, "button"));
    struct Case {
        json body;
        int status;
        const char* code;
        std::vector<std::string> words;
    };
    const std::vector<Case> cases = {
        {{{"part", "temperature"}, {"value", 80}}, 400, "bad_value", {"-20", "50", "80"}},
        {{{"part", "temperature"}, {"value", -21}}, 400, "bad_value", {"-20", "50"}},
        {{{"part", "climate"}, {"quantity", "humidity"}, {"value", 101}}, 400, "bad_value", {"0", "100", "101"}},
        {{{"part", "temperature"}, {"quantity", "humidity"}, {"value", 50}}, 400, "bad_value", {"humidity"}},
        {{{"part", "climate"}, {"quantity", "light"}, {"value", 0.5}}, 400, "bad_value", {"temperature", "humidity"}},
        {{{"part", "climate"}, {"value", 20}}, 400, "bad_request", {"quantity", "temperature", "humidity"}},
        {{{"part", "climate"}, {"quantity", 1}, {"value", 20}}, 400, "bad_request", {"quantity"}},
        {{{"part", "temperature"}, {"value", "30"}}, 400, "bad_request", {"value", "number"}},
        {{{"part", "temperature"}}, 400, "bad_request", {"value"}},
        {{{"part", "temperature"}, {"value", 30}, {"unit", "F"}}, 400, "bad_request", {"unit"}},
        {{{"part", "thermometer"}, {"value", 30}}, 404, "unknown_part", {"'thermometer'"}},
        {{{"part", "button"}, {"value", 1}}, 400, "wrong_type", {"'button'"}},
    };
    for (const Case& c : cases) {
        INFO(c.body.dump());
        Reply reply = post(port, "/api/sensor", c.body);
        CHECK(reply.status == c.status);
        CHECK(reply.body["ok"] == false);
        CHECK(reply.body["error"]["code"] == c.code);
        for (const std::string& word : c.words) {
            CHECK_THAT(reply.body["error"]["message"].get<std::string>(), Catch::Contains(word));
        }
    }
    berrykit::SimBackend& sim = *classroom.daemon.kit->sim();
    CHECK(sim.value("temperature", "temperature") == 21.5);
    CHECK(sim.value("climate", "temperature") == 21.5);
    CHECK(sim.value("climate", "humidity") == 45.0);
    CHECK(looks(board_part(port, "temperature")) == temperature_before);
    CHECK(looks(board_part(port, "climate")) == climate_before);
    CHECK(looks(board_part(port, "button")) == button_before);
}

TEST_CASE("a body far too big for a press is refused without pressing") {
    Classroom classroom;
    const std::string huge = R"({"part": "button", "pad": ")" + std::string(1 << 20, 'x') + "\"}";
    Reply reply = post(classroom.port(), "/api/press", huge);
    CHECK((reply.status == 413 || reply.status == 400));
    CHECK(reply.body["ok"] == false);
    CHECK_FALSE(classroom.daemon.kit->sim()->driven("GPIO21").has_value());
    CHECK(board_part(classroom.port(), "button")["state"]["pressed"] == false);
}

TEST_CASE("no request to the page's API can claim or drive an LED, the RGB LED or the buzzer") {
    Classroom classroom;
    const unsigned port = classroom.port();
    Kit& kit = *classroom.daemon.kit;
    const std::vector<double> before = output_levels(kit);
    REQUIRE(before == std::vector<double>(7, 0.0));

    for (const std::string part : {"red", "amber", "green", "rgb", "buzzer"}) {
        INFO(part);
        for (const std::string path : {"/api/press", "/api/release", "/api/sensor", "/api/set", "/api/claim",
                                       "/api/blink", "/api/board", "/api/events"}) {
            INFO(path);
            for (const json& body :
                 {json{{"part", part}}, json{{"part", part}, {"value", 1}},
                  json{{"part", part}, {"op", "set"}, {"value", 1}}, json{{"op", "claim"}, {"part", part}}}) {
                Reply reply = post(port, path, body);
                CHECK(reply.status >= 400);
            }
        }
        CHECK(get(port, "/api/board?op=set&part=" + part + "&value=1").status == 200);
    }
    CHECK(output_levels(kit) == before);
    json picture = board(port);
    for (const std::string part : {"red", "amber", "green", "rgb", "buzzer"}) {
        INFO(part);
        CHECK(part_in(picture, part)["owner"] == nullptr);
    }
    // A program can still claim every one of them: the page holds none.
    Client program(classroom.daemon.socket);
    for (const std::string part : {"red", "amber", "green", "rgb", "buzzer"}) {
        CHECK(program.request({{"op", "claim"}, {"part", part}})["ok"] == true);
    }
}

// ---- limits and life -----------------------------------------------------------------------------

TEST_CASE("with max_pages 2 a third event stream is refused with 503 until one of the others closes") {
    Classroom classroom(any_port(2));
    auto one = std::make_unique<EventStream>(classroom.port());
    EventStream two(classroom.port());
    one->first();
    two.first();

    Reply third = get(classroom.port(), "/api/events");
    CHECK(third.status == 503);
    CHECK(third.body["ok"] == false);
    CHECK(third.body["error"]["code"] == "busy");
    CHECK_THAT(third.body["error"]["message"].get<std::string>(),
               Catch::Contains("2 pages are open already") && Catch::Contains("max_pages"));
    CHECK(classroom.web->pages() == 2);

    // A closed page is noticed when its stream is next written to (the test above is about a quiet
    // board): here a program keeps changing the board.
    one->close();
    Client program(classroom.daemon.socket);
    CHECK(while_amber_blinks(
        program, [&] { return classroom.web->pages() == 1; }, 5s));
    EventStream again(classroom.port());
    CHECK(again.status() == 200);
    CHECK(again.first()["full"] == true);
}

TEST_CASE("stop() with event streams open returns promptly and ends the streams") {
    Classroom classroom;
    EventStream one(classroom.port()), two(classroom.port());
    one.first();
    two.first();

    const auto started = SteadyClock::now();
    classroom.web->stop();
    const auto took = SteadyClock::now() - started;
    INFO("stop() took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    CHECK(took < 3s);
    CHECK(one.wait_ended(2s));
    CHECK(two.wait_ended(2s));
    CHECK(classroom.web->pages() == 0);
    classroom.web->stop();  // again: nothing happens
}

TEST_CASE("a page stopped right after it starts stops") {
    for (int round = 0; round < 50; ++round) {
        INFO("round " << round);
        Classroom classroom;
        REQUIRE(stop_within(classroom.web, 5s));
    }
}

TEST_CASE("the page needs the simulated board: on real GPIO a WebView is refused") {
    if (!berrykit::gpiod_backend_built()) {
        SUCCEED("this berrykit was built without libgpiod: there is no real board to refuse");
        return;
    }
    // A /dev whose gpiochip0 is a character device (a link to /dev/null): enough for the gpiod
    // backend to start, as test_gpiod_backend does; no pin is ever opened.
    berrykit::test::TempDir dev;
    fs::create_symlink("/dev/null", dev.path() / "gpiochip0");
    KitOptions options;
    options.backend = "gpiod";
    options.board_dirs = {BERRYKIT_SOURCE_DIR "/firmware/boards"};
    options.dev_root = dev.path();
    options.loop_thread = false;
    auto kit = Kit::open(options);
    REQUIRE(kit->sim() == nullptr);
    ServerOptions server_options;
    server_options.socket_path = (dev.path() / "berrykit.sock").string();
    Server server(kit, server_options);

    const Error error = error_from([&] { WebView web(kit, server, any_port()); });
    CHECK(error.code() == ErrorCode::unsupported);
    CHECK_THAT(std::string(error.what()), Catch::Contains("simulated board") && Catch::Contains("--backend sim") &&
                                              Catch::Contains("web.enabled"));
}

TEST_CASE("hello tells programs where the page is, and null when there is none") {
    {
        Classroom classroom;
        classroom.daemon.server->set_page_url(classroom.web->url());
        CHECK(classroom.web->url() == "http://127.0.0.1:" + std::to_string(classroom.port()) + "/");
        Client program(classroom.daemon.socket);
        json hello = program.request({{"op", "hello"}, {"program", "test"}});
        CHECK(hello["ok"] == true);
        CHECK(hello["page"] == classroom.web->url());
        // The address it gives is where the page is.
        Reply page = get(classroom.port(), "/");
        CHECK(page.status == 200);
        CHECK_THAT(page.type, Catch::StartsWith("text/html"));
    }
    {
        Daemon daemon;
        Client program(daemon.socket);
        json hello = program.request({{"op", "hello"}});
        CHECK(hello["ok"] == true);
        REQUIRE(hello.contains("page"));
        CHECK(hello["page"] == nullptr);
    }
}

TEST_CASE("a page on a port already in use fails to start, naming the port and what to do") {
    Classroom classroom;
    REQUIRE(classroom.port() > 0);
    WebOptions same;
    same.port = classroom.port();
    auto second = std::make_shared<WebView>(classroom.daemon.kit, *classroom.daemon.server, same);
    std::optional<Error> refused;
    try {
        start_on_loop(*classroom.daemon.kit, *second);
    } catch (const Error& e) {
        refused = e;
    }
    CHECK(stop_within(second, 10s));  // had it started after all
    REQUIRE(refused.has_value());
    CHECK(refused->code() == ErrorCode::unsupported);
    CHECK_THAT(std::string(refused->what()), Catch::Contains("127.0.0.1 port " + std::to_string(classroom.port())) &&
                                                 Catch::Contains("web.port") && Catch::Contains("free port"));
    // The first page still answers.
    CHECK(get(classroom.port(), "/api/board").status == 200);
}
