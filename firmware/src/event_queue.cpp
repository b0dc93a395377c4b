#include "berrykit/event_queue.hpp"

#include <unistd.h>

namespace berrykit {

const char* to_string(EventKind kind) noexcept {
    switch (kind) {
        case EventKind::pressed: return "pressed";
        case EventKind::released: return "released";
        case EventKind::held: return "held";
        case EventKind::motion: return "motion";
        case EventKind::no_motion: return "no_motion";
        case EventKind::light: return "light";
        case EventKind::dark: return "dark";
        case EventKind::in_range: return "in_range";
        case EventKind::out_of_range: return "out_of_range";
    }
    return "unknown";
}

EventQueue::EventQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

void EventQueue::push(const DeviceEvent& event) {
    {
        std::lock_guard guard(mutex_);
        if (events_.size() >= capacity_) {
            events_.pop_front();
            ++dropped_;
        }
        events_.push_back(event);
        ++pushed_;
        if (notify_fd_ >= 0) {
            const std::uint64_t one = 1;
            // An eventfd only fails when its counter is full, which still means "something to read".
            [[maybe_unused]] const auto n = ::write(notify_fd_, &one, sizeof one);
        }
    }
    ready_.notify_one();
}

std::optional<DeviceEvent> EventQueue::pop(std::optional<std::chrono::nanoseconds> timeout) {
    std::unique_lock guard(mutex_);
    const auto has_work = [this] { return !events_.empty() || closed_; };
    if (timeout) {
        if (!ready_.wait_for(guard, *timeout, has_work)) return std::nullopt;
    } else {
        ready_.wait(guard, has_work);
    }
    if (events_.empty()) return std::nullopt;
    DeviceEvent event = events_.front();
    events_.pop_front();
    return event;
}

void EventQueue::close() {
    {
        std::lock_guard guard(mutex_);
        closed_ = true;
    }
    ready_.notify_all();
}

bool EventQueue::is_closed() const {
    std::lock_guard guard(mutex_);
    return closed_;
}

std::size_t EventQueue::size() const {
    std::lock_guard guard(mutex_);
    return events_.size();
}

std::uint64_t EventQueue::dropped() const {
    std::lock_guard guard(mutex_);
    return dropped_;
}

}  // namespace berrykit

namespace berrykit {

void EventQueue::set_notify_fd(int fd) {
    std::lock_guard guard(mutex_);
    notify_fd_ = fd;
}

std::uint64_t EventQueue::pushed() const {
    std::lock_guard guard(mutex_);
    return pushed_;
}

}  // namespace berrykit
