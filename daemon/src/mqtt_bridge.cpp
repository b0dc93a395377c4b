#include "berrykit/daemon/mqtt_bridge.hpp"
#include "berrykit/daemon/utc.hpp"

#include "berrykit/error.hpp"
#include "mqtt_diagnosis.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mqtt/async_client.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

namespace berrykit::daemon {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int qos = 1;
constexpr std::size_t max_waiting_commands = 64;
constexpr std::size_t max_waiting_results = 64;
constexpr std::size_t max_command_bytes = 65536;
constexpr std::size_t max_password_bytes = 4096;
// A connection must last this long before the reconnect backoff starts again from its shortest
// wait: a broker that takes the connection and drops it at once (another Pi with the same client
// id, a policy that forbids a topic) is then not hammered.
constexpr auto stable_connection = std::chrono::seconds(30);

std::string seconds_text(double seconds) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%.1f", seconds);
    return text.data();
}

// A topic Paho and the broker will take for a publish: not empty, no wildcards, no NUL, valid length.
bool is_publishable_topic(std::string_view topic) {
    return !topic.empty() && topic.size() <= 65535 &&
           topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

// A name that may be one topic level: no '/', no wildcards, no NUL.
bool is_topic_level(std::string_view name) {
    return !name.empty() && name.find_first_of(std::string_view("/+#\0", 4)) == std::string_view::npos;
}

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::bad_value, what); }

void check_readable(const std::string& path, const char* key) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int error = errno;
        fail(std::string(key) + ": cannot read " + path + ": " + std::generic_category().message(error) +
             (error == EACCES ? " (berrykitd must be allowed to read it: check its owner and mode)" : ""));
    }
    ::close(fd);
}

}  // namespace

// --- topics ---

MqttTopics::MqttTopics(std::string_view prefix, std::string_view device_id)
    : base_(std::string(prefix) + "/" + std::string(device_id) + "/") {}

std::string MqttTopics::reading(std::string_view sensor) const { return base_ + "readings/" + std::string(sensor); }
std::string MqttTopics::event(std::string_view part) const { return base_ + "events/" + std::string(part); }
std::string MqttTopics::status() const { return base_ + "status"; }
std::string MqttTopics::command(std::string_view part) const { return base_ + "commands/" + std::string(part); }
std::string MqttTopics::command_result(std::string_view part) const { return command(part) + "/result"; }

std::optional<std::string> MqttTopics::command_part(std::string_view topic) const {
    const std::string prefix = base_ + "commands/";
    if (topic.size() <= prefix.size() || topic.substr(0, prefix.size()) != prefix) return std::nullopt;
    const std::string_view part = topic.substr(prefix.size());
    if (!is_topic_level(part)) return std::nullopt;
    return std::string(part);
}

double reconnect_delay(unsigned attempt, const MqttReconnectConfig& reconnect, double random_fraction) {
    const double low = reconnect.min;
    const double cap = std::min(reconnect.max, low * std::pow(2.0, static_cast<double>(std::min(attempt, 60U))));
    return low + std::clamp(random_fraction, 0.0, 1.0) * std::max(0.0, cap - low);
}

MqttBridgeOptions mqtt_bridge_options(const DaemonConfig& config, MqttCommandHandler on_command) {
    MqttBridgeOptions options;
    options.mqtt = config.mqtt;
    options.device_id = config.device_id;
    options.remote_parts = remote_parts(config);
    options.on_command = std::move(on_command);
    return options;
}

// --- the bridge ---

struct MqttBridge::Impl : std::enable_shared_from_this<Impl> {
    enum class Phase { not_started, connecting, connected, waiting, stopped };

    // One outbox message between publish() and its PUBACK.
    struct InFlight {
        std::uint64_t seq;
        std::uintptr_t connection;
    };

    // Paho calls these with the user context given to publish()/connect(): the publish id or the
    // connection number.
    struct DeliveryListener final : mqtt::iaction_listener {
        Impl& bridge;
        explicit DeliveryListener(Impl& b) : bridge(b) {}
        void on_success(const mqtt::token& token) override { bridge.delivered(id_of(token), true, 0); }
        void on_failure(const mqtt::token& token) override {
            bridge.delivered(id_of(token), false, token.get_return_code());
        }
    };
    struct ConnectListener final : mqtt::iaction_listener {
        Impl& bridge;
        explicit ConnectListener(Impl& b) : bridge(b) {}
        void on_success(const mqtt::token& token) override { bridge.connect_finished(id_of(token), std::nullopt); }
        void on_failure(const mqtt::token& token) override {
            bridge.connect_finished(id_of(token), token.get_return_code());
        }
    };
    struct SubscribeListener final : mqtt::iaction_listener {
        Impl& bridge;
        explicit SubscribeListener(Impl& b) : bridge(b) {}
        void on_success(const mqtt::token&) override {}
        void on_failure(const mqtt::token& token) override { bridge.subscribe_failed(token.get_return_code()); }
    };
    struct IgnoreListener final : mqtt::iaction_listener {
        void on_success(const mqtt::token&) override {}
        void on_failure(const mqtt::token&) override {}
    };

    static std::uintptr_t id_of(const mqtt::token& token) {
        return reinterpret_cast<std::uintptr_t>(token.get_user_context());
    }

    Impl(OutboxSource& source, MqttBridgeOptions opts)
        : outbox(source),
          options(std::move(opts)),
          url(parse_mqtt_url(options.mqtt.url)),
          topics(options.mqtt.topic_prefix, options.device_id),
          client_id(options.mqtt.client_id.empty() ? options.device_id : options.mqtt.client_id),
          window(options.mqtt.inflight),
          random(std::random_device{}()) {}

    ~Impl() {
        // Not that std::string promises to keep no copy, but at least this one goes.
        std::fill(password.begin(), password.end(), '\0');
    }

    // --- fixed once started ---
    OutboxSource& outbox;
    MqttBridgeOptions options;
    MqttUrl url;
    MqttTopics topics;
    std::string client_id;
    std::size_t window;
    std::set<std::string> remote;
    std::string password;         // never logged, never in a message
    std::string password_source;  // where it came from, for messages: a path, or the variable's name
    bool has_password = false;

    DeliveryListener delivery_listener{*this};
    ConnectListener connect_listener{*this};
    SubscribeListener subscribe_listener{*this};
    IgnoreListener ignore_listener;

    // --- shared with Paho's threads and with reply functions ---
    mutable std::mutex mutex;
    std::condition_variable wake;
    Phase phase = Phase::not_started;
    bool stop_requested = false;
    std::atomic<bool> cancelled{false};  // stop() was asked: ends a diagnosis early
    std::uintptr_t connection = 0;       // numbers connection attempts
    bool ever_connected = false;
    bool announce = false;           // connected, "online" and the subscriptions not sent yet
    bool must_disconnect = false;    // Paho may think it is connected while the bridge gave up on it
    std::optional<int> failed_code;  // a connection attempt failed with this Paho code: explain, back off
    unsigned failures = 0;           // attempts that failed since the last connection that lasted
    unsigned unexplained = 0;        // failed attempts in a row that the diagnosis found no reason for
    Clock::time_point connected_at{};
    Clock::time_point retry_at{};
    std::uint64_t cursor = 0;  // the highest seq sent on this connection
    bool need_peek = true;     // the outbox may have messages after the cursor
    bool caught_up = false;    // the last peek returned all there was
    std::uintptr_t next_publish_id = 1;
    std::unordered_map<std::uintptr_t, InFlight> inflight;
    std::set<std::uint64_t> inflight_seqs;
    std::vector<std::uint64_t> to_acknowledge;
    std::deque<MqttCommand> commands;
    std::deque<std::pair<std::string, std::string>> results;  // topic, payload
    std::string last_error;
    MqttBridgeStatus counters;
    std::mt19937_64 random;

    std::thread worker;
    // Last, so it goes first: no Paho callback can reach the members above once it is gone.
    std::unique_ptr<mqtt::async_client> client;

    // --- logging ---

    void log(LogLevel level, const std::string& message) const {
        if (options.log) {
            options.log(level, "mqtt: " + message);
        } else {
            daemon::log(level, "mqtt: " + message);
        }
    }

    // Records a problem; logs it as a warning when it is new, else at debug level (a broker that
    // is down for an hour gives one warning, not one per attempt).
    void set_error(const std::string& words) {
        const bool repeated = words == last_error;
        last_error = words;
        log(repeated ? LogLevel::debug : LogLevel::warning, words);
    }

    // --- payloads ---

    // {"device":…,"status":…[,"reason":…][,"ts":…]}. The last will has no time: it is written at
    // connect time and sent by the broker whenever the connection dies.
    std::string status_payload(const char* status, const char* reason, bool with_time) const {
        nlohmann::json payload = {{"device", options.device_id}, {"status", status}};
        if (reason) payload["reason"] = reason;
        if (with_time) payload["ts"] = utc_iso_now();
        return payload.dump();
    }

    // --- start ---

    void read_password() {
        const auto& mqtt = options.mqtt;
        if (!mqtt.password_file.empty()) {
            password_source = mqtt.password_file;
            check_readable(mqtt.password_file, "mqtt.password_file");
            struct stat info {};
            if (::stat(mqtt.password_file.c_str(), &info) == 0 && (info.st_mode & S_IROTH)) {
                log(LogLevel::warning, "the password file " + mqtt.password_file +
                                           " can be read by every user of this Pi: chmod 0600 it (or 0640 with "
                                           "group berrykit)");
            }
            const int fd = ::open(mqtt.password_file.c_str(), O_RDONLY | O_CLOEXEC);
            std::array<char, 1024> buffer{};
            std::string text;
            for (ssize_t got; fd >= 0 && (got = ::read(fd, buffer.data(), buffer.size())) > 0;) {
                text.append(buffer.data(), static_cast<std::size_t>(got));
                if (text.size() > max_password_bytes) break;
            }
            std::fill(buffer.begin(), buffer.end(), '\0');
            if (fd >= 0) ::close(fd);
            if (text.size() > max_password_bytes) {
                fail("mqtt.password_file: " + mqtt.password_file +
                     " is too long to be a password (over 4096 bytes): is it the right file?");
            }
            // One line: the newline an editor or `echo` adds is not part of it.
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
            if (text.empty()) fail("mqtt.password_file: " + mqtt.password_file + " is empty: write the password in it");
            if (text.find('\n') != std::string::npos) {
                fail("mqtt.password_file: " + mqtt.password_file +
                     " has more than one line: write only the password in it");
            }
            password = std::move(text);
            has_password = true;
        } else if (!mqtt.password_env.empty()) {
            password_source = "the environment variable " + mqtt.password_env;
            const char* value = std::getenv(mqtt.password_env.c_str());
            if (!value || !*value) {
                fail("mqtt.password_env: the environment variable " + mqtt.password_env +
                     " is not set for berrykitd (with systemd: Environment= or EnvironmentFile= in its service)");
            }
            password = value;
            has_password = true;
        }
    }

    void check_files() const {
        const auto& tls = options.mqtt.tls;
        if (!tls.ca_file.empty()) check_readable(tls.ca_file, "mqtt.tls.ca_file");
        if (!tls.cert_file.empty()) check_readable(tls.cert_file, "mqtt.tls.cert_file");
        if (!tls.key_file.empty()) check_readable(tls.key_file, "mqtt.tls.key_file");
    }

    // One Paho client for the bridge's life, connected again after each loss. (A new client per
    // attempt would connect faster: Paho C 1.3's receive thread polls with a 1 s timeout, so a
    // client that connects again sees its CONNACK 1-2 s late, while a lone new one, on threads
    // started afresh, takes ~10 ms. But destroying the last client stops Paho C's threads and
    // remakes its global mutexes, and ThreadSanitizer then finds races inside Paho C itself: not
    // worth a second on a reconnect that backs off for longer anyway.)
    void create_client() {
        // Paho C++ 1.2 always caps its queue of unsent publishes (100 unless told otherwise), even
        // while connected: leave room for the whole window plus status, results and a spare.
        const int queue = static_cast<int>(window + max_waiting_results + 8);
        client = std::make_unique<mqtt::async_client>(
            url.paho_uri(), client_id,
            mqtt::create_options_builder().send_while_disconnected(false).max_buffered_messages(queue).finalize(),
            nullptr);
        client->set_connection_lost_handler([this](const std::string& cause) { connection_lost(cause); });
        client->set_message_callback([this](mqtt::const_message_ptr message) { message_arrived(message); });
    }

    mqtt::connect_options connect_options() const {
        const auto& mqtt_config = options.mqtt;
        const int queue = static_cast<int>(window + max_waiting_results + 8);
        auto builder =
            mqtt::connect_options_builder()
                .mqtt_version(MQTTVERSION_3_1_1)  // else Paho tries 3.1.1, then 3.1: two attempts
                .clean_session(true)
                .automatic_reconnect(false)
                .keep_alive_interval(std::chrono::seconds(mqtt_config.keepalive))
                .connect_timeout(options.connect_timeout)
                .max_inflight(queue)
                .will(mqtt::message(topics.status(), status_payload("offline", "connection lost", false), qos, true));
        if (!mqtt_config.username.empty()) builder.user_name(mqtt_config.username);
        if (has_password) builder.password(password);
        if (url.tls) {
            const auto& tls = mqtt_config.tls;
            mqtt::ssl_options ssl;
            ssl.set_enable_server_cert_auth(true);
            ssl.set_verify(tls.verify_server_name);
            if (!tls.ca_file.empty()) ssl.set_trust_store(tls.ca_file);
            if (!tls.cert_file.empty()) {
                ssl.set_key_store(tls.cert_file);
                ssl.set_private_key(tls.key_file);
            }
            if (!tls.alpn.empty()) ssl.set_alpn_protos(tls.alpn);
            // No ssl error handler: Paho C++ 1.2 keeps a pointer to the ssl_options object it was
            // set on, which is a copy gone by the time the handshake fails (AddressSanitizer:
            // stack-use-after-scope). The diagnosis finds the reason itself.
            builder.ssl(std::move(ssl));
        }
        return builder.finalize();
    }

    // --- Paho's threads ---

    void connect_finished(std::uintptr_t attempt, std::optional<int> failure) {
        std::lock_guard lock(mutex);
        if (attempt != connection || phase != Phase::connecting) return;
        if (failure) {
            failed_code = *failure;
        } else {
            phase = Phase::connected;
            announce = true;
            unexplained = 0;
            connected_at = Clock::now();
            if (ever_connected) ++counters.reconnects;
            ever_connected = true;
            cursor = 0;
            need_peek = true;
            caught_up = false;
            log(LogLevel::info,
                "connected to " + url.host_port() + " as '" + client_id + "'" +
                    (counters.reconnects ? " (reconnect " + std::to_string(counters.reconnects) + ")" : ""));
        }
        wake.notify_all();
    }

    void connection_lost(const std::string& cause) {
        std::lock_guard lock(mutex);
        if (phase != Phase::connected) return;
        const auto lasted = Clock::now() - connected_at;
        std::string words = "the connection to the MQTT broker at " + url.host_port() + " was lost" +
                            (cause.empty() || cause == "Connection lost" ? "" : " (" + cause + ")");
        if (lasted < std::chrono::seconds(10)) {
            words += " " + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(lasted).count()) +
                     " s after connecting; if this keeps happening, another device may be using the client id '" +
                     client_id +
                     "' (each Pi needs its own device_id or mqtt.client_id), or the broker does not "
                     "allow something this Pi does";
        }
        give_up_connection(words + "; connecting again", false);
    }

    void delivered(std::uintptr_t id, bool ok, int code) {
        std::lock_guard lock(mutex);
        const auto found = inflight.find(id);
        if (found == inflight.end()) return;  // from a connection the bridge already gave up on
        const InFlight message = found->second;
        inflight.erase(found);
        inflight_seqs.erase(message.seq);
        if (ok) {
            to_acknowledge.push_back(message.seq);
            ++counters.acknowledged;
            if (!caught_up) need_peek = true;
        } else if (message.connection == connection && phase == Phase::connected) {
            // With a clean session Paho fails what was in flight when the connection goes (-11),
            // sometimes before it reports the connection lost.
            if (code == MQTTASYNC_OPERATION_INCOMPLETE || code == MQTTASYNC_DISCONNECTED) {
                give_up_connection(
                    "the connection to the MQTT broker at " + url.host_port() + " was lost; connecting again", true);
            } else {
                give_up_connection("the broker did not acknowledge message " + std::to_string(message.seq) +
                                       " (Paho error " + std::to_string(code) + "); connecting again",
                                   true);
            }
        }
        wake.notify_all();
    }

    void subscribe_failed(int code) {
        std::lock_guard lock(mutex);
        set_error(
            "the MQTT broker at " + url.host_port() + " refused the subscription to " + topics.command("<part>") +
            " (Paho error " + std::to_string(code) +
            "): commands cannot reach this Pi; check what the broker allows this client (on AWS IoT: its policy)");
    }

    void message_arrived(const mqtt::const_message_ptr& message) {
        if (!message) return;
        const auto part = topics.command_part(message->get_topic());
        std::string ignored;
        if (!part || !remote.count(*part)) {
            ignored = "ignored a message on " + message->get_topic() + ": not the commands of a remote part";
        } else if (message->is_retained()) {
            ignored = "ignored a retained command for '" + *part +
                      "' (one left on the broker, maybe long ago): commands must be sent without the retain flag";
        } else if (message->get_payload().size() > max_command_bytes) {
            ignored = "ignored a command for '" + *part + "' of " + std::to_string(message->get_payload().size()) +
                      " bytes: at most " + std::to_string(max_command_bytes) + " are taken";
        } else {
            std::lock_guard lock(mutex);
            if (commands.size() < max_waiting_commands) {
                commands.push_back({*part, message->get_payload_str()});
                wake.notify_all();
                return;
            }
            ignored = "dropped a command for '" + *part + "': " + std::to_string(max_waiting_commands) +
                      " commands are already waiting";
        }
        log(LogLevel::warning, ignored);
    }

    // --- state changes (mutex held) ---

    // The connection is no use any more: everything not acknowledged goes again on the next one.
    void give_up_connection(const std::string& why, bool disconnect) {
        // After a connection that lasted, start again from the shortest wait.
        if (Clock::now() - connected_at >= stable_connection) failures = 0;
        phase = Phase::waiting;
        inflight.clear();
        inflight_seqs.clear();
        cursor = 0;
        need_peek = true;
        caught_up = false;
        announce = false;
        must_disconnect = must_disconnect || disconnect;
        schedule_retry();
        set_error(why);
        wake.notify_all();
    }

    void schedule_retry() {
        ++failures;
        const double delay =
            reconnect_delay(failures, options.mqtt.reconnect, std::uniform_real_distribution<double>(0.0, 1.0)(random));
        retry_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay));
    }

    // --- the bridge's thread ---

    void run() {
        // The diagnosis writes through OpenSSL to sockets the broker may have closed: an EPIPE is
        // enough, a SIGPIPE must not end the program (berrykitd ignores it anyway; a test may not).
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

        std::unique_lock lock(mutex);
        while (!stop_requested) {
            if (!to_acknowledge.empty()) {
                acknowledge_delivered(lock);
            } else if (must_disconnect) {
                drop_paho_connection(lock);
            } else if (failed_code) {
                explain_failure(lock);
            } else if ((phase == Phase::not_started || phase == Phase::waiting) && Clock::now() >= retry_at) {
                begin_connect(lock);
            } else if (phase == Phase::connected && announce) {
                announce_online(lock);
            } else if (phase == Phase::connected && !commands.empty()) {
                dispatch_commands(lock);
            } else if (phase == Phase::connected && !results.empty()) {
                publish_results(lock);
            } else if (phase == Phase::connected && need_peek && inflight.size() < window) {
                publish_from_outbox(lock);
            } else if (phase == Phase::waiting) {
                wake.wait_until(lock, retry_at);
            } else {
                wake.wait(lock);
            }
        }
        shut_down(lock);
    }

    void acknowledge_delivered(std::unique_lock<std::mutex>& lock) {
        const auto seqs = std::exchange(to_acknowledge, {});
        lock.unlock();
        for (const auto seq : seqs) {
            try {
                outbox.acknowledge(seq);
            } catch (const std::exception& e) {
                log(LogLevel::error,
                    "the outbox did not take the acknowledgement of " + std::to_string(seq) + ": " + e.what());
            }
        }
        lock.lock();
    }

    void drop_paho_connection(std::unique_lock<std::mutex>& lock) {
        must_disconnect = false;
        lock.unlock();
        try {
            client->disconnect(0)->wait_for(options.stop_timeout);
        } catch (const mqtt::exception&) {
            // Not connected any more: what was wanted.
        }
        lock.lock();
    }

    void begin_connect(std::unique_lock<std::mutex>& lock) {
        const auto attempt = ++connection;
        phase = Phase::connecting;
        lock.unlock();
        std::optional<int> refused;
        try {
            client->connect(connect_options(), reinterpret_cast<void*>(attempt), connect_listener);
        } catch (const mqtt::exception& e) {
            refused = e.get_return_code();
        }
        lock.lock();
        if (refused && attempt == connection && phase == Phase::connecting) failed_code = refused;
    }

    void explain_failure(std::unique_lock<std::mutex>& lock) {
        detail::ConnectFailure failure;
        failure.url = url;
        failure.tls = options.mqtt.tls;
        failure.client_id = client_id;
        failure.has_username = !options.mqtt.username.empty();
        failure.password_source = password_source;
        failure.paho_code = *failed_code;
        failed_code.reset();
        const auto attempt = connection;
        phase = Phase::waiting;
        retry_at = Clock::time_point::max();  // until explained
        lock.unlock();
        const auto timeout =
            std::min<std::chrono::milliseconds>(options.connect_timeout, std::chrono::milliseconds(5000));
        const auto words = detail::explain_connect_failure(failure, timeout, cancelled);
        lock.lock();
        if (attempt != connection || stop_requested) return;
        schedule_retry();
        if (words) {
            unexplained = 0;
            set_error(*words);
            return;
        }
        // Nothing wrong to be seen now: most likely the broker was starting. Said only when it
        // keeps happening.
        const std::string paho = mqtt::exception::error_str(failure.paho_code);
        if (++unexplained < 3) {
            log(LogLevel::debug, "connecting to " + url.host_port() + " failed (Paho: " + paho +
                                     "), but the broker takes connections now; trying again");
            return;
        }
        set_error("the MQTT broker at " + url.host_port() + " takes connections, but connecting to it failed " +
                  std::to_string(unexplained) + " times in a row (Paho: " + paho + "); the broker's log may say why");
    }

    void announce_online(std::unique_lock<std::mutex>& lock) {
        announce = false;
        const auto attempt = connection;
        lock.unlock();
        std::optional<int> refused;
        try {
            client->publish(mqtt::make_message(topics.status(), status_payload("online", nullptr, true), qos, true),
                            nullptr, ignore_listener);
            if (options.on_command && !remote.empty()) {
                std::vector<std::string> filters;
                for (const auto& part : remote) filters.push_back(topics.command(part));
                const mqtt::iasync_client::qos_collection levels(filters.size(), qos);
                client->subscribe(mqtt::string_collection::create(std::move(filters)), levels, nullptr,
                                  subscribe_listener);
            }
        } catch (const mqtt::exception& e) {
            refused = e.get_return_code();
        }
        lock.lock();
        if (refused && attempt == connection && phase == Phase::connected) {
            give_up_connection("could not announce this Pi to the MQTT broker (Paho error " + std::to_string(*refused) +
                                   "); connecting again",
                               true);
        }
    }

    MqttCommandReply reply_for(const std::string& part) {
        return [weak = weak_from_this(), topic = topics.command_result(part)](std::string result) {
            const auto self = weak.lock();
            if (!self) return;
            std::lock_guard lock(self->mutex);
            if (self->phase == Phase::stopped || self->stop_requested) return;
            if (self->results.size() >= max_waiting_results) {
                self->log(LogLevel::warning, "dropped the oldest command result waiting for the broker (" +
                                                 std::to_string(max_waiting_results) + " were waiting)");
                self->results.pop_front();
            }
            self->results.emplace_back(topic, std::move(result));
            self->wake.notify_all();
        };
    }

    void dispatch_commands(std::unique_lock<std::mutex>& lock) {
        auto waiting = std::exchange(commands, {});
        counters.commands += waiting.size();
        lock.unlock();
        for (auto& command : waiting) {
            const std::string part = command.part;
            try {
                options.on_command(std::move(command), reply_for(part));
            } catch (const std::exception& e) {
                log(LogLevel::error, "the command handler failed on a command for '" + part + "': " + e.what());
            }
        }
        lock.lock();
    }

    void publish_results(std::unique_lock<std::mutex>& lock) {
        auto waiting = std::exchange(results, {});
        const auto attempt = connection;
        lock.unlock();
        std::optional<int> refused;
        while (!waiting.empty()) {
            auto& [topic, payload] = waiting.front();
            try {
                client->publish(mqtt::make_message(topic, payload, qos, false), nullptr, ignore_listener);
            } catch (const mqtt::exception& e) {
                refused = e.get_return_code();
                break;
            }
            waiting.pop_front();
        }
        lock.lock();
        if (!refused) return;
        // Keep what was not sent for the next connection, in order, within the limit.
        for (auto it = waiting.rbegin(); it != waiting.rend() && results.size() < max_waiting_results; ++it) {
            results.push_front(std::move(*it));
        }
        if (attempt == connection && phase == Phase::connected) {
            give_up_connection(
                "Paho refused a command result (error " + std::to_string(*refused) + "); connecting again", true);
        }
    }

    void publish_from_outbox(std::unique_lock<std::mutex>& lock) {
        const auto attempt = connection;
        const std::size_t room = window - inflight.size();
        const std::uint64_t after = cursor;
        need_peek = false;
        lock.unlock();
        std::vector<PendingMessage> batch;
        try {
            batch = outbox.peek(after, room);
        } catch (const std::exception& e) {
            log(LogLevel::error, std::string("cannot read the outbox: ") + e.what());
        }
        lock.lock();
        if (attempt != connection || phase != Phase::connected) return;
        caught_up = batch.size() < room;
        struct Send {
            std::uintptr_t id;
            PendingMessage* message;
        };
        std::vector<Send> sends;
        for (auto& message : batch) {
            cursor = std::max(cursor, message.seq);
            if (inflight_seqs.count(message.seq)) continue;
            if (!is_publishable_topic(message.topic)) {
                log(LogLevel::error,
                    "dropped outbox message " + std::to_string(message.seq) + ": its topic cannot be published to");
                to_acknowledge.push_back(message.seq);
                continue;
            }
            const auto id = next_publish_id++;
            inflight.emplace(id, InFlight{message.seq, attempt});
            inflight_seqs.insert(message.seq);
            sends.push_back({id, &message});
        }
        // A batch of messages that were all still in flight (after a hiccup) moved the cursor on:
        // look again from there.
        if (!caught_up && sends.empty()) need_peek = true;
        lock.unlock();
        std::size_t sent = 0;
        std::optional<int> refused;
        for (const auto& send : sends) {
            try {
                client->publish(mqtt::make_message(send.message->topic, send.message->payload, qos, false),
                                reinterpret_cast<void*>(send.id), delivery_listener);
                ++sent;
            } catch (const mqtt::exception& e) {
                refused = e.get_return_code();
                break;
            }
        }
        lock.lock();
        counters.published += sent;
        if (!refused) return;
        for (std::size_t i = sent; i < sends.size(); ++i) {
            if (const auto found = inflight.find(sends[i].id); found != inflight.end()) {
                inflight_seqs.erase(found->second.seq);
                inflight.erase(found);
            }
        }
        if (attempt == connection && phase == Phase::connected) {
            give_up_connection("Paho refused to publish (error " + std::to_string(*refused) + "); connecting again",
                               true);
        }
    }

    void shut_down(std::unique_lock<std::mutex>& lock) {
        const bool was_connected = phase == Phase::connected;
        lock.unlock();
        if (was_connected) {
            try {
                client
                    ->publish(
                        mqtt::make_message(topics.status(), status_payload("offline", "stopped", true), qos, true))
                    ->wait_for(options.stop_timeout);
            } catch (const mqtt::exception& e) {
                log(LogLevel::warning, "could not tell the broker this Pi goes offline (Paho error " +
                                           std::to_string(e.get_return_code()) + ")");
            }
        }
        try {
            // Waits for the messages in flight too, up to the timeout.
            const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.stop_timeout);
            if (client)
                client->disconnect(static_cast<int>(timeout.count()))->wait_for(timeout + std::chrono::seconds(1));
        } catch (const mqtt::exception&) {
            // Was not connected.
        }
        lock.lock();
        phase = Phase::stopped;
        inflight.clear();
        inflight_seqs.clear();
        if (!to_acknowledge.empty()) acknowledge_delivered(lock);
        log(LogLevel::info, "stopped; " + std::to_string(counters.published) + " messages published, " +
                                std::to_string(counters.acknowledged) + " acknowledged");
    }

    MqttBridgeStatus status() const {
        std::lock_guard lock(mutex);
        MqttBridgeStatus status = counters;
        status.connected = phase == Phase::connected;
        status.last_error = last_error;
        status.inflight = inflight.size();
        const std::string at = url.host_port();
        switch (phase) {
            case Phase::not_started: status.state = "not started"; break;
            case Phase::connecting: status.state = "connecting to " + at; break;
            case Phase::connected: status.state = "connected to " + at; break;
            case Phase::waiting:
                if (retry_at == Clock::time_point::max()) {
                    status.state = "finding out why connecting to " + at + " failed";
                } else {
                    const double left = std::max(0.0, std::chrono::duration<double>(retry_at - Clock::now()).count());
                    status.state = "waiting " + seconds_text(left) + " s before connecting to " + at + " again";
                }
                break;
            case Phase::stopped: status.state = "stopped"; break;
        }
        return status;
    }
};

MqttBridge::MqttBridge(OutboxSource& outbox, MqttBridgeOptions options) {
    const auto& mqtt = options.mqtt;
    if (mqtt.url.empty()) fail("mqtt.url: not set, so the cloud bridge is off: set it to mqtt://host or mqtts://host");
    if (const auto problem = problem_with_mqtt_url(mqtt.url)) fail("mqtt.url: " + *problem);
    if (!is_topic_level(options.device_id)) {
        fail("device_id: \"" + options.device_id + "\" cannot be one level of an MQTT topic");
    }
    if (mqtt.topic_prefix.empty() || !is_publishable_topic(mqtt.topic_prefix)) {
        fail("mqtt.topic_prefix: \"" + mqtt.topic_prefix + "\" cannot start an MQTT topic");
    }
    for (const auto& part : options.remote_parts) {
        if (!is_topic_level(part))
            fail("parts." + part + ".remote: this part's name cannot be one level of an MQTT topic");
    }
    if (mqtt.inflight < 1 || mqtt.inflight > 65535) {
        fail("mqtt.inflight: must be between 1 and 65535 messages, got " + std::to_string(mqtt.inflight));
    }
    if (!(mqtt.reconnect.min > 0) || !(mqtt.reconnect.max >= mqtt.reconnect.min)) {
        fail("mqtt.reconnect: min must be above 0 and max at least min, got " + to_text(mqtt.reconnect.min) + " and " +
             to_text(mqtt.reconnect.max));
    }
    if (!parse_mqtt_url(mqtt.url).tls &&
        (!mqtt.tls.ca_file.empty() || !mqtt.tls.cert_file.empty() || !mqtt.tls.alpn.empty())) {
        fail("mqtt.tls: TLS settings need an mqtts:// url");
    }
    if (mqtt.tls.cert_file.empty() != mqtt.tls.key_file.empty()) {
        fail("mqtt.tls: a client certificate needs its key: set both cert_file and key_file, or neither");
    }
    if ((!mqtt.password_file.empty() || !mqtt.password_env.empty()) && mqtt.username.empty()) {
        fail("mqtt.username: a password needs a username");
    }
    if (options.connect_timeout < std::chrono::seconds(1)) fail("the connect timeout must be at least 1 second");
    impl_ = std::make_shared<Impl>(outbox, std::move(options));
    impl_->remote.insert(impl_->options.remote_parts.begin(), impl_->options.remote_parts.end());
}

MqttBridge::~MqttBridge() {
    stop();
    if (impl_->client) {
        try {
            impl_->client->disable_callbacks();
        } catch (const mqtt::exception&) {
        }
    }
}

void MqttBridge::start() {
    Impl& impl = *impl_;
    {
        std::lock_guard lock(impl.mutex);
        if (impl.phase != Impl::Phase::not_started || impl.worker.joinable()) {
            throw Error(ErrorCode::unsupported, "the MQTT bridge was started already; a bridge starts once");
        }
    }
    impl.read_password();
    impl.check_files();
    try {
        impl.create_client();
    } catch (const mqtt::exception& e) {
        throw Error(ErrorCode::unsupported, std::string("cannot set up the MQTT client: ") + e.what());
    }
    impl.outbox.set_on_stored([weak = std::weak_ptr<Impl>(impl_)] {
        if (const auto self = weak.lock()) {
            std::lock_guard lock(self->mutex);
            self->need_peek = true;
            self->caught_up = false;
            self->wake.notify_all();
        }
    });
    impl.log(LogLevel::info,
             "connecting to " + impl.url.host_port() + (impl.url.tls ? " (TLS)" : "") + " as '" + impl.client_id + "'");
    impl.worker = std::thread([&impl] { impl.run(); });
}

void MqttBridge::stop() {
    Impl& impl = *impl_;
    {
        std::lock_guard lock(impl.mutex);
        impl.stop_requested = true;
        impl.cancelled = true;
        impl.wake.notify_all();
    }
    if (impl.worker.joinable()) {
        impl.worker.join();
        impl.outbox.set_on_stored({});
    }
    std::lock_guard lock(impl.mutex);
    impl.phase = Impl::Phase::stopped;
}

MqttBridgeStatus MqttBridge::status() const { return impl_->status(); }

const MqttTopics& MqttBridge::topics() const { return impl_->topics; }

}  // namespace berrykit::daemon
