// berrykit tests — a real mosquitto broker on a free 127.0.0.1 port, with its config, persistence
// and log in the test's folder. The destructor stops it.
//
//     TempDir dir;
//     Mosquitto broker(dir.path());                 // started; broker.url() is "mqtt://127.0.0.1:<port>"
//     broker.stop();  broker.start();               // a restart keeps the port and the saved sessions
//
// Set up as a test that counts messages needs it: persistence on (a restart keeps the sessions and
// queues of clean_session=false clients; without it a restart forgets them), and no limit on
// queued or in-flight messages (mosquitto's default of 1000 queued per client drops the rest), so
// the broker is never the one that loses a message.
#pragma once

#include "child_process.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

namespace berrykit::test {

struct MosquittoOptions {
    std::string listener_config;  // lines for the listener: cafile, certfile, keyfile, require_certificate …
    bool allow_anonymous = true;  // false: clients need a username and password from password_file
    std::string password_file;    // made with mosquitto_passwd
    int port = 0;                 // 0: a free one
};

class Mosquitto {
public:
    explicit Mosquitto(std::filesystem::path dir, MosquittoOptions options = {})
        : dir_(std::move(dir)), options_(std::move(options)) {
        std::filesystem::create_directories(dir_ / "mosquitto");
        config_ = dir_ / "mosquitto" / "mosquitto.conf";
        // A free port can be taken by a test running alongside before mosquitto binds it: then
        // try another one.
        for (int attempt = 1;; ++attempt) {
            port_ = options_.port ? options_.port : free_port();
            write_config();
            try {
                start();
                return;
            } catch (const std::runtime_error&) {
                const bool taken = log().find("Address already in use") != std::string::npos;
                if (options_.port || !taken || attempt == 5) throw;
            }
        }
    }
    ~Mosquitto() { stop(); }
    Mosquitto(const Mosquitto&) = delete;
    Mosquitto& operator=(const Mosquitto&) = delete;

    // Starts it and waits until it says it runs (not merely until the port answers: that could be
    // another test's broker that took the port first).
    void start() {
        if (process_ && process_->running()) return;
        const auto runs = [this] {
            const std::string text = log();
            std::size_t n = 0;
            for (auto at = text.find(" running"); at != std::string::npos; at = text.find(" running", at + 1)) ++n;
            return n;
        };
        const std::size_t before = runs();
        process_ = std::make_unique<ChildProcess>(std::vector<std::string>{"mosquitto", "-c", config_.string()},
                                                  dir_ / "mosquitto" / "mosquitto.log");
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (runs() == before) {
            if (!process_->running()) throw std::runtime_error("mosquitto ended before it ran:\n" + log());
            if (std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("mosquitto did not start:\n" + log());
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        process_->wait_for_port(port_);
    }
    // SIGTERM: mosquitto saves its sessions and exits.
    void stop() {
        if (process_) process_->stop();
    }

    int port() const noexcept { return port_; }
    std::string url(const char* scheme = "mqtt") const {
        return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_);
    }
    std::string log() const {
        std::ifstream in(dir_ / "mosquitto" / "mosquitto.log", std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }

private:
    void write_config() {
        const MosquittoOptions& options = options_;
        std::ofstream config(config_, std::ios::trunc);
        config << "listener " << port_ << " 127.0.0.1\n"
               << options.listener_config << "\n"
               << "allow_anonymous " << (options.allow_anonymous ? "true" : "false") << "\n";
        if (!options.password_file.empty()) config << "password_file " << options.password_file << "\n";
        config << "persistence true\n"
               << "persistence_location " << (dir_ / "mosquitto").string() << "/\n"
               << "max_queued_messages 0\n"
               << "max_inflight_messages 0\n"
               << "log_dest stderr\n"
               << "log_type all\n";
        // As root, mosquitto would become the user "mosquitto", who cannot read the test's folder.
        if (::geteuid() == 0) config << "user root\n";
    }

    std::filesystem::path dir_;
    MosquittoOptions options_;
    int port_ = 0;
    std::filesystem::path config_;
    std::unique_ptr<ChildProcess> process_;
};

}  // namespace berrykit::test
