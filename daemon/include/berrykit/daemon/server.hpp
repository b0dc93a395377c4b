// berrykit — berrykitd's local API: JSON objects, one per line, over a Unix socket.
//
// The server owns every part of the board (it opens them all at start-up and never lets go), and
// clients claim parts: an output has one owner at a time, inputs and sensors can be read by many.
// Everything runs on the kit's event loop: the listening socket, every client socket, the
// board's line events and timers. No thread per client. Every message and error code is in
// daemon/PROTOCOL.md.
#pragma once

#include "berrykit/daemon/sampler.hpp"
#include "berrykit/kit.hpp"

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace berrykit::daemon {

class Outbox;
class PartDevice;

// One request of the local API, as the table in server.cpp defines it (daemon/PROTOCOL.md lists
// the same): its name; whether it needs the program to hold the part's claim first; whether it
// works only on the simulated board; whether the classroom page may make it.
struct RequestInfo {
    std::string op;
    bool needs_claim = false;
    bool sim_only = false;
    bool from_page = false;
};

inline constexpr int protocol_version = 1;

struct ServerOptions {
    std::string socket_path = "/run/berrykit/berrykit.sock";
    std::string group = "berrykit";  // the socket's group; empty or missing on this machine: left as is
    mode_t mode = 0660;
    std::size_t max_clients = 256;
    std::size_t max_line_bytes = 65536;
    std::size_t send_queue_bytes = 1048576;
    std::map<std::string, std::vector<std::string>> part_groups;  // part → Unix groups allowed
    std::string device_id = "berrykit";
    // Seconds between samples of each sampled sensor (config sensors.<part>.period). A light or
    // distance sensor measures as often as in a script; its latest value is sampled.
    std::map<std::string, double> sensor_periods;
    // The sensors whose readings go to subscribers as "reading" events, at those periods.
    std::set<std::string> sampled;
    // The parts that take commands from the cloud (config parts.<part>.remote).
    std::set<std::string> remote_parts;
};

// Who is at the other end of a client socket (SO_PEERCRED), and what it calls itself.
struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string program;  // from hello, else /proc/<pid>/comm
};

// Something that follows the board as it changes: the classroom page (web.hpp).
class BoardWatcher {
public:
    virtual ~BoardWatcher() = default;
    // A part's state, owner or simulated world may have changed: `part` as the parts request
    // shows it. Changes between two turns of the loop are told once. On the loop's thread.
    virtual void part_changed(const nlohmann::json& part) = 0;
    // Something that happened, for the page's log: {"ts", "part", "text"}. On the loop's thread.
    virtual void logged(const nlohmann::json& entry) = 0;
    // A reading or event stored in the outbox for the cloud: `kind` "readings" or "events", the
    // payload as it is sent (with its seq). On the outbox's thread.
    virtual void sent_to_cloud(const std::string& kind, const nlohmann::json& payload) = 0;
};

class Server {
public:
    Server(std::shared_ptr<Kit> kit, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Opens every part of the board, binds and listens on the socket, and watches it on the kit's
    // loop. Throws Error(unsupported) naming the socket path when it cannot.
    void start();
    // Disconnects every client (their outputs go back to rest), closes and removes the socket.
    void stop();

    std::size_t client_count() const;

    // The cloud bridge. With an outbox, every reading of a sampled sensor, every event of a part
    // (pressed, released, held, motion…) and every cloud_send from a program is appended to it,
    // to go to MQTT as "<topic_prefix>/<device_id>/readings/<name>" or ".../events/<part>" with
    // a JSON payload {"device", "sensor" or "part", "value", "unit", "ts", "seq"}. A program's
    // cloud_send is answered once its reading is on disk. Without one, cloud_send answers that
    // the cloud is off. Call before start().
    void set_outbox(std::shared_ptr<Outbox> outbox, std::string topic_prefix);
    // What the cloud_status request and `berrykit status` show about the MQTT connection.
    void set_cloud_status(std::function<nlohmann::json()> status);
    // A command from the cloud for `part`: `payload` is the JSON text received on
    // commands/<part>, {"action": "on"|"off"|"toggle"|"set"|"blink", "value": …, "id": …}. It is
    // checked like a local request and carried out only if the config marks the part remote and
    // no program holds it. Returns the result to publish on commands/<part>/result:
    // {"device", "part", "id", "ok": true, "state", "ts"} or {…, "ok": false, "error": {"code",
    // "message"}}. On the loop's thread.
    nlohmann::json run_cloud_command(const std::string& part, std::string_view payload);
    // The classroom page: told every change of the board from start() on. Call before start().
    void set_watcher(std::shared_ptr<BoardWatcher> watcher);
    // Where the classroom page is, for the hello reply ("page"); empty: no page.
    void set_page_url(std::string url);
    // A request from the classroom page, on the loop's thread: only sim_press, sim_release and
    // sim_set_sensor, checked as any program's are. Returns {"ok": true} or {"ok": false,
    // "error": {"code", "message"}}.
    nlohmann::json page_request(const nlohmann::json& request);
    // Every part as the parts request shows it, in the board's order. On the loop's thread.
    nlohmann::json parts() const;
    // The cloud bridge now, as the cloud_status request answers.
    nlohmann::json cloud_status() const;
    // A reloaded config: the limits and the part access take effect for every request from now
    // on; the socket's path, group and mode only at the next start.
    void apply(const ServerOptions& options);
    const ServerOptions& options() const noexcept { return options_; }

    // Every request berrykitd answers, in PROTOCOL.md's order.
    static std::vector<RequestInfo> requests();

private:
    struct Client;
    struct Part;
    struct Wait;
    struct Request;
    static const std::vector<Request>& request_table();
    // The requests, one handler each (the table in server.cpp names them).
    nlohmann::json on_hello(Client& client, const nlohmann::json& request);
    nlohmann::json on_parts(Client& client, const nlohmann::json& request);
    nlohmann::json on_claim(Client& client, const nlohmann::json& request);
    nlohmann::json on_release(Client& client, const nlohmann::json& request);
    nlohmann::json on_set(Client& client, const nlohmann::json& request);
    nlohmann::json on_frequency(Client& client, const nlohmann::json& request);
    nlohmann::json on_get(Client& client, const nlohmann::json& request);
    nlohmann::json on_blink(Client& client, const nlohmann::json& request);
    nlohmann::json on_pulse(Client& client, const nlohmann::json& request);
    nlohmann::json on_read(Client& client, const nlohmann::json& request);
    nlohmann::json on_configure(Client& client, const nlohmann::json& request);
    nlohmann::json on_wait(Client& client, const nlohmann::json& request);
    nlohmann::json on_clock(Client& client, const nlohmann::json& request);
    nlohmann::json on_cloud_send(Client& client, const nlohmann::json& request);
    nlohmann::json on_cloud_status(Client& client, const nlohmann::json& request);
    nlohmann::json on_subscribe(Client& client, const nlohmann::json& request);
    nlohmann::json on_unsubscribe(Client& client, const nlohmann::json& request);
    nlohmann::json on_sim_press(Client& client, const nlohmann::json& request);
    nlohmann::json on_sim_release(Client& client, const nlohmann::json& request);
    nlohmann::json on_sim_hold(Client& client, const nlohmann::json& request);
    nlohmann::json on_sim_trigger_motion(Client& client, const nlohmann::json& request);
    nlohmann::json on_sim_set_sensor(Client& client, const nlohmann::json& request);
    nlohmann::json on_sim_set_sensor_fault(Client& client, const nlohmann::json& request);
    nlohmann::json on_sim_history(Client& client, const nlohmann::json& request);
    nlohmann::json on_sim_clear_history(Client& client, const nlohmann::json& request);
    nlohmann::json on_sim_advance(Client& client, const nlohmann::json& request);

    // A program's own device for a part: an input's or sensor's it opened, else the part's.
    PartDevice& device_for(Client& client, Part& part);
    // The part's device replaced (an output a program opens, or the board's again).
    void replace_device(Part& part, std::unique_ptr<PartDevice> next);
    // The board's device for the part again, after its owner let go (off, or as it was if kept).
    void give_back(Part& part);
    std::unique_ptr<PartDevice> open_board_device(const Part& part, const nlohmann::json& options);
    void check_waits();
    void answer_wait(std::list<Wait>::iterator wait, const nlohmann::json& reply);
    void send_reply(Client& client, const nlohmann::json& reply);

    void accept_clients();
    void read_from(Client& client);
    void write_to(Client& client);
    void handle_line(Client& client, std::string_view line);
    nlohmann::json handle_request(Client& client, const nlohmann::json& request);
    void send(Client& client, const nlohmann::json& message);
    void disconnect(int fd, const std::string& why);
    void release_claims(Client& client);
    void deliver_events();
    Part& part_for(Client& client, const nlohmann::json& request, bool need_claim);
    nlohmann::json part_state(const Part& part) const;
    nlohmann::json part_info(const Part& part) const;
    bool allowed(const Client& client, const Part& part) const;
    void rest(Part& part);
    // True when the output stays as it is with no one running it: steady, fully on or off.
    static bool holds_without_us(const Part& part);

    std::shared_ptr<Kit> kit_;
    ServerOptions options_;
    int listen_fd_ = -1;
    int events_fd_ = -1;
    std::uint64_t listen_watch_ = 0;
    std::uint64_t events_watch_ = 0;
    std::map<int, std::unique_ptr<Client>> clients_;
    std::map<std::string, std::unique_ptr<Part>> parts_;
    std::map<std::uint64_t, Part*> parts_by_device_;
    std::unique_ptr<Sampler> sampler_;
    std::shared_ptr<Outbox> outbox_;
    std::string topic_prefix_ = "berrykit";
    std::function<nlohmann::json()> cloud_status_;
    std::uint64_t next_client_serial_ = 1;
    bool reply_deferred_ = false;  // set by a request whose reply is sent later (cloud_send, wait)
    struct ProgramDevice {
        int fd;
        std::string part;
    };
    std::map<std::uint64_t, ProgramDevice> program_devices_;  // device id → the program that opened it
    std::list<Wait> waits_;
    std::shared_ptr<std::atomic<bool>> waits_check_posted_ = std::make_shared<std::atomic<bool>>(false);
    const nlohmann::json* current_id_ = nullptr;  // the id of the request being handled
    // Shared with work posted to the loop from other threads; false once the server is stopped.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    void to_cloud(const std::string& kind, const std::string& name, nlohmann::json fields, Nanos time,
                  std::function<void(std::uint64_t seq)> on_stored = {});
    nlohmann::json cloud_send(Client& client, const nlohmann::json& request);
    void start_sampling();
    void send_to_subscribers(const std::string& part, const nlohmann::json& message);

    // The watcher: parts marked changed (from any thread) are told to it on the loop.
    std::shared_ptr<BoardWatcher> watcher_;
    std::string page_url_;
    std::map<std::string, std::vector<std::string>> parts_by_line_;
    std::mutex changed_lock_;
    std::set<std::string> changed_;
    bool tell_posted_ = false;  // under changed_lock_
    void changed(const std::string& part);
    void tell_watcher();
    void log_for_page(const std::string& part, const std::string& text, Nanos time);
};

}  // namespace berrykit::daemon
