// berrykit tests — berrykitd's server on the simulated board, on a socket in a temporary folder,
// with the board's event loop on its own thread. Stopped and closed when the test ends.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "berrykit/daemon/server.hpp"
#include "berrykit/kit.hpp"
#include "temp_dir.hpp"

namespace berrykit::testing {

struct SimDaemon {
    berrykit::test::TempDir dir;
    std::shared_ptr<Kit> kit;
    std::unique_ptr<daemon::Server> server;
    std::string socket;

    // before_start: what a test sets on the server before it starts (an outbox, say).
    // board: a board name or file (default: the classroom kit).
    explicit SimDaemon(daemon::ServerOptions options = {},
                       const std::function<void(daemon::Server&)>& before_start = {}, const std::string& board = {}) {
        KitOptions kit_options;
        kit_options.backend = "sim";
        if (!board.empty()) kit_options.board = board;
        kit_options.board_dirs = {BERRYKIT_SOURCE_DIR "/firmware/boards"};
        kit = Kit::open(kit_options);
        socket = (dir.path() / "berrykit.sock").string();
        options.socket_path = socket;
        options.group.clear();
        server = std::make_unique<daemon::Server>(kit, options);
        if (before_start) before_start(*server);
        server->start();
    }
    ~SimDaemon() {
        server->stop();
        kit->close();
    }
};

}  // namespace berrykit::testing
