#include "berrykit/daemon/server.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "part_device.hpp"
#include "request.hpp"

#include "berrykit/daemon/outbox.hpp"
#include "berrykit/daemon/utc.hpp"
#include "berrykit/error.hpp"

namespace berrykit::daemon {

using nlohmann::json;

namespace {

bool is_output(PartType type) { return type == PartType::led || type == PartType::buzzer || type == PartType::rgb_led; }

std::string program_of(pid_t pid) {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(comm, name);
    return name.empty() ? "unknown" : name;
}

// What an event means, in words for the page's log ("button was pressed").
const char* event_words(EventKind kind) {
    switch (kind) {
        case EventKind::pressed: return "was pressed";
        case EventKind::released: return "was let go";
        case EventKind::held: return "is being held down";
        case EventKind::motion: return "saw something move";
        case EventKind::no_motion: return "sees nothing moving now";
        case EventKind::light: return "sees light";
        case EventKind::dark: return "is in the dark";
        case EventKind::in_range: return "sees something close";
        case EventKind::out_of_range: return "sees nothing close now";
    }
    return "did something";
}

}  // namespace

struct Server::Part {
    PartDef def;
    // The board's device, or while a program holds an output, the one that program opened.
    std::unique_ptr<PartDevice> device;
    int owner = -1;              // the client (fd) that claimed an output
    bool owners_device = false;  // `device` is the owner's, opened with its options
};

struct Server::Client {
    int fd = -1;
    Peer peer;
    std::uint64_t watch = 0;
    std::string in;
    std::string out;
    bool writing = false;
    bool subscribed = false;
    std::set<std::string> subscriptions;  // empty: every part
    std::set<std::string> claims;
    // The inputs and sensors this program opened (their lines shared with the board's).
    std::map<std::string, std::unique_ptr<PartDevice>> devices;
    std::uint64_t serial = 0;  // never reused, unlike fd: a late reply finds its client by both
};

// A wait request not answered yet: answered when `ready` turns true or at `deadline`.
struct Server::Wait {
    int fd;
    std::uint64_t serial;
    nlohmann::json id;
    std::function<bool()> ready;
    Scheduler::TimerId timer = 0;
};

Server::Server(std::shared_ptr<Kit> kit, ServerOptions options) : kit_(std::move(kit)), options_(std::move(options)) {
    if (!kit_->loop()) {
        throw Error(ErrorCode::unsupported, "berrykitd needs a board with a real clock and an event loop");
    }
}

Server::~Server() { stop(); }

void Server::start() {
    std::lock_guard guard(kit_->backend().lock());
    // Open every part: berrykitd owns the board, clients only claim.
    for (const PartDef& def : kit_->board().parts) {
        auto part = std::make_unique<Part>();
        part->def = def;
        part->device = open_board_device(*part, json::object());
        parts_by_device_[part->device->device().id()] = part.get();
        parts_[def.name] = std::move(part);
        for (const auto& [role, line] : def.lines) parts_by_line_[line].push_back(def.name);
    }
    // A wait request is answered as soon as what it waits for is true: every change of a device
    // (Kit::notify, from the loop or a sampling thread) has the loop look again, once.
    const std::weak_ptr<bool> alive = alive_;
    kit_->set_on_notify([this, alive, posted = waits_check_posted_, loop = kit_->loop()] {
        if (posted->exchange(true)) return;
        loop->post([this, alive, posted] {
            posted->store(false);
            if (const auto still = alive.lock(); still && *still) check_waits();
        });
    });
    if (watcher_ && kit_->sim()) {
        // Every level change on a part's line (a blink, a PWM duty, a press, a sensor's echo)
        // may change what the page shows.
        kit_->sim()->set_line_observer([this](const std::string& line) {
            if (const auto it = parts_by_line_.find(line); it != parts_by_line_.end()) {
                for (const std::string& part : it->second) changed(part);
            }
        });
    }

    // The socket. A stale one (left by a crash) is replaced; a live one means a second daemon.
    namespace fs = std::filesystem;
    const fs::path path = options_.socket_path;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.string().size() >= sizeof address.sun_path) {
        throw Error(ErrorCode::bad_value, "the socket path " + path.string() + " is too long (at most " +
                                              std::to_string(sizeof address.sun_path - 1) + " characters)");
    }
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    if (path.has_parent_path()) {
        std::error_code ignored;
        fs::create_directories(path.parent_path(), ignored);
    }
    if (fs::exists(fs::symlink_status(path))) {
        const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        ::close(probe);
        if (live) {
            throw Error(
                ErrorCode::part_in_use,
                "another berrykitd is already running on " + path.string() +
                    ": stop it first (on a Pi: sudo systemctl stop berrykitd; for `berrykit sim`: Ctrl+C where it "
                    "runs), or give this one another --socket");
        }
        ::unlink(path.c_str());
    }
    // Bound and listening under a temporary name, then renamed into place: a program that sees
    // the socket can connect at once (and never meets one that is bound but not yet listening).
    // The temporary name is short, in the same folder; a path so long that even it does not fit
    // is bound in place (a client may then, for a moment, find it not yet listening and retry).
    std::string staging = (path.parent_path() / ("." + std::to_string(::getpid()) + ".sock")).string();
    if (staging.size() >= sizeof address.sun_path) staging = path.string();
    sockaddr_un staged = address;
    std::strncpy(staged.sun_path, staging.c_str(), sizeof staged.sun_path - 1);
    ::unlink(staging.c_str());
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&staged), sizeof staged) != 0 ||
        ::listen(listen_fd_, SOMAXCONN) != 0 || ::chmod(staging.c_str(), options_.mode) != 0) {
        const std::string why = std::strerror(errno);
        if (listen_fd_ >= 0) ::close(listen_fd_);
        listen_fd_ = -1;
        ::unlink(staging.c_str());
        throw Error(ErrorCode::unsupported, "berrykitd cannot listen on " + path.string() + ": " + why);
    }
    if (!options_.group.empty()) {
        if (const group* g = ::getgrnam(options_.group.c_str())) {
            [[maybe_unused]] const int r = ::chown(staging.c_str(), static_cast<uid_t>(-1), g->gr_gid);
        }
    }
    if (staging != path.string() && ::rename(staging.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        ::close(listen_fd_);
        listen_fd_ = -1;
        ::unlink(staging.c_str());
        throw Error(ErrorCode::unsupported, "berrykitd cannot put its socket at " + path.string() + ": " + why);
    }
    listen_watch_ = kit_->loop()->watch(listen_fd_, [this] { accept_clients(); });

    events_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    kit_->events().set_notify_fd(events_fd_);
    events_watch_ = kit_->loop()->watch(events_fd_, [this] { deliver_events(); });
    start_sampling();
}

void Server::start_sampling() {
    sampler_ = std::make_unique<Sampler>(kit_, [this](const Reading& reading) {
        json message{{"event", "reading"}, {"part", reading.part}};
        message.update(reading.fields);
        message["time"] = to_seconds(reading.time);
        message["ts"] = utc_iso_of_monotonic(reading.time);
        send_to_subscribers(reading.part, message);
        to_cloud("readings", reading.part, reading.fields, reading.time);
        changed(reading.part);
    });
    for (const std::string& name : options_.sampled) {
        const auto it = parts_.find(name);
        const auto period = options_.sensor_periods.find(name);
        if (it == parts_.end() || period == options_.sensor_periods.end()) continue;
        // A sensor's board device is never replaced (programs get their own), so the sampling
        // thread may keep it.
        PartDevice* device = it->second->device.get();
        const std::string as = device->as();
        if (as == "temperature_sensor" || as == "climate_sensor") {
            sampler_->add(
                name, period->second, [device] { return device->read(); }, true);
        } else if (as == "light_sensor") {
            sampler_->add(
                name, period->second,
                [device] {
                    return json{{"value", device->state()["value"]}};
                },
                false);
        } else if (as == "distance_sensor") {
            sampler_->add(
                name, period->second,
                [device] {
                    return json{{"value", device->state()["value"]}, {"unit", "m"}};
                },
                false);
        }
    }
}

void Server::send_to_subscribers(const std::string& part, const json& message) {
    std::vector<int> to;
    for (const auto& [fd, client] : clients_) {
        if (client->subscribed && (client->subscriptions.empty() || client->subscriptions.count(part)))
            to.push_back(fd);
    }
    for (const int fd : to) {
        if (const auto c = clients_.find(fd); c != clients_.end()) send(*c->second, message);
    }
}

void Server::stop() {
    // First, and without the board lock: a sampling thread may be in the middle of a read that
    // takes the lock.
    if (sampler_) sampler_->stop();
    std::lock_guard guard(kit_->backend().lock());
    *alive_ = false;  // replies the outbox still owes have no one to go to
    kit_->set_on_notify({});
    if (watcher_ && kit_->sim()) kit_->sim()->set_line_observer({});
    sampler_.reset();
    while (!clients_.empty()) disconnect(clients_.begin()->first, "the daemon is stopping");
    if (listen_fd_ >= 0) {  // once, the first time (the kit may close its devices after it)
        // A kept part stays as it is, but only a steady one can once berrykitd has gone: a blink,
        // a fade or a dimmed (PWM) level needs berrykitd to run it, and would be left at whatever
        // instant the stop came (a kept buzzer beeping could be left sounding). Those go off.
        for (auto& [name, part] : parts_) {
            if (part->def.keep && !holds_without_us(*part)) rest(*part);
        }
        kit_->loop()->unwatch(listen_watch_);
        ::close(listen_fd_);
        listen_fd_ = -1;
        ::unlink(options_.socket_path.c_str());
    }
    if (events_fd_ >= 0) {
        kit_->events().set_notify_fd(-1);
        kit_->loop()->unwatch(events_watch_);
        ::close(events_fd_);
        events_fd_ = -1;
    }
}

void Server::apply(const ServerOptions& options) {
    std::lock_guard guard(kit_->backend().lock());
    options_.max_clients = options.max_clients;
    options_.max_line_bytes = options.max_line_bytes;
    options_.send_queue_bytes = options.send_queue_bytes;
    options_.part_groups = options.part_groups;
    options_.device_id = options.device_id;
}

std::size_t Server::client_count() const {
    std::lock_guard guard(kit_->backend().lock());
    return clients_.size();
}

void Server::accept_clients() {
    for (;;) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;  // EAGAIN: all accepted; anything else: the client is gone already
        if (clients_.size() >= options_.max_clients) {
            const std::string refusal = json{{"id", nullptr},
                                             {"ok", false},
                                             {"error",
                                              {{"code", "too_many_clients"},
                                               {"message", "berrykitd already has " + std::to_string(clients_.size()) +
                                                               " programs connected: close one and try again"}}}}
                                            .dump() +
                                        "\n";
            [[maybe_unused]] const auto n = ::write(fd, refusal.data(), refusal.size());
            ::close(fd);
            continue;
        }
        auto client = std::make_unique<Client>();
        client->fd = fd;
        client->serial = next_client_serial_++;
        ucred cred{};
        socklen_t length = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0) {
            client->peer = Peer{cred.pid, cred.uid, cred.gid, program_of(cred.pid)};
        }
        client->watch = kit_->loop()->watch(fd, [this, fd] {
            if (const auto it = clients_.find(fd); it != clients_.end()) read_from(*it->second);
        });
        clients_[fd] = std::move(client);
    }
}

void Server::read_from(Client& client) {
    const int fd = client.fd;
    char buffer[16384];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            disconnect(fd, "the program closed its connection");
            return;
        }
        if (n < 0) break;
        client.in.append(buffer, static_cast<std::size_t>(n));
        std::size_t start = 0;
        for (std::size_t newline; (newline = client.in.find('\n', start)) != std::string::npos; start = newline + 1) {
            handle_line(client, std::string_view(client.in).substr(start, newline - start));
            if (!clients_.count(fd)) return;  // the request ended this client
        }
        client.in.erase(0, start);
        if (client.in.size() > options_.max_line_bytes) {
            send(client, json{{"id", nullptr},
                              {"ok", false},
                              {"error",
                               {{"code", "too_long"},
                                {"message", "a request was longer than " + std::to_string(options_.max_line_bytes) +
                                                " bytes without a line end, so berrykitd hung up"}}}});
            disconnect(fd, "it sent a line that was too long");
            return;
        }
    }
}

void Server::write_to(Client& client) {
    while (!client.out.empty()) {
        const ssize_t n = ::send(client.fd, client.out.data(), client.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            disconnect(client.fd, "its connection broke");
            return;
        }
        client.out.erase(0, static_cast<std::size_t>(n));
    }
    const bool want = !client.out.empty();
    if (want != client.writing) {
        client.writing = want;
        const int fd = client.fd;
        kit_->loop()->set_on_writable(client.watch, want ? std::function<void()>([this, fd] {
                                          if (const auto it = clients_.find(fd); it != clients_.end())
                                              write_to(*it->second);
                                      })
                                                         : nullptr);
    }
}

void Server::send(Client& client, const json& message) {
    client.out += message.dump(-1, ' ', false, json::error_handler_t::replace);
    client.out += '\n';
    if (client.out.size() > options_.send_queue_bytes) {
        // A program that stops reading must not make the daemon hold its messages for ever.
        disconnect(client.fd, "it stopped reading its messages");
        return;
    }
    write_to(client);
}

void Server::disconnect(int fd, const std::string& /*why*/) {
    const auto it = clients_.find(fd);
    if (it == clients_.end()) return;
    std::unique_ptr<Client> client = std::move(it->second);
    clients_.erase(it);
    kit_->loop()->unwatch(client->watch);
    // What was still queued for it is lost with it; flush what the socket takes now.
    if (!client->out.empty()) {
        [[maybe_unused]] const auto n = ::send(fd, client->out.data(), client->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::close(fd);
    release_claims(*client);
}

void Server::release_claims(Client& client) {
    for (auto& [name, device] : client.devices) {
        program_devices_.erase(device->device().id());
        device->close();
    }
    client.devices.clear();
    for (auto wait = waits_.begin(); wait != waits_.end();) {
        if (wait->fd == client.fd && wait->serial == client.serial) {
            if (wait->timer) kit_->backend().scheduler().cancel(wait->timer);
            wait = waits_.erase(wait);
        } else {
            ++wait;
        }
    }
    for (const auto& name : client.claims) {
        const auto it = parts_.find(name);
        if (it == parts_.end()) continue;
        Part& part = *it->second;
        if (part.owner == client.fd) {
            part.owner = -1;
            give_back(part);
            log_for_page(name, name + " is free again: " + client.peer.program + " has stopped",
                         kit_->backend().clock().now());
        }
        changed(name);
    }
    client.claims.clear();
}

bool Server::holds_without_us(const Part& part) { return part.device->steady(); }

void Server::rest(Part& part) { part.device->rest(); }

std::unique_ptr<PartDevice> Server::open_board_device(const Part& part, const json& options) {
    const std::string as = board_class(part.def.type);
    // A light or distance sensor measures as often as in a script (LightSensor::Options); the
    // config's sensors.<part>.period is how often its latest value is sampled for the cloud.
    return open_part_device(*kit_, as, resolve_as(*kit_, part.def.name, as), options);
}

void Server::replace_device(Part& part, std::unique_ptr<PartDevice> next) {
    parts_by_device_.erase(part.device->device().id());
    program_devices_.erase(part.device->device().id());
    part.device = std::move(next);
    parts_by_device_[part.device->device().id()] = &part;
}

void Server::give_back(Part& part) {
    if (!part.owners_device) {
        if (!part.def.keep) rest(part);
        return;
    }
    part.owners_device = false;
    json options = json::object();
    if (part.def.keep) {
        // A kept part stays as its program left it. A steady one goes back to the board's device
        // at the same level; one still blinking or fading keeps the program's device running it.
        if (!part.device->steady()) {
            program_devices_.erase(part.device->device().id());
            return;
        }
        json value = part.device->state()["value"];
        if (part.def.type == PartType::buzzer) value = value == 1;
        options["initial_value"] = value;
    }
    part.device->close();
    replace_device(part, open_board_device(part, options));
}

void Server::handle_line(Client& client, std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;  // blank lines are allowed
    json request = json::parse(line, nullptr, false);
    json id = nullptr;
    json reply;
    try {
        if (request.is_discarded()) refuse("bad_json", "that line is not JSON: send one JSON object per line");
        if (!request.is_object()) {
            refuse("bad_request", "a request must be a JSON object like {\"id\": 1, \"op\": \"hello\"}, got " +
                                      describe_json(request));
        }
        if (const auto it = request.find("id"); it != request.end()) {
            if (!it->is_number_integer() && !it->is_string()) {
                refuse("bad_request", "\"id\" must be a whole number or a string, got " + describe_json(*it));
            }
            id = *it;
        } else {
            refuse("bad_request", "every request needs an \"id\" (a number or a string) to match its reply");
        }
        reply_deferred_ = false;
        current_id_ = &id;
        if (watcher_) {
            // Whatever the request did (or failed to do) to a part, the page looks again.
            if (const auto part = request.find("part"); part != request.end() && part->is_string()) {
                if (parts_.count(part->get<std::string>())) changed(part->get<std::string>());
            }
        }
        reply = handle_request(client, request);
        current_id_ = nullptr;
        if (reply_deferred_) {
            reply_deferred_ = false;
            return;  // answered later (cloud_send: once its reading is on disk; wait: when it is true)
        }
        reply["id"] = id;
        reply["ok"] = true;
    } catch (...) {
        current_id_ = nullptr;
        reply = json{{"id", id}, {"ok", false}, {"error", error_reply(std::current_exception())}};
    }
    send_reply(client, reply);
    check_waits();
}

void Server::send_reply(Client& client, const json& reply) {
    // The events a request caused (a press, a blink's end) reach the program before its reply,
    // so a program that has its reply has seen them, as it would in-process.
    const int fd = client.fd;
    const std::uint64_t serial = client.serial;
    deliver_events();
    const auto it = clients_.find(fd);
    if (it == clients_.end() || it->second->serial != serial) return;
    send(*it->second, reply);
}

Server::Part& Server::part_for(Client& client, const json& request, bool need_claim) {
    const std::string name = string_field(request, "part");
    const auto it = parts_.find(name);
    if (it == parts_.end()) {
        (void)kit_->resolve(name, {PartType::led}, "part");  // throws the kit's "did you mean" message
        refuse("unknown_part", "there is no part called '" + name + "'", json{{"part", name}});
    }
    Part& part = *it->second;
    if (!allowed(client, part)) {
        refuse(
            "forbidden",
            "you are not allowed to use '" + name + "': ask your teacher to add you to the group " + "that may use it",
            json{{"part", name}});
    }
    if (need_claim && is_output(part.def.type) && part.owner != client.fd) {
        if (part.owner >= 0) {
            const Peer& owner = clients_.at(part.owner)->peer;
            refuse("part_in_use",
                   "the " + std::string(to_friendly(part.def.type)) + " '" + name +
                       "' is already used by another program (pid " + std::to_string(owner.pid) + ", '" +
                       owner.program + "'): stop that program, or use another part",
                   json{{"part", name}});
        }
        refuse("not_claimed", "claim '" + name + "' first: send {\"op\": \"claim\", \"part\": \"" + name + "\"}",
               json{{"part", name}});
    }
    return part;
}

PartDevice& Server::device_for(Client& client, Part& part) {
    if (const auto it = client.devices.find(part.def.name); it != client.devices.end()) return *it->second;
    return *part.device;
}

bool Server::allowed(const Client& client, const Part& part) const {
    const auto it = options_.part_groups.find(part.def.name);
    if (it == options_.part_groups.end() || it->second.empty() || client.peer.uid == 0) return true;
    std::vector<gid_t> groups(64);
    int count = static_cast<int>(groups.size());
    if (const passwd* user = ::getpwuid(client.peer.uid)) {
        if (::getgrouplist(user->pw_name, client.peer.gid, groups.data(), &count) < 0) {
            groups.resize(static_cast<std::size_t>(count));
            ::getgrouplist(user->pw_name, client.peer.gid, groups.data(), &count);
        }
        groups.resize(static_cast<std::size_t>(std::max(count, 0)));
    } else {
        groups.assign(1, client.peer.gid);
    }
    for (const std::string& name : it->second) {
        if (const group* g = ::getgrnam(name.c_str())) {
            if (std::find(groups.begin(), groups.end(), g->gr_gid) != groups.end()) return true;
        }
    }
    return false;
}

json Server::part_state(const Part& part) const { return part.device->state(); }

json Server::part_info(const Part& part) const {
    json info{{"name", part.def.name},
              {"type", to_string(part.def.type)},
              {"kind", to_friendly(part.def.type)},
              {"label", part.def.label},
              {"lines", part.def.lines},
              {"keep", part.def.keep},
              {"active_high", part.def.active_high},
              {"pull", to_string(part.def.pull)},
              {"state", part_state(part)},
              {"owner", nullptr}};
    if (part.owner >= 0) {
        const Peer& owner = clients_.at(part.owner)->peer;
        info["owner"] = json{{"pid", owner.pid}, {"program", owner.program}};
    }
    return info;
}

// ---- the requests -----------------------------------------------------------------------------

struct Server::Request {
    RequestInfo info;
    json (Server::*handle)(Client&, const json&);
};

// Every request, in PROTOCOL.md's order. The "unknown request" message, the classroom page's
// allowed list and the protocol test all read this table.
const std::vector<Server::Request>& Server::request_table() {
    //                                  op                      claim  sim    page
    static const std::vector<Request> table{
        {{"hello", false, false, false}, &Server::on_hello},
        {{"parts", false, false, false}, &Server::on_parts},
        {{"claim", false, false, false}, &Server::on_claim},
        {{"release", false, false, false}, &Server::on_release},
        {{"set", true, false, false}, &Server::on_set},
        {{"frequency", true, false, false}, &Server::on_frequency},
        {{"get", false, false, false}, &Server::on_get},
        {{"blink", true, false, false}, &Server::on_blink},
        {{"pulse", true, false, false}, &Server::on_pulse},
        {{"read", false, false, false}, &Server::on_read},
        {{"configure", false, false, false}, &Server::on_configure},
        {{"wait", false, false, false}, &Server::on_wait},
        {{"clock", false, false, false}, &Server::on_clock},
        {{"cloud_send", false, false, false}, &Server::on_cloud_send},
        {{"cloud_status", false, false, false}, &Server::on_cloud_status},
        {{"subscribe", false, false, false}, &Server::on_subscribe},
        {{"unsubscribe", false, false, false}, &Server::on_unsubscribe},
        {{"sim_press", false, true, true}, &Server::on_sim_press},
        {{"sim_release", false, true, true}, &Server::on_sim_release},
        {{"sim_hold", false, true, false}, &Server::on_sim_hold},
        {{"sim_trigger_motion", false, true, false}, &Server::on_sim_trigger_motion},
        {{"sim_set_sensor", false, true, true}, &Server::on_sim_set_sensor},
        {{"sim_set_sensor_fault", false, true, false}, &Server::on_sim_set_sensor_fault},
        {{"sim_history", false, true, false}, &Server::on_sim_history},
        {{"sim_clear_history", false, true, false}, &Server::on_sim_clear_history},
        {{"sim_advance", false, true, false}, &Server::on_sim_advance},
    };
    return table;
}

std::vector<RequestInfo> Server::requests() {
    std::vector<RequestInfo> out;
    for (const Request& r : request_table()) out.push_back(r.info);
    return out;
}

json Server::handle_request(Client& client, const json& request) {
    const std::string op = string_field(request, "op");
    const auto& table = request_table();
    const auto it = std::find_if(table.begin(), table.end(), [&](const Request& r) { return r.info.op == op; });
    if (it == table.end()) {
        std::string names;
        for (std::size_t i = 0; i < table.size(); ++i) {
            names += (i == 0 ? "" : i + 1 == table.size() ? " and " : ", ") + table[i].info.op;
        }
        refuse("unknown_op", "there is no \"" + op.substr(0, 40) + "\" request; the requests are " + names);
    }
    if (it->info.sim_only && !kit_->sim()) {
        refuse("unsupported", op + " only works when berrykitd runs the simulated board (--backend sim)");
    }
    if (it->info.needs_claim) (void)part_for(client, request, true);
    return (this->*(it->handle))(client, request);
}

json Server::on_hello(Client& client, const json& request) {
    if (const auto it = request.find("protocol"); it != request.end()) {
        if (!it->is_number_integer()) refuse("bad_request", "\"protocol\" must be a whole number");
        if (it->get<int>() != protocol_version) {
            refuse("unsupported_protocol", "this berrykitd speaks protocol " + std::to_string(protocol_version) +
                                               ", not " + std::to_string(it->get<int>()) +
                                               ": update berrykit so both match");
        }
    }
    if (const auto it = request.find("program"); it != request.end() && it->is_string()) {
        client.peer.program = it->get<std::string>().substr(0, 64);
    }
    return json{{"protocol", protocol_version},    {"daemon", "berrykitd"},
                {"board", kit_->board().name},     {"board_file", kit_->board().file},
                {"backend", kit_->backend_kind()}, {"clock", kit_->manual_clock() ? "manual" : "real"},
                {"device", options_.device_id},    {"page", page_url_.empty() ? json(nullptr) : json(page_url_)}};
}

json Server::on_parts(Client&, const json&) { return json{{"parts", parts()}}; }

json Server::on_claim(Client& client, const json& request) {
    if (!request.contains("as")) {
        // A claim of the part as berrykitd holds it (the berrykit command): outputs get an owner.
        Part& part = part_for(client, request, false);
        if (is_output(part.def.type)) {
            if (part.owner >= 0 && part.owner != client.fd) (void)part_for(client, request, true);  // in use
            if (part.owner != client.fd) {
                log_for_page(
                    part.def.name,
                    client.peer.program + " (pid " + std::to_string(client.peer.pid) + ") took " + part.def.name,
                    kit_->backend().clock().now());
            }
            part.owner = client.fd;
        }
        client.claims.insert(part.def.name);
        return json{{"part", part_info(part)}};
    }
    // A program opens the part as its script's class, with its options: its own device.
    const std::string as = string_field(request, "as");
    const json& ref_json = field(request, "part");
    PartRef ref;
    if (ref_json.is_string()) {
        ref = ref_json.get<std::string>();
    } else if (ref_json.is_number_integer()) {
        ref = ref_json.get<int>();
    } else {
        refuse("bad_request", "\"part\" must be a part's name or a GPIO number, got " + describe_json(ref_json));
    }
    const json options = request.contains("options") ? request["options"] : json::object();
    PartBinding binding = resolve_as(*kit_, ref, as);
    const auto found = parts_.find(binding.def.name);
    if (found == parts_.end()) {
        refuse("unknown_part",
               "berrykitd has no part on " + binding.lines.begin()->second.name +
                   ": use the name of a part in the kit, like '" + kit_->board().parts.front().name + "'",
               json{{"part", binding.part}, {"hint", kit_->board().parts.front().name}});
    }
    Part& part = *found->second;
    json named{{"part", part.def.name}};
    (void)part_for(client, named, false);  // forbidden?
    PartDevice* opened = nullptr;
    if (is_output(part.def.type)) {
        if (part.owner >= 0 && part.owner != client.fd) (void)part_for(client, named, true);  // in use
        if (part.owner == client.fd && part.owners_device) {
            // Opened twice by one program: as in-process, the second is refused.
            throw Error(ErrorCode::part_in_use,
                        already_in_use(binding.lines.begin()->second.name, part.device->device().description(),
                                       binding.description));
        }
        // The board's device lets go of the lines for the program's; if the program's options are
        // refused, the board's comes back as it was.
        const bool was_steady = part.device->steady();
        json restore = json::object();
        if (was_steady && !part.device->state()["value"].is_null()) {
            json value = part.device->state()["value"];
            if (part.def.type == PartType::buzzer) value = value == 1;
            if (part.owners_device || part.device->as() != board_class(part.def.type)) value = nullptr;
            if (!value.is_null()) restore["initial_value"] = value;
        }
        part.device->close();
        std::unique_ptr<PartDevice> mine;
        try {
            mine = open_part_device(*kit_, as, binding, options);
        } catch (...) {
            replace_device(part, open_board_device(part, restore));
            throw;
        }
        replace_device(part, std::move(mine));
        if (part.owner != client.fd) {
            log_for_page(part.def.name,
                         client.peer.program + " (pid " + std::to_string(client.peer.pid) + ") took " + part.def.name,
                         kit_->backend().clock().now());
        }
        part.owner = client.fd;
        part.owners_device = true;
        opened = part.device.get();
        changed(part.def.name);
    } else {
        if (const auto it = client.devices.find(part.def.name); it != client.devices.end()) {
            throw Error(ErrorCode::part_in_use,
                        already_in_use(binding.lines.begin()->second.name, it->second->device().description(),
                                       binding.description));
        }
        binding.shared = true;
        auto mine = open_part_device(*kit_, as, binding, options);
        opened = mine.get();
        client.devices[part.def.name] = std::move(mine);
    }
    program_devices_[opened->device().id()] = ProgramDevice{client.fd, part.def.name};
    client.claims.insert(part.def.name);
    json lines = json::object();
    for (const auto& [role, line] : binding.lines) lines[role] = line.name;
    return json{{"part", part_info(part)},
                {"device",
                 {{"id", opened->device().id()},
                  {"name", binding.part},
                  {"description", binding.description},
                  {"lines", lines},
                  {"state", opened->state()}}}};
}

json Server::on_release(Client& client, const json& request) {
    Part& part = part_for(client, request, false);
    if (const auto it = client.devices.find(part.def.name); it != client.devices.end()) {
        program_devices_.erase(it->second->device().id());
        it->second->close();
        client.devices.erase(it);
    }
    if (part.owner == client.fd) {
        part.owner = -1;
        give_back(part);
        log_for_page(part.def.name, client.peer.program + " let go of " + part.def.name, kit_->backend().clock().now());
    }
    client.claims.erase(part.def.name);
    return json::object();
}

json Server::on_set(Client& client, const json& request) {
    Part& part = part_for(client, request, true);
    part.device->set(field(request, "value"));
    return json{{"state", part_state(part)}};
}

json Server::on_frequency(Client& client, const json& request) {
    Part& part = part_for(client, request, true);
    const json& value = field(request, "value");
    if (!value.is_number()) refuse("bad_request", "\"value\" is the PWM frequency in Hz, got " + describe_json(value));
    part.device->set_frequency(value.get<double>());
    return json{{"state", part_state(part)}};
}

json Server::on_get(Client& client, const json& request) {
    Part& part = part_for(client, request, false);
    return json{{"state", device_for(client, part).state()}};
}

json Server::on_blink(Client& client, const json& request) {
    Part& part = part_for(client, request, true);
    part.device->blink(request, false);
    return json{{"state", part_state(part)}};
}

json Server::on_pulse(Client& client, const json& request) {
    Part& part = part_for(client, request, true);
    part.device->blink(request, true);
    return json{{"state", part_state(part)}};
}

json Server::on_read(Client& client, const json& request) {
    Part& part = part_for(client, request, false);
    return device_for(client, part).read();
}

json Server::on_configure(Client& client, const json& request) {
    Part& part = part_for(client, request, false);
    const auto it = client.devices.find(part.def.name);
    PartDevice* device = it != client.devices.end()                      ? it->second.get()
                         : part.owners_device && part.owner == client.fd ? part.device.get()
                                                                         : nullptr;
    if (!device) {
        refuse("not_claimed",
               "open '" + part.def.name + "' first (a claim with \"as\"): its settings are your program's own",
               json{{"part", part.def.name}});
    }
    device->configure(field(request, "settings"));
    return json{{"state", device->state()}};
}

json Server::on_wait(Client& client, const json& request) {
    Part& part = part_for(client, request, false);
    const std::string until = string_field(request, "until");
    const std::optional<double> timeout = optional_number(request, "timeout");
    if (timeout && !(*timeout >= 0)) refuse("bad_value", "a timeout must be 0 seconds or more");
    std::function<bool()> ready = device_for(client, part).until(until);
    if (ready() || (timeout && *timeout == 0)) return json{{"done", ready()}};
    waits_.push_back(Wait{client.fd, client.serial, *current_id_, std::move(ready)});
    const auto wait = std::prev(waits_.end());
    if (timeout) {
        // On the board's clock: with a manual clock the wait ends when advance() passes it.
        wait->timer = kit_->backend().scheduler().call_later(from_seconds(*timeout), [this, wait] {
            wait->timer = 0;
            bool done = false;
            try {
                done = wait->ready();
            } catch (...) {
                answer_wait(wait, json{{"ok", false}, {"error", error_reply(std::current_exception())}});
                return;
            }
            answer_wait(wait, json{{"ok", true}, {"done", done}});
        });
    }
    reply_deferred_ = true;
    return json::object();
}

void Server::check_waits() {
    std::vector<std::list<Wait>::iterator> due;
    std::vector<json> replies;
    for (auto wait = waits_.begin(); wait != waits_.end(); ++wait) {
        try {
            if (wait->ready()) {
                due.push_back(wait);
                replies.push_back(json{{"ok", true}, {"done", true}});
            }
        } catch (...) {
            due.push_back(wait);
            replies.push_back(json{{"ok", false}, {"error", error_reply(std::current_exception())}});
        }
    }
    for (std::size_t i = 0; i < due.size(); ++i) answer_wait(due[i], replies[i]);
}

void Server::answer_wait(std::list<Wait>::iterator wait, const json& reply) {
    if (wait->timer) kit_->backend().scheduler().cancel(wait->timer);
    const int fd = wait->fd;
    const std::uint64_t serial = wait->serial;
    json message = reply;
    message["id"] = wait->id;
    waits_.erase(wait);
    const auto it = clients_.find(fd);
    if (it == clients_.end() || it->second->serial != serial) return;
    send_reply(*it->second, message);
}

json Server::on_clock(Client&, const json&) {
    return json{{"seconds", kit_->seconds()}, {"manual", kit_->manual_clock()}};
}

json Server::on_cloud_send(Client& client, const json& request) { return cloud_send(client, request); }

json Server::on_cloud_status(Client&, const json&) { return cloud_status(); }

json Server::on_subscribe(Client& client, const json& request) {
    std::set<std::string> parts;
    if (const auto it = request.find("parts"); it != request.end() && !it->is_null()) {
        if (!it->is_array()) refuse("bad_request", "\"parts\" must be a list of part names, or left out for all");
        for (const json& name : *it) {
            if (!name.is_string()) refuse("bad_request", "\"parts\" must hold part names (strings)");
            json one{{"part", name}};
            parts.insert(part_for(client, one, false).def.name);
        }
    }
    client.subscribed = true;
    client.subscriptions = std::move(parts);
    return json::object();
}

json Server::on_unsubscribe(Client& client, const json&) {
    client.subscribed = false;
    client.subscriptions.clear();
    return json::object();
}

// ---- the simulated board's outside world, for teachers, tests and the page ----------------------

json Server::on_sim_press(Client&, const json& request) {
    kit_->press(string_field(request, "part"));
    return json::object();
}

json Server::on_sim_release(Client&, const json& request) {
    kit_->release(string_field(request, "part"));
    return json::object();
}

json Server::on_sim_hold(Client&, const json& request) {
    kit_->hold(string_field(request, "part"), number_field(request, "seconds", 1.0), number_field(request, "after", 0));
    return json::object();
}

json Server::on_sim_trigger_motion(Client&, const json& request) {
    kit_->trigger_motion(string_field(request, "part"), number_field(request, "seconds", 2.0));
    return json::object();
}

json Server::on_sim_set_sensor(Client&, const json& request) {
    const std::string name = string_field(request, "part");
    const auto quantity = request.find("quantity");
    if (quantity != request.end() && !quantity->is_string()) {
        refuse("bad_request", "\"quantity\" must be a string like \"temperature\"");
    }
    const std::string which = quantity == request.end() ? "" : quantity->get<std::string>();
    if (const auto curve = request.find("curve"); curve != request.end() && !curve->is_null()) {
        // Straight lines between (seconds from now, value) points.
        if (!curve->is_array() || curve->empty()) {
            refuse("bad_request", "\"curve\" must be a list of [seconds, value] points, like [[0, 20], [60, 25]]");
        }
        std::vector<std::pair<double, double>> points;
        for (const json& point : *curve) {
            if (!point.is_array() || point.size() != 2 || !point[0].is_number() || !point[1].is_number()) {
                refuse("bad_request",
                       "each point of \"curve\" is [seconds, value], two numbers, got " + describe_json(point));
            }
            points.emplace_back(point[0].get<double>(), point[1].get<double>());
        }
        const bool repeat = optional_bool(request, "repeat").value_or(false);
        kit_->set_sensor(name, which, SimValue::curve(std::move(points), repeat));
        return json::object();
    }
    const json& value = field(request, "value");
    if (!value.is_number()) refuse("bad_request", "\"value\" must be a number, got " + describe_json(value));
    kit_->set_sensor(name, which, value.get<double>());
    return json::object();
}

json Server::on_sim_set_sensor_fault(Client&, const json& request) {
    const std::string name = string_field(request, "part");
    const json& faulty = field(request, "faulty");
    if (!faulty.is_boolean()) refuse("bad_request", "\"faulty\" must be true or false");
    kit_->set_sensor_fault(name, faulty.get<bool>());
    return json::object();
}

namespace {
PartRef part_ref(const json& request) {
    const json& ref = field(request, "part");
    if (ref.is_number_integer()) return ref.get<int>();
    if (!ref.is_string())
        refuse("bad_request", "\"part\" must be a part's name or a GPIO number, got " + describe_json(ref));
    return ref.get<std::string>();
}
std::string line_role(const json& request) {
    const auto it = request.find("line");
    if (it == request.end() || it->is_null()) return "";
    if (!it->is_string()) refuse("bad_request", "\"line\" must be a string like \"red\", got " + describe_json(*it));
    return it->get<std::string>();
}
}  // namespace

json Server::on_sim_history(Client&, const json& request) {
    const PartRef ref = part_ref(request);
    const std::string role = line_role(request);
    json samples = json::array();
    for (const Sample& s : kit_->history(ref, role)) samples.push_back(json::array({s.seconds, s.value}));
    return json{{"history", samples}, {"dropped", kit_->history_dropped(ref, role)}};
}

json Server::on_sim_clear_history(Client&, const json& request) {
    kit_->clear_history(part_ref(request), line_role(request));
    return json::object();
}

json Server::on_sim_advance(Client&, const json& request) {
    if (!kit_->manual_clock()) {
        refuse("unsupported",
               "berrykitd's clock runs in real time, so it cannot be moved on: start berrykitd with --clock manual");
    }
    const json& seconds = field(request, "seconds");
    if (!seconds.is_number()) refuse("bad_request", "\"seconds\" must be a number, got " + describe_json(seconds));
    kit_->advance(seconds.get<double>());
    return json{{"seconds", kit_->seconds()}};
}

void Server::deliver_events() {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto r = ::read(events_fd_, &count, sizeof count);
    while (auto event = kit_->events().pop(Nanos{0})) {
        if (const auto mine = program_devices_.find(event->device); mine != program_devices_.end()) {
            // A program's own device (its button with its hold time): to that program alone.
            const auto client = clients_.find(mine->second.fd);
            if (client == clients_.end()) continue;
            send(*client->second, json{{"event", to_string(event->kind)},
                                       {"part", mine->second.part},
                                       {"device", event->device},
                                       {"time", to_seconds(event->time)},
                                       {"ts", utc_iso_of_monotonic(event->time)}});
            continue;
        }
        const auto it = parts_by_device_.find(event->device);
        if (it == parts_by_device_.end()) continue;
        const std::string& name = it->second->def.name;
        const json message{{"event", to_string(event->kind)},
                           {"part", name},
                           {"time", to_seconds(event->time)},
                           {"ts", utc_iso_of_monotonic(event->time)}};
        send_to_subscribers(name, message);
        to_cloud("events", name, json{{"value", to_string(event->kind)}}, event->time);
        changed(name);
        log_for_page(name, name + " " + event_words(event->kind), event->time);
    }
}

// ---- the cloud --------------------------------------------------------------------------------

void Server::set_outbox(std::shared_ptr<Outbox> outbox, std::string topic_prefix) {
    outbox_ = std::move(outbox);
    topic_prefix_ = std::move(topic_prefix);
}

void Server::set_cloud_status(std::function<json()> status) { cloud_status_ = std::move(status); }

void Server::to_cloud(const std::string& kind, const std::string& name, json fields, Nanos time,
                      std::function<void(std::uint64_t seq)> on_stored) {
    if (!outbox_) return;
    json payload{{"device", options_.device_id}, {kind == "events" ? "part" : "sensor", name}};
    payload.update(fields);
    payload["ts"] = utc_iso_of_monotonic(time);
    if (watcher_) {
        on_stored = [watcher = watcher_, kind, payload, told = std::move(on_stored)](std::uint64_t seq) {
            json sent = payload;
            sent["seq"] = seq;
            watcher->sent_to_cloud(kind, sent);
            if (told) told(seq);
        };
    }
    // The payload is finished by the outbox, which gives it its seq; "seq" goes last.
    outbox_->append(
        topic_prefix_ + "/" + options_.device_id + "/" + kind + "/" + name,
        [payload = std::move(payload)](std::uint64_t seq) {
            json out = payload;
            out["seq"] = seq;
            return out.dump();
        },
        std::move(on_stored));
}

namespace {

// A name a program may send under: it becomes the last level of an MQTT topic.
bool good_cloud_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (const char c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    }
    return true;
}

}  // namespace

json Server::cloud_send(Client& client, const json& request) {
    if (!outbox_) {
        refuse("cloud_off",
               "the cloud is off on this berrykit: a teacher turns it on with \"mqtt\": {\"url\": …} in "
               "berrykit.json (see CONFIG.md)");
    }
    const std::string name = string_field(request, "name");
    if (!good_cloud_name(name)) {
        refuse("bad_request",
               "the name '" + name +
                   "' cannot be sent to the cloud: use 1 to 64 letters, digits, - and _ (like \"score\")");
    }
    const json& value = field(request, "value");
    if (!(value.is_number() || value.is_boolean() || value.is_string()) ||
        (value.is_number_float() && !std::isfinite(value.get<double>()))) {
        refuse("bad_request", "\"value\" must be a number, true/false or a short text, got " + describe_json(value));
    }
    if (value.is_string() && value.get<std::string>().size() > 1024) {
        refuse("bad_request", "\"value\" is too long to send to the cloud: at most 1024 characters");
    }
    json fields{{"value", value}};
    if (const auto unit = request.find("unit"); unit != request.end() && !unit->is_null()) {
        fields["unit"] = string_field(request, "unit");
    }
    fields["from"] = client.peer.program;
    // The reply goes once the reading is on disk: then it is the outbox's to deliver.
    const std::weak_ptr<bool> alive = alive_;
    EventLoop* const loop = kit_->loop();
    const int fd = client.fd;
    const std::uint64_t serial = client.serial;
    const json id = request.contains("id") ? request["id"] : json(nullptr);
    try {
        to_cloud("readings", name, std::move(fields), kit_->backend().clock().now(),
                 [this, alive, loop, fd, serial, id](std::uint64_t seq) {
                     loop->post([this, alive, fd, serial, id, seq] {
                         const auto still = alive.lock();
                         if (!still || !*still) return;
                         const auto it = clients_.find(fd);
                         if (it == clients_.end() || it->second->serial != serial) return;  // it has gone
                         send(*it->second, json{{"id", id}, {"ok", true}, {"seq", seq}});
                     });
                 });
    } catch (const Error& e) {
        refuse("bad_request", e.what());
    }
    reply_deferred_ = true;
    return json::object();
}

json Server::run_cloud_command(const std::string& part_name, std::string_view payload) {
    json result{{"device", options_.device_id}, {"part", part_name}};
    json command = json::parse(payload, nullptr, false);
    if (command.is_object() && command.contains("id")) result["id"] = command["id"];
    try {
        if (command.is_discarded() || !command.is_object()) {
            refuse("bad_json", "a command is a JSON object like {\"action\": \"on\"}");
        }
        for (const auto& [key, value] : command.items()) {
            if (key != "action" && key != "value" && key != "id") {
                refuse("bad_request", "a command has action, value and id, not \"" + key + "\"");
            }
        }
        if (!options_.remote_parts.contains(part_name)) {
            refuse("not_remote", "'" + part_name +
                                     "' does not take commands from the cloud: a teacher can allow it with "
                                     "\"parts\": {\"" +
                                     part_name + "\": {\"remote\": true}} in berrykit.json");
        }
        const std::string action = string_field(command, "action");
        const json value = command.contains("value") ? command["value"] : json(nullptr);
        // Carried out as a program with no claims would be: a part a program holds is refused
        // with its owner's name; a free part is set and stays so until a program claims it.
        Client cloud;
        cloud.fd = -1;
        cloud.peer.program = "the cloud";
        json request{{"op", "set"}, {"part", part_name}};
        if (action == "on" || action == "off") {
            if (!value.is_null()) refuse("bad_request", "'" + action + "' takes no value");
            request["value"] = action == "on";
        } else if (action == "toggle") {
            if (!value.is_null()) refuse("bad_request", "'toggle' takes no value");
            const json state = part_state(part_for(cloud, request, false));
            const json& now = state.contains("value") ? state["value"] : json(nullptr);
            const bool lit = now.is_array() ? (now[0] != 0 || now[1] != 0 || now[2] != 0)
                                            : (now.is_number() && now.get<double>() > 0);
            request["value"] = !lit;
        } else if (action == "set") {
            if (value.is_null()) refuse("bad_request", "'set' needs a value, like {\"action\": \"set\", \"value\": 1}");
            request["value"] = value;
        } else if (action == "blink") {
            request["op"] = "blink";
            if (!value.is_null()) {
                if (!value.is_object()) refuse("bad_request", "the value of 'blink' is like {\"on_time\": 0.5}");
                for (const auto& [key, v] : value.items()) {
                    if (key != "on_time" && key != "off_time" && key != "n") {
                        refuse("bad_request", "'blink' knows on_time, off_time and n, not \"" + key + "\"");
                    }
                    request[key] = v;
                }
            }
        } else {
            refuse("bad_request",
                   "\"action\" must be on, off, toggle, set or blink, got " + describe_json(command["action"]));
        }
        const json reply = handle_request(cloud, request);
        result["ok"] = true;
        result["state"] = reply.contains("state") ? reply["state"] : part_state(*parts_.at(part_name));
    } catch (const RequestError& e) {
        result["ok"] = false;
        result["error"] = {{"code", e.code}, {"message", e.message}};
    } catch (const Error& e) {
        result["ok"] = false;
        result["error"] = {{"code", to_string(e.code())}, {"message", e.what()}};
    }
    const Nanos now = kit_->backend().clock().now();
    result["ts"] = utc_iso_of_monotonic(now);
    if (parts_.count(part_name)) {
        changed(part_name);
        log_for_page(part_name,
                     result["ok"] == true ? "the cloud sent " + part_name + " a command: " + std::string(payload)
                                          : "the cloud's command for " + part_name +
                                                " was refused: " + result["error"]["message"].get<std::string>(),
                     now);
    }
    return result;
}

// ---- the classroom page ------------------------------------------------------------------------

void Server::set_watcher(std::shared_ptr<BoardWatcher> watcher) { watcher_ = std::move(watcher); }

void Server::set_page_url(std::string url) { page_url_ = std::move(url); }

json Server::parts() const {
    std::lock_guard guard(kit_->backend().lock());
    json out = json::array();
    for (const PartDef& def : kit_->board().parts) out.push_back(part_info(*parts_.at(def.name)));
    return out;
}

json Server::cloud_status() const {
    json status{{"enabled", outbox_ != nullptr}};
    if (outbox_) {
        const OutboxStats stats = outbox_->stats();
        status["outbox"] =
            json{{"queued", stats.queued},     {"queued_bytes", stats.queued_bytes}, {"dropped", stats.dropped},
                 {"next_seq", stats.next_seq}, {"file_bytes", stats.file_bytes},     {"last_error", stats.last_error}};
    }
    if (cloud_status_) status["mqtt"] = cloud_status_();
    return status;
}

json Server::page_request(const json& request) {
    try {
        if (!request.is_object()) refuse("bad_request", "send a JSON object like {\"part\": \"button\"}");
        const std::string op = string_field(request, "op");
        const auto& table = request_table();
        const auto it = std::find_if(table.begin(), table.end(), [&](const Request& r) { return r.info.op == op; });
        if (it == table.end() || !it->info.from_page) {
            refuse("forbidden",
                   "the classroom page can only press buttons, wave at the motion sensor and move "
                   "the sensors' sliders");
        }
        Client page;
        page.fd = -1;
        page.peer.program = "the classroom page";
        (void)handle_request(page, request);
        const std::string part = string_field(request, "part");
        if (parts_.count(part)) changed(part);
        return json{{"ok", true}};
    } catch (...) {
        return json{{"ok", false}, {"error", error_reply(std::current_exception())}};
    }
}

void Server::changed(const std::string& part) {
    if (!watcher_) return;
    std::lock_guard guard(changed_lock_);
    changed_.insert(part);
    if (tell_posted_) return;
    tell_posted_ = true;
    const std::weak_ptr<bool> alive = alive_;
    kit_->loop()->post([this, alive] {
        if (const auto still = alive.lock(); still && *still) tell_watcher();
    });
}

void Server::tell_watcher() {
    std::set<std::string> names;
    {
        std::lock_guard guard(changed_lock_);
        names.swap(changed_);
        tell_posted_ = false;
    }
    std::lock_guard board(kit_->backend().lock());
    for (const std::string& name : names) {
        if (const auto it = parts_.find(name); it != parts_.end()) watcher_->part_changed(part_info(*it->second));
    }
}

void Server::log_for_page(const std::string& part, const std::string& text, Nanos time) {
    if (watcher_) watcher_->logged(json{{"ts", utc_iso_of_monotonic(time)}, {"part", part}, {"text", text}});
}

}  // namespace berrykit::daemon
