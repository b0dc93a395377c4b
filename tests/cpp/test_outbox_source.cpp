// The outbox as the MQTT bridge sees it (daemon/include/berrykit/daemon/outbox_source.hpp): any
// outbox with the durable Outbox's methods plugs in through OutboxSourceFor.
#include "berrykit/daemon/outbox_source.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

using namespace berrykit::daemon;

namespace {

// Records what the adapter passes on; its messages are a type of its own, as the real Outbox's are.
struct RecordingOutbox {
    struct Stored {
        std::uint64_t seq;
        std::string topic;
        std::string payload;
    };
    std::vector<Stored> stored = {{4, "berrykit/pi/readings/light", "{\"seq\":4}"},
                                  {7, "berrykit/pi/events/button", "{\"seq\":7}"}};
    std::vector<std::pair<std::uint64_t, std::size_t>> peeks;
    std::vector<std::uint64_t> acknowledged;
    std::function<void()> on_stored;

    std::vector<Stored> peek(std::uint64_t after_seq, std::size_t max) {
        peeks.emplace_back(after_seq, max);
        std::vector<Stored> found;
        for (const auto& message : stored) {
            if (message.seq > after_seq && found.size() < max) found.push_back(message);
        }
        return found;
    }
    void acknowledge(std::uint64_t seq) { acknowledged.push_back(seq); }
    void set_on_stored(std::function<void()> callback) { on_stored = std::move(callback); }
};

}  // namespace

TEST_CASE("an outbox with the Outbox's methods is an OutboxSource through OutboxSourceFor") {
    RecordingOutbox outbox;
    OutboxSourceFor<RecordingOutbox> adapter(outbox);
    OutboxSource& source = adapter;

    const auto messages = source.peek(0, 10);
    REQUIRE(messages.size() == 2);
    CHECK(messages[0].seq == 4);
    CHECK(messages[0].topic == "berrykit/pi/readings/light");
    CHECK(messages[0].payload == "{\"seq\":4}");
    CHECK(messages[1].seq == 7);
    CHECK(source.peek(4, 1).front().seq == 7);
    CHECK(outbox.peeks == std::vector<std::pair<std::uint64_t, std::size_t>>{{0, 10}, {4, 1}});

    source.acknowledge(7);
    CHECK(outbox.acknowledged == std::vector<std::uint64_t>{7});

    int woken = 0;
    source.set_on_stored([&] { ++woken; });
    REQUIRE(outbox.on_stored);
    outbox.on_stored();
    CHECK(woken == 1);
    source.set_on_stored({});
    CHECK_FALSE(outbox.on_stored);
}
