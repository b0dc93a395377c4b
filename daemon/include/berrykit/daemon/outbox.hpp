// berrykit — berrykitd's durable outbox: the readings waiting for the MQTT broker, kept in a SQLite
// file in WAL mode so that a power cut, a broker that is down for an hour or a killed daemon loses
// none of them (DESIGN.md, principle 4).
//
// A reading counts as accepted once it is on disk (on_stored), and leaves the file only when the
// broker has acknowledged it (acknowledge, on PUBACK). Every message gets a sequence number `seq`
// (1, 2, 3, …) that is never given twice by one outbox file, even across restarts, so the cloud can
// drop the duplicates that QoS 1 allows.
//
//     Outbox outbox({.file = "/var/lib/berrykit/outbox.sqlite"});
//     outbox.set_on_stored([&] { bridge.wake(); });
//     outbox.append("berrykit/pi4/readings/temperature",
//                   [&](std::uint64_t seq) { return reading_json(seq); });
//     for (const OutboxMessage& m : outbox.peek(0, 100)) publish(m);   // later, on PUBACK:
//     outbox.acknowledge(seq);
//
// One writer thread owns the file. append() and acknowledge() only queue work in memory and wake
// it; it waits `batch_window` to gather more, then commits everything waiting in one transaction
// with one fsync (group commit), so an SD card is not worn by one fsync per reading.
//
// The file holds, per message, its seq, topic and payload, plus two counters (the next seq, and
// how many messages the cap ever dropped); PRAGMA user_version is the schema version (1) and
// PRAGMA application_id marks the file as berrykit's outbox. Inspect it with
// `sqlite3 outbox.sqlite 'SELECT seq, topic, CAST(payload AS TEXT) FROM messages'`.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace berrykit::daemon {

struct OutboxOptions {
    // The SQLite file, e.g. /var/lib/berrykit/outbox.sqlite. Its folder must exist; the file and
    // its "-wal" and "-shm" companions are made there.
    std::filesystem::path file;
    // Cap on the bytes of the stored messages: each counts as its topic's bytes + its payload's
    // bytes + Outbox::row_overhead_bytes. When a commit would go over, the oldest messages (lowest
    // seq) are dropped until it fits, and counted in OutboxStats::dropped. The file on disk is
    // larger than this (SQLite's pages, the WAL): see OutboxStats::file_bytes.
    std::uint64_t max_bytes = 64ull * 1024 * 1024;
    // After the first append (or acknowledge) into an empty batch, the writer waits this long to
    // gather more before it commits them all in one transaction.
    std::chrono::milliseconds batch_window{10};
    // The writer commits at once when this many appended messages are waiting.
    std::size_t batch_max = 1000;
    // While the disk refuses writes (full, read-only, failing), the writer tries again this often;
    // the messages wait in memory meanwhile.
    std::chrono::milliseconds retry_interval{1000};
    // At most this many bytes of messages wait in memory for the disk (counted as for max_bytes,
    // and never more than max_bytes). Beyond it the oldest waiting messages are dropped and
    // counted in OutboxStats::dropped, so a disk that stays full cannot use up the Pi's memory.
    // A runaway loop that appends faster than the disk commits (hundreds of thousands a second)
    // is trimmed the same way.
    std::uint64_t max_pending_bytes = 8ull * 1024 * 1024;
};

struct OutboxMessage {
    std::uint64_t seq;
    std::string topic;
    std::string payload;
};

struct OutboxStats {
    std::uint64_t queued = 0;        // messages stored, not yet acknowledged
    std::uint64_t queued_bytes = 0;  // their bytes, as counted against max_bytes
    std::uint64_t dropped = 0;       // dropped by the cap (on disk or in memory), ever; kept across restarts
    std::uint64_t next_seq = 0;      // the seq the next append gets
    std::uint64_t file_bytes = 0;    // database + WAL files on disk
    std::uint64_t commits = 0;       // transactions committed since open (to show batching)
    std::uint64_t pending = 0;       // appended, not yet committed
    std::uint64_t moved_aside = 0;   // damaged outbox files moved aside since open
    std::string last_error;          // why the last commit failed; empty when it succeeded
};

class Outbox {
public:
    // What a message costs against max_bytes beyond its topic and payload: its seq, SQLite's
    // record header and cell pointer, roughly what the file spends on a row besides the two strings.
    static constexpr std::uint64_t row_overhead_bytes = 32;

    // Opens or creates the outbox file and starts the writer thread. The folder must exist and be
    // writable: if not, throws Error(bad_value) naming the path and what to do.
    //
    // A truncated or damaged file (not a SQLite database, fails PRAGMA quick_check, not berrykit's
    // outbox, or an unknown schema version) is renamed to "<file>.corrupt-<UTC yyyymmddThhmmssZ>"
    // (its -wal and -shm files too, with the same suffix before theirs), a warning in the log says
    // so and where it went, and a fresh outbox starts. Numbering goes on above the highest seq the
    // old file had given, when that can still be read from it; when it cannot, from the current
    // Unix time in milliseconds, which is larger than any seq a Pi could have handed out (that
    // would take 1.7 trillion readings), so the cloud never mistakes a new reading for a
    // duplicate. This relies on the clock not being far behind the time the old numbers were
    // handed out.
    //
    // Opening runs PRAGMA quick_check, which reads the whole file: about a second per 50 MB on
    // an SD card.
    explicit Outbox(OutboxOptions options);
    // Commits everything pending (without waiting for the batch window), then stops the writer
    // thread. If the disk refuses that last commit, the log says how many readings were lost.
    ~Outbox();
    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    // Queues a message; never waits for the disk (the daemon's event loop calls it). Thread-safe.
    //
    // make_payload is called at once, with the message's seq: seqs are 1, 2, 3, … per outbox file,
    // strictly increasing in the order of the append calls, never reused. It runs under the
    // outbox's lock (so seqs are stored in order): keep it short and do not call the outbox from
    // it. If it throws, the exception comes out of append and the seq is not used.
    //
    // on_stored (optional) runs on the writer thread once the message is durably in the file (WAL,
    // synchronous=FULL), with its seq. It is not called for a message the cap dropped before it
    // reached the file (OutboxStats::dropped counts those). Callbacks may run until the destructor
    // returns; an exception from one is logged and ignored. A callback may call append, peek and
    // acknowledge, but flush from it returns false at once (it would wait for its own thread).
    //
    // A message that alone is larger than max_bytes could never be stored: append throws
    // Error(bad_value) saying so, and nothing changes (no seq is used).
    void append(std::string topic, std::function<std::string(std::uint64_t seq)> make_payload,
                std::function<void(std::uint64_t seq)> on_stored = {});

    // Called on the writer thread after each commit that stored new messages (the MQTT bridge uses
    // it to wake up). Replaces the previous callback; an empty function removes it.
    void set_on_stored(std::function<void()> callback);

    // Up to `max` stored (committed) messages with seq > after_seq, oldest first. Messages already
    // acknowledged are left out at once, even before their removal is committed. Thread-safe; reads
    // through a connection of its own, so it never waits for the writer's fsync. Returns an empty
    // list if the file cannot be read (the log says why).
    std::vector<OutboxMessage> peek(std::uint64_t after_seq, std::size_t max);

    // The broker acknowledged this seq (PUBACK): remove it. Batched into the writer's next commit
    // (a commit of acknowledgements alone skips the fsync: if the power goes before the next
    // one, the message is sent once more, which QoS 1 allows). Never waits for the disk. An
    // unknown or already dropped seq is a no-op, and so is one not stored yet (acknowledge what
    // peek gave). Thread-safe.
    void acknowledge(std::uint64_t seq);

    // Waits until everything appended or acknowledged before the call is committed, without
    // waiting for the batch window (tests, shutdown, benchmarks). Returns true when it is; false
    // when the disk refused the commit (OutboxStats::last_error says why; the messages stay in
    // memory and the writer keeps trying).
    bool flush();

    OutboxStats stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace berrykit::daemon
