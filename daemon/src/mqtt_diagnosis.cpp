#include "mqtt_diagnosis.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace berrykit::daemon::detail {

namespace {

using Clock = std::chrono::steady_clock;

class Socket {
public:
    explicit Socket(int fd = -1) noexcept : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) ::close(fd_);
    }
    Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Socket& operator=(Socket&& other) noexcept {
        std::swap(fd_, other.fd_);
        return *this;
    }
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

// Waits until `fd` has `events`; false on reaching `deadline` or on cancellation.
bool wait_for(int fd, short events, Clock::time_point deadline, const std::atomic<bool>& cancelled) {
    while (!cancelled.load()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
        if (ready > 0) return true;
        if (ready < 0 && errno != EINTR) return true;  // the caller's next call reports the error
    }
    return false;
}

std::string seconds_text(std::chrono::milliseconds timeout) {
    const auto ms = timeout.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000)
                          : std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100);
}

std::string utc_now_text() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::array<char, 32> text{};
    std::strftime(text.data(), text.size(), "%Y-%m-%d %H:%M UTC", &utc);
    return text.data();
}

bool is_ip_address(const std::string& host) {
    std::array<unsigned char, sizeof(in6_addr)> buffer{};
    return ::inet_pton(AF_INET, host.c_str(), buffer.data()) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), buffer.data()) == 1;
}

// A TCP connection to the broker, or why there is none.
struct TcpResult {
    Socket socket;
    std::string problem;
};

TcpResult connect_tcp(const MqttUrl& url, std::chrono::milliseconds timeout, const std::atomic<bool>& cancelled) {
    const std::string where = "cannot reach the MQTT broker at " + url.host_port() + ": ";
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int lookup = ::getaddrinfo(url.host.c_str(), std::to_string(url.port).c_str(), &hints, &found);
    if (lookup != 0) {
        return {Socket(), "cannot find the MQTT broker '" + url.host + "': " + ::gai_strerror(lookup) +
                              "; check the host in mqtt.url and that the Pi is online (its network and DNS)"};
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    const auto deadline = Clock::now() + timeout;
    int error = ETIMEDOUT;
    for (const addrinfo* address = found; address; address = address->ai_next) {
        Socket socket(::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (socket.get() < 0) {
            error = errno;
            continue;
        }
        if (::connect(socket.get(), address->ai_addr, address->ai_addrlen) == 0) return {std::move(socket), {}};
        if (errno != EINPROGRESS) {
            error = errno;
            continue;
        }
        if (!wait_for(socket.get(), POLLOUT, deadline, cancelled)) {
            error = ETIMEDOUT;
            break;
        }
        int so_error = 0;
        socklen_t length = sizeof so_error;
        ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &so_error, &length);
        if (so_error == 0) return {std::move(socket), {}};
        error = so_error;
    }
    switch (error) {
        case ECONNREFUSED:
            return {Socket(), where + "connection refused; is mosquitto (or whichever broker) running, and is " +
                                  std::to_string(url.port) + " its port?"};
        case ETIMEDOUT:
            return {Socket(), where + "no answer within " + seconds_text(timeout) +
                                  " s; check the host in mqtt.url, the Pi's network and any firewall"};
        case ENETUNREACH:
            return {Socket(), where + "the network is unreachable; is the Pi connected (Wi-Fi or cable)?"};
        case EHOSTUNREACH:
            return {Socket(), where +
                                  "no route to the host; is the Pi connected (Wi-Fi or cable), and is the broker's "
                                  "computer on?"};
        default: return {Socket(), where + std::generic_category().message(error)};
    }
}

// OpenSSL's last error, as its reason code and words; clears the queue.
struct OpenSslError {
    int reason = 0;
    std::string words;
};

OpenSslError take_openssl_error() {
    OpenSslError last;
    for (unsigned long code; (code = ERR_get_error()) != 0;) {
        last.reason = ERR_GET_REASON(code);
        const char* words = ERR_reason_error_string(code);
        last.words = words ? words : "error " + std::to_string(code);
    }
    return last;
}

struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
struct SslFree {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

std::string certificate_words(long verify_result, const ConnectFailure& failure) {
    const std::string& ca = failure.tls.ca_file;
    switch (verify_result) {
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            return "the broker's certificate is not for '" + failure.url.host +
                   "' (the host in mqtt.url); use the name its certificate gives, or set "
                   "mqtt.tls.verify_server_name to false";
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return "the broker's certificate has expired; if it has not, the Pi's clock is wrong (it says " +
                   utc_now_text() + ")";
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "the broker's certificate is not valid yet: is the Pi's clock right? (it says " + utc_now_text() +
                   ")";
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_CERT_SIGNATURE_FAILURE:
            if (!ca.empty())
                return "the broker's certificate is not signed by the CA in " + ca + "; check mqtt.tls.ca_file";
            return "the broker's certificate is not signed by a CA this Pi trusts; give the broker's CA certificate in "
                   "mqtt.tls.ca_file";
        default:
            return std::string("the broker's certificate was refused: ") + X509_verify_cert_error_string(verify_result);
    }
}

// What a TLS alert or error from the broker means for this Pi's settings.
std::optional<std::string> client_certificate_words(const OpenSslError& error, const ConnectFailure& failure) {
    const bool has_cert = !failure.tls.cert_file.empty();
    switch (error.reason) {
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
            if (!has_cert) {
                return std::string(
                    "the broker wants a client certificate from the Pi: set mqtt.tls.cert_file and "
                    "mqtt.tls.key_file");
            }
            if (error.reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE) return std::nullopt;
            [[fallthrough]];
        case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
        case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
        case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
        case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
        case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
        case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
            if (!has_cert) return std::nullopt;
            return "the broker did not accept the client certificate in " + failure.tls.cert_file + " (" + error.words +
                   "); check that it was made for this broker (mqtt.tls.cert_file)";
        default: return std::nullopt;
    }
}

// The TLS side of the connection, through OpenSSL with the bridge's settings. Nothing when it works.
std::optional<std::string> probe_tls(int fd, const ConnectFailure& failure, std::chrono::milliseconds timeout,
                                     const std::atomic<bool>& cancelled) {
    const std::string at = "the broker at " + failure.url.host_port();
    const auto& tls = failure.tls;
    ERR_clear_error();
    std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return "cannot set up TLS: " + take_openssl_error().words;
    // Verification runs, and its result is read after the handshake, which then goes on whatever
    // it finds: a handshake that completes tells a bad certificate from a bad port.
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    if (!tls.ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) != 1) {
            return "cannot read the CA certificates in " + tls.ca_file +
                   " (mqtt.tls.ca_file): " + take_openssl_error().words;
        }
    } else {
        SSL_CTX_set_default_verify_paths(ctx.get());
    }
    if (!tls.cert_file.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert_file.c_str()) != 1) {
            return "cannot use the client certificate in " + tls.cert_file +
                   " (mqtt.tls.cert_file): " + take_openssl_error().words;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
            return "cannot use the private key in " + tls.key_file +
                   " (mqtt.tls.key_file): " + take_openssl_error().words;
        }
        if (SSL_CTX_check_private_key(ctx.get()) != 1) {
            ERR_clear_error();
            return "the key in " + tls.key_file + " does not belong to the certificate in " + tls.cert_file +
                   "; check mqtt.tls.cert_file and mqtt.tls.key_file";
        }
    }
    if (!tls.alpn.empty()) {
        std::vector<unsigned char> wire;
        for (const auto& protocol : tls.alpn) {
            wire.push_back(static_cast<unsigned char>(protocol.size()));
            wire.insert(wire.end(), protocol.begin(), protocol.end());
        }
        SSL_CTX_set_alpn_protos(ctx.get(), wire.data(), static_cast<unsigned>(wire.size()));
    }
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
    if (!ssl) return "cannot set up TLS: " + take_openssl_error().words;
    SSL_set_fd(ssl.get(), fd);
    const bool ip = is_ip_address(failure.url.host);
    if (!ip) {  // SNI (SSL_set_tlsext_host_name, without the macro's C cast)
        SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(failure.url.host.c_str()));
    }
    if (tls.verify_server_name) {
        if (ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), failure.url.host.c_str());
        } else {
            SSL_set1_host(ssl.get(), failure.url.host.c_str());
        }
    }

    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const int done = SSL_connect(ssl.get());
        if (done == 1) break;
        const int why = SSL_get_error(ssl.get(), done);
        if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) {
            if (!wait_for(fd, why == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, cancelled)) {
                if (cancelled.load()) return "stopped";
                return at + " did not finish the TLS handshake within " + seconds_text(timeout) + " s; is " +
                       std::to_string(failure.url.port) + " its TLS port?";
            }
            continue;
        }
        const OpenSslError error = take_openssl_error();
        if (auto words = client_certificate_words(error, failure)) return words;
        switch (error.reason) {
            case SSL_R_WRONG_VERSION_NUMBER:
            case SSL_R_PACKET_LENGTH_TOO_LONG:
            case SSL_R_UNKNOWN_PROTOCOL:
                return at + " does not answer in TLS; if " + std::to_string(failure.url.port) +
                       " is a plain MQTT port (like 1883), write mqtt:// in mqtt.url";
            case SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL:
                return at + " accepts none of the ALPN protocols in mqtt.tls.alpn";
            default: break;
        }
        if (error.reason == 0 || error.reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            std::string hint = "; is " + std::to_string(failure.url.port) + " its TLS port?";
            if (failure.url.port == 443 && tls.alpn.empty()) {
                hint = "; on port 443, AWS IoT needs mqtt.tls.alpn [\"x-amzn-mqtt-ca\"]";
            }
            return at + " closed the connection during the TLS handshake" + hint;
        }
        return "the TLS handshake with " + failure.url.host_port() + " failed: " + error.words;
    }

    const long verified = SSL_get_verify_result(ssl.get());
    if (verified != X509_V_OK) return certificate_words(verified, failure);

    // TLS 1.3 sends the broker's verdict on the client certificate after the handshake: wait a
    // moment for an alert. The broker itself sends nothing until it gets an MQTT CONNECT.
    const auto alert_deadline =
        Clock::now() + std::min<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(500));
    for (;;) {
        std::array<char, 256> buffer{};
        const int got = SSL_read(ssl.get(), buffer.data(), static_cast<int>(buffer.size()));
        if (got > 0) break;
        const int why = SSL_get_error(ssl.get(), got);
        if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) {
            if (!wait_for(fd, why == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, alert_deadline, cancelled)) break;
            continue;
        }
        const OpenSslError error = take_openssl_error();
        if (auto words = client_certificate_words(error, failure)) return words;
        if (why == SSL_ERROR_ZERO_RETURN || why == SSL_ERROR_SYSCALL ||
            error.reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            return at + " closed the TLS connection right after the handshake" +
                   (tls.cert_file.empty() ? "; it may want a client certificate (mqtt.tls.cert_file and key_file)"
                                          : "; it may not accept the client certificate in " + tls.cert_file);
        }
        return at + " ended the TLS connection: " + error.words;
    }
    return std::nullopt;
}

// True when whatever listens on the other end of `fd` answers a TLS ClientHello like a TLS server
// (an mqtt:// url for a broker's TLS port). A plain MQTT broker reads it as a bad packet and closes.
bool speaks_tls(int fd, std::chrono::milliseconds timeout, const std::atomic<bool>& cancelled) {
    ERR_clear_error();
    std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return false;
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
    if (!ssl) return false;
    SSL_set_fd(ssl.get(), fd);
    const auto deadline = Clock::now() + std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(2));
    for (;;) {
        const int done = SSL_connect(ssl.get());
        if (done == 1) break;
        const int why = SSL_get_error(ssl.get(), done);
        if ((why != SSL_ERROR_WANT_READ && why != SSL_ERROR_WANT_WRITE) ||
            !wait_for(fd, why == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, cancelled)) {
            ERR_clear_error();
            return false;
        }
    }
    return true;
}

std::string password_hint(const ConnectFailure& failure) {
    if (!failure.has_username) {
        return "; it may want a username and password (mqtt.username and mqtt.password_file)";
    }
    return "; check mqtt.username and the password in " +
           (failure.password_source.empty() ? std::string("mqtt.password_file") : failure.password_source);
}

}  // namespace

std::optional<std::string> explain_connect_failure(const ConnectFailure& failure, std::chrono::milliseconds timeout,
                                                   const std::atomic<bool>& cancelled) {
    const std::string broker = "the MQTT broker at " + failure.url.host_port();
    switch (failure.paho_code) {  // the broker's own answer (CONNACK)
        case 1: return broker + " refused the connection: it does not speak MQTT 3.1.1";
        case 2: return broker + " refused the client id '" + failure.client_id + "'; choose another in mqtt.client_id";
        case 3: return broker + " says it is unavailable just now";
        case 4: return broker + " refused the username or password" + password_hint(failure);
        case 5: {
            std::string words = broker + " refused the connection: not authorised" + password_hint(failure);
            if (!failure.tls.cert_file.empty()) {
                words += ", and that the certificate in " + failure.tls.cert_file +
                         " may connect (on AWS IoT: that a policy is attached to it)";
            }
            return words;
        }
        default: break;
    }
    if (failure.paho_code > 0) {
        return broker + " refused the connection (CONNACK code " + std::to_string(failure.paho_code) + ")";
    }

    TcpResult tcp = connect_tcp(failure.url, timeout, cancelled);
    if (cancelled.load()) return std::nullopt;
    if (!tcp.problem.empty()) return tcp.problem;
    if (failure.url.tls) return probe_tls(tcp.socket.get(), failure, timeout, cancelled);
    if (speaks_tls(tcp.socket.get(), timeout, cancelled)) {
        return broker + " expects TLS on port " + std::to_string(failure.url.port) +
               ": write mqtts:// in mqtt.url (and set mqtt.tls.ca_file to its CA)";
    }
    return std::nullopt;
}

}  // namespace berrykit::daemon::detail
