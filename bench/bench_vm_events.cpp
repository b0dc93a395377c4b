// A press on a real kernel's GPIO line → the event at a berrykitd client: inside the test VM
// (tests/vm/bench_events.sh starts berrykitd on the gpiod backend and runs this), the simulator's
// pull on the button's line is flipped and the time until the client reads "pressed" or
// "released" is measured, N times. Also printed: the kernel's edge timestamp → client part.
//
//   bench_vm_events SOCKET [N]      (BERRYKIT_GPIO_SIM names the gpio-sim map, tests/vm/init)
//
// Under QEMU's TCG every instruction is emulated: the figures are far slower than a Pi's.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "berrykit/daemon/client.hpp"
#include "berrykit/gpiod_backend.hpp"

namespace {

std::string sim_folder(const std::string& map, const std::string& line) {
    std::ifstream in(map);
    for (std::string text; std::getline(in, text);) {
        std::istringstream fields(text);
        std::string name, chip, offset, folder;
        fields >> name >> chip >> offset >> folder;
        if (name == line) return folder;
    }
    return {};
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
}

double monotonic_seconds() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: bench_vm_events SOCKET [N]\n";
        return 2;
    }
    const int n = argc > 2 ? std::atoi(argv[2]) : 200;
    const char* map = std::getenv("BERRYKIT_GPIO_SIM");
    const std::string folder = map ? sim_folder(map, "GPIO21") : "";
    if (folder.empty()) {
        std::cerr << "bench_vm_events: no gpio-sim line GPIO21 (run it in the test VM)\n";
        return 1;
    }
    berrykit::daemon::Client client(argv[1]);
    client.request("hello", {{"program", "bench_vm_events"}});
    if (client.request("subscribe", {{"parts", {"button"}}}).value("ok", false) != true) {
        std::cerr << "bench_vm_events: berrykitd refused the subscription\n";
        return 1;
    }
    std::vector<double> total_ms;
    std::vector<double> kernel_to_client_ms;
    bool pressed = false;
    for (int i = 0; i < n; ++i) {
        pressed = !pressed;
        const std::string want = pressed ? "pressed" : "released";
        const auto sent = std::chrono::steady_clock::now();
        std::ofstream(folder + "/pull") << (pressed ? "pull-down" : "pull-up");  // the button is wired to ground
        for (;;) {
            const auto event = client.next_event(std::chrono::seconds(5));
            if (!event) {
                std::cerr << "bench_vm_events: no '" << want << "' within 5 s\n";
                return 1;
            }
            if (event->value("event", "") != want) continue;  // held, or a late one
            const auto arrived = std::chrono::steady_clock::now();
            total_ms.push_back(std::chrono::duration<double, std::milli>(arrived - sent).count());
            kernel_to_client_ms.push_back((monotonic_seconds() - event->value("time", 0.0)) * 1000);
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // past the button's 20 ms bounce time
    }
    std::printf(
        "libgpiod %d.x backend, %d presses and releases: pull written -> event at the client: median %.2f ms, "
        "p99 %.2f ms, max %.2f ms; kernel's edge timestamp -> client: median %.2f ms, p99 %.2f ms\n",
        berrykit::gpiod_api_version(), n, percentile(total_ms, 50), percentile(total_ms, 99),
        *std::max_element(total_ms.begin(), total_ms.end()), percentile(kernel_to_client_ms, 50),
        percentile(kernel_to_client_ms, 99));
    return 0;
}
