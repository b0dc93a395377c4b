#include "berrykit/daemon/sampler.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include "berrykit/error.hpp"

namespace berrykit::daemon {

namespace {

nlohmann::json read_safely(const std::function<nlohmann::json()>& read) {
    try {
        return read();
    } catch (const std::exception& e) {
        return nlohmann::json{{"error", e.what()}};
    }
}

}  // namespace

Sampler::Sampler(std::shared_ptr<Kit> kit, Sink sink) : kit_(std::move(kit)), sink_(std::move(sink)) {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw Error(ErrorCode::unsupported, "the sensor sampler could not make its eventfd");
    watch_ = kit_->loop()->watch(wake_fd_, [this] { drain(); });
}

Sampler::~Sampler() {
    stop();
    kit_->loop()->unwatch(watch_);
    ::close(wake_fd_);
}

void Sampler::add(const std::string& part, double period, std::function<nlohmann::json()> read, bool blocking) {
    const Nanos every = from_seconds(period);
    if (!blocking) {
        std::lock_guard guard(kit_->backend().lock());
        const std::size_t slot = timers_.size();
        timers_.push_back(0);
        ticks_.push_back(std::make_unique<std::function<void()>>());
        std::function<void()>* tick = ticks_.back().get();
        *tick = [this, part, every, read, tick, slot] {
            sink_(Reading{part, read_safely(read), kit_->backend().clock().now()});
            timers_[slot] = kit_->backend().scheduler().call_later(every, *tick);
        };
        timers_[slot] = kit_->backend().scheduler().call_later(every, *tick);
        return;
    }
    threads_.emplace_back([this, part, every, read] {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            lock.unlock();
            Reading reading{part, read_safely(read), kit_->backend().clock().now()};
            post(std::move(reading));
            lock.lock();
            stop_cv_.wait_for(lock, every, [this] { return stopping_; });
        }
    });
}

void Sampler::post(Reading reading) {
    {
        std::lock_guard guard(mutex_);
        ready_.push_back(std::move(reading));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
}

void Sampler::drain() {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto r = ::read(wake_fd_, &count, sizeof count);
    std::deque<Reading> readings;
    {
        std::lock_guard guard(mutex_);
        readings.swap(ready_);
    }
    for (const Reading& reading : readings) sink_(reading);
}

void Sampler::stop() {
    {
        std::lock_guard guard(kit_->backend().lock());
        for (const auto id : timers_) kit_->backend().scheduler().cancel(id);
        timers_.clear();
    }
    {
        std::lock_guard guard(mutex_);
        stopping_ = true;
    }
    stop_cv_.notify_all();
    for (auto& thread : threads_) {
        if (thread.joinable()) thread.join();
    }
    threads_.clear();
}

}  // namespace berrykit::daemon
