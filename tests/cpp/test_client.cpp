// The client for berrykitd's local API (daemon/include/berrykit/daemon/client.hpp), against a
// real Server on a temporary socket with the simulated board.
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "berrykit/daemon/client.hpp"
#include "berrykit/daemon/server.hpp"
#include "berrykit/error.hpp"
#include "error_matchers.hpp"
#include "scoped_env.hpp"
#include "sim_daemon.hpp"
#include "temp_dir.hpp"

using berrykit::Error;
using berrykit::ErrorCode;
using berrykit::Kit;
using berrykit::KitOptions;
using berrykit::daemon::choose_socket_path;
using berrykit::daemon::Client;
using berrykit::daemon::Server;
using berrykit::daemon::ServerOptions;
using berrykit::testing::IsError;
using nlohmann::json;
using Daemon = berrykit::testing::SimDaemon;
using berrykit::test::ScopedEnv;
using namespace std::chrono_literals;

namespace {

std::string message_of(const std::function<void()>& action) {
    try {
        action();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("the socket comes from the argument, then BERRYKIT_SOCKET, then berrykit sim's, then the default") {
    berrykit::test::TempDir runtime;
    ScopedEnv xdg("XDG_RUNTIME_DIR", runtime.path().string());
    const std::string sim = (runtime.path() / "berrykit" / "berrykit.sock").string();
    CHECK(berrykit::daemon::sim_socket_path() == sim);
    {
        ScopedEnv env("BERRYKIT_SOCKET", std::nullopt);
        CHECK(choose_socket_path() == "/run/berrykit/berrykit.sock");  // no berrykit sim running
        CHECK(choose_socket_path("/tmp/given.sock") == "/tmp/given.sock");
        // While `berrykit sim` runs, its socket is there: programs find it with no settings.
        std::filesystem::create_directories(runtime.path() / "berrykit");
        std::ofstream(sim).put('\n');
        CHECK(choose_socket_path() == sim);
        CHECK(choose_socket_path("/tmp/given.sock") == "/tmp/given.sock");
    }
    ScopedEnv env("BERRYKIT_SOCKET", "/tmp/from-env.sock");
    CHECK(choose_socket_path() == "/tmp/from-env.sock");
    CHECK(choose_socket_path("/tmp/given.sock") == "/tmp/given.sock");
    {
        ScopedEnv no_xdg("XDG_RUNTIME_DIR", std::nullopt);
        CHECK(berrykit::daemon::sim_socket_path() == "/tmp/berrykit-" + std::to_string(::getuid()) + "/berrykit.sock");
    }
}

TEST_CASE("a request gets its own reply, as the daemon sent it") {
    Daemon daemon;
    Client client(daemon.socket);
    const json hello = client.request("hello", {{"program", "test_client"}});
    CHECK(hello["ok"] == true);
    CHECK(hello["board"] == "classroom");
    CHECK(hello["backend"] == "sim");

    REQUIRE(client.request("claim", {{"part", "red"}})["ok"] == true);
    CHECK(client.request("set", {{"part", "red"}, {"value", 1}})["state"]["value"] == 1.0);
    CHECK(daemon.kit->sim()->level("GPIO17") == 1.0);

    const json parts = client.request("parts");
    bool saw_red = false;
    for (const json& part : parts["parts"]) {
        if (part["name"] != "red") continue;
        saw_red = true;
        CHECK(part["owner"]["program"] == "test_client");
        CHECK(part["owner"]["pid"] == ::getpid());
    }
    CHECK(saw_red);
}

TEST_CASE("a refusal is a reply with the daemon's code and message, not an exception") {
    Daemon daemon;
    Client client(daemon.socket);
    const json reply = client.request("get", {{"part", "rde"}});
    CHECK(reply["ok"] == false);
    CHECK(reply["error"]["code"] == "unknown_part");
    CHECK_THAT(reply["error"]["message"].get<std::string>(), Catch::Contains("Did you mean 'red'?"));
    CHECK(client.request("hello")["ok"] == true);  // still connected
}

TEST_CASE("events that arrive while waiting for a reply are kept for next_event, in order") {
    Daemon daemon;
    Client client(daemon.socket);
    REQUIRE(client.request("subscribe", {{"parts", {"button"}}})["ok"] == true);
    CHECK_FALSE(client.next_event(0ms));

    daemon.kit->press("button");
    daemon.kit->release("button");
    // The events are on their way before this reply, so request() must file them.
    CHECK(client.request("get", {{"part", "button"}})["ok"] == true);
    const auto pressed = client.next_event(5s);
    REQUIRE(pressed);
    CHECK((*pressed)["event"] == "pressed");
    CHECK((*pressed)["part"] == "button");
    const auto released = client.next_event(5s);
    REQUIRE(released);
    CHECK((*released)["event"] == "released");
    CHECK_FALSE(client.next_event(20ms));
}

TEST_CASE("a missing socket says berrykitd is not running and how to start it") {
    berrykit::test::TempDir dir;
    const std::string path = (dir.path() / "nobody.sock").string();
    try {
        Client client(path);
        FAIL("connected to a socket that does not exist");
    } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::unsupported);
        CHECK_THAT(std::string(e.what()), Catch::Contains("berrykitd is not running (no " + path + ")"));
        CHECK_THAT(std::string(e.what()), Catch::Contains("sudo systemctl start berrykitd"));
        CHECK_THAT(std::string(e.what()), Catch::Contains("berrykitd --backend sim --socket " + path));
    }
}

TEST_CASE("a socket we may not open names the berrykit group") {
    if (::geteuid() == 0) {
        WARN("root may open any socket: nothing to check");
        return;
    }
    Daemon daemon;
    REQUIRE(::chmod(daemon.socket.c_str(), 0000) == 0);  // as a socket of a group we are not in
    const std::string message = message_of([&] { Client client(daemon.socket); });
    CHECK_THAT(message, Catch::Contains("berrykit group"));
}

TEST_CASE("a daemon that goes away is Error(closed), and a closed client says so") {
    auto daemon = std::make_unique<Daemon>();
    Client client(daemon->socket);
    REQUIRE(client.request("hello")["ok"] == true);
    daemon.reset();
    CHECK_THROWS_MATCHES(client.request("hello"), Error, IsError(ErrorCode::closed));

    Client other = [] {
        Daemon again;
        return Client(again.socket);
    }();
    other.close();
    other.close();  // idempotent
    CHECK(other.native_handle() == -1);
    CHECK_THROWS_MATCHES(other.request("hello"), Error, IsError(ErrorCode::closed));
}
