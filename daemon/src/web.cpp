#include "berrykit/daemon/web.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "berrykit/daemon/log.hpp"
#include "berrykit/daemon/utc.hpp"
#include "berrykit/error.hpp"
#include "berrykit/sim_backend.hpp"

namespace berrykit::daemon {

namespace web_assets {
struct Asset {
    std::string_view name;
    std::string_view type;
    std::string_view body;
};
extern const Asset assets[];
extern const std::size_t asset_count;
}  // namespace web_assets

using nlohmann::json;

namespace {

constexpr std::size_t max_readings = 20;
constexpr std::size_t max_log = 100;
// A page gets at most one message per frame; changes closer together go in one message.
constexpr auto frame = std::chrono::milliseconds(16);
// A quiet stream still sends a comment this often: a page that went away is noticed at the
// second write after it (the first only draws the peer's reset), so its place (web.max_pages)
// is free again within about 5 s.
constexpr auto keepalive = std::chrono::seconds(2);
// How long an HTTP thread waits for the loop to carry out a page's request.
constexpr auto loop_timeout = std::chrono::seconds(2);

std::string dump(const json& value) {
    // A program's name comes from /proc and may not be UTF-8: replaced, never thrown.
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The colours an LED may have (board "color"), as the page draws them.
const std::map<std::string, std::string>& css_colors() {
    static const std::map<std::string, std::string> colors = {
        {"red", "#e53935"},  {"amber", "#ffb300"},  {"orange", "#fb8c00"}, {"yellow", "#fdd835"}, {"green", "#43a047"},
        {"blue", "#1e88e5"}, {"purple", "#8e24aa"}, {"pink", "#ec407a"},   {"white", "#f5f5f5"},
    };
    return colors;
}

// A slider of the page: what it sets in the simulated world, and its range.
struct Control {
    std::string quantity;
    double min;
    double max;
    double step;
    std::string unit;
};

std::vector<Control> controls_of(PartType type) {
    const Control temperature{"temperature", -20, 50, 0.5, "°C"};
    switch (type) {
        case PartType::ds18b20: return {temperature};
        case PartType::dht11: return {Control{"temperature", 0, 50, 0.5, "°C"}, Control{"humidity", 20, 90, 1, "%"}};
        case PartType::dht22: return {temperature, Control{"humidity", 0, 100, 1, "%"}};
        case PartType::light_sensor: return {Control{"light", 0, 1, 0.01, ""}};
        case PartType::distance_sensor: return {Control{"distance", 0.02, 4, 0.01, "m"}};
        default: return {};
    }
}

// A number as the page's messages write it: 21.5, not 21.500000.
std::string number_words(double value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

struct Refusal {
    int status;
    std::string code;
    std::string message;
};

int status_for(const std::string& code) {
    if (code == "unknown_part") return 404;
    if (code == "forbidden") return 403;
    if (code == "busy") return 503;
    if (code == "internal") return 500;
    return 400;
}

void answer(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(dump(body), "application/json");
}

void refuse(httplib::Response& res, const std::string& code, const std::string& message) {
    answer(res, status_for(code), json{{"ok", false}, {"error", {{"code", code}, {"message", message}}}});
}

}  // namespace

// ---- the picture of the board that every page shows --------------------------------------------

struct WebView::Impl {
    std::shared_ptr<Kit> kit;
    Server& server;
    WebOptions options;
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);

    httplib::Server http;
    std::thread thread;
    unsigned port = 0;
    bool started = false;
    bool stopped = false;
    std::uint64_t cloud_timer = 0;

    mutable std::mutex mutex;
    std::condition_variable changed;
    bool closed = false;
    std::uint64_t version = 0;
    json about;                      // board, device, backend
    std::vector<std::string> order;  // part names, in the board's order
    struct Entry {
        json body;
        std::uint64_t version = 0;
    };
    std::map<std::string, Entry> parts;
    Entry cloud;
    std::deque<std::pair<std::uint64_t, json>> readings;  // (version, reading), oldest first
    std::deque<std::pair<std::uint64_t, json>> log;
    std::uint64_t readings_floor = 0;  // the version of the newest reading no longer kept
    std::uint64_t log_floor = 0;
    std::uint64_t log_count = 0;
    std::size_t pages = 0;

    Impl(std::shared_ptr<Kit> k, Server& s, WebOptions o) : kit(std::move(k)), server(s), options(std::move(o)) {}

    // ---- what the page shows -------------------------------------------------------------------

    json page_part(const json& part) const {
        json out = part;
        const std::string name = part.value("name", "");
        const PartDef* def = kit->board().find(name);
        if (!def) return out;
        // A measured light or distance wobbles in its last digits from one measurement to the
        // next: the page shows three, and is not sent the wobble 20 times a second.
        if ((def->type == PartType::light_sensor || def->type == PartType::distance_sensor) &&
            out["state"]["value"].is_number()) {
            out["state"]["value"] = std::round(out["state"]["value"].get<double>() * 1000) / 1000;
        }
        if (def->type == PartType::led) {
            std::string color = def->color;
            if (color.empty()) color = css_colors().count(name) ? name : "red";
            out["color_name"] = color;
            out["color"] = css_colors().at(color);
        }
        json controls = json::array();
        for (const Control& c : controls_of(def->type)) {
            controls.push_back(json{{"quantity", c.quantity},
                                    {"min", c.min},
                                    {"max", c.max},
                                    {"step", c.step},
                                    {"unit", c.unit},
                                    {"value", kit->sim()->value(name, c.quantity)}});
        }
        if (!controls.empty()) out["controls"] = std::move(controls);
        return out;
    }

    static json page_cloud(const json& status) {
        json out{{"enabled", status.value("enabled", false)}};
        if (!out["enabled"].get<bool>()) return out;
        const json mqtt = status.value("mqtt", json::object());
        const json outbox = status.value("outbox", json::object());
        out["connected"] = mqtt.value("connected", false);
        out["state"] = mqtt.value("state", "");
        out["last_error"] = mqtt.value("last_error", "");
        out["queued"] = outbox.value("queued", 0);
        out["dropped"] = outbox.value("dropped", 0);
        return out;
    }

    // With `mutex` held.
    json full() const {
        json out = about;
        out["version"] = version;
        out["parts"] = json::array();
        for (const std::string& name : order) out["parts"].push_back(parts.at(name).body);
        out["cloud"] = cloud.body;
        out["readings"] = json::array();
        for (const auto& [v, reading] : readings) out["readings"].push_back(reading);
        out["log"] = json::array();
        for (const auto& [v, entry] : log) out["log"].push_back(entry);
        return out;
    }

    // With `mutex` held: what changed after `seen`, or the whole picture if some of it is no
    // longer kept (a page that fell far behind).
    json changes_since(std::uint64_t seen) const {
        if (seen < readings_floor || seen < log_floor) {
            json out = full();
            out["full"] = true;
            return out;
        }
        json out{{"version", version}};
        for (const std::string& name : order) {
            const Entry& entry = parts.at(name);
            if (entry.version > seen) {
                out["parts"][name] = json{{"state", entry.body.value("state", json::object())},
                                          {"owner", entry.body.value("owner", json(nullptr))}};
                if (entry.body.contains("controls")) out["parts"][name]["controls"] = entry.body["controls"];
            }
        }
        if (cloud.version > seen) out["cloud"] = cloud.body;
        for (const auto& [v, reading] : readings) {
            if (v > seen) out["readings"].push_back(reading);
        }
        for (const auto& [v, entry] : log) {
            if (v > seen) out["log"].push_back(entry);
        }
        return out;
    }

    void set_part(const json& part) {
        const json body = page_part(part);
        const std::string name = body.value("name", "");
        std::lock_guard guard(mutex);
        const auto it = parts.find(name);
        if (it == parts.end() || it->second.body == body) return;
        it->second = Entry{body, ++version};
        changed.notify_all();
    }

    void set_cloud(const json& status) {
        json body = page_cloud(status);
        std::lock_guard guard(mutex);
        if (cloud.body == body) return;
        cloud = Entry{std::move(body), ++version};
        changed.notify_all();
    }

    void add(std::deque<std::pair<std::uint64_t, json>>& list, std::uint64_t& floor, std::size_t keep, json item) {
        std::lock_guard guard(mutex);
        list.emplace_back(++version, std::move(item));
        while (list.size() > keep) {
            floor = list.front().first;
            list.pop_front();
        }
        changed.notify_all();
    }

    // The next thing a page's stream sends: its first full picture, then changes, or a comment
    // when nothing changed for a while. False once the view is closing.
    bool next(std::uint64_t& seen, bool& first, std::chrono::steady_clock::time_point& last_sent, std::string& out) {
        std::unique_lock lock(mutex);
        if (closed) return false;
        if (first) {
            first = false;
            json picture = full();
            picture["full"] = true;
            seen = version;
            out = "data: " + dump(picture) + "\n\n";
            last_sent = std::chrono::steady_clock::now();
            return true;
        }
        changed.wait_until(lock, last_sent + frame, [this] { return closed; });
        if (!changed.wait_for(lock, keepalive, [&] { return closed || version > seen; })) {
            out = ": still here\n\n";
            return true;
        }
        if (closed) return false;
        const json message = changes_since(seen);
        seen = version;
        out = "data: " + dump(message) + "\n\n";
        last_sent = std::chrono::steady_clock::now();
        return true;
    }

    // ---- the page's requests -------------------------------------------------------------------

    // Carries `request` out on the loop's thread, as the server does a program's.
    json on_loop(json request) {
        auto promise = std::make_shared<std::promise<json>>();
        auto result = promise->get_future();
        const std::weak_ptr<bool> still = alive;
        kit->loop()->post([this, still, promise, request = std::move(request)] {
            const auto a = still.lock();
            if (!a || !*a) return;
            promise->set_value(server.page_request(request));
        });
        if (result.wait_for(loop_timeout) != std::future_status::ready) {
            return json{{"ok", false},
                        {"error", {{"code", "busy"}, {"message", "berrykitd is too busy to answer: try again"}}}};
        }
        return result.get();
    }

    // The body of a POST, checked: a JSON object from this page.
    std::optional<json> body_of(const httplib::Request& req, httplib::Response& res) const {
        if (const std::string origin = req.get_header_value("Origin");
            !origin.empty() && origin != "http://" + req.get_header_value("Host")) {
            refuse(res, "forbidden", "only the classroom page itself can press its buttons");
            return std::nullopt;
        }
        if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
            refuse(res, "bad_request", "send JSON, with Content-Type: application/json");
            return std::nullopt;
        }
        json body = json::parse(req.body, nullptr, false);
        if (body.is_discarded()) {
            refuse(res, "bad_json", "that is not JSON: send an object like {\"part\": \"button\"}");
            return std::nullopt;
        }
        if (!body.is_object()) {
            refuse(res, "bad_request", "send a JSON object like {\"part\": \"button\"}");
            return std::nullopt;
        }
        const auto part = body.find("part");
        if (part == body.end() || !part->is_string()) {
            refuse(res, "bad_request", "say which part, like {\"part\": \"button\"}");
            return std::nullopt;
        }
        return body;
    }

    void press(const httplib::Request& req, httplib::Response& res, bool down) {
        const auto body = body_of(req, res);
        if (!body) return;
        for (const auto& [key, value] : body->items()) {
            if (key != "part") {
                refuse(res, "bad_request",
                       "a press names only the part, like {\"part\": \"button\"}, not \"" + key.substr(0, 40) + "\"");
                return;
            }
        }
        const json reply = on_loop(json{{"op", down ? "sim_press" : "sim_release"}, {"part", (*body)["part"]}});
        answer(res, reply["ok"] == true ? 200 : status_for(reply["error"]["code"].get<std::string>()), reply);
    }

    void set_sensor(const httplib::Request& req, httplib::Response& res) {
        const auto body = body_of(req, res);
        if (!body) return;
        const std::string name = (*body)["part"].get<std::string>();
        for (const auto& [key, value] : body->items()) {
            if (key != "part" && key != "quantity" && key != "value") {
                refuse(res, "bad_request",
                       "a slider sends part, quantity and value, not \"" + key.substr(0, 40) + "\"");
                return;
            }
        }
        const PartDef* def = kit->board().find(name);
        if (!def) {
            refuse(res, "unknown_part",
                   "there is no part called '" + name.substr(0, 40) + "' on the " + kit->board().name + " board");
            return;
        }
        const std::vector<Control> controls = controls_of(def->type);
        if (controls.empty()) {
            refuse(res, "wrong_type",
                   "'" + name + "' is " + std::string(to_friendly(def->type)) + ": only the sensors have sliders");
            return;
        }
        const Control* control = &controls.front();
        if (const auto q = body->find("quantity"); q != body->end()) {
            if (!q->is_string()) {
                refuse(res, "bad_request", "\"quantity\" must be a word like \"temperature\"");
                return;
            }
            const auto it = std::find_if(controls.begin(), controls.end(),
                                         [&](const Control& c) { return c.quantity == q->get<std::string>(); });
            if (it == controls.end()) {
                std::string names;
                for (const Control& c : controls) names += (names.empty() ? "" : " or ") + c.quantity;
                refuse(res, "bad_value",
                       "'" + name + "' has no " + q->get<std::string>().substr(0, 40) + " slider: it has " + names);
                return;
            }
            control = &*it;
        } else if (controls.size() > 1) {
            refuse(res, "bad_request",
                   "'" + name + "' has two sliders: say which with \"quantity\" (" + controls[0].quantity + " or " +
                       controls[1].quantity + ")");
            return;
        }
        const auto value = body->find("value");
        if (value == body->end() || !value->is_number()) {
            refuse(res, "bad_request", "send the slider's \"value\" as a number");
            return;
        }
        const double v = value->get<double>();
        if (!(v >= control->min && v <= control->max)) {
            refuse(res, "bad_value",
                   "the " + control->quantity + " slider of '" + name + "' goes from " + number_words(control->min) +
                       " to " + number_words(control->max) + (control->unit.empty() ? "" : " " + control->unit) +
                       ", not " + number_words(v));
            return;
        }
        const json reply =
            on_loop(json{{"op", "sim_set_sensor"}, {"part", name}, {"quantity", control->quantity}, {"value", v}});
        answer(res, reply["ok"] == true ? 200 : status_for(reply["error"]["code"].get<std::string>()), reply);
    }

    void routes() {
        for (std::size_t i = 0; i < web_assets::asset_count; ++i) {
            const web_assets::Asset& asset = web_assets::assets[i];
            const std::string path = asset.name == "index.html" ? "/" : "/" + std::string(asset.name);
            http.Get(path, [&asset](const httplib::Request&, httplib::Response& res) {
                res.set_header("Cache-Control", "no-cache");
                res.set_header("X-Content-Type-Options", "nosniff");
                res.set_header("Content-Security-Policy",
                               "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
                res.set_content(std::string(asset.body), std::string(asset.type));
            });
        }
        http.Get("/api/board", [this](const httplib::Request&, httplib::Response& res) {
            std::lock_guard guard(mutex);
            answer(res, 200, full());
        });
        http.Get("/api/events", [this](const httplib::Request&, httplib::Response& res) {
            {
                std::lock_guard guard(mutex);
                if (pages >= options.max_pages) {
                    refuse(res, "busy",
                           std::to_string(options.max_pages) +
                               " pages are open already: close one (or a teacher raises web.max_pages)");
                    return;
                }
                ++pages;
            }
            struct Stream {
                std::uint64_t seen = 0;
                bool first = true;
                std::chrono::steady_clock::time_point last_sent{};
            };
            auto stream = std::make_shared<Stream>();
            res.set_header("Cache-Control", "no-store");
            res.set_chunked_content_provider(
                "text/event-stream",
                [this, stream](std::size_t, httplib::DataSink& sink) {
                    std::string out;
                    if (!next(stream->seen, stream->first, stream->last_sent, out)) return false;
                    return sink.write(out.data(), out.size());
                },
                [this](bool) {
                    std::lock_guard guard(mutex);
                    --pages;
                });
        });
        http.Post("/api/press", [this](const httplib::Request& req, httplib::Response& res) { press(req, res, true); });
        http.Post("/api/release",
                  [this](const httplib::Request& req, httplib::Response& res) { press(req, res, false); });
        http.Post("/api/sensor", [this](const httplib::Request& req, httplib::Response& res) { set_sensor(req, res); });
        // Called for every status from 400 on: only httplib's own (which have no body) are put in words.
        http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
            if (!res.body.empty()) return;
            if (res.status == 404) {
                refuse(res, "not_found",
                       "there is nothing at " + req.path.substr(0, 80) + ": the classroom page is at /");
                res.status = 404;
            } else if (res.status == 413) {
                refuse(res, "bad_request", "that is far too long for a press or a slider");
                res.status = 413;
            }
        });
    }

    // Every second, on the loop: the cloud's state for the page.
    void watch_cloud() {
        set_cloud(server.cloud_status());
        cloud_timer = kit->backend().scheduler().call_later(std::chrono::seconds(1), [this] { watch_cloud(); });
    }
};

// ---- WebView -----------------------------------------------------------------------------------

WebView::WebView(std::shared_ptr<Kit> kit, Server& server, WebOptions options) {
    if (!kit->sim()) {
        throw Error(ErrorCode::unsupported,
                    "the classroom page shows the simulated board only: run berrykitd with --backend sim, or "
                    "turn web.enabled off");
    }
    impl_ = std::make_unique<Impl>(std::move(kit), server, std::move(options));
}

WebView::~WebView() { stop(); }

void WebView::start() {
    Impl& s = *impl_;
    if (s.started) return;
    const json hello = json{{"board", {{"name", s.kit->board().name}, {"description", s.kit->board().description}}},
                            {"backend", s.kit->backend_kind()}};
    {
        const json parts = s.server.parts();
        std::lock_guard board(s.kit->backend().lock());
        std::lock_guard guard(s.mutex);
        s.about = hello;
        for (const json& part : parts) {
            const std::string name = part.value("name", "");
            s.order.push_back(name);
            s.parts[name] = Impl::Entry{s.page_part(part), 0};
        }
        s.cloud = Impl::Entry{Impl::page_cloud(s.server.cloud_status()), 0};
    }
    s.about["device"] = s.server.options().device_id;

    const std::size_t threads = s.options.max_pages + 8;  // every open page holds one
    s.http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    s.http.set_payload_max_length(16 * 1024);
    s.http.set_keep_alive_timeout(2);
    s.http.set_write_timeout(5);  // a page that stops reading is let go
    // httplib's default sets SO_REUSEPORT, which lets a second berrykitd listen on the same port
    // and take half of the page's requests: SO_REUSEADDR only, so a taken port is an error.
    s.http.set_socket_options([](socket_t sock) {
        const int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    s.routes();
    bool bound = false;
    if (s.options.port == 0) {
        const int port = s.http.bind_to_any_port(s.options.address);
        bound = port > 0;
        s.port = bound ? static_cast<unsigned>(port) : 0;
    } else {
        bound = s.http.bind_to_port(s.options.address, static_cast<int>(s.options.port));
        s.port = s.options.port;
    }
    if (!bound) {
        throw Error(ErrorCode::unsupported,
                    "the classroom page cannot listen on " + s.options.address + " port " +
                        std::to_string(s.options.port) +
                        ": another program (maybe another berrykitd) uses that port, or the address is not one of "
                        "this computer's. Set web.port in the config to a free port, or 0 for any free port");
    }
    s.thread = std::thread([&s] { s.http.listen_after_bind(); });
    s.started = true;
    // httplib's stop() does nothing until the listening thread has begun: wait for it, so a stop
    // right after start is not lost (and the join in stop() cannot hang).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!s.http.is_running() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    {
        std::lock_guard board(s.kit->backend().lock());
        s.watch_cloud();
    }
    if (s.options.address != "127.0.0.1" && s.options.address != "::1") {
        log_warning("the classroom page listens on " + s.options.address +
                    ": other computers on the network can open it and press its buttons");
    }
}

void WebView::stop() {
    Impl& s = *impl_;
    if (!s.started || s.stopped) return;
    s.stopped = true;
    {
        std::lock_guard board(s.kit->backend().lock());
        *s.alive = false;
        if (s.cloud_timer) s.kit->backend().scheduler().cancel(s.cloud_timer);
        s.cloud_timer = 0;
    }
    {
        std::lock_guard guard(s.mutex);
        s.closed = true;
        s.changed.notify_all();
    }
    s.http.stop();
    if (s.thread.joinable()) s.thread.join();
}

unsigned WebView::port() const noexcept { return impl_->port; }

std::string WebView::url() const {
    const std::string& address = impl_->options.address;
    const std::string host = address == "0.0.0.0"                     ? "127.0.0.1"
                             : address == "::"                        ? "[::1]"
                             : address.find(':') != std::string::npos ? "[" + address + "]"
                                                                      : address;
    return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

std::size_t WebView::pages() const {
    std::lock_guard guard(impl_->mutex);
    return impl_->pages;
}

void WebView::part_changed(const json& part) { impl_->set_part(part); }

void WebView::logged(const json& entry) {
    json numbered = entry;
    numbered["n"] = ++impl_->log_count;  // only ever on the loop's thread
    impl_->add(impl_->log, impl_->log_floor, max_log, std::move(numbered));
}

void WebView::sent_to_cloud(const std::string& kind, const json& payload) {
    if (kind != "readings") return;
    json reading{
        {"name", payload.value("sensor", "")}, {"ts", payload.value("ts", "")}, {"seq", payload.value("seq", 0)}};
    for (const char* key : {"value", "unit", "temperature", "humidity", "from"}) {
        if (payload.contains(key)) reading[key] = payload[key];
    }
    impl_->add(impl_->readings, impl_->readings_floor, max_readings, std::move(reading));
}

}  // namespace berrykit::daemon
