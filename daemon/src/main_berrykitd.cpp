// berrykitd — the one owner of the board.
//
// Start-up, in this order:
//   1. flags and the config file (exit 2 on a bad one, with the key's path);
//   2. SIGTERM, SIGINT and SIGHUP blocked and read through a signalfd, before any thread starts;
//   3. the board: backend and board definition (exit 2 if the config names parts it lacks,
//      exit 1 if the board cannot be opened);
//   4. the cloud, when the config has mqtt.url: the outbox opened (exit 1 if its folder cannot be
//      written), then the local API: every part opened, the socket bound (exit 1 if it cannot
//      be), then the MQTT bridge started (it connects in the background, and keeps trying);
//      with web.enabled and the simulated board, the classroom page is served too (exit 1 if its
//      port cannot be had);
//   5. signals and the systemd watchdog on the event loop;
//   6. READY=1 to systemd, "ready" in the log;
//   7. the event loop, on this thread, until SIGTERM or SIGINT.
// Shut-down, in this order: STOPPING=1; the classroom page's streams closed; every client
// disconnected, its outputs back to rest; the socket removed; the MQTT bridge stopped (retained
// "offline", clean disconnect); the outbox closed (what is still unsent stays on disk for the next
// start); the board closed (every line released); exit 0.
// SIGHUP reads the config again: log level, limits and part access change at once, and claims
// are kept; a new board, backend, socket, mqtt, outbox or web needs a restart, and the log says so.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <iostream>

#include "berrykit/daemon/config.hpp"
#include "berrykit/daemon/log.hpp"
#include "berrykit/daemon/mqtt_bridge.hpp"
#include "berrykit/daemon/options.hpp"
#include "berrykit/daemon/outbox.hpp"
#include "berrykit/daemon/sd_notify.hpp"
#include "berrykit/daemon/server.hpp"
#include "berrykit/daemon/web.hpp"
#include "berrykit/error.hpp"
#include "berrykit/kit.hpp"

using namespace berrykit;
using namespace berrykit::daemon;

namespace {

ServerOptions server_options(const DaemonConfig& config, const BoardDefinition& board) {
    ServerOptions options;
    options.socket_path = config.socket.path;
    options.group = config.socket.group;
    options.mode = static_cast<mode_t>(config.socket.mode);
    options.max_clients = config.clients.max;
    options.max_line_bytes = config.clients.max_line_bytes;
    options.send_queue_bytes = config.clients.send_queue_bytes;
    for (const auto& [part, access] : config.parts) options.part_groups[part] = access.groups;
    options.device_id = config.device_id;
    for (const std::string& part : remote_parts(config)) options.remote_parts.insert(part);
    for (const SensorSampling& sampling : sensor_sampling(config, board)) {
        options.sensor_periods[sampling.part] = sampling.period;
        if (sampling.enabled) options.sampled.insert(sampling.part);
    }
    return options;
}

WebOptions web_options(const DaemonConfig& config) {
    WebOptions options;
    options.address = config.web.address;
    options.port = config.web.port;
    options.max_pages = config.web.max_pages;
    return options;
}

OutboxOptions outbox_options(const DaemonConfig& config) {
    OutboxOptions options;
    options.file = config.outbox.file;
    options.max_bytes = config.outbox.max_bytes;
    options.batch_window = config.outbox.batch_window;
    return options;
}

nlohmann::json to_json(const MqttBridgeStatus& status) {
    return nlohmann::json{{"connected", status.connected},       {"state", status.state},
                          {"last_error", status.last_error},     {"published", status.published},
                          {"acknowledged", status.acknowledged}, {"reconnects", status.reconnects},
                          {"inflight", status.inflight},         {"commands", status.commands}};
}

void apply_log_level(const DaemonConfig& config) {
    if (const auto level = log_level_from_string(config.log_level)) set_log_level(*level);
}

}  // namespace

int main(int argc, char** argv) {
    // 1. Flags and config.
    const ParsedOptions parsed = parse_command_line(argc, argv);
    if (const auto* exit_now = std::get_if<ExitNow>(&parsed)) {
        std::fputs(exit_now->text.c_str(), exit_now->code == exit_ok ? stdout : stderr);
        return exit_now->code;
    }
    const RunDaemon& run = std::get<RunDaemon>(parsed);
    DaemonConfig config = run.config;
    apply_log_level(config);

    // 2. Signals: blocked in every thread from here on, read only through the signalfd.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-reply is handled where we write
    const int signal_fd = ::signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (signal_fd < 0) {
        log_error("berrykitd could not set up its signal handling");
        return 1;
    }

    // 3. The board.
    std::shared_ptr<Kit> kit;
    try {
        KitOptions kit_options;
        kit_options.backend = config.backend;
        kit_options.board = config.board;
        kit_options.board_dirs = board_search_dirs();
        kit_options.loop_thread = false;
        kit_options.manual_clock = run.command_line.manual_clock;
        kit = Kit::open(kit_options);
    } catch (const Error& e) {
        log_error(std::string("berrykitd could not open the board: ") + e.what());
        return e.code() == ErrorCode::board ? exit_bad_config : 1;
    }
    if (config.backend == "auto" && kit->backend_kind() == "sim") log_warning("berrykit: " + kit->backend_reason());
    try {
        check_against_board(config, kit->board());
    } catch (const Error& e) {
        log_error(e.what());
        return exit_bad_config;
    }

    // 4. The cloud's outbox, the local API, the MQTT bridge.
    EventLoop& loop = *kit->loop();
    Server server(kit, server_options(config, kit->board()));
    std::shared_ptr<Outbox> outbox;
    std::unique_ptr<OutboxSourceFor<Outbox>> outbox_source;
    std::unique_ptr<MqttBridge> bridge;
    std::shared_ptr<WebView> web;
    try {
        if (config.web.enabled && kit->sim()) {
            web = std::make_shared<WebView>(kit, server, web_options(config));
            server.set_watcher(web);
        } else if (config.web.enabled) {
            log_warning(
                "web.enabled is on, but the classroom page shows only the simulated board, and this berrykitd "
                "drives real pins: there is no page");
        }
        if (config.mqtt.enabled()) {
            outbox = std::make_shared<Outbox>(outbox_options(config));
            server.set_outbox(outbox, config.mqtt.topic_prefix);
            outbox_source = std::make_unique<OutboxSourceFor<Outbox>>(*outbox);
            // A command arrives on the bridge's thread; it is checked and carried out on the loop.
            bridge = std::make_unique<MqttBridge>(
                *outbox_source,
                mqtt_bridge_options(config, [&loop, &server](MqttCommand command, MqttCommandReply reply) {
                    loop.post([&server, command = std::move(command), reply = std::move(reply)] {
                        reply(server.run_cloud_command(command.part, command.payload).dump());
                    });
                }));
            server.set_cloud_status([&bridge] { return to_json(bridge->status()); });
        }
        server.start();
        if (web) {
            web->start();
            server.set_page_url(web->url());
        }
        if (bridge) bridge->start();
    } catch (const Error& e) {
        log_error(e.what());
        if (web) web->stop();
        server.stop();
        bridge.reset();
        outbox.reset();
        kit->close();
        return e.code() == ErrorCode::bad_value ? exit_bad_config : 1;
    }

    // 5. Signals and the watchdog, on the loop.
    const SystemdNotifier notifier = SystemdNotifier::from_environment();
    if (!notifier.problem().empty()) log_warning("systemd notification: " + notifier.problem());
    loop.set_error_handler([](const std::string& message) { log_error("berrykitd: " + message); });
    loop.watch(signal_fd, [&] {
        signalfd_siginfo info{};
        while (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            if (info.ssi_signo == SIGHUP) {
                notifier.reloading("reading the config again");
                try {
                    DaemonConfig fresh = run.command_line.load();
                    check_against_board(fresh, kit->board());
                    if (fresh.board != config.board || fresh.backend != config.backend ||
                        fresh.socket.path != config.socket.path) {
                        log_warning("the new board, backend or socket takes effect when berrykitd restarts");
                    }
                    if (fresh.web.enabled != config.web.enabled || fresh.web.address != config.web.address ||
                        fresh.web.port != config.web.port || fresh.web.max_pages != config.web.max_pages) {
                        log_warning("the new web settings take effect when berrykitd restarts");
                    }
                    if (fresh.mqtt.url != config.mqtt.url || fresh.outbox.file != config.outbox.file ||
                        remote_parts(fresh) != remote_parts(config) || fresh.device_id != config.device_id) {
                        log_warning(
                            "the new mqtt, outbox, device_id or remote parts take effect when berrykitd "
                            "restarts (sudo systemctl restart berrykitd)");
                    }
                    config = std::move(fresh);
                    apply_log_level(config);
                    server.apply(server_options(config, kit->board()));
                    log_info(config.file.empty() ? "config read again (no config file: the defaults)"
                                                 : "config read again from " + config.file);
                } catch (const Error& e) {
                    log_error(std::string("the config was not reloaded, the old one stays: ") + e.what());
                }
                notifier.ready();
            } else {
                log_info(info.ssi_signo == SIGINT ? "stopping (Ctrl+C)" : "stopping (SIGTERM)");
                loop.stop();
            }
        }
    });
    std::function<void()> ping;
    if (const auto interval = notifier.watchdog_interval()) {
        const Nanos every = std::chrono::duration_cast<Nanos>(*interval) / 2;
        ping = [&, every] {
            notifier.watchdog();
            kit->backend().scheduler().call_later(every, ping);
        };
        std::lock_guard guard(kit->backend().lock());
        kit->backend().scheduler().call_later(every, ping);
    }

    // 6. Ready.
    const std::string ready =
        "serving the " + kit->board().name + " board (" + kit->backend_kind() + ") on " + config.socket.path;
    notifier.ready(ready);
    log_info("berrykitd " + ready);
    if (web) log_info("the classroom page is at " + web->url());

    // 7. Run.
    loop.run();

    // Shut-down.
    notifier.stopping();
    if (web) web->stop();
    server.stop();
    if (bridge) bridge->stop();
    bridge.reset();
    outbox_source.reset();
    outbox.reset();
    kit->close();
    ::close(signal_fd);
    log_info("berrykitd stopped");
    return 0;
}
