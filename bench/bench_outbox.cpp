// berrykitd's outbox figures, each printed:
//
//   1. durable appends per second: 100,000 readings of about 120 bytes appended as fast as the
//      caller can, timed until the last one is committed (on_stored); the commits that took, and
//      the bytes on disk per queued reading
//   2. draining: peek and acknowledge the same 100,000, as the MQTT bridge does on PUBACKs
//   3. append → on_stored latency at 100 readings per second for 5 s, median and p99
//
//     build/bench/bench_outbox [FOLDER]     (default: the current folder)
//
// The figures depend on the disk under FOLDER more than on anything else (an fsync on an SD card
// takes milliseconds, on tmpfs nothing), so the file system's type is printed with them.
#include <sys/vfs.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "berrykit/daemon/outbox.hpp"

using namespace berrykit::daemon;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string reading(std::uint64_t seq) {
    return R"({"device":"classroom-pi","sensor":"temperature","value":21.5,"unit":"°C","ts":"2026-11-22T10:00:00.000Z","seq":)" +
           std::to_string(seq) + "}";
}

const char* file_system_of(const fs::path& folder) {
    struct statfs info {};
    if (::statfs(folder.c_str(), &info) != 0) return "unknown";
    switch (static_cast<unsigned long>(info.f_type)) {
        case 0x01021994UL: return "tmpfs";
        case 0xEF53UL: return "ext4";
        case 0x794c7630UL: return "overlayfs";
        case 0x58465342UL: return "xfs";
        case 0x9123683EUL: return "btrfs";
        case 0x4d44UL: return "vfat";
        case 0xF2F52010UL: return "f2fs";
        default: return "other";
    }
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double percentile(std::vector<double> samples, double p) {
    std::sort(samples.begin(), samples.end());
    const auto at = static_cast<std::size_t>(p / 100 * static_cast<double>(samples.size() - 1) + 0.5);
    return samples[std::min(at, samples.size() - 1)];
}

void remove_outbox(const fs::path& file) {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
}

void throughput(const fs::path& file) {
    constexpr std::uint64_t count = 100000;
    remove_outbox(file);
    // Appending 100k as fast as a loop can (millions per second) outruns any disk, so let them all
    // wait in memory: with the default max_pending_bytes (8 MiB) the oldest of such a burst are
    // dropped, which is what this figure is not about.
    OutboxOptions options{.file = file};
    options.max_pending_bytes = options.max_bytes;
    Outbox outbox(options);
    std::uint64_t stored = 0;  // on the writer thread only
    Clock::time_point last_stored;
    const auto start = Clock::now();
    for (std::uint64_t i = 0; i < count; ++i) {
        outbox.append("berrykit/classroom-pi/readings/temperature", reading, [&](std::uint64_t) {
            ++stored;
            last_stored = Clock::now();
        });
    }
    const auto appended = Clock::now();
    outbox.flush();  // after the callbacks: `stored` and `last_stored` are settled
    const OutboxStats stats = outbox.stats();
    std::printf(
        "1. %llu appends of %zu-byte JSON: appended in %.3f s (%.0f/s, never waiting for the disk); "
        "%llu durable after %.3f s: %.0f appends/s committed; %llu dropped\n",
        static_cast<unsigned long long>(count), reading(count).size(), seconds(appended - start),
        static_cast<double>(count) / seconds(appended - start), static_cast<unsigned long long>(stored),
        seconds(last_stored - start), static_cast<double>(stored) / seconds(last_stored - start),
        static_cast<unsigned long long>(stats.dropped));
    const auto queued = static_cast<double>(std::max<std::uint64_t>(stats.queued, 1));
    const auto database = fs::file_size(file);
    std::printf(
        "   %llu commits (%.0f readings per commit, one fsync each); %llu bytes on disk for %llu queued "
        "readings: %.0f bytes per reading (%.0f in the file, %.0f in the WAL not yet checkpointed; %.0f "
        "counted against max_bytes)\n",
        static_cast<unsigned long long>(stats.commits),
        static_cast<double>(count) / static_cast<double>(std::max<std::uint64_t>(stats.commits, 1)),
        static_cast<unsigned long long>(stats.file_bytes), static_cast<unsigned long long>(stats.queued),
        static_cast<double>(stats.file_bytes) / queued, static_cast<double>(database) / queued,
        static_cast<double>(stats.file_bytes - database) / queued, static_cast<double>(stats.queued_bytes) / queued);

    // 2. The bridge's side: take them in pages of 100 (its in-flight window), acknowledge each.
    const auto drain_start = Clock::now();
    std::uint64_t after = 0;
    std::uint64_t acknowledged = 0;
    for (;;) {
        const auto page = outbox.peek(after, 100);
        if (page.empty()) break;
        for (const auto& message : page) outbox.acknowledge(message.seq);
        acknowledged += page.size();
        after = page.back().seq;
    }
    outbox.flush();
    const auto drained = Clock::now();
    const OutboxStats after_drain = outbox.stats();
    std::printf(
        "2. peek (100 at a time) + acknowledge of %llu: %.3f s (%.0f/s), %llu commits; %llu left queued, "
        "%llu bytes on disk (file %llu + WAL %llu)\n",
        static_cast<unsigned long long>(acknowledged), seconds(drained - drain_start),
        static_cast<double>(acknowledged) / seconds(drained - drain_start),
        static_cast<unsigned long long>(after_drain.commits - stats.commits),
        static_cast<unsigned long long>(after_drain.queued), static_cast<unsigned long long>(after_drain.file_bytes),
        static_cast<unsigned long long>(fs::file_size(file)),
        static_cast<unsigned long long>(after_drain.file_bytes - fs::file_size(file)));
}

void latency(const fs::path& file) {
    constexpr int rate = 100;
    constexpr int count = rate * 5;
    remove_outbox(file);
    Outbox outbox({.file = file});
    std::mutex mutex;
    std::vector<double> latencies_ms;
    latencies_ms.reserve(count);
    auto next = Clock::now();
    for (int i = 0; i < count; ++i) {
        std::this_thread::sleep_until(next);
        const auto appended = Clock::now();
        outbox.append("berrykit/classroom-pi/readings/temperature", reading, [&, appended](std::uint64_t) {
            const double ms = std::chrono::duration<double, std::milli>(Clock::now() - appended).count();
            std::lock_guard guard(mutex);
            latencies_ms.push_back(ms);
        });
        next += std::chrono::microseconds(1000000 / rate);
    }
    outbox.flush();
    const OutboxStats stats = outbox.stats();
    std::lock_guard guard(mutex);
    std::printf(
        "3. append -> on_stored at %d/s for %d s (batch_window 10 ms): median %.2f ms, p99 %.2f ms, max %.2f "
        "ms; %llu commits\n",
        rate, count / rate, percentile(latencies_ms, 50), percentile(latencies_ms, 99), percentile(latencies_ms, 100),
        static_cast<unsigned long long>(stats.commits));
}

}  // namespace

int main(int argc, char** argv) {
    const fs::path folder = argc > 1 ? fs::path(argv[1]) : fs::current_path();
    if (!fs::is_directory(folder)) {
        std::fprintf(stderr, "bench_outbox: %s is not a folder\n", folder.c_str());
        return 2;
    }
    const fs::path file = folder / "bench-outbox.sqlite";
    std::printf("berrykit outbox benchmark in %s (%s), %u cores\n", fs::absolute(folder).c_str(),
                file_system_of(folder), std::thread::hardware_concurrency());
    throughput(file);
    latency(file);
    remove_outbox(file);
    return 0;
}
