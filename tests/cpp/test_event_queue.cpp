// The queue between the board and the program: presses come out in the order they happened, a
// consumer can wait with a timeout or be woken by close(), and a program that never reads its
// events loses the oldest ones (counted), not the newest and not its memory.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "berrykit/event_queue.hpp"

using namespace berrykit;
using namespace std::chrono_literals;

namespace {

DeviceEvent event(std::uint64_t device, EventKind kind, std::int64_t ms) {
    return DeviceEvent{device, kind, std::chrono::milliseconds(ms)};
}

// A pop that must not wait: the event is already there.
DeviceEvent pop_now(EventQueue& queue) {
    const auto popped = queue.pop(0ns);
    REQUIRE(popped.has_value());
    return *popped;
}

}  // namespace

TEST_CASE("events come out in the order they were pushed") {
    EventQueue queue;
    queue.push(event(1, EventKind::pressed, 10));
    queue.push(event(2, EventKind::motion, 20));
    queue.push(event(1, EventKind::released, 30));
    CHECK(queue.size() == 3);

    const auto first = pop_now(queue);
    CHECK(first.device == 1);
    CHECK(first.kind == EventKind::pressed);
    CHECK(first.time == 10ms);
    const auto second = pop_now(queue);
    CHECK(second.device == 2);
    CHECK(second.kind == EventKind::motion);
    CHECK(second.time == 20ms);
    const auto third = pop_now(queue);
    CHECK(third.device == 1);
    CHECK(third.kind == EventKind::released);
    CHECK(third.time == 30ms);
    CHECK(queue.size() == 0);
}

TEST_CASE("pop with a timeout returns nothing when no event comes") {
    EventQueue queue;
    const auto started = std::chrono::steady_clock::now();
    CHECK_FALSE(queue.pop(20ms).has_value());
    // It waited (a timeout of 20 ms is not "return at once"), and it did return.
    CHECK(std::chrono::steady_clock::now() - started >= 20ms);
    CHECK_FALSE(queue.pop(0ns).has_value());
    CHECK_FALSE(queue.is_closed());
}

TEST_CASE("a pop waiting on another thread gets an event pushed later") {
    EventQueue queue;
    std::optional<DeviceEvent> got;
    std::thread consumer([&] { got = queue.pop(30s); });
    queue.push(event(7, EventKind::held, 1000));
    consumer.join();
    REQUIRE(got.has_value());
    CHECK(got->device == 7);
    CHECK(got->kind == EventKind::held);
}

TEST_CASE("close wakes a pop that waits for ever on another thread") {
    EventQueue queue;
    std::atomic<bool> returned{false};
    std::optional<DeviceEvent> got = event(0, EventKind::pressed, 0);
    std::thread consumer([&] {
        got = queue.pop();  // no timeout: only close() can end this
        returned = true;
    });
    // Give the consumer time to be waiting; were it not yet, pop() would see the close at once
    // and the test would still be right, only weaker.
    std::this_thread::sleep_for(50ms);
    CHECK_FALSE(returned);
    queue.close();
    consumer.join();  // hangs (and the test run times out) if close() did not wake it
    CHECK(returned);
    CHECK_FALSE(got.has_value());
    CHECK(queue.is_closed());
}

TEST_CASE("after close, pop drains what is left, then returns nothing at once") {
    EventQueue queue;
    queue.push(event(1, EventKind::pressed, 1));
    queue.push(event(1, EventKind::released, 2));
    queue.close();
    CHECK(queue.is_closed());
    CHECK(queue.pop()->kind == EventKind::pressed);
    CHECK(queue.pop()->kind == EventKind::released);
    // Closed and empty: no timeout needed, it does not block.
    CHECK_FALSE(queue.pop().has_value());
    CHECK_FALSE(queue.pop(10s).has_value());
}

TEST_CASE("a full queue drops its oldest events and counts them") {
    EventQueue queue(3);
    for (int i = 1; i <= 5; ++i) queue.push(event(static_cast<std::uint64_t>(i), EventKind::pressed, i));
    CHECK(queue.size() == 3);
    CHECK(queue.dropped() == 2);
    CHECK(queue.pushed() == 5);
    // The newest three survive, in order.
    CHECK(pop_now(queue).device == 3);
    CHECK(pop_now(queue).device == 4);
    CHECK(pop_now(queue).device == 5);
    CHECK_FALSE(queue.pop(0ns).has_value());
    // Room again: nothing more is dropped.
    queue.push(event(6, EventKind::pressed, 6));
    CHECK(queue.dropped() == 2);
    CHECK(queue.size() == 1);
}

TEST_CASE("a queue of capacity 0 still keeps the newest event") {
    EventQueue queue(0);
    queue.push(event(1, EventKind::pressed, 1));
    queue.push(event(2, EventKind::pressed, 2));
    CHECK(queue.size() == 1);
    CHECK(queue.dropped() == 1);
    CHECK(pop_now(queue).device == 2);
}

TEST_CASE("pushed counts every event ever pushed, popped or dropped") {
    EventQueue queue(2);
    CHECK(queue.pushed() == 0);
    queue.push(event(1, EventKind::light, 1));
    queue.push(event(1, EventKind::dark, 2));
    (void)pop_now(queue);
    CHECK(queue.pushed() == 2);
    queue.push(event(1, EventKind::light, 3));
    queue.push(event(1, EventKind::dark, 4));  // drops one
    CHECK(queue.pushed() == 4);
    CHECK(queue.dropped() == 1);
    CHECK(queue.size() == 2);
}

TEST_CASE("events pushed from several threads all arrive, each thread's in its own order") {
    EventQueue queue;
    constexpr int per_thread = 500;
    std::vector<std::thread> producers;
    for (std::uint64_t device = 1; device <= 3; ++device) {
        producers.emplace_back([&queue, device] {
            for (int i = 0; i < per_thread; ++i) queue.push(event(device, EventKind::pressed, i));
        });
    }
    std::vector<std::int64_t> last_seen(4, -1);
    bool in_order = true;
    for (int received = 0; received < 3 * per_thread; ++received) {
        const auto got = queue.pop(30s);
        REQUIRE(got.has_value());
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(got->time).count();
        if (ms != last_seen[got->device] + 1) in_order = false;
        last_seen[got->device] = ms;
    }
    for (auto& producer : producers) producer.join();
    CHECK(in_order);
    CHECK(queue.pushed() == 3 * per_thread);
    CHECK(queue.dropped() == 0);
}

TEST_CASE("every event kind has its stable name") {
    CHECK(std::string(to_string(EventKind::pressed)) == "pressed");
    CHECK(std::string(to_string(EventKind::released)) == "released");
    CHECK(std::string(to_string(EventKind::held)) == "held");
    CHECK(std::string(to_string(EventKind::motion)) == "motion");
    CHECK(std::string(to_string(EventKind::no_motion)) == "no_motion");
    CHECK(std::string(to_string(EventKind::light)) == "light");
    CHECK(std::string(to_string(EventKind::dark)) == "dark");
    CHECK(std::string(to_string(EventKind::in_range)) == "in_range");
    CHECK(std::string(to_string(EventKind::out_of_range)) == "out_of_range");
}
