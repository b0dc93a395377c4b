#include "berrykit/scheduler.hpp"

namespace berrykit {

Scheduler::TimerId Scheduler::call_at(Nanos when, Callback callback) {
    const bool earliest = queue_.empty() || when < queue_.begin()->first.when;
    const TimerId id = next_id_++;
    const Key key{when, next_seq_++};
    queue_.emplace(key, std::make_pair(id, std::move(callback)));
    ids_.emplace(id, key);
    if (earliest && on_earlier_) on_earlier_();
    return id;
}

bool Scheduler::cancel(TimerId id) {
    const auto it = ids_.find(id);
    if (it == ids_.end()) return false;
    queue_.erase(it->second);
    ids_.erase(it);
    return true;
}

std::optional<Nanos> Scheduler::next_deadline() const {
    if (queue_.empty()) return std::nullopt;
    return queue_.begin()->first.when;
}

std::size_t Scheduler::run_due(Nanos now) {
    std::size_t ran = 0;
    while (!queue_.empty() && queue_.begin()->first.when <= now) {
        auto node = queue_.extract(queue_.begin());
        ids_.erase(node.mapped().first);
        // The callback may add or cancel timers; it owns nothing of the queue while it runs.
        node.mapped().second();
        ++ran;
    }
    return ran;
}

}  // namespace berrykit
