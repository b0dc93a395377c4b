// berrykit — `berrykit sim`: the simulated classroom on a teacher's laptop, in one command.
//
// It starts, each as a program of its own, and stops again on Ctrl+C (or when it is stopped):
//   - mosquitto, a local MQTT broker on a free 127.0.0.1 port (when it is installed);
//   - berrykitd on the simulated board, with the classroom page on, publishing its readings to
//     that broker and taking cloud commands for `red`;
//   - the function runner (python3 -m berrykit.functions) with the cloud function, by default the
//     example lessons/functions/handler.py (when it and the berrykit Python package are there).
// and prints the page's address and what kids' programs need. Each program's output goes to a
// log in a folder of its own, which is removed at the end. If berrykitd stops, everything does,
// with its last words; if the broker or the runner stops, the rest carries on and says so.
#pragma once

#include <ostream>
#include <string>

namespace berrykit::daemon {

struct ClassroomOptions {
    std::string board = "classroom";
    std::string socket;  // empty: sim_socket_path() (client.hpp), which programs find by themselves
    std::string address = "127.0.0.1";
    unsigned page_port = 8080;  // used if free, else any free port; 0: any free port
    bool cloud = true;          // the broker and the function runner
    std::string function;       // the cloud function's file; empty: the example, if found
};

// Runs the classroom until SIGINT or SIGTERM arrives on `signal_fd` (a signalfd; the caller has
// blocked them), writing what a teacher needs to `out` and problems to `err`. Returns 0 after a
// clean stop, 1 when the classroom could not start or berrykitd stopped by itself.
int run_classroom(const ClassroomOptions& options, int signal_fd, std::ostream& out, std::ostream& err);

}  // namespace berrykit::daemon
