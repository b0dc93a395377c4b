// berrykit — what the MQTT bridge needs from the durable outbox, and nothing more.
//
// The bridge publishes what the outbox holds and tells it what the broker acknowledged. It sees the
// outbox through this small interface, so it can be tested with an in-memory outbox, and the real
// one (berrykit::daemon::Outbox) plugs in through OutboxSourceFor without either knowing the other:
//
//     Outbox outbox(options);
//     OutboxSourceFor<Outbox> source(outbox);
//     MqttBridge bridge(source, bridge_options);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace berrykit::daemon {

// A message waiting in the outbox: its sequence number (1, 2, 3, …, never reused), its full topic
// and its payload.
struct PendingMessage {
    std::uint64_t seq = 0;
    std::string topic;
    std::string payload;
};

class OutboxSource {
public:
    virtual ~OutboxSource() = default;

    // Up to `max` stored messages with seq > after_seq, oldest first. Called from the bridge's own
    // thread; must be thread-safe and should not wait long.
    virtual std::vector<PendingMessage> peek(std::uint64_t after_seq, std::size_t max) = 0;
    // The broker has acknowledged `seq` (PUBACK): the outbox may forget it. Unknown seqs are a
    // no-op. Must not block.
    virtual void acknowledge(std::uint64_t seq) = 0;
    // `callback` is called (on any thread) whenever new messages have been stored; an empty
    // function removes it. The bridge sets it in start() and removes it in stop().
    virtual void set_on_stored(std::function<void()> callback) = 0;
};

// Any outbox with the durable Outbox's methods, seen as an OutboxSource:
//   std::vector<M> peek(std::uint64_t after_seq, std::size_t max)   (M has seq, topic, payload)
//   void acknowledge(std::uint64_t seq)
//   void set_on_stored(std::function<void()> callback)
template <typename Outbox>
class OutboxSourceFor final : public OutboxSource {
public:
    explicit OutboxSourceFor(Outbox& outbox) : outbox_(outbox) {}

    std::vector<PendingMessage> peek(std::uint64_t after_seq, std::size_t max) override {
        std::vector<PendingMessage> messages;
        auto stored = outbox_.peek(after_seq, max);
        messages.reserve(stored.size());
        for (auto& message : stored) {
            messages.push_back({message.seq, std::move(message.topic), std::move(message.payload)});
        }
        return messages;
    }
    void acknowledge(std::uint64_t seq) override { outbox_.acknowledge(seq); }
    void set_on_stored(std::function<void()> callback) override { outbox_.set_on_stored(std::move(callback)); }

private:
    Outbox& outbox_;
};

}  // namespace berrykit::daemon
