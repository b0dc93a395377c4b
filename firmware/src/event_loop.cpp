#include "berrykit/event_loop.hpp"

#include "berrykit/error.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>

namespace berrykit {

EventLoop::EventLoop(std::recursive_mutex& board_lock, Scheduler& scheduler)
    : lock_(board_lock), scheduler_(scheduler) {
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        throw Error(ErrorCode::unsupported,
                    std::string("could not make the event loop's wake-up fd: ") + std::strerror(errno));
    }
    scheduler_.set_on_earlier_deadline([this] { wake(); });
}

EventLoop::~EventLoop() {
    stop();
    {
        std::lock_guard guard(lock_);
        scheduler_.set_on_earlier_deadline(nullptr);
    }
    ::close(wake_fd_);
}

EventLoop::WatchId EventLoop::watch(int fd, std::function<void()> on_readable) {
    std::lock_guard guard(lock_);
    const WatchId id = next_watch_++;
    watches_.push_back(Watch{id, fd, std::move(on_readable), nullptr});
    wake();
    return id;
}

void EventLoop::set_on_writable(WatchId id, std::function<void()> on_writable) {
    std::lock_guard guard(lock_);
    for (auto& w : watches_) {
        if (w.id == id) w.on_writable = std::move(on_writable);
    }
    wake();
}

void EventLoop::unwatch(WatchId id) {
    std::lock_guard guard(lock_);
    std::erase_if(watches_, [id](const Watch& w) { return w.id == id; });
    wake();
}

void EventLoop::wake() noexcept {
    const std::uint64_t one = 1;
    // A full counter already means "wake up"; nothing else can fail here.
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void EventLoop::post(std::function<void()> work) {
    {
        std::lock_guard guard(posted_mutex_);
        posted_.push_back(std::move(work));
    }
    wake();
}

void EventLoop::run() {
    running_ = true;
    std::vector<pollfd> fds;
    std::vector<WatchId> ids;
    while (!stop_requested_.load()) {
        bool has_deadline = false;
        timespec timeout{};
        {
            std::lock_guard guard(lock_);
            run_guarded([this] { scheduler_.run_due(scheduler_.clock().now()); });
            // A manual clock's timers run only in advance(): the loop then waits for its fds alone.
            if (const auto next = scheduler_.clock().is_manual() ? std::nullopt : scheduler_.next_deadline()) {
                // Nanosecond timeout (ppoll): software PWM needs better than poll's milliseconds.
                const auto wait = std::max<std::int64_t>(0, (*next - scheduler_.clock().now()).count());
                timeout.tv_sec = static_cast<time_t>(wait / 1'000'000'000);
                timeout.tv_nsec = static_cast<long>(wait % 1'000'000'000);
                has_deadline = true;
            }
            fds.assign(1, pollfd{wake_fd_, POLLIN, 0});
            ids.assign(1, 0);
            for (const auto& w : watches_) {
                fds.push_back(pollfd{w.fd, static_cast<short>(POLLIN | (w.on_writable ? POLLOUT : 0)), 0});
                ids.push_back(w.id);
            }
        }
        if (stop_requested_.load()) break;
        const int n = ::ppoll(fds.data(), fds.size(), has_deadline ? &timeout : nullptr, nullptr);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw Error(ErrorCode::unsupported, std::string("the event loop's poll failed: ") + std::strerror(errno));
        }
        if (fds[0].revents & POLLIN) {
            std::uint64_t count = 0;
            [[maybe_unused]] const auto r = ::read(wake_fd_, &count, sizeof count);
            std::vector<std::function<void()>> posted;
            {
                std::lock_guard guard(posted_mutex_);
                posted.swap(posted_);
            }
            if (!posted.empty()) {
                std::lock_guard guard(lock_);
                for (const auto& work : posted) run_guarded(work);
            }
        }
        for (std::size_t i = 1; i < fds.size(); ++i) {
            if (fds[i].revents & POLLNVAL) {
                // Closed without unwatch(): poll would report it at once on every turn, a busy loop.
                std::lock_guard guard(lock_);
                const auto dropped = std::erase_if(watches_, [&](const Watch& w) { return w.id == ids[i]; });
                if (dropped != 0) {
                    // A programming mistake, reported the way a failing callback is.
                    run_guarded([fd = fds[i].fd] {
                        throw std::logic_error("the event loop stopped watching descriptor " + std::to_string(fd) +
                                               ": it was closed while still watched");
                    });
                }
                continue;
            }
            if (!(fds[i].revents & (POLLIN | POLLOUT | POLLERR | POLLHUP))) continue;
            std::lock_guard guard(lock_);
            // Find the watch again each time: an earlier callback may have removed it.
            const auto find = [&]() -> const Watch* {
                for (const auto& w : watches_) {
                    if (w.id == ids[i]) return &w;
                }
                return nullptr;
            };
            if ((fds[i].revents & POLLOUT) != 0) {
                if (const Watch* w = find(); w && w->on_writable) {
                    auto callback = w->on_writable;  // the callback may change or drop the watch
                    run_guarded(callback);
                }
            }
            if ((fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
                if (const Watch* w = find()) {
                    auto callback = w->on_readable;
                    run_guarded(callback);
                }
            }
        }
    }
    running_ = false;
}

void EventLoop::run_guarded(const std::function<void()>& work) {
    // One failing timer or handler must not end the loop (and with it every other part): it is
    // reported and the loop carries on. Work left in the scheduler still runs on the next turn.
    try {
        work();
    } catch (const std::exception& e) {
        if (on_error_)
            on_error_(e.what());
        else
            std::fprintf(stderr, "berrykit: %s\n", e.what());
    } catch (...) {
        if (on_error_)
            on_error_("unknown error");
        else
            std::fprintf(stderr, "berrykit: unknown error\n");
    }
}

void EventLoop::start() {
    if (thread_.joinable()) return;
    stop_requested_ = false;
    thread_ = std::thread([this] { run(); });
}

void EventLoop::stop() {
    stop_requested_ = true;
    wake();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

}  // namespace berrykit
