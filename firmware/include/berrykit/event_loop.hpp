// berrykit — one event loop: file descriptors and timers, no polling.
//
// The loop sleeps in poll(2) on the watched descriptors (GPIO line event fds, and in berrykitd
// the client sockets) with a timeout set by the scheduler's next deadline. Work from other threads
// wakes it through an eventfd. Every callback runs with the board lock held, so devices see one
// thread at a time. Run it on the calling thread (`run`) or on its own (`start`).
#pragma once

#include "berrykit/scheduler.hpp"

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace berrykit {

class EventLoop {
public:
    using WatchId = std::uint64_t;

    EventLoop(std::recursive_mutex& board_lock, Scheduler& scheduler);
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Calls `on_readable` (under the board lock) whenever `fd` has data. Safe from any thread.
    // Unwatch before closing `fd`: a descriptor closed while watched is dropped and reported to
    // the error handler.
    WatchId watch(int fd, std::function<void()> on_readable);
    void unwatch(WatchId id);
    // Also calls `on_writable` (under the board lock) while `id`'s fd can take more data; nullptr
    // stops that. For sockets with output waiting.
    void set_on_writable(WatchId id, std::function<void()> on_writable);

    // Runs until stop(). Blocks the calling thread.
    void run();
    // Runs the loop on a thread of its own.
    void start();
    // Asks the loop to return; joins the loop's own thread if start() made one. Safe from any
    // thread except from inside a loop callback when the loop has its own thread.
    void stop();
    // Makes a sleeping loop re-read its watches and deadline.
    void wake() noexcept;
    // Runs `work` on the loop's thread (under the board lock) at its next turn, in the order
    // posted. Safe from any thread: for work that arrives on another library's threads (the MQTT
    // client's callbacks, the outbox's writer). Work still waiting when the loop is destroyed is
    // dropped.
    void post(std::function<void()> work);
    bool running() const noexcept { return running_.load(); }
    // Where a failing callback's message goes (default: stderr). The loop carries on.
    void set_error_handler(std::function<void(const std::string&)> on_error) { on_error_ = std::move(on_error); }

private:
    struct Watch {
        WatchId id;
        int fd;
        std::function<void()> on_readable;
        std::function<void()> on_writable;
    };
    void run_guarded(const std::function<void()>& work);

    std::recursive_mutex& lock_;
    Scheduler& scheduler_;
    int wake_fd_ = -1;
    std::vector<Watch> watches_;  // guarded by lock_
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;  // guarded by posted_mutex_
    WatchId next_watch_ = 1;
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> running_{false};
    std::thread thread_;
    std::function<void(const std::string&)> on_error_;
};

}  // namespace berrykit
