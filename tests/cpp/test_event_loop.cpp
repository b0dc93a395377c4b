// The event loop: timers fire on time, readable descriptors call back, a failing callback is
// reported and the loop carries on, and an idle loop sleeps instead of spinning.
#include "berrykit/event_loop.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace berrykit;
using namespace std::chrono_literals;

namespace {

// Generous: the assertions are that things happen, not how fast.
constexpr auto patience = 10s;

// A flag that a loop callback sets and the test thread waits for.
class Signal {
public:
    void notify() {
        // Notified under the lock, so a waiter cannot return and destroy the Signal mid-notify.
        std::lock_guard guard(mutex_);
        ++count_;
        changed_.notify_all();
    }
    bool wait_for_count(int count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, patience, [&] { return count_ >= count; });
    }
    bool wait() { return wait_for_count(1); }
    int count() {
        std::lock_guard guard(mutex_);
        return count_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int count_ = 0;
};

class Pipe {
public:
    Pipe() { REQUIRE(::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) == 0); }
    ~Pipe() {
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    int read_end() const { return fds_[0]; }
    void write(char c) const { REQUIRE(::write(fds_[1], &c, 1) == 1); }
    std::string drain() const {
        std::string got;
        char buffer[64];
        ssize_t n = 0;
        while ((n = ::read(fds_[0], buffer, sizeof buffer)) > 0) got.append(buffer, static_cast<std::size_t>(n));
        return got;
    }

private:
    int fds_[2] = {-1, -1};
};

Nanos thread_cpu_time() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return Nanos{static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec};
}

struct Fixture {
    SteadyClock clock;
    Scheduler scheduler{clock};
    std::recursive_mutex board_lock;
    EventLoop loop{board_lock, scheduler};
    std::mutex errors_mutex;
    std::vector<std::string> errors;

    Fixture() {
        loop.set_error_handler([this](const std::string& message) {
            std::lock_guard guard(errors_mutex);
            errors.push_back(message);
        });
    }
    // The scheduler is guarded by the board lock, as the backend guards it.
    Scheduler::TimerId call_later(Nanos delay, std::function<void()> callback) {
        std::lock_guard guard(board_lock);
        return scheduler.call_later(delay, std::move(callback));
    }
};

}  // namespace

TEST_CASE_METHOD(Fixture, "a timer fires on the loop's thread, not before its deadline") {
    loop.start();
    Signal fired;
    Nanos deadline{};
    Nanos fired_at{};
    {
        std::lock_guard guard(board_lock);
        deadline = clock.now() + 50ms;
        scheduler.call_at(deadline, [&] {
            fired_at = clock.now();
            fired.notify();
        });
    }
    REQUIRE(fired.wait());
    CHECK(fired_at >= deadline);
    CHECK(loop.running());
    loop.stop();
    CHECK_FALSE(loop.running());
}

TEST_CASE_METHOD(Fixture, "an earlier timer added while the loop sleeps wakes it") {
    loop.start();
    Signal late_fired;
    Signal early_fired;
    call_later(1h, [&] { late_fired.notify(); });
    std::this_thread::sleep_for(20ms);  // let the loop go to sleep for an hour
    call_later(10ms, [&] { early_fired.notify(); });
    CHECK(early_fired.wait());
    CHECK(late_fired.count() == 0);
    loop.stop();
}

TEST_CASE_METHOD(Fixture, "a watched pipe calls back when it is written to") {
    Pipe pipe;
    Signal readable;
    std::string got;
    loop.watch(pipe.read_end(), [&] {
        got += pipe.drain();
        readable.notify();
    });
    loop.start();
    pipe.write('a');
    REQUIRE(readable.wait_for_count(1));
    pipe.write('b');
    REQUIRE(readable.wait_for_count(2));
    loop.stop();
    CHECK(got == "ab");
}

TEST_CASE_METHOD(Fixture, "an unwatched pipe calls back no more") {
    Pipe pipe;
    Signal readable;
    const auto id = loop.watch(pipe.read_end(), [&] {
        pipe.drain();
        readable.notify();
    });
    loop.start();
    pipe.write('a');
    REQUIRE(readable.wait());

    loop.unwatch(id);
    pipe.write('b');  // stays unread: a watch would see it on the loop's next turn
    Signal later;
    call_later(100ms, [&] { later.notify(); });
    REQUIRE(later.wait());
    CHECK(readable.count() == 1);
    CHECK(pipe.drain() == "b");
    loop.stop();
}

TEST_CASE_METHOD(Fixture, "a callback can unwatch itself") {
    Pipe pipe;
    Signal readable;
    EventLoop::WatchId id = 0;
    {
        std::lock_guard guard(board_lock);
        id = loop.watch(pipe.read_end(), [&] {
            // Does not drain: if the watch stayed, it would be called again and again.
            loop.unwatch(id);
            readable.notify();
        });
    }
    loop.start();
    pipe.write('a');
    REQUIRE(readable.wait());
    Signal later;
    call_later(50ms, [&] { later.notify(); });
    REQUIRE(later.wait());
    CHECK(readable.count() == 1);
    loop.stop();
}

TEST_CASE_METHOD(Fixture, "stop joins the loop's thread and nothing runs after it") {
    loop.start();
    Signal first;
    call_later(1ms, [&] { first.notify(); });
    REQUIRE(first.wait());
    loop.stop();
    CHECK_FALSE(loop.running());

    bool ran_after_stop = false;
    call_later(0ms, [&] { ran_after_stop = true; });
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(ran_after_stop);
    loop.stop();  // stopping twice is fine

    // And it can start again; the timer left waiting runs then.
    loop.start();
    Signal again;
    call_later(1ms, [&] { again.notify(); });
    REQUIRE(again.wait());
    loop.stop();
    CHECK(ran_after_stop);
}

TEST_CASE_METHOD(Fixture, "run blocks the calling thread until a callback stops it") {
    bool stopped_by_callback = false;
    call_later(10ms, [&] {
        stopped_by_callback = true;
        loop.stop();
    });
    loop.run();  // returns only because of the callback
    CHECK(stopped_by_callback);
    CHECK_FALSE(loop.running());
}

TEST_CASE_METHOD(Fixture, "a timer that throws goes to the error handler and the loop carries on") {
    loop.start();
    Signal later;
    call_later(5ms, [] { throw std::runtime_error("the LED 'red' broke"); });
    call_later(5ms, [] { throw 42; });
    call_later(30ms, [&] { later.notify(); });
    REQUIRE(later.wait());
    CHECK(loop.running());
    loop.stop();
    std::lock_guard guard(errors_mutex);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == "the LED 'red' broke");
    CHECK_THAT(errors[1], Catch::Contains("unknown"));
}

TEST_CASE_METHOD(Fixture, "a watch callback that throws goes to the error handler and the loop carries on") {
    Pipe pipe;
    loop.watch(pipe.read_end(), [&] {
        pipe.drain();
        throw std::runtime_error("bad edge");
    });
    loop.start();
    pipe.write('x');
    Signal later;
    // The timer is added after the write, so by the time it fires the watch has been served.
    std::this_thread::sleep_for(20ms);
    call_later(20ms, [&] { later.notify(); });
    REQUIRE(later.wait());
    loop.stop();
    std::lock_guard guard(errors_mutex);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == "bad edge");
}

TEST_CASE_METHOD(Fixture, "an idle loop sleeps instead of spinning") {
    // Principle 7: idle CPU is about zero. The loop's own thread measures its CPU time from inside
    // two callbacks ~200 ms apart; a busy loop would burn nearly all of it.
    Pipe pipe;
    Signal woken;
    std::vector<Nanos> cpu;
    loop.watch(pipe.read_end(), [&] {
        pipe.drain();
        cpu.push_back(thread_cpu_time());
        woken.notify();
    });
    loop.start();

    SECTION("with nothing to do") {
        pipe.write('a');
        REQUIRE(woken.wait_for_count(1));
        std::this_thread::sleep_for(200ms);
        pipe.write('b');
        REQUIRE(woken.wait_for_count(2));
    }
    SECTION("while a timer is pending") {
        call_later(1h, [] {});
        pipe.write('a');
        REQUIRE(woken.wait_for_count(1));
        std::this_thread::sleep_for(200ms);
        pipe.write('b');
        REQUIRE(woken.wait_for_count(2));
    }
    SECTION("between timers") {
        Signal done;
        std::vector<Nanos> timer_cpu;
        call_later(1ms, [&] { timer_cpu.push_back(thread_cpu_time()); });
        call_later(201ms, [&] {
            timer_cpu.push_back(thread_cpu_time());
            done.notify();
        });
        REQUIRE(done.wait());
        cpu = timer_cpu;
    }
    loop.stop();
    REQUIRE(cpu.size() == 2);
    const auto used = cpu[1] - cpu[0];
    INFO("the loop's thread used " << to_seconds(used) * 1000 << " ms of CPU over ~200 ms idle");
    CHECK(used < 20ms);
}

TEST_CASE_METHOD(Fixture, "a descriptor closed while still watched is dropped and reported, not spun on") {
    // poll(2) reports a closed descriptor (POLLNVAL) at once, every time: kept, it would turn the
    // idle loop into a busy one.
    int fds[2] = {-1, -1};
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    bool called = false;
    loop.watch(fds[0], [&] { called = true; });
    loop.start();
    ::close(fds[0]);
    ::close(fds[1]);

    Signal done;
    std::vector<Nanos> cpu;
    call_later(1ms, [&] { cpu.push_back(thread_cpu_time()); });
    call_later(201ms, [&] {
        cpu.push_back(thread_cpu_time());
        done.notify();
    });
    REQUIRE(done.wait());
    loop.stop();
    CHECK_FALSE(called);
    REQUIRE(cpu.size() == 2);
    INFO("the loop's thread used " << to_seconds(cpu[1] - cpu[0]) * 1000 << " ms of CPU over ~200 ms");
    CHECK(cpu[1] - cpu[0] < 20ms);
    std::lock_guard guard(errors_mutex);
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::Contains("closed"));
}

TEST_CASE_METHOD(Fixture, "work posted from other threads runs on the loop's thread, in order, under the board lock") {
    loop.start();
    std::this_thread::sleep_for(20ms);  // the loop sleeps with no deadline: only post can wake it
    std::mutex got_mutex;
    std::vector<int> got;
    std::vector<std::thread::id> ran_on;
    std::vector<bool> locked;
    Signal done;
    std::thread poster([&] {
        for (int i = 0; i < 100; ++i) {
            loop.post([&, i] {
                // The board lock is held by this thread (recursive: try_lock succeeds only here).
                const bool held = board_lock.try_lock();
                if (held) board_lock.unlock();
                std::lock_guard guard(got_mutex);
                got.push_back(i);
                ran_on.push_back(std::this_thread::get_id());
                locked.push_back(held);
                if (i == 99) done.notify();
            });
        }
    });
    REQUIRE(done.wait());
    poster.join();
    const auto poster_id = poster.get_id();
    loop.stop();
    std::lock_guard guard(got_mutex);
    REQUIRE(got.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(got[std::size_t(i)] == i);
    for (const auto id : ran_on) CHECK(id != std::this_thread::get_id());
    for (const auto id : ran_on) CHECK(id != poster_id);
    for (const bool held : locked) CHECK(held);
}

TEST_CASE_METHOD(Fixture, "posted work that throws goes to the error handler and later work still runs") {
    loop.start();
    Signal after;
    loop.post([] { throw std::runtime_error("posted work broke"); });
    loop.post([&] { after.notify(); });
    REQUIRE(after.wait());
    loop.stop();
    std::lock_guard guard(errors_mutex);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("posted work broke") != std::string::npos);
}
