#include "berrykit/daemon/classroom.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "berrykit/daemon/client.hpp"
#include "berrykit/error.hpp"

namespace berrykit::daemon {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path own_folder() {
    std::error_code error;
    const fs::path self = fs::read_symlink("/proc/self/exe", error);
    return error ? fs::path() : self.parent_path();
}

bool runnable(const fs::path& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

// The first of `candidates` that can run, else `name` found on PATH, else nothing.
std::optional<fs::path> find_program(const std::string& name, const std::vector<fs::path>& candidates) {
    for (const fs::path& candidate : candidates) {
        if (runnable(candidate)) return candidate;
    }
    if (const char* path = ::getenv("PATH")) {
        std::istringstream folders(path);
        for (std::string folder; std::getline(folders, folder, ':');) {
            if (!folder.empty() && runnable(fs::path(folder) / name)) return fs::path(folder) / name;
        }
    }
    return std::nullopt;
}

// A port on `address` that nothing listens on now.
bool port_is_free(const std::string& address, unsigned port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in where{};
    where.sin_family = AF_INET;
    where.sin_port = htons(static_cast<std::uint16_t>(port));
    if (fd < 0 || ::inet_pton(AF_INET, address.c_str(), &where.sin_addr) != 1) {
        if (fd >= 0) ::close(fd);
        return port == 0;
    }
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&where), sizeof where) == 0;
    ::close(fd);
    return free;
}

unsigned free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in where{};
    where.sin_family = AF_INET;
    where.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof where;
    unsigned port = 0;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&where), sizeof where) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&where), &size) == 0) {
        port = ntohs(where.sin_port);
    }
    if (fd >= 0) ::close(fd);
    return port;
}

bool can_connect(unsigned port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in where{};
    where.sin_family = AF_INET;
    where.sin_port = htons(static_cast<std::uint16_t>(port));
    where.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&where), sizeof where) == 0;
    if (fd >= 0) ::close(fd);
    return ok;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The last `lines` lines of a log, indented, for a message.
std::string tail(const fs::path& log, std::size_t lines = 8) {
    const std::string text = read_file(log);
    std::vector<std::string> all;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) all.push_back(line);
    std::string out;
    for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
        out += "    " + all[i] + "\n";
    return out.empty() ? "    (it wrote nothing)\n" : out;
}

// Waits up to `seconds` for `ready`, looking every 50 ms; false if `alive` says the program ended.
bool wait_for(const std::function<bool()>& ready, const std::function<bool()>& alive, double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!ready()) {
        if (!alive() || std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
}

// One program of the classroom, started with its output going to its own log.
struct Program {
    std::string name;  // for messages: "berrykitd"
    pid_t pid = -1;
    fs::path log;
    bool ended = false;
    int status = 0;

    // True once it has ended (and been waited for).
    bool has_ended() {
        if (ended) return true;
        if (pid > 0 && ::waitpid(pid, &status, WNOHANG) == pid) ended = true;
        return ended;
    }

    void start(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
        // Everything the child needs is made before fork: after it, only system calls.
        std::vector<char*> args;
        for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
        args.push_back(nullptr);
        std::vector<std::string> env_strings;
        for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
        for (const std::string& e : extra_env) env_strings.push_back(e);
        std::vector<char*> env;
        for (const std::string& e : env_strings) env.push_back(const_cast<char*>(e.c_str()));
        env.push_back(nullptr);
        const pid_t parent = ::getpid();
        const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0) throw Error(ErrorCode::unsupported, "cannot write " + log.string() + ": " + std::strerror(errno));
        pid = ::fork();
        if (pid < 0) {
            ::close(out);
            throw Error(ErrorCode::unsupported, "cannot start " + name + ": " + std::strerror(errno));
        }
        if (pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // if `berrykit sim` is killed, so is the classroom
            if (::getppid() != parent) ::_exit(1);
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            const int null = ::open("/dev/null", O_RDONLY);
            ::dup2(null, 0);
            ::dup2(out, 1);
            ::dup2(out, 2);
            ::execve(args[0], args.data(), env.data());
            ::_exit(127);
        }
        ::close(out);
    }

    // SIGTERM, then SIGKILL if it has not ended within `seconds`.
    void stop(double seconds = 5) {
        if (pid <= 0 || has_ended()) return;
        ::kill(pid, SIGTERM);
        if (!wait_for([this] { return has_ended(); }, [] { return true; }, seconds)) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            ended = true;
        }
    }
};

}  // namespace

int run_classroom(const ClassroomOptions& options, int signal_fd, std::ostream& out, std::ostream& err) {
    const fs::path here = own_folder();
    const auto berrykitd = find_program("berrykitd", {here / "berrykitd", here / "../sbin/berrykitd",
                                                      "/usr/local/sbin/berrykitd", "/usr/sbin/berrykitd"});
    if (!berrykitd) {
        err << "berrykit sim: cannot find berrykitd next to berrykit or on PATH: build it (scripts/build.sh) or "
               "install berrykit"
            << std::endl;
        return 1;
    }
    char folder_template[] = "/tmp/berrykit-sim-XXXXXX";
    if (!::mkdtemp(folder_template)) {
        err << "berrykit sim: cannot make a folder in /tmp: " << std::strerror(errno) << std::endl;
        return 1;
    }
    const fs::path folder = folder_template;
    // SIGCHLD through a signalfd too, so a program that ends wakes the wait below.
    sigset_t child;
    sigemptyset(&child);
    sigaddset(&child, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &child, nullptr);
    const int child_fd = ::signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC);

    Program broker{"the MQTT broker (mosquitto)", -1, folder / "mosquitto.log"};
    Program daemon{"berrykitd", -1, folder / "berrykitd.log"};
    Program runner{"the function runner", -1, folder / "functions.log"};
    const auto stop_all = [&] {
        runner.stop();
        daemon.stop();
        broker.stop();
        std::error_code ignored;
        fs::remove_all(folder, ignored);
        if (child_fd >= 0) ::close(child_fd);
    };
    const auto fail = [&](const std::string& what, const Program& program) {
        err << "berrykit sim: " << what << "; the end of its log:\n" << tail(program.log) << std::flush;
        stop_all();
        return 1;
    };

    try {
        // 1. The broker.
        std::string broker_url;
        std::string cloud_note;
        if (options.cloud) {
            if (const auto mosquitto = find_program("mosquitto", {"/usr/sbin/mosquitto"})) {
                const unsigned port = free_loopback_port();
                std::ofstream conf(folder / "mosquitto.conf");
                conf << "listener " << port << " 127.0.0.1\nallow_anonymous true\n";
                // Started by root, mosquitto switches to the `mosquitto` user, and a change of user
                // clears PR_SET_PDEATHSIG (prctl(2)): a killed `berrykit sim` would leave it running.
                // It listens on 127.0.0.1 only; as root it stays the user that started it.
                if (::geteuid() == 0) conf << "user root\n";
                conf.close();
                broker.start({mosquitto->string(), "-c", (folder / "mosquitto.conf").string()}, {});
                if (!wait_for([port] { return can_connect(port); }, [&] { return !broker.has_ended(); }, 10)) {
                    return fail("mosquitto did not start", broker);
                }
                broker_url = "mqtt://127.0.0.1:" + std::to_string(port);
            } else {
                cloud_note = "off: mosquitto is not installed (sudo apt install mosquitto, or scripts/install-deps.sh)";
            }
        } else {
            cloud_note = "off (--no-cloud)";
        }

        // 2. berrykitd, with the page. Not a second one on the same socket.
        const std::string socket = options.socket.empty() ? sim_socket_path() : options.socket;
        if (fs::exists(socket)) {
            try {
                Client running(socket, std::chrono::milliseconds(2000));
                err << "berrykit sim: a berrykitd is already running on " << socket
                    << " (another `berrykit sim`?): stop it first (Ctrl+C where it runs), or start this one with "
                       "--socket and another path"
                    << std::endl;
                stop_all();
                return 1;
            } catch (const Error&) {
                // A socket left behind by a berrykitd that crashed: the new one replaces it.
            }
        }
        const unsigned page_port =
            options.page_port != 0 && port_is_free(options.address, options.page_port) ? options.page_port : 0;
        json config{{"board", options.board},
                    {"backend", "sim"},
                    {"device_id", "classroom-pi"},
                    {"outbox", {{"file", (folder / "outbox.sqlite").string()}}},
                    {"web", {{"enabled", true}, {"address", options.address}, {"port", page_port}}}};
        if (!broker_url.empty()) config["mqtt"] = {{"url", broker_url}, {"reconnect", {{"min", 0.2}, {"max", 2}}}};
        if (options.board == "classroom") {
            config["sensors"] = {{"temperature", {{"period", 1}}}};
            if (!broker_url.empty()) config["parts"] = {{"red", {{"remote", true}}}};
        }
        std::ofstream(folder / "berrykit.json") << config.dump(2) << "\n";
        daemon.start({berrykitd->string(), "--socket", socket, "--config", (folder / "berrykit.json").string()}, {});
        std::optional<json> hello;
        const auto answered = [&] {
            if (!fs::exists(socket)) return false;
            try {
                Client client(socket, std::chrono::milliseconds(2000));
                hello = client.request("hello", {{"program", "berrykit sim"}});
                return hello->value("ok", false);
            } catch (const Error&) {
                return false;
            }
        };
        if (!wait_for(
                answered, [&] { return !daemon.has_ended(); }, 15))
            return fail("berrykitd did not start", daemon);
        const std::string page = hello->value("page", json()).is_string() ? (*hello)["page"].get<std::string>() : "";

        // 3. The cloud function.
        std::string function_note;
        if (!broker_url.empty()) {
            fs::path function = options.function;
            if (function.empty()) {
                for (const fs::path& candidate : {fs::path(BERRYKIT_SOURCE_LESSONS_DIR) / "functions/handler.py",
                                                  fs::path(BERRYKIT_INSTALLED_LESSONS_DIR) / "functions/handler.py"}) {
                    if (fs::exists(candidate)) {
                        function = candidate;
                        break;
                    }
                }
            }
            if (function.empty()) {
                function_note = "no cloud function: the example lessons/functions/handler.py is not installed";
            } else if (!fs::exists(function)) {
                return fail("there is no cloud function at " + function.string(), daemon);
            } else {
                std::vector<std::string> env;
                // From a build folder, the Python package is in build/python.
                if (const fs::path built = here / "../python"; fs::exists(built / "berrykit")) {
                    const char* old = ::getenv("PYTHONPATH");
                    env.push_back("PYTHONPATH=" + fs::canonical(built).string() +
                                  (old && *old ? ":" + std::string(old) : ""));
                }
                runner.start(
                    {"/usr/bin/python3", "-u", "-m", "berrykit.functions", function.string(), "--broker", broker_url},
                    env);
                const bool connected =
                    wait_for([&] { return read_file(runner.log).find("connected to") != std::string::npos; },
                             [&] { return !runner.has_ended(); }, 15);
                if (connected) {
                    function_note = "the cloud function " + function.string() + " runs on its readings";
                } else {
                    function_note = "the cloud function did not start (its log: " + runner.log.string() + ")";
                    err << "berrykit sim: the function runner did not start; the end of its log:\n"
                        << tail(runner.log) << std::flush;
                }
            }
        }

        out << "berrykit sim: the simulated classroom is running.\n\n";
        out << "  the page:         " << (page.empty() ? "(off)" : page) << "  <- open it in a browser\n";
        out << "  kids' programs:   python3 blink.py";
        if (socket == sim_socket_path()) {
            out << " (they find this berrykitd by themselves)\n";
        } else {
            out << " with BERRYKIT_SOCKET=" << socket << "\n";
        }
        out << "  berrykitd:        " << socket << " (board " << options.board << ")\n";
        if (broker_url.empty()) {
            out << "  the cloud:        " << cloud_note << "\n";
        } else {
            out << "  the cloud:        mosquitto at " << broker_url << "; readings go to berrykit/classroom-pi/...\n";
            out << "                    " << function_note << "\n";
        }
        out << "  logs:             " << folder.string() << " (removed when it stops)\n\n";
        out << "Press Ctrl+C to stop." << std::endl;

        // 4. Until Ctrl+C, or berrykitd ends.
        bool broker_told = false;
        bool runner_told = false;
        while (true) {
            pollfd fds[2] = {{signal_fd, POLLIN, 0}, {child_fd, POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
            if (fds[0].revents & POLLIN) {
                signalfd_siginfo info{};
                [[maybe_unused]] const auto n = ::read(signal_fd, &info, sizeof info);
                break;
            }
            if (fds[1].revents & POLLIN) {
                signalfd_siginfo info{};
                while (::read(child_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
                }
            }
            if (daemon.has_ended()) return fail("berrykitd stopped", daemon);
            if (broker.pid > 0 && !broker_told && broker.has_ended()) {
                broker_told = true;
                err << "berrykit sim: mosquitto stopped, so the cloud is away (berrykitd keeps the readings); "
                       "the end of its log:\n"
                    << tail(broker.log) << std::flush;
            }
            if (runner.pid > 0 && !runner_told && runner.has_ended()) {
                runner_told = true;
                err << "berrykit sim: the function runner stopped; the end of its log:\n"
                    << tail(runner.log) << std::flush;
            }
        }
        out << "\nberrykit sim: stopping the classroom..." << std::endl;
        stop_all();
        out << "berrykit sim: stopped." << std::endl;
        return 0;
    } catch (const Error& e) {
        err << "berrykit sim: " << e.what() << std::endl;
        stop_all();
        return 1;
    }
}

}  // namespace berrykit::daemon
