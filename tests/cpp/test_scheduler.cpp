// Timers: blinks, PWM, hold times and debounce windows all run through the scheduler, so it must
// run them in deadline order, ties in the order they were added, and only when due.
#include "berrykit/scheduler.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace berrykit;
using namespace std::chrono_literals;

TEST_CASE("timers run in deadline order, not the order they were added") {
    ManualClock clock;
    Scheduler scheduler(clock);
    std::vector<std::string> ran;
    scheduler.call_at(30ms, [&] { ran.push_back("c"); });
    scheduler.call_at(10ms, [&] { ran.push_back("a"); });
    scheduler.call_at(20ms, [&] { ran.push_back("b"); });
    CHECK(scheduler.run_due(100ms) == 3);
    CHECK(ran == std::vector<std::string>{"a", "b", "c"});
    CHECK(scheduler.pending() == 0);
}

TEST_CASE("timers with the same deadline run in the order they were added") {
    ManualClock clock;
    Scheduler scheduler(clock);
    std::vector<int> ran;
    for (int i = 0; i < 10; ++i) scheduler.call_at(5ms, [&ran, i] { ran.push_back(i); });
    scheduler.call_at(1ms, [&] { ran.push_back(-1); });
    CHECK(scheduler.run_due(5ms) == 11);
    CHECK(ran == std::vector<int>{-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("only timers that are due run") {
    ManualClock clock;
    Scheduler scheduler(clock);
    std::vector<int> ran;
    scheduler.call_at(10ms, [&] { ran.push_back(10); });
    scheduler.call_at(20ms, [&] { ran.push_back(20); });
    CHECK(scheduler.run_due(9ms) == 0);
    CHECK(ran.empty());
    CHECK(scheduler.run_due(10ms) == 1);  // a deadline equal to now is due
    CHECK(ran == std::vector<int>{10});
    CHECK(scheduler.pending() == 1);
    CHECK(scheduler.run_due(19ms) == 0);
    CHECK(scheduler.run_due(25ms) == 1);
    CHECK(ran == std::vector<int>{10, 20});
    CHECK(scheduler.run_due(1h) == 0);  // each timer runs once
}

TEST_CASE("call_later counts from the clock's now") {
    ManualClock clock(1s);
    Scheduler scheduler(clock);
    bool ran = false;
    scheduler.call_later(500ms, [&] { ran = true; });
    CHECK(scheduler.next_deadline() == 1500ms);
    CHECK(scheduler.run_due(1499ms) == 0);
    CHECK_FALSE(ran);
    CHECK(scheduler.run_due(1500ms) == 1);
    CHECK(ran);
    CHECK(&scheduler.clock() == &clock);
}

TEST_CASE("a cancelled timer does not run, and cancel says whether it did anything") {
    ManualClock clock;
    Scheduler scheduler(clock);
    bool a_ran = false;
    bool b_ran = false;
    const auto a = scheduler.call_at(10ms, [&] { a_ran = true; });
    const auto b = scheduler.call_at(10ms, [&] { b_ran = true; });
    CHECK(a != b);
    CHECK(scheduler.cancel(a));
    CHECK_FALSE(scheduler.cancel(a));  // already cancelled
    CHECK(scheduler.pending() == 1);
    CHECK(scheduler.run_due(10ms) == 1);
    CHECK_FALSE(a_ran);
    CHECK(b_ran);
    CHECK_FALSE(scheduler.cancel(b));      // already ran
    CHECK_FALSE(scheduler.cancel(12345));  // never existed
}

TEST_CASE("timers added by a callback run in the same pass when they are due, not when they are not") {
    ManualClock clock;
    Scheduler scheduler(clock);
    std::vector<std::string> ran;
    scheduler.call_at(10ms, [&] {
        ran.push_back("first");
        scheduler.call_at(5ms, [&] { ran.push_back("already due"); });
        scheduler.call_at(20ms, [&] { ran.push_back("due at 20"); });
        scheduler.call_at(50ms, [&] { ran.push_back("future"); });
    });
    scheduler.call_at(15ms, [&] { ran.push_back("second"); });
    CHECK(scheduler.run_due(20ms) == 4);
    CHECK(ran == std::vector<std::string>{"first", "already due", "second", "due at 20"});
    CHECK(scheduler.pending() == 1);
    CHECK(scheduler.next_deadline() == 50ms);
}

TEST_CASE("a callback can cancel a later timer and itself") {
    ManualClock clock;
    Scheduler scheduler(clock);
    bool later_ran = false;
    Scheduler::TimerId self = 0;
    Scheduler::TimerId later = scheduler.call_at(20ms, [&] { later_ran = true; });
    bool cancelled_later = false;
    bool cancelled_self = true;
    self = scheduler.call_at(10ms, [&] {
        cancelled_later = scheduler.cancel(later);
        cancelled_self = scheduler.cancel(self);  // it is running: nothing to cancel
    });
    CHECK(scheduler.run_due(30ms) == 1);
    CHECK(cancelled_later);
    CHECK_FALSE(cancelled_self);
    CHECK_FALSE(later_ran);
    CHECK(scheduler.pending() == 0);
}

TEST_CASE("a timer that repeats itself runs once per period") {
    // How a blink works: each run schedules the next one.
    ManualClock clock;
    Scheduler scheduler(clock);
    std::vector<Nanos> runs;
    std::function<void()> tick;
    Nanos next = 100ms;
    tick = [&] {
        runs.push_back(next);
        next += 100ms;
        scheduler.call_at(next, tick);
    };
    scheduler.call_at(next, tick);
    CHECK(scheduler.run_due(350ms) == 3);
    CHECK(runs == std::vector<Nanos>{100ms, 200ms, 300ms});
    CHECK(scheduler.next_deadline() == 400ms);
}

TEST_CASE("next_deadline is the earliest pending deadline") {
    ManualClock clock;
    Scheduler scheduler(clock);
    CHECK_FALSE(scheduler.next_deadline().has_value());
    const auto late = scheduler.call_at(30ms, [] {});
    CHECK(scheduler.next_deadline() == 30ms);
    const auto early = scheduler.call_at(10ms, [] {});
    CHECK(scheduler.next_deadline() == 10ms);
    scheduler.call_at(20ms, [] {});
    CHECK(scheduler.next_deadline() == 10ms);
    scheduler.cancel(early);
    CHECK(scheduler.next_deadline() == 20ms);
    scheduler.run_due(25ms);
    CHECK(scheduler.next_deadline() == 30ms);
    scheduler.cancel(late);
    CHECK_FALSE(scheduler.next_deadline().has_value());
}

TEST_CASE("the earlier-deadline hook is called only when a new earliest timer is added") {
    ManualClock clock;
    Scheduler scheduler(clock);
    int calls = 0;
    scheduler.set_on_earlier_deadline([&] { ++calls; });
    scheduler.call_at(50ms, [] {});  // the first timer is the earliest
    CHECK(calls == 1);
    scheduler.call_at(80ms, [] {});  // later: a sleeping loop need not wake
    CHECK(calls == 1);
    scheduler.call_at(50ms, [] {});  // same deadline: nothing earlier
    CHECK(calls == 1);
    scheduler.call_at(20ms, [] {});  // earlier: wake
    CHECK(calls == 2);
    scheduler.run_due(100ms);
    CHECK(calls == 2);                // running timers is not adding them
    scheduler.call_at(200ms, [] {});  // the queue was empty again
    CHECK(calls == 3);

    scheduler.set_on_earlier_deadline(nullptr);
    scheduler.call_at(1ms, [] {});
    CHECK(calls == 3);
}

TEST_CASE("pending counts the timers that have not run or been cancelled") {
    ManualClock clock;
    Scheduler scheduler(clock);
    CHECK(scheduler.pending() == 0);
    const auto a = scheduler.call_at(10ms, [] {});
    scheduler.call_at(20ms, [] {});
    scheduler.call_at(30ms, [] {});
    CHECK(scheduler.pending() == 3);
    scheduler.cancel(a);
    CHECK(scheduler.pending() == 2);
    scheduler.run_due(20ms);
    CHECK(scheduler.pending() == 1);
}

TEST_CASE("a timer that throws does not lose the others") {
    ManualClock clock;
    Scheduler scheduler(clock);
    bool later_ran = false;
    scheduler.call_at(10ms, [] { throw std::runtime_error("boom"); });
    scheduler.call_at(10ms, [&] { later_ran = true; });
    CHECK_THROWS_AS(scheduler.run_due(10ms), std::runtime_error);
    CHECK(scheduler.pending() == 1);  // the one that threw is gone, the other still waits
    CHECK(scheduler.run_due(10ms) == 1);
    CHECK(later_ran);
}
