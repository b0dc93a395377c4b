// berrykit — why a connection to the MQTT broker failed, in plain words (private to the bridge).
//
// Paho says little: "TCP/TLS connect failure" (-1) covers a stopped broker, a wrong port, a wrong
// CA, a certificate for another name and a missing client certificate alike. So after a failed
// attempt the bridge looks for itself: a TCP connection to the broker, then (for mqtts://) a TLS
// handshake with the same CA, client certificate, ALPN and name check, and turns what goes wrong
// into a sentence that names the setting to change. It runs on the bridge's thread, at most once
// per attempt (so as often as the reconnect backoff allows).
#pragma once

#include "berrykit/daemon/config.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

namespace berrykit::daemon::detail {

struct ConnectFailure {
    MqttUrl url;
    MqttTlsConfig tls;
    std::string client_id;
    bool has_username = false;
    std::string password_source;  // "the file /etc/berrykit/mqtt-password", "$BERRYKIT_MQTT_PASSWORD", or empty
    int paho_code = -1;           // Paho's return code: > 0 is the broker's CONNACK refusal
};

// The sentence for `failure`. Probes the broker (TCP, then TLS) when Paho's code does not say
// enough, each step taking at most `timeout`; gives up early when `cancelled` becomes true.
// Nothing when the probe finds nothing wrong: the broker takes connections now (it may have just
// started), or what went wrong is beyond what a probe sees (the broker's log may say).
std::optional<std::string> explain_connect_failure(const ConnectFailure& failure, std::chrono::milliseconds timeout,
                                                   const std::atomic<bool>& cancelled);

}  // namespace berrykit::daemon::detail
