// berrykit — berrykitd's cloud bridge: publishes what the durable outbox holds to an MQTT broker,
// and hands the commands the cloud sends for remote parts to the daemon.
//
//     OutboxSourceFor<Outbox> source(outbox);
//     MqttBridge bridge(source, mqtt_bridge_options(config, on_command));
//     bridge.start();                  // returns at once; connects (and reconnects) in the background
//     ...
//     bridge.stop();                   // "offline" status, then a clean disconnect
//
// Topics (MqttTopics), under <topic_prefix>/<device_id>/ ("berrykit/classroom-pi/"):
//   readings/<sensor>, events/<part>   what the outbox holds (the daemon builds them)
//   status                             retained: {"device":"classroom-pi","status":"online","ts":"…"}
//                                      on connect; "offline" with "reason":"stopped" on stop(); the
//                                      broker's last will, "offline" with "reason":"connection lost",
//                                      when the Pi disappears without saying goodbye
//   commands/<part>                    in: subscribed only for the remote parts
//   commands/<part>/result             out: what the command handler replied (QoS 1, not retained)
//
// Delivery. The bridge keeps a cursor, the highest seq it has sent on this connection, and a window
// of at most mqtt.inflight messages sent without a PUBACK. It publishes peek(cursor, room) at QoS 1,
// not retained; each PUBACK acknowledges that seq to the outbox and frees a slot. When the
// connection goes, the cursor goes back to 0, so everything not acknowledged is sent again after
// reconnecting: nothing is lost, and duplicates (which QoS 1 allows) carry the same seq. Paho's own
// offline buffering and file persistence are not used, and the session is clean (the outbox, not
// the broker, remembers what is unsent).
//
// Reconnecting: attempt n (1, 2, 3, …) after a failure or a lost connection waits a random time
// between reconnect.min and min(reconnect.max, reconnect.min · 2ⁿ) (reconnect_delay()), so 30 Pis
// that lose the same broker do not all come back in the same millisecond, and a broker that stays
// down is tried less and less often. A connection that lasts 30 s starts the count again (one that
// the broker drops at once, as when two Pis share a client id, does not).
//
// Threads. The bridge has one thread of its own, which does all the connecting, publishing,
// acknowledging and command dispatching. Paho's callbacks run on Paho's threads: they only update
// the bridge's state (behind a mutex) and wake that thread. The command handler and the log
// function are called on the bridge's thread (the log function on Paho's too).
//
// Secrets. The password is read in start() from mqtt.password_file or the variable named by
// mqtt.password_env; it is handed to Paho and appears in no log line, error or status.
#pragma once

#include "berrykit/daemon/config.hpp"
#include "berrykit/daemon/log.hpp"
#include "berrykit/daemon/outbox_source.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berrykit::daemon {

// The topics of one Pi: "<prefix>/<device_id>/…".
class MqttTopics {
public:
    MqttTopics(std::string_view prefix, std::string_view device_id);

    std::string reading(std::string_view sensor) const;       // …/readings/<sensor>
    std::string event(std::string_view part) const;           // …/events/<part>
    std::string status() const;                               // …/status
    std::string command(std::string_view part) const;         // …/commands/<part>
    std::string command_result(std::string_view part) const;  // …/commands/<part>/result
    // The part a …/commands/<part> topic is for; nothing for any other topic.
    std::optional<std::string> command_part(std::string_view topic) const;

private:
    std::string base_;  // "<prefix>/<device_id>/"
};

// A command from the cloud for one of the remote parts: the part, and the payload as it came.
struct MqttCommand {
    std::string part;
    std::string payload;
};
// Publishes `result` to commands/<part>/result. Call it once, from any thread, now or later (it is
// safe to call after the bridge is gone: the result is dropped). Results wait in memory (at most
// 64) while the broker is away; they are not durable.
using MqttCommandReply = std::function<void(std::string result)>;
// Checks and carries out a command (the daemon's job), then replies. Runs on the bridge's thread:
// post the work to the daemon's event loop and return, rather than block.
using MqttCommandHandler = std::function<void(MqttCommand command, MqttCommandReply reply)>;

struct MqttBridgeOptions {
    MqttConfig mqtt;        // the url must be set; the rest as config.hpp documents it
    std::string device_id;  // names the Pi in every topic; the client id too when mqtt.client_id is empty
    // The parts whose commands/<part> the bridge subscribes to. Nothing else reaches on_command.
    std::vector<std::string> remote_parts;
    MqttCommandHandler on_command;  // empty: no subscriptions at all
    // How long one connection attempt (TCP, TLS, CONNACK) may take. Whole seconds (Paho's unit).
    std::chrono::seconds connect_timeout{10};
    // stop(): how long to wait for the "offline" status to be acknowledged, then for the disconnect.
    std::chrono::milliseconds stop_timeout{2000};
    // Where the bridge's log lines go; empty: berrykitd's log (stderr). Never given a secret.
    std::function<void(LogLevel, const std::string&)> log;
};

// The options berrykitd runs the bridge with: config.mqtt, config.device_id, and the parts marked
// "remote" in config.parts.
MqttBridgeOptions mqtt_bridge_options(const DaemonConfig& config, MqttCommandHandler on_command);

struct MqttBridgeStatus {
    bool connected = false;
    // In words: "not started", "connecting to host:1883", "connected to host:1883",
    // "waiting 2.4 s before connecting to host:1883 again", "stopped".
    std::string state;
    // The last problem, in plain words, kept after the bridge recovers from it (so a teacher can see
    // why it reconnected); empty if there never was one. Like
    //   "cannot reach the MQTT broker at 127.0.0.1:1883: connection refused; is mosquitto running, …"
    //   "the broker's certificate is not signed by the CA in /etc/berrykit/ca.pem; check mqtt.tls.ca_file"
    std::string last_error;
    std::uint64_t published = 0;     // outbox messages handed to the broker, resends included
    std::uint64_t acknowledged = 0;  // PUBACKs for them
    std::uint64_t reconnects = 0;    // connections made after the first one
    std::size_t inflight = 0;        // outbox messages sent and not yet acknowledged
    std::uint64_t commands = 0;      // commands handed to on_command
};

// How long attempt `attempt` (1, 2, …) waits: reconnect.min + random_fraction · (cap − reconnect.min)
// seconds, where cap = min(reconnect.max, reconnect.min · 2^attempt) and random_fraction is in [0, 1].
double reconnect_delay(unsigned attempt, const MqttReconnectConfig& reconnect, double random_fraction);

class MqttBridge {
public:
    // Checks the options (the url, the names that go into topics, the window, the reconnect times)
    // and throws Error(bad_value) naming the key, like a config error. Connects to nothing yet.
    MqttBridge(OutboxSource& outbox, MqttBridgeOptions options);
    // stop(), then lets go of Paho.
    ~MqttBridge();
    MqttBridge(const MqttBridge&) = delete;
    MqttBridge& operator=(const MqttBridge&) = delete;

    // Reads the password and checks that the TLS files can be read (Error(bad_value) naming the key
    // and the file when not), then starts the bridge's thread, which connects in the background and
    // keeps connecting until stop(). A bridge starts once; a reload makes a new one.
    void start();
    // If connected: publishes the retained "offline" status, waits up to stop_timeout for it and
    // for the messages in flight, and disconnects. Then stops the thread. Idempotent.
    void stop();

    MqttBridgeStatus status() const;
    const MqttTopics& topics() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace berrykit::daemon
