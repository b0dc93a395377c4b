// berrykitd's local API (daemon/include/berrykit/daemon/server.hpp), over a real Unix socket, on
// the simulated board with its event loop on its own thread.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "berrykit/daemon/outbox.hpp"
#include "berrykit/daemon/server.hpp"
#include "line_client.hpp"
#include "sim_daemon.hpp"
#include "temp_dir.hpp"

using berrykit::Kit;
using berrykit::KitOptions;
using berrykit::daemon::Outbox;
using berrykit::daemon::OutboxOptions;
using berrykit::daemon::Server;
using berrykit::daemon::ServerOptions;
using nlohmann::json;
using Daemon = berrykit::testing::SimDaemon;

namespace {

using Client = berrykit::test::LineClient;

}  // namespace

TEST_CASE("hello names the protocol, the board and the backend") {
    Daemon daemon;
    Client client(daemon.socket);
    const json reply = client.request({{"op", "hello"}, {"protocol", 1}, {"program", "test"}});
    CHECK(reply["ok"] == true);
    CHECK(reply["protocol"] == 1);
    CHECK(reply["board"] == "classroom");
    CHECK(reply["backend"] == "sim");
    CHECK(client.request({{"op", "hello"}, {"protocol", 7}})["error"]["code"] == "unsupported_protocol");
}

TEST_CASE("a claimed LED is set by its owner, refused to others with the owner's pid and program") {
    Daemon daemon;
    Client first(daemon.socket), second(daemon.socket);
    first.request({{"op", "hello"}, {"program", "traffic.py"}});
    REQUIRE(first.request({{"op", "claim"}, {"part", "red"}})["ok"] == true);
    CHECK(first.request({{"op", "set"}, {"part", "red"}, {"value", 1}})["state"]["value"] == 1.0);
    CHECK(daemon.kit->sim()->level("GPIO17") == 1.0);

    const json refused = second.request({{"op", "claim"}, {"part", "red"}});
    CHECK(refused["ok"] == false);
    CHECK(refused["error"]["code"] == "part_in_use");
    const std::string message = refused["error"]["message"];
    CHECK_THAT(message, Catch::Contains("the LED 'red' is already used by another program (pid " +
                                        std::to_string(::getpid()) + ", 'traffic.py')"));
    CHECK(second.request({{"op", "set"}, {"part", "red"}, {"value", 0}})["error"]["code"] == "part_in_use");
    CHECK(daemon.kit->sim()->level("GPIO17") == 1.0);  // unchanged
}

TEST_CASE("when a client goes, its outputs go back to rest and others can claim them") {
    Daemon daemon;
    {
        Client first(daemon.socket);
        first.request({{"op", "claim"}, {"part", "red"}});
        first.request({{"op", "blink"}, {"part", "red"}, {"on_time", 0.05}, {"off_time", 0.05}});
        first.request({{"op", "claim"}, {"part", "green"}});
        first.request({{"op", "set"}, {"part", "green"}, {"value", true}});
    }
    Client second(daemon.socket);
    // The daemon notices the hang-up on its loop; a claim succeeds once it has.
    json reply;
    for (int i = 0; i < 200; ++i) {
        reply = second.request({{"op", "claim"}, {"part", "red"}});
        if (reply["ok"] == true) break;
        ::usleep(10'000);
    }
    REQUIRE(reply["ok"] == true);
    CHECK(second.request({{"op", "get"}, {"part", "green"}})["state"]["value"] == 0.0);
    CHECK(second.request({{"op", "get"}, {"part", "red"}})["state"]["value"] == 0.0);
}

TEST_CASE("when berrykitd stops, a kept part stays only if it is steady: blinks, fades and dimmed levels go off") {
    berrykit::test::TempDir dir;
    const auto board = dir.path() / "porch.json";
    std::ofstream(board) << R"({"name": "porch", "parts": {
        "lamp":    {"type": "led", "line": "GPIO17", "keep": true},
        "dim":     {"type": "led", "line": "GPIO27", "keep": true},
        "blinker": {"type": "led", "line": "GPIO22", "keep": true},
        "beeper":  {"type": "buzzer", "line": "GPIO18", "keep": true},
        "purple":  {"type": "rgb_led", "lines": {"red": "GPIO5", "green": "GPIO6", "blue": "GPIO13"}, "keep": true},
        "teal":    {"type": "rgb_led", "lines": {"red": "GPIO19", "green": "GPIO26", "blue": "GPIO16"},
                    "keep": true},
        "red":     {"type": "led", "line": "GPIO23"}}})";
    Daemon daemon({}, {}, board.string());
    Client kid(daemon.socket);
    for (const char* part : {"lamp", "dim", "blinker", "beeper", "purple", "teal", "red"}) {
        REQUIRE(kid.request({{"op", "claim"}, {"part", part}})["ok"] == true);
    }
    const auto ok = [&](json request) { REQUIRE(kid.request(std::move(request))["ok"] == true); };
    ok({{"op", "set"}, {"part", "lamp"}, {"value", 1}});
    ok({{"op", "set"}, {"part", "dim"}, {"value", 0.4}});
    ok({{"op", "blink"}, {"part", "blinker"}, {"on_time", 0.5}, {"off_time", 0.5}});
    ok({{"op", "blink"}, {"part", "beeper"}, {"on_time", 0.5}, {"off_time", 0.5}});
    ok({{"op", "set"}, {"part", "purple"}, {"value", {1, 0, 1}}});
    ok({{"op", "set"}, {"part", "teal"}, {"value", {0, 0.5, 0.5}}});
    ok({{"op", "set"}, {"part", "red"}, {"value", 1}});
    auto& sim = *daemon.kit->sim();
    REQUIRE(sim.level("GPIO27") == Approx(0.4));
    REQUIRE(sim.level("GPIO22") == 1.0);  // a blink starts on
    REQUIRE(sim.level("GPIO18") == 1.0);

    daemon.server->stop();              // what SIGTERM does, with the kid's program still connected
    CHECK(sim.level("GPIO17") == 1.0);  // steady and kept: stays on
    CHECK(sim.level("GPIO5") == 1.0);
    CHECK(sim.level("GPIO6") == 0.0);
    CHECK(sim.level("GPIO13") == 1.0);
    CHECK(sim.level("GPIO27") == 0.0);  // dimmed: off
    CHECK(sim.level("GPIO22") == 0.0);  // blinking: off
    CHECK(sim.level("GPIO18") == 0.0);  // beeping: off, not left sounding
    CHECK(sim.level("GPIO19") == 0.0);  // a dimmed colour: the whole RGB LED off
    CHECK(sim.level("GPIO26") == 0.0);
    CHECK(sim.level("GPIO16") == 0.0);
    CHECK(sim.level("GPIO23") == 0.0);  // not kept: off, as always
    // Nothing runs them any more: a second later they are where the stop left them.
    daemon.kit->sim()->clear_history("GPIO22");
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    CHECK(sim.level("GPIO22") == 0.0);
    CHECK(sim.level("GPIO18") == 0.0);
}

TEST_CASE("bad input gets a clear error and the connection carries on") {
    Daemon daemon;
    Client client(daemon.socket);
    client.send_raw("this is not json\n");
    json reply = json::parse(client.line());
    CHECK(reply["error"]["code"] == "bad_json");
    CHECK(reply["id"] == nullptr);
    client.send_raw("[1, 2]\n");
    CHECK(json::parse(client.line())["error"]["code"] == "bad_request");
    client.send_raw("{\"op\": \"hello\"}\n");
    CHECK_THAT(json::parse(client.line())["error"]["message"].get<std::string>(), Catch::Contains("\"id\""));
    CHECK(client.request({{"op", "dance"}})["error"]["code"] == "unknown_op");
    CHECK(client.request({{"op", "claim"}})["error"]["code"] == "bad_request");
    CHECK(client.request({{"op", "claim"}, {"part", 17}})["error"]["code"] == "bad_request");
    const json unknown = client.request({{"op", "claim"}, {"part", "redd"}});
    CHECK(unknown["error"]["code"] == "unknown_part");
    CHECK_THAT(unknown["error"]["message"].get<std::string>(), Catch::Contains("Did you mean 'red'?"));
    CHECK(client.request({{"op", "set"}, {"part", "red"}, {"value", 1}})["error"]["code"] == "not_claimed");
    client.request({{"op", "claim"}, {"part", "red"}});
    CHECK(client.request({{"op", "set"}, {"part", "red"}, {"value", 2}})["error"]["code"] == "bad_value");
    CHECK(client.request({{"op", "set"}, {"part", "red"}, {"value", "on"}})["error"]["code"] == "bad_request");
    CHECK(client.request({{"op", "hello"}})["ok"] == true);  // still fine
}

TEST_CASE("a line over the limit ends that client only") {
    ServerOptions options;
    options.max_line_bytes = 1024;
    Daemon daemon(options);
    Client big(daemon.socket), other(daemon.socket);
    big.send_raw(std::string(4096, 'x'));
    const json reply = json::parse(big.line());
    CHECK(reply["error"]["code"] == "too_long");
    CHECK(big.line().empty());  // hung up
    CHECK(other.request({{"op", "hello"}})["ok"] == true);
}

TEST_CASE("subscribers get button events with the time the edge happened") {
    Daemon daemon;
    Client client(daemon.socket);
    REQUIRE(client.request({{"op", "subscribe"}, {"parts", {"button"}}})["ok"] == true);
    daemon.kit->press("button");
    const json event = json::parse(client.line());
    CHECK(event["event"] == "pressed");
    CHECK(event["part"] == "button");
    CHECK(event["ts"].get<std::string>().size() == 24);  // 2026-11-22T03:12:05.123Z
    CHECK(event["time"].get<double>() > 0);
}

TEST_CASE("a socket path of 107 characters, the most a Unix socket takes, works, and 108 is refused") {
    berrykit::test::TempDir dir;
    KitOptions kit_options;
    kit_options.backend = "sim";
    kit_options.board_dirs = {BERRYKIT_SOURCE_DIR "/firmware/boards"};
    auto kit = Kit::open(kit_options);

    // A folder whose name fills the path up to exactly `length` characters with "/b.sock".
    const auto path_of_length = [&](std::size_t length) {
        const std::string base = dir.path().string() + "/";
        const std::string tail = "/b.sock";
        REQUIRE(base.size() + tail.size() + 1 < length);
        const std::string folder = base + std::string(length - base.size() - tail.size(), 'f');
        return folder + tail;
    };

    ServerOptions options;
    options.group.clear();
    options.socket_path = path_of_length(107);
    REQUIRE(options.socket_path.size() == 107);
    {
        Server server(kit, options);
        server.start();
        Client client(options.socket_path);
        CHECK(client.request({{"op", "hello"}})["ok"] == true);
        server.stop();
    }

    options.socket_path = path_of_length(108);
    Server too_long(kit, options);
    CHECK_THROWS_WITH(too_long.start(), Catch::Matchers::Contains("is too long (at most 107 characters)"));
    kit->close();
}

// ---- the cloud: readings, events and cloud_send go to the outbox; commands from the cloud ----

namespace {

struct CloudDaemon {
    berrykit::test::TempDir outbox_dir;
    std::shared_ptr<Outbox> outbox;
    Daemon daemon;

    explicit CloudDaemon(ServerOptions options = {})
        : outbox(std::make_shared<Outbox>(OutboxOptions{.file = outbox_dir.path() / "outbox.sqlite"})),
          daemon(with_device(std::move(options)), [this](Server& server) { server.set_outbox(outbox, "berrykit"); }) {}

    static ServerOptions with_device(ServerOptions options) {
        options.device_id = "pi-7";
        return options;
    }
    // Everything stored so far, oldest first, as (topic, payload).
    std::vector<std::pair<std::string, json>> stored() {
        REQUIRE(outbox->flush());
        std::vector<std::pair<std::string, json>> out;
        for (const auto& m : outbox->peek(0, 1000)) out.emplace_back(m.topic, json::parse(m.payload));
        return out;
    }
    ~CloudDaemon() { daemon.server->stop(); }  // before the outbox goes
};

}  // namespace

TEST_CASE("a sampled sensor's readings and a button's presses go to the outbox with device, ts and seq") {
    ServerOptions options;
    options.sampled = {"temperature"};
    options.sensor_periods = {{"temperature", 0.1}};
    CloudDaemon cloud(options);
    cloud.daemon.kit->press("button");
    cloud.daemon.kit->release("button");
    std::vector<std::pair<std::string, json>> stored;
    for (int i = 0; i < 100; ++i) {
        stored = cloud.stored();
        if (std::count_if(stored.begin(), stored.end(),
                          [](auto& m) { return m.first.find("readings") != std::string::npos; }) >= 2)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::vector<std::string> topics;
    for (const auto& [topic, payload] : stored) topics.push_back(topic);
    CHECK(std::count(topics.begin(), topics.end(), "berrykit/pi-7/events/button") == 2);
    CHECK(std::count(topics.begin(), topics.end(), "berrykit/pi-7/readings/temperature") >= 2);
    std::uint64_t last_seq = 0;
    for (const auto& [topic, payload] : stored) {
        CHECK(payload["device"] == "pi-7");
        CHECK(payload["ts"].get<std::string>().size() == 24);
        CHECK(payload["seq"].get<std::uint64_t>() > last_seq);
        last_seq = payload["seq"].get<std::uint64_t>();
        if (topic == "berrykit/pi-7/readings/temperature") {
            CHECK(payload["sensor"] == "temperature");
            CHECK(payload["value"] == 21.5);
            CHECK(payload["unit"] == "°C");
        }
    }
    const auto press =
        std::find_if(stored.begin(), stored.end(), [](auto& m) { return m.first.find("events") != std::string::npos; });
    REQUIRE(press != stored.end());
    CHECK(press->second["part"] == "button");
    CHECK(press->second["value"] == "pressed");
}

TEST_CASE("cloud_send is answered with its seq once the reading is on disk; bad names and values are refused") {
    CloudDaemon cloud;
    Client client(cloud.daemon.socket);
    const json reply = client.request({{"op", "cloud_send"}, {"name", "score"}, {"value", 42}, {"unit", "points"}});
    REQUIRE(reply["ok"] == true);
    const std::uint64_t seq = reply["seq"];
    // Answered means stored: a second connection to the file sees it.
    bool found = false;
    for (const auto& [topic, payload] : cloud.stored()) {
        if (payload["seq"] == seq) {
            found = true;
            CHECK(topic == "berrykit/pi-7/readings/score");
            CHECK(payload["sensor"] == "score");
            CHECK(payload["value"] == 42);
            CHECK(payload["unit"] == "points");
        }
    }
    CHECK(found);

    const json bad_name = client.request({{"op", "cloud_send"}, {"name", "my score!"}, {"value", 1}});
    CHECK(bad_name["error"]["code"] == "bad_request");
    CHECK_THAT(bad_name["error"]["message"].get<std::string>(), Catch::Matchers::Contains("'my score!'"));
    const json bad_value = client.request({{"op", "cloud_send"}, {"name", "score"}, {"value", {1, 2}}});
    CHECK(bad_value["error"]["code"] == "bad_request");
    const json missing = client.request({{"op", "cloud_send"}, {"name", "score"}});
    CHECK(missing["error"]["code"] == "bad_request");
    CHECK(client.request({{"op", "hello"}})["ok"] == true);  // and the connection carries on
}

TEST_CASE("without the cloud bridge, cloud_send says the cloud is off and how a teacher turns it on") {
    Daemon daemon;
    Client client(daemon.socket);
    const json reply = client.request({{"op", "cloud_send"}, {"name", "score"}, {"value", 1}});
    CHECK(reply["error"]["code"] == "cloud_off");
    CHECK_THAT(reply["error"]["message"].get<std::string>(), Catch::Matchers::Contains("mqtt"));
}

TEST_CASE("a command from the cloud runs only on a remote part that no program holds") {
    ServerOptions options;
    options.remote_parts = {"red"};
    CloudDaemon cloud(options);
    Server& server = *cloud.daemon.server;
    auto run = [&](const std::string& part, const std::string& payload) {
        std::lock_guard guard(cloud.daemon.kit->backend().lock());
        return server.run_cloud_command(part, payload);
    };
    Client teacher(cloud.daemon.socket);
    auto value_of = [&](const std::string& part) {
        return teacher.request({{"op", "get"}, {"part", part}})["state"]["value"];
    };

    json result = run("red", R"({"action": "on", "id": "c-1"})");
    CHECK(result["ok"] == true);
    CHECK(result["id"] == "c-1");
    CHECK(result["device"] == "pi-7");
    CHECK(value_of("red") == 1.0);
    CHECK(run("red", R"({"action": "toggle"})")["ok"] == true);
    CHECK(value_of("red") == 0.0);
    CHECK(run("red", R"({"action": "set", "value": 0.5})")["ok"] == true);
    CHECK(value_of("red") == 0.5);

    // Not remote: nothing changes, and the result says how to allow it.
    result = run("buzzer", R"({"action": "on"})");
    CHECK(result["ok"] == false);
    CHECK(result["error"]["code"] == "not_remote");
    CHECK(value_of("buzzer") == 0);

    // Malformed: nothing changes.
    CHECK(run("red", "not json")["error"]["code"] == "bad_json");
    CHECK(run("red", R"({"action": "explode"})")["error"]["code"] == "bad_request");
    CHECK(run("red", R"({"action": "on", "value": 3})")["error"]["code"] == "bad_request");
    CHECK(run("red", R"({"action": "set", "value": 7})")["ok"] == false);  // brightness is 0 to 1
    CHECK(run("red", R"({"action": "on", "colour": "red"})")["error"]["code"] == "bad_request");
    CHECK(value_of("red") == 0.5);

    // A program holds red: the cloud is told who.
    Client kid(cloud.daemon.socket);
    REQUIRE(kid.request({{"op", "claim"}, {"part", "red"}})["ok"] == true);
    result = run("red", R"({"action": "off"})");
    CHECK(result["error"]["code"] == "part_in_use");
    CHECK(value_of("red") == 0.5);
}
