// berrykit — the classroom page: the simulated board in a browser.
//
// berrykitd serves it (cpp-httplib, on its own threads) when it runs the simulated board and the
// config turns it on. The page's files are built into the program (daemon/web/); the page shows
// every part as it is now and keeps up through server-sent events, and it can press buttons,
// wave at the motion sensor and move the sensors' sliders, nothing more. Its HTTP API:
//
//   GET  /api/board    everything now: board, device, parts (with "color" for LEDs and
//                      "controls" for sensors), cloud, the last readings sent, the log
//   GET  /api/events   text/event-stream: that same picture first ("full": true), then each change
//   POST /api/press    {"part": "button"}       a button or the motion sensor, pressed
//   POST /api/release  {"part": "button"}       let go
//   POST /api/sensor   {"part": "climate", "quantity": "humidity", "value": 60}
//
// A POST is answered {"ok": true} or, with a 4xx status, {"ok": false, "error": {"code",
// "message"}}; it must be JSON (Content-Type application/json), so another web site cannot
// press the buttons from a teacher's browser.
//
// Threads: the board's changes come on the loop's thread (BoardWatcher) and go into a picture
// guarded by one mutex; each open page has an HTTP thread that waits for the picture to change
// and sends what changed, at most once per 16 ms (changes closer together are sent together, so a
// program toggling an LED 1000 times a second cannot make a page fall behind). A request from
// the page is carried out on the loop's thread, like every other client's.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "berrykit/daemon/server.hpp"
#include "berrykit/kit.hpp"

namespace berrykit::daemon {

struct WebOptions {
    std::string address = "127.0.0.1";
    unsigned port = 8080;  // 0: any free port
    std::size_t max_pages = 32;
};

class WebView final : public BoardWatcher {
public:
    // Needs the simulated board: throws Error(unsupported) on a real one. `server` must outlive it.
    WebView(std::shared_ptr<Kit> kit, Server& server, WebOptions options);
    ~WebView() override;
    WebView(const WebView&) = delete;
    WebView& operator=(const WebView&) = delete;

    // Takes the board's picture, binds the address and starts serving. Call after
    // Server::start(), before the loop runs (or on its thread). Throws Error(unsupported) naming
    // the address and port when it cannot listen there.
    void start();
    // Closes every page's stream and stops serving. Idempotent.
    void stop();

    unsigned port() const noexcept;  // the port it listens on (the one chosen, for port 0)
    std::string url() const;         // "http://127.0.0.1:8080/"
    std::size_t pages() const;       // event streams open now

    void part_changed(const nlohmann::json& part) override;
    void logged(const nlohmann::json& entry) override;
    void sent_to_cloud(const std::string& kind, const nlohmann::json& payload) override;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace berrykit::daemon
