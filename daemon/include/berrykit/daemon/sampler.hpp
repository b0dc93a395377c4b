// berrykit — berrykitd's sensor sampler: each sampled sensor is read at its period and the reading
// handed to the event loop, which sends it to the subscribers.
//
// Light and distance sensors measure by themselves on the board's timers; sampling them takes
// their latest value, on the loop. Temperature and climate sensors are read through the kernel
// (a DS18B20 takes about 750 ms), so each gets a thread of its own that sleeps between reads and
// posts what it read to the loop through an eventfd: the loop never waits for a sensor.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "berrykit/kit.hpp"

namespace berrykit::daemon {

struct Reading {
    std::string part;
    nlohmann::json fields;  // {"value": 21.5, "unit": "°C"}, or {"error": "…"} when the read failed
    Nanos time{0};          // when it was read, on the board's clock
};

class Sampler {
public:
    using Sink = std::function<void(const Reading&)>;  // called on the loop, with the board lock held

    Sampler(std::shared_ptr<Kit> kit, Sink sink);
    ~Sampler();
    Sampler(const Sampler&) = delete;
    Sampler& operator=(const Sampler&) = delete;

    // Reads `part` every `period` seconds with `read`. `blocking` reads run on a thread of their own.
    // Errors thrown by `read` become readings with an "error" field.
    void add(const std::string& part, double period, std::function<nlohmann::json()> read, bool blocking);
    // Stops every timer and thread. Idempotent; call it with the board lock NOT held.
    void stop();

private:
    void drain();
    void post(Reading reading);

    std::shared_ptr<Kit> kit_;
    Sink sink_;
    int wake_fd_ = -1;
    std::uint64_t watch_ = 0;
    std::mutex mutex_;
    std::condition_variable stop_cv_;
    bool stopping_ = false;
    std::deque<Reading> ready_;
    std::vector<std::thread> threads_;
    std::vector<Scheduler::TimerId> timers_;                     // board lock
    std::vector<std::unique_ptr<std::function<void()>>> ticks_;  // the timers' callbacks
};

}  // namespace berrykit::daemon
