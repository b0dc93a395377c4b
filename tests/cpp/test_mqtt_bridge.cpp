// berrykitd's MQTT bridge (daemon/include/berrykit/daemon/mqtt_bridge.hpp) against a real mosquitto
// that each test starts on a free 127.0.0.1 port: delivery from the outbox with its
// acknowledgements, the retained status and the last will, a broker restart mid-stream, errors in
// plain words, TLS (the CA, the server name, client certificates, ALPN), commands for remote parts
// only, and a password that never reaches a log. The outbox is an in-memory one with the durable
// Outbox's methods, plugged in through OutboxSourceFor as berrykitd plugs in the real one.
#include "berrykit/daemon/mqtt_bridge.hpp"

#include "berrykit/daemon/log.hpp"
#include "berrykit/error.hpp"
#include "child_process.hpp"
#include "error_matchers.hpp"
#include "mosquitto.hpp"
#include "temp_dir.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mqtt/async_client.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace berrykit;
using namespace berrykit::daemon;
using namespace std::chrono_literals;
using berrykit::test::ChildProcess;
using berrykit::test::Mosquitto;
using berrykit::test::MosquittoOptions;
using berrykit::test::TempDir;
using berrykit::testing::IsError;
namespace fs = std::filesystem;

// ThreadSanitizer sees only what is built with it, and Paho C and C++ come from Debian's packages.
// What it then reports about Paho's objects is noise, not races of the bridge: Paho's tokens live
// by a shared_ptr whose count Paho changes in code ThreadSanitizer does not see, so a token that
// Paho's thread reads (its user context, in the bridge's listener) or frees, and the bridge's
// thread drops, looks like a race; and Paho C takes its two global mutexes in one order when a
// client is made and in the other when it connects. These lines silence exactly that: what Paho
// C++ does through interceptors (delete, its own mutexes), the delivery token's destructor, the
// listener's read of a token (id_of), and lock reports inside Paho C. The bridge's own state, its
// callbacks, and its mutex stay checked.
//
// Paho C also stops its threads when its last client goes, and starts them again (remaking its
// global mutexes) for the next one; ThreadSanitizer then reports races inside Paho C that no
// suppression can single out (its symbols are stripped). berrykitd has one bridge; a test that
// makes one bridge after another would restart Paho's threads in between. So this process keeps
// one idle Paho client for its whole life, and Paho's threads, once started, never stop.
#if defined(__SANITIZE_THREAD__)
#define BERRYKIT_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BERRYKIT_TEST_TSAN 1
#endif
#endif
#if defined(BERRYKIT_TEST_TSAN)
extern "C" const char* __tsan_default_suppressions() {
    return "called_from_lib:libpaho-mqttpp3.so\n"
           "race:mqtt::delivery_token::~delivery_token\n"
           "race:berrykit::daemon::MqttBridge::Impl::id_of\n"
           "deadlock:libpaho-mqtt3as.so\n"
           "mutex:libpaho-mqtt3as.so\n";
}
#endif

namespace {

// Made before the tests run, gone after: it never connects.
const mqtt::async_client paho_keeper("tcp://127.0.0.1:1", "keeper", static_cast<mqtt::iclient_persistence*>(nullptr));

// An outbox in memory with the public methods of the durable Outbox (outbox.hpp).
class MemoryOutbox {
public:
    struct Message {
        std::uint64_t seq;
        std::string topic;
        std::string payload;
    };

    void append(std::string topic, std::function<std::string(std::uint64_t seq)> make_payload,
                std::function<void(std::uint64_t seq)> on_stored = {}) {
        std::uint64_t seq = 0;
        std::function<void()> stored;
        {
            std::lock_guard lock(mutex_);
            seq = next_seq_++;
            messages_[seq] = {seq, std::move(topic), make_payload(seq)};
            stored = on_stored_;
        }
        if (on_stored) on_stored(seq);
        if (stored) stored();
    }
    void set_on_stored(std::function<void()> callback) {
        std::lock_guard lock(mutex_);
        on_stored_ = std::move(callback);
    }
    std::vector<Message> peek(std::uint64_t after_seq, std::size_t max) {
        std::lock_guard lock(mutex_);
        std::vector<Message> found;
        for (auto it = messages_.upper_bound(after_seq); it != messages_.end() && found.size() < max; ++it) {
            found.push_back(it->second);
        }
        return found;
    }
    void acknowledge(std::uint64_t seq) {
        std::lock_guard lock(mutex_);
        messages_.erase(seq);
    }
    std::size_t waiting() const {
        std::lock_guard lock(mutex_);
        return messages_.size();
    }

private:
    mutable std::mutex mutex_;
    std::map<std::uint64_t, Message> messages_;
    std::uint64_t next_seq_ = 1;
    std::function<void()> on_stored_;
};

// A reading as the daemon will write it.
std::function<std::string(std::uint64_t)> reading(const std::string& sensor, double value) {
    return [=](std::uint64_t seq) {
        return nlohmann::json{{"device", "classroom-pi"}, {"sensor", sensor}, {"value", value}, {"seq", seq}}.dump();
    };
}

const std::string readings = "berrykit/classroom-pi/readings/";

struct Received {
    std::string topic;
    std::string payload;
    bool retained = false;
};

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

// Another MQTT client watching topics (the cloud, or a teacher): mosquitto_sub in a process of its
// own, QoS 1. Not Paho in the test's process: there, each further client takes 1-2 s to connect
// (Paho C 1.3's receive thread polls with a 1 s timeout).
class Subscriber {
public:
    Subscriber(const Mosquitto& broker, const fs::path& dir, const std::string& filter,
               const std::string& client_id = "teacher", bool clean_session = true)
        : process_(arguments(broker, filter, client_id, clean_session), dir / (client_id + ".out")) {
        const std::string subscribed = "Received SUBSCRIBE from " + client_id;
        const auto count = [&] {
            const std::string log = broker.log();
            std::size_t n = 0;
            for (auto at = log.find(subscribed); at != std::string::npos; at = log.find(subscribed, at + 1)) ++n;
            return n;
        };
        const std::size_t before = count();
        const auto deadline = std::chrono::steady_clock::now() + 15s;  // sanitizer builds on a busy machine
        while (count() == before && process_.output().empty()) {
            if (!process_.running() || std::chrono::steady_clock::now() > deadline) {
                FAIL("mosquitto_sub did not subscribe; it says:\n"
                     << process_.output() << "\nthe broker says:\n"
                     << broker.log());
            }
            std::this_thread::sleep_for(5ms);
        }
    }

    // What arrived so far, in order.
    std::vector<Received> received() const {
        std::vector<Received> messages;
        std::istringstream lines(process_.output());
        for (std::string line; std::getline(lines, line);) {
            const auto topic_end = line.find(' ', 2);
            if (line.size() < 3 || topic_end == std::string::npos) continue;
            messages.push_back({line.substr(2, topic_end - 2), line.substr(topic_end + 1), line[0] == '1'});
        }
        return messages;
    }

private:
    static std::vector<std::string> arguments(const Mosquitto& broker, const std::string& filter,
                                              const std::string& client_id, bool clean_session) {
        std::vector<std::string> args = {
            "mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-t", filter, "-q", "1", "-i",
            client_id,       "-F", "%r %t %p"};
        if (!clean_session) args.push_back("-c");  // the broker keeps its session and queue while it is away
        return args;
    }
    ChildProcess process_;
};

// Publishes one message at QoS 1 with mosquitto_pub.
void publish(const Mosquitto& broker, const std::string& topic, const std::string& payload, bool retained = false) {
    std::vector<std::string> args = {"mosquitto_pub",
                                     "-h",
                                     "127.0.0.1",
                                     "-p",
                                     std::to_string(broker.port()),
                                     "-q",
                                     "1",
                                     "-i",
                                     "cloud-publisher",
                                     "-t",
                                     topic,
                                     "-m",
                                     payload};
    if (retained) args.push_back("-r");
    ChildProcess pub(args, "/dev/null");
    REQUIRE(eventually([&] { return !pub.running(); }, 5s));
}

// Log lines the bridge wrote through MqttBridgeOptions::log.
class LogLines {
public:
    std::function<void(LogLevel, const std::string&)> sink() {
        return [this](LogLevel level, const std::string& line) {
            std::lock_guard lock(mutex_);
            text_ += std::string(to_string(level)) + ": " + line + "\n";
        };
    }
    std::string text() const {
        std::lock_guard lock(mutex_);
        return text_;
    }

private:
    mutable std::mutex mutex_;
    std::string text_;
};

MqttBridgeOptions options_for(const std::string& url, LogLines& log, const std::string& client_id = "classroom-pi") {
    MqttBridgeOptions options;
    options.mqtt.url = url;
    options.mqtt.client_id = client_id;
    options.mqtt.reconnect = {0.1, 0.4};
    options.device_id = "classroom-pi";
    options.connect_timeout = 2s;
    options.stop_timeout = 1s;
    options.log = log.sink();
    return options;
}

// The seqs of the readings received, in arrival order.
std::vector<std::uint64_t> seqs_of(const std::vector<Received>& received) {
    std::vector<std::uint64_t> seqs;
    for (const auto& message : received) {
        if (message.topic.rfind(readings, 0) == 0) seqs.push_back(nlohmann::json::parse(message.payload).at("seq"));
    }
    return seqs;
}

std::vector<std::uint64_t> one_to(std::uint64_t n) {
    std::vector<std::uint64_t> seqs;
    for (std::uint64_t seq = 1; seq <= n; ++seq) seqs.push_back(seq);
    return seqs;
}

// This process's TCP connections to 127.0.0.1:port.
std::set<int> connections_to(int port) {
    std::set<int> fds;
    for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
        const int fd = std::stoi(entry.path().filename().string());
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0 || peer.ss_family != AF_INET) continue;
        if (ntohs(reinterpret_cast<const sockaddr_in*>(&peer)->sin_port) == port) fds.insert(fd);
    }
    return fds;
}

void run(const std::string& command) {
    INFO(command);
    REQUIRE(std::system((command + " >/dev/null 2>&1").c_str()) == 0);
}

// Certificates made for one test: a CA that signs the broker's certificate (for IP 127.0.0.1 only)
// and the Pi's, and another CA that signs a stranger's.
struct Pki {
    fs::path ca, other_ca, server_cert, server_key, client_cert, client_key, stranger_cert, stranger_key;
};

Pki make_pki(const fs::path& dir) {
    const fs::path d = dir / "pki";
    fs::create_directories(d);
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const auto ca = [&](const std::string& name, const std::string& cn) {
        run("openssl req -x509" + key + " -keyout " + (d / (name + ".key")).string() + " -out " +
            (d / (name + ".crt")).string() + " -days 2 -subj '/CN=" + cn + "'");
    };
    const auto signed_by = [&](const std::string& name, const std::string& cn, const std::string& issuer,
                               const std::string& extensions) {
        run("openssl req" + key + " -keyout " + (d / (name + ".key")).string() + " -out " +
            (d / (name + ".csr")).string() + " -subj '/CN=" + cn + "'");
        run("openssl x509 -req -in " + (d / (name + ".csr")).string() + " -CA " + (d / (issuer + ".crt")).string() +
            " -CAkey " + (d / (issuer + ".key")).string() + " -CAcreateserial -days 2 -out " +
            (d / (name + ".crt")).string() + extensions);
    };
    ca("ca", "berrykit test CA");
    ca("other-ca", "some other CA");
    std::ofstream(d / "san.ext") << "subjectAltName=IP:127.0.0.1\n";
    signed_by("server", "berrykit test broker", "ca", " -extfile " + (d / "san.ext").string());
    signed_by("client", "classroom-pi", "ca", "");
    signed_by("stranger", "stranger", "other-ca", "");
    return {d / "ca.crt",     d / "other-ca.crt", d / "server.crt",   d / "server.key",
            d / "client.crt", d / "client.key",   d / "stranger.crt", d / "stranger.key"};
}

// A broker with a TLS listener (that also wants client certificates, with require_certificate).
MosquittoOptions tls_broker(const Pki& pki, bool require_certificate = false) {
    MosquittoOptions options;
    options.listener_config = "cafile " + pki.ca.string() + "\ncertfile " + pki.server_cert.string() + "\nkeyfile " +
                              pki.server_key.string() + (require_certificate ? "\nrequire_certificate true" : "");
    return options;
}

// stderr into a file for as long as it lives.
class CapturedStderr {
public:
    explicit CapturedStderr(fs::path file) : file_(std::move(file)) {
        std::fflush(stderr);
        saved_ = ::dup(STDERR_FILENO);
        const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
    }
    ~CapturedStderr() { restore(); }
    std::string text() {
        restore();
        std::ifstream in(file_, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

private:
    void restore() {
        if (saved_ < 0) return;
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        saved_ = -1;
    }
    fs::path file_;
    int saved_ = -1;
};

}  // namespace

TEST_CASE("readings in the outbox reach a subscriber in order, and each PUBACK acknowledges one") {
    TempDir dir;
    Mosquitto broker(dir.path());
    Subscriber teacher(broker, dir.path(), readings + "#");
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    for (int i = 0; i < 150; ++i) outbox.append(readings + "temperature", reading("temperature", 21.5));

    LogLines log;
    MqttBridge bridge(source, options_for(broker.url(), log));
    CHECK(bridge.status().state == "not started");
    bridge.start();
    // And more while it runs: the outbox's on_stored wakes the bridge.
    for (int i = 0; i < 150; ++i) outbox.append(readings + "light", reading("light", 0.25));

    REQUIRE(eventually([&] { return seqs_of(teacher.received()).size() >= 300; }));
    REQUIRE(eventually([&] { return outbox.waiting() == 0; }));
    const auto received = teacher.received();
    CHECK(seqs_of(received) == one_to(300));  // one connection, QoS 1: in order, no duplicates
    CHECK(received.front().topic == readings + "temperature");
    CHECK(received.back().topic == readings + "light");
    CHECK(nlohmann::json::parse(received.back().payload) ==
          nlohmann::json{{"device", "classroom-pi"}, {"sensor", "light"}, {"value", 0.25}, {"seq", 300}});
    CHECK_FALSE(received.front().retained);

    REQUIRE(eventually([&] { return bridge.status().acknowledged == 300; }));
    const auto status = bridge.status();
    CHECK(status.connected);
    CHECK(status.state == "connected to 127.0.0.1:" + std::to_string(broker.port()));
    CHECK(status.published == 300);
    CHECK(status.inflight == 0);
    CHECK(status.reconnects == 0);
    CHECK(status.last_error.empty());
    CHECK_THAT(log.text(), Catch::Contains("info: mqtt: connected to 127.0.0.1:" + std::to_string(broker.port()) +
                                           " as 'classroom-pi'"));
}

TEST_CASE("a window of 2000 messages in flight is not cut down to Paho's default of 100") {
    TempDir dir;
    Mosquitto broker(dir.path());
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    for (int i = 0; i < 5000; ++i) outbox.append(readings + "distance", reading("distance", 0.5));
    LogLines log;
    auto options = options_for(broker.url(), log);
    options.mqtt.inflight = 2000;
    MqttBridge bridge(source, options);
    bridge.start();
    REQUIRE(eventually([&] { return outbox.waiting() == 0; }, 20s));
    const auto status = bridge.status();
    CHECK(status.acknowledged == 5000);
    CHECK(status.published == 5000);  // nothing refused (Paho's -12) and sent again
    CHECK(status.reconnects == 0);
    CHECK(status.last_error.empty());
}

TEST_CASE("the retained status is online while connected and offline after stop") {
    TempDir dir;
    Mosquitto broker(dir.path());
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    MqttBridge bridge(source, options_for(broker.url(), log));
    CHECK(bridge.topics().status() == "berrykit/classroom-pi/status");
    bridge.start();
    REQUIRE(eventually([&] { return bridge.status().connected; }));

    Subscriber teacher(broker, dir.path(), "berrykit/classroom-pi/status");
    REQUIRE(eventually([&] { return teacher.received().size() == 1; }));
    const auto online = teacher.received().front();
    CHECK(online.retained);  // it was there before the teacher subscribed
    const auto said = nlohmann::json::parse(online.payload);
    CHECK(said.at("device") == "classroom-pi");
    CHECK(said.at("status") == "online");
    CHECK_THAT(said.at("ts").get<std::string>(), Catch::Matches(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"));

    bridge.stop();
    REQUIRE(eventually([&] { return teacher.received().size() == 2; }));
    const auto offline = nlohmann::json::parse(teacher.received().back().payload);
    CHECK(offline.at("status") == "offline");
    CHECK(offline.at("reason") == "stopped");
    CHECK(offline.contains("ts"));
    CHECK(bridge.status().state == "stopped");
    CHECK_FALSE(bridge.status().connected);
    bridge.stop();  // again: nothing happens

    // Whoever looks later finds it offline.
    Subscriber later(broker, dir.path(), "berrykit/classroom-pi/status", "later");
    REQUIRE(eventually([&] { return later.received().size() == 1; }));
    CHECK(later.received().front().retained);
    CHECK(nlohmann::json::parse(later.received().front().payload).at("status") == "offline");
}

TEST_CASE("when the Pi's connection dies, the broker sends its last will, and the bridge comes back") {
    TempDir dir;
    Mosquitto broker(dir.path());
    Subscriber teacher(broker, dir.path(), "berrykit/classroom-pi/status");
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    MqttBridge bridge(source, options_for(broker.url(), log));
    bridge.start();
    REQUIRE(eventually([&] { return teacher.received().size() == 1; }));

    // As if the Wi-Fi went: the bridge's socket (the only one of this process to the broker) closes
    // without an MQTT DISCONNECT.
    const auto sockets = connections_to(broker.port());
    REQUIRE(sockets.size() == 1);
    REQUIRE(::shutdown(*sockets.begin(), SHUT_RDWR) == 0);

    REQUIRE(eventually([&] { return teacher.received().size() >= 3; }));
    const auto messages = teacher.received();
    const auto will = nlohmann::json::parse(messages[1].payload);
    CHECK(will == nlohmann::json{{"device", "classroom-pi"}, {"status", "offline"}, {"reason", "connection lost"}});
    CHECK(nlohmann::json::parse(messages[2].payload).at("status") == "online");
    REQUIRE(eventually([&] { return bridge.status().connected; }));
    const auto status = bridge.status();
    CHECK(status.reconnects == 1);
    CHECK_THAT(status.last_error, Catch::StartsWith("the connection to the MQTT broker at 127.0.0.1:" +
                                                    std::to_string(broker.port()) + " was lost"));
    CHECK_THAT(log.text(), Catch::Contains("(reconnect 1)"));
}

TEST_CASE("two Pis with one client id push each other off the broker, and are told why") {
    TempDir dir;
    Mosquitto broker(dir.path());
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    MqttBridge first(source, options_for(broker.url(), log, "raspberrypi"));
    first.start();
    REQUIRE(eventually([&] { return first.status().connected; }));
    MemoryOutbox other_outbox;
    OutboxSourceFor<MemoryOutbox> other_source(other_outbox);
    MqttBridge second(other_source, options_for(broker.url(), log, "raspberrypi"));
    second.start();
    REQUIRE(eventually([&] { return !first.status().last_error.empty(); }));
    CHECK_THAT(first.status().last_error,
               Catch::Contains("after connecting; if this keeps happening, another device may be using the client id "
                               "'raspberrypi' (each Pi needs its own device_id or mqtt.client_id)"));
}

TEST_CASE("a broker restart in the middle of a stream loses no reading") {
    TempDir dir;
    Mosquitto broker(dir.path());
    // The cloud's side keeps its session across the restart (fixed id, clean_session=false, QoS 1).
    Subscriber cloud(broker, dir.path(), readings + "#", "cloud-function", false);
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    MqttBridge bridge(source, options_for(broker.url(), log));
    bridge.start();
    REQUIRE(eventually([&] { return bridge.status().connected; }));

    constexpr std::uint64_t total = 500;
    std::thread sensor([&] {  // about 250 readings a second for 2 s
        for (std::uint64_t i = 0; i < total; ++i) {
            outbox.append(readings + "temperature", reading("temperature", 20.0 + static_cast<double>(i % 10)));
            std::this_thread::sleep_for(4ms);
        }
    });
    std::this_thread::sleep_for(600ms);
    broker.stop();
    std::this_thread::sleep_for(800ms);
    broker.start();
    sensor.join();

    REQUIRE(eventually([&] { return outbox.waiting() == 0; }, 15s));
    REQUIRE(eventually(
        [&] {
            const auto seqs = seqs_of(cloud.received());
            return std::set<std::uint64_t>(seqs.begin(), seqs.end()).size() == total;
        },
        15s));
    const auto seqs = seqs_of(cloud.received());
    const auto expected = one_to(total);
    CHECK(std::set<std::uint64_t>(seqs.begin(), seqs.end()) ==
          std::set<std::uint64_t>(expected.begin(), expected.end()));
    INFO("duplicates (QoS 1 allows them, marked by seq): " << seqs.size() - total);
    const auto status = bridge.status();
    CHECK(status.reconnects >= 1);
    CHECK(status.acknowledged >= total);
    CHECK(status.connected);
}

TEST_CASE("a broker that is not running is reported in plain words, and the bridge connects once it runs") {
    TempDir dir;
    berrykit::test::ReservedPort reserved;  // nothing listens there, and no other test's broker may
    const int port = reserved.port();
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    outbox.append(readings + "temperature", reading("temperature", 19.0));
    LogLines log;
    MqttBridge bridge(source, options_for("mqtt://127.0.0.1:" + std::to_string(port), log));
    bridge.start();
    REQUIRE(eventually([&] { return !bridge.status().last_error.empty(); }));
    const std::string refused = "cannot reach the MQTT broker at 127.0.0.1:" + std::to_string(port) +
                                ": connection refused; is mosquitto (or whichever broker) running, and is " +
                                std::to_string(port) + " its port?";
    CHECK(bridge.status().last_error == refused);
    CHECK_FALSE(bridge.status().connected);
    CHECK(outbox.waiting() == 1);
    // Tried again and again (backoff 0.1 … 0.4 s), but said once.
    std::this_thread::sleep_for(600ms);
    const std::string lines = log.text();
    const auto first = lines.find("warning: mqtt: " + refused);
    CHECK(first != std::string::npos);
    CHECK(lines.find("warning: mqtt: " + refused, first + 1) == std::string::npos);

    MosquittoOptions on_that_port;
    on_that_port.port = port;
    reserved.release();
    Mosquitto broker(dir.path(), on_that_port);
    REQUIRE(eventually([&] { return outbox.waiting() == 0; }));
    CHECK(bridge.status().connected);
    CHECK(bridge.status().reconnects == 0);        // its first connection
    CHECK(bridge.status().last_error == refused);  // kept, so a teacher can see what happened
}

TEST_CASE("stop() returns promptly while the broker cannot be reached") {
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    berrykit::test::ReservedPort nobody;
    MqttBridge bridge(source, options_for("mqtt://127.0.0.1:" + std::to_string(nobody.port()), log));
    bridge.start();
    REQUIRE(eventually([&] { return !bridge.status().last_error.empty(); }));
    const auto began = std::chrono::steady_clock::now();
    bridge.stop();
    CHECK(std::chrono::steady_clock::now() - began < 3s);
    CHECK(bridge.status().state == "stopped");
}

TEST_CASE("mqtts with the broker's CA connects, and a certificate from another CA is refused in plain words") {
    TempDir dir;
    const Pki pki = make_pki(dir.path());
    Mosquitto broker(dir.path(), tls_broker(pki));
    LogLines log;

    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    outbox.append(readings + "temperature", reading("temperature", 18.0));
    auto options = options_for(broker.url("mqtts"), log);
    options.mqtt.tls.ca_file = pki.ca.string();
    {
        MqttBridge bridge(source, options);
        bridge.start();
        REQUIRE(eventually([&] { return outbox.waiting() == 0; }));
        CHECK(bridge.status().connected);
        CHECK(bridge.status().last_error.empty());
    }

    MemoryOutbox other_outbox;
    OutboxSourceFor<MemoryOutbox> other_source(other_outbox);
    other_outbox.append(readings + "temperature", reading("temperature", 18.0));
    options.mqtt.tls.ca_file = pki.other_ca.string();
    options.mqtt.client_id = "wrong-ca";
    MqttBridge wrong_ca(other_source, options);
    wrong_ca.start();
    REQUIRE(eventually([&] { return !wrong_ca.status().last_error.empty(); }));
    CHECK(wrong_ca.status().last_error ==
          "the broker's certificate is not signed by the CA in " + pki.other_ca.string() + "; check mqtt.tls.ca_file");
    CHECK_FALSE(wrong_ca.status().connected);
    CHECK(other_outbox.waiting() == 1);
}

TEST_CASE("an mqtt:// url for a broker's TLS port says to write mqtts://") {
    TempDir dir;
    const Pki pki = make_pki(dir.path());
    Mosquitto broker(dir.path(), tls_broker(pki));
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    MqttBridge bridge(source, options_for(broker.url("mqtt"), log));
    bridge.start();
    REQUIRE(eventually([&] { return !bridge.status().last_error.empty(); }));
    CHECK(bridge.status().last_error == "the MQTT broker at 127.0.0.1:" + std::to_string(broker.port()) +
                                            " expects TLS on port " + std::to_string(broker.port()) +
                                            ": write mqtts:// in mqtt.url (and set mqtt.tls.ca_file to its CA)");
}

TEST_CASE("the broker's certificate must name the host in the url, unless verify_server_name is false") {
    TempDir dir;
    const Pki pki = make_pki(dir.path());  // the broker's certificate is for IP 127.0.0.1 only
    Mosquitto broker(dir.path(), tls_broker(pki));
    LogLines log;
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    outbox.append(readings + "light", reading("light", 0.5));

    auto options = options_for("mqtts://localhost:" + std::to_string(broker.port()), log);
    options.mqtt.tls.ca_file = pki.ca.string();
    {
        MqttBridge checked(source, options);
        checked.start();
        REQUIRE(eventually([&] { return !checked.status().last_error.empty(); }));
        CHECK(checked.status().last_error ==
              "the broker's certificate is not for 'localhost' (the host in mqtt.url); use the name its certificate "
              "gives, or set mqtt.tls.verify_server_name to false");
        CHECK(outbox.waiting() == 1);
    }
    options.mqtt.tls.verify_server_name = false;
    MqttBridge unchecked(source, options);
    unchecked.start();
    REQUIRE(eventually([&] { return outbox.waiting() == 0; }));
    CHECK(unchecked.status().connected);
}

TEST_CASE("a broker that requires client certificates takes the Pi's, and says so when it has none") {
    TempDir dir;
    const Pki pki = make_pki(dir.path());
    Mosquitto broker(dir.path(), tls_broker(pki, true));
    LogLines log;
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    outbox.append(readings + "climate", reading("climate", 45.0));
    auto options = options_for(broker.url("mqtts"), log);
    options.mqtt.tls.ca_file = pki.ca.string();
    {
        MqttBridge without(source, options);
        without.start();
        REQUIRE(eventually([&] { return !without.status().last_error.empty(); }));
        CHECK(without.status().last_error ==
              "the broker wants a client certificate from the Pi: set mqtt.tls.cert_file and mqtt.tls.key_file");
    }
    {
        options.mqtt.tls.cert_file = pki.stranger_cert.string();
        options.mqtt.tls.key_file = pki.stranger_key.string();
        MqttBridge stranger(source, options);
        stranger.start();
        REQUIRE(eventually([&] { return !stranger.status().last_error.empty(); }));
        CHECK_THAT(stranger.status().last_error,
                   Catch::StartsWith("the broker did not accept the client certificate in " +
                                     pki.stranger_cert.string() + " ("));
    }
    options.mqtt.tls.cert_file = pki.client_cert.string();
    options.mqtt.tls.key_file = pki.client_key.string();
    MqttBridge with(source, options);
    with.start();
    REQUIRE(eventually([&] { return outbox.waiting() == 0; }));
    CHECK(with.status().connected);
}

TEST_CASE("the ALPN protocols in mqtt.tls.alpn are offered in the TLS handshake") {
    // mosquitto has no ALPN; openssl s_server prints what the client offers.
    TempDir dir;
    const Pki pki = make_pki(dir.path());
    const int port = berrykit::test::free_port();
    ChildProcess server({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                         pki.server_cert.string(), "-key", pki.server_key.string(), "-alpn", "x-amzn-mqtt-ca"},
                        dir.path() / "s_server.out", true);
    // "ACCEPT" once it listens (its own word, not just an open port that could be someone else's).
    REQUIRE(eventually([&] { return server.output().find("ACCEPT") != std::string::npos || !server.running(); }, 5s));
    INFO(server.output());
    REQUIRE(server.running());
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    auto options = options_for("mqtts://127.0.0.1:" + std::to_string(port), log);
    options.mqtt.tls.ca_file = pki.ca.string();
    options.mqtt.tls.alpn = {"x-amzn-mqtt-ca"};
    options.connect_timeout = 1s;
    MqttBridge bridge(source, options);
    bridge.start();
    CHECK(eventually([&] {
        return server.output().find("ALPN protocols advertised by the client: x-amzn-mqtt-ca") != std::string::npos;
    }));
    CHECK_FALSE(bridge.status().connected);  // s_server speaks no MQTT
    bridge.stop();
    server.stop();
}

TEST_CASE("commands reach the handler only for remote parts, and the reply goes to commands/<part>/result") {
    TempDir dir;
    Mosquitto broker(dir.path());
    Subscriber cloud(broker, dir.path(), "berrykit/classroom-pi/commands/#", "cloud");
    // Left on the broker before the Pi subscribes: stale, so not carried out.
    publish(broker, "berrykit/classroom-pi/commands/red", R"({"on": true, "from": "yesterday"})", true);

    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    std::mutex mutex;
    std::vector<MqttCommand> handled;
    auto options = options_for(broker.url(), log);
    options.remote_parts = {"red", "rgb"};
    options.on_command = [&](MqttCommand command, MqttCommandReply reply) {
        const std::string part = command.part;
        {
            std::lock_guard lock(mutex);
            handled.push_back(std::move(command));
        }
        // Later, from another thread, as the daemon's event loop would.
        std::thread([reply, part] { reply(R"({"part": ")" + part + R"(", "ok": true})"); }).detach();
    };
    MqttBridge bridge(source, options);
    bridge.start();
    REQUIRE(eventually([&] { return broker.log().find("Received SUBSCRIBE from classroom-pi") != std::string::npos; }));

    publish(broker, "berrykit/classroom-pi/commands/green", R"({"on": true})");  // not remote
    publish(broker, "berrykit/classroom-pi/commands/red", R"({"on": true})");
    const std::string result_topic = "berrykit/classroom-pi/commands/red/result";
    REQUIRE(eventually([&] {
        for (const auto& message : cloud.received()) {
            if (message.topic == result_topic) return true;
        }
        return false;
    }));
    {
        std::lock_guard lock(mutex);
        REQUIRE(handled.size() == 1);
        CHECK(handled[0].part == "red");
        CHECK(handled[0].payload == R"({"on": true})");
    }
    for (const auto& message : cloud.received()) {
        if (message.topic != result_topic) continue;
        CHECK(message.payload == R"({"part": "red", "ok": true})");
        CHECK_FALSE(message.retained);
    }
    CHECK(bridge.status().commands == 1);
    CHECK_THAT(log.text(), Catch::Contains("ignored a retained command for 'red'"));
    CHECK(bridge.topics().command_part("berrykit/classroom-pi/commands/red") == "red");
}

TEST_CASE("the password is read from its file or variable and never appears in a log line or the status") {
    TempDir dir;
    const std::string secret = "correct horse battery staple 42";
    const fs::path broker_passwords = dir.path() / "mosquitto-passwords";
    run("mosquitto_passwd -c -b " + broker_passwords.string() + " teacher '" + secret + "'");
    ::chmod(broker_passwords.c_str(), 0644);
    MosquittoOptions with_passwords;
    with_passwords.allow_anonymous = false;
    with_passwords.password_file = broker_passwords.string();
    Mosquitto broker(dir.path(), with_passwords);
    const fs::path password_file = dir.write("mqtt-password", secret + "\n");
    ::chmod(password_file.c_str(), 0600);
    const fs::path wrong_file = dir.write("wrong-password", "not the password at all\n");
    ::chmod(wrong_file.c_str(), 0600);

    const LogLevel level_before = log_level();
    set_log_level(LogLevel::debug);
    std::vector<MqttBridgeStatus> statuses;
    std::string logged;
    {
        CapturedStderr captured(dir.path() / "stderr.txt");
        MemoryOutbox outbox;
        OutboxSourceFor<MemoryOutbox> source(outbox);
        outbox.append(readings + "temperature", reading("temperature", 22.0));
        MqttBridgeOptions options;  // berrykitd's own log (stderr), at debug level
        options.mqtt.url = broker.url();
        options.mqtt.username = "teacher";
        options.mqtt.password_file = password_file.string();
        options.mqtt.reconnect = {0.1, 0.4};
        options.device_id = "classroom-pi";
        {
            MqttBridge bridge(source, options);
            bridge.start();
            REQUIRE(eventually([&] { return outbox.waiting() == 0; }));
            statuses.push_back(bridge.status());
        }

        MemoryOutbox wrong_outbox;
        OutboxSourceFor<MemoryOutbox> wrong_source(wrong_outbox);
        options.mqtt.password_file = wrong_file.string();
        {
            MqttBridge wrong(wrong_source, options);
            wrong.start();
            REQUIRE(eventually([&] { return !wrong.status().last_error.empty(); }));
            statuses.push_back(wrong.status());
            CHECK(wrong.status().last_error ==
                  "the MQTT broker at 127.0.0.1:" + std::to_string(broker.port()) +
                      " refused the connection: not authorised; check mqtt.username and the password in " +
                      wrong_file.string());
        }

        ::setenv("BERRYKIT_TEST_MQTT_PASSWORD", secret.c_str(), 1);
        options.mqtt.password_file.clear();
        options.mqtt.password_env = "BERRYKIT_TEST_MQTT_PASSWORD";
        outbox.append(readings + "temperature", reading("temperature", 22.5));
        {
            MqttBridge from_env(source, options);
            from_env.start();
            REQUIRE(eventually([&] { return outbox.waiting() == 0; }));
            statuses.push_back(from_env.status());
        }
        ::unsetenv("BERRYKIT_TEST_MQTT_PASSWORD");
        logged = captured.text();
    }
    set_log_level(level_before);

    CHECK_THAT(logged, Catch::Contains("mqtt: connected to 127.0.0.1:"));  // the log was captured
    CHECK_THAT(logged, Catch::Contains("refused the connection: not authorised"));
    CHECK(logged.find(secret) == std::string::npos);
    CHECK(logged.find("not the password at all") == std::string::npos);
    for (const auto& status : statuses) {
        for (const std::string* text : {&status.state, &status.last_error}) {
            CHECK(text->find(secret) == std::string::npos);
            CHECK(text->find("not the password at all") == std::string::npos);
        }
    }
}

TEST_CASE("start() names the key and the file when a password or TLS file cannot be used") {
    TempDir dir;
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    auto options = options_for("mqtts://127.0.0.1:8883", log);
    options.mqtt.username = "teacher";

    const auto start_error = [&](const MqttBridgeOptions& o) {
        MqttBridge bridge(source, o);
        const Error error = berrykit::testing::error_from([&] { bridge.start(); });
        CHECK(error.code() == ErrorCode::bad_value);
        CHECK(bridge.status().state == "not started");
        return std::string(error.what());
    };
    auto missing = options;
    missing.mqtt.password_file = (dir.path() / "nope").string();
    CHECK(start_error(missing) ==
          "mqtt.password_file: cannot read " + (dir.path() / "nope").string() + ": No such file or directory");
    auto empty = options;
    empty.mqtt.password_file = dir.write("empty", "\n").string();
    CHECK(start_error(empty) ==
          "mqtt.password_file: " + empty.mqtt.password_file + " is empty: write the password in it");
    auto unset = options;
    ::unsetenv("BERRYKIT_TEST_UNSET_PASSWORD");
    unset.mqtt.password_env = "BERRYKIT_TEST_UNSET_PASSWORD";
    CHECK(start_error(unset) ==
          "mqtt.password_env: the environment variable BERRYKIT_TEST_UNSET_PASSWORD is not set for berrykitd (with "
          "systemd: Environment= or EnvironmentFile= in its service)");
    auto no_ca = options;
    no_ca.mqtt.username.clear();
    no_ca.mqtt.tls.ca_file = (dir.path() / "ca.pem").string();
    CHECK(start_error(no_ca) ==
          "mqtt.tls.ca_file: cannot read " + no_ca.mqtt.tls.ca_file + ": No such file or directory");
}

TEST_CASE("the bridge's options are checked when it is made") {
    MemoryOutbox outbox;
    OutboxSourceFor<MemoryOutbox> source(outbox);
    LogLines log;
    const auto made = [&](const MqttBridgeOptions& options) { MqttBridge bridge(source, options); };
    auto options = options_for("mqtt://127.0.0.1:1883", log);

    auto no_url = options;
    no_url.mqtt.url.clear();
    CHECK_THROWS_MATCHES(made(no_url), Error, IsError(ErrorCode::bad_value, {"mqtt.url: not set"}));
    auto bad_url = options;
    bad_url.mqtt.url = "http://127.0.0.1";
    CHECK_THROWS_MATCHES(made(bad_url), Error,
                         IsError(ErrorCode::bad_value, {"mqtt.url: must start with mqtt:// or mqtts://"}));
    auto tls_plain = options;
    tls_plain.mqtt.tls.ca_file = "/etc/berrykit/ca.pem";
    CHECK_THROWS_MATCHES(made(tls_plain), Error,
                         IsError(ErrorCode::bad_value, {"mqtt.tls: TLS settings need an mqtts:// url"}));
    auto bad_part = options;
    bad_part.remote_parts = {"red/#"};
    CHECK_THROWS_MATCHES(made(bad_part), Error, IsError(ErrorCode::bad_value, {"parts.red/#.remote"}));
    auto no_window = options;
    no_window.mqtt.inflight = 0;
    CHECK_THROWS_MATCHES(made(no_window), Error,
                         IsError(ErrorCode::bad_value, {"mqtt.inflight: must be between 1 and 65535 messages, got 0"}));
    CHECK_NOTHROW(made(options));
}

TEST_CASE("berrykitd's config becomes the bridge's options") {
    const DaemonConfig config = parse_config(R"({
        "device_id": "pi4", "parts": {"red": {"remote": true}, "buzzer": {"groups": ["teachers"]}, "rgb": {"remote": true}},
        "mqtt": {"url": "mqtts://broker.example.org", "username": "pi4", "password_file": "/etc/berrykit/mqtt-password"}
    })",
                                             "berrykit.json");
    const auto options = mqtt_bridge_options(config, [](MqttCommand, MqttCommandReply) {});
    CHECK(options.device_id == "pi4");
    CHECK(options.remote_parts == std::vector<std::string>{"red", "rgb"});
    CHECK(options.mqtt.url == "mqtts://broker.example.org");
    CHECK(options.mqtt.password_file == "/etc/berrykit/mqtt-password");
    CHECK(options.on_command);
}

TEST_CASE("reconnecting waits a random time from reconnect.min up to a cap that doubles to reconnect.max") {
    const MqttReconnectConfig reconnect{0.5, 60};
    CHECK(reconnect_delay(1, reconnect, 0.0) == 0.5);
    CHECK(reconnect_delay(1, reconnect, 1.0) == 1.0);
    CHECK(reconnect_delay(2, reconnect, 1.0) == 2.0);
    CHECK(reconnect_delay(3, reconnect, 0.5) == 2.25);
    CHECK(reconnect_delay(7, reconnect, 1.0) == 60.0);  // 0.5 · 2⁷ = 64, capped
    CHECK(reconnect_delay(1000, reconnect, 1.0) == 60.0);
    CHECK(reconnect_delay(1000, reconnect, 0.0) == 0.5);  // the spread stays wide: no herd
    CHECK(reconnect_delay(3, {2, 2}, 0.7) == 2.0);
}

TEST_CASE("a Pi's topics are under <prefix>/<device_id>/") {
    const MqttTopics topics("school/room5", "classroom-pi");
    CHECK(topics.reading("temperature") == "school/room5/classroom-pi/readings/temperature");
    CHECK(topics.event("button") == "school/room5/classroom-pi/events/button");
    CHECK(topics.status() == "school/room5/classroom-pi/status");
    CHECK(topics.command("red") == "school/room5/classroom-pi/commands/red");
    CHECK(topics.command_result("red") == "school/room5/classroom-pi/commands/red/result");
    CHECK(topics.command_part("school/room5/classroom-pi/commands/red") == "red");
    CHECK_FALSE(topics.command_part("school/room5/classroom-pi/commands/red/result"));
    CHECK_FALSE(topics.command_part("school/room5/classroom-pi/commands/"));
    CHECK_FALSE(topics.command_part("school/room5/other-pi/commands/red"));
}
