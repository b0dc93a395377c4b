// berrykitd's durable outbox (daemon/include/berrykit/daemon/outbox.hpp): numbering that survives
// restarts, messages on disk before they count as stored, batched commits, the size cap, damaged
// files moved aside, a disk that refuses writes. What is on disk is checked through a SQLite
// connection of the test's own, as a person with the sqlite3 tool would see it.
#include "berrykit/daemon/outbox.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "berrykit/daemon/log.hpp"
#include "berrykit/error.hpp"
#include "error_matchers.hpp"
#include "temp_dir.hpp"

using namespace berrykit;
using namespace berrykit::daemon;
using berrykit::test::TempDir;
using berrykit::testing::IsError;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const fs::path test_data = fs::path(BERRYKIT_TEST_DATA_DIR) / "outbox";

OutboxOptions options_in(const TempDir& dir) {
    OutboxOptions options;
    options.file = dir.path() / "outbox.sqlite";
    options.batch_window = 2ms;
    options.retry_interval = 50ms;
    return options;
}

// Appends `payload` to `topic` and returns the seq it got.
std::uint64_t add(Outbox& outbox, const std::string& topic, const std::string& payload,
                  std::function<void(std::uint64_t)> on_stored = {}) {
    std::uint64_t given = 0;
    outbox.append(
        topic,
        [&](std::uint64_t seq) {
            given = seq;
            return payload;
        },
        std::move(on_stored));
    return given;
}

// A reading as berrykitd would send it, about 120 bytes.
std::string reading(std::uint64_t seq) {
    return R"({"device":"classroom-pi","sensor":"temperature","value":21.5,"unit":"°C","ts":"2026-11-22T10:00:00.000Z","seq":)" +
           std::to_string(seq) + "}";
}

// A SQLite connection of the test's own to the outbox file.
class RawFile {
public:
    explicit RawFile(const fs::path& file, int flags = SQLITE_OPEN_READONLY) {
        const int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_close(db_);
            throw std::runtime_error("cannot open " + file.string() + ": " + sqlite3_errstr(rc));
        }
        sqlite3_busy_timeout(db_, 2000);
    }
    ~RawFile() { sqlite3_close(db_); }
    RawFile(const RawFile&) = delete;
    RawFile& operator=(const RawFile&) = delete;

    // The first column of every row of `sql`, as numbers.
    std::vector<std::int64_t> numbers(const std::string& sql) {
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        }
        std::vector<std::int64_t> values;
        int rc;
        while ((rc = sqlite3_step(statement)) == SQLITE_ROW) values.push_back(sqlite3_column_int64(statement, 0));
        sqlite3_finalize(statement);
        if (rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        return values;
    }

    void exec(const std::string& sql) {
        if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        }
    }

private:
    sqlite3* db_ = nullptr;
};

std::vector<std::int64_t> seqs_in_file(const fs::path& file) {
    return RawFile(file).numbers("SELECT seq FROM messages ORDER BY seq");
}

std::vector<std::int64_t> range(std::int64_t first, std::int64_t last) {
    std::vector<std::int64_t> values;
    for (auto v = first; v <= last; ++v) values.push_back(v);
    return values;
}

std::vector<std::uint64_t> seqs_of(const std::vector<OutboxMessage>& messages) {
    std::vector<std::uint64_t> seqs;
    for (const auto& m : messages) seqs.push_back(m.seq);
    return seqs;
}

// Everything berrykitd logs (to stderr) while it lives, drained by a thread so a long log never
// blocks the writer.
class CapturedLog {
public:
    CapturedLog() {
        if (::pipe(fds_) != 0) throw std::runtime_error("pipe");
        saved_ = ::dup(STDERR_FILENO);
        ::dup2(fds_[1], STDERR_FILENO);
        ::close(fds_[1]);
        reader_ = std::thread([this] {
            char buffer[4096];
            for (ssize_t n; (n = ::read(fds_[0], buffer, sizeof buffer)) > 0;) {
                std::lock_guard guard(mutex_);
                text_.append(buffer, static_cast<std::size_t>(n));
            }
        });
    }
    ~CapturedLog() { stop(); }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;

    // Stops capturing and returns everything logged.
    std::string text() {
        stop();
        return text_;
    }

private:
    void stop() {
        if (saved_ < 0) return;
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        saved_ = -1;
        reader_.join();
        ::close(fds_[0]);
    }
    int fds_[2]{-1, -1};
    int saved_ = -1;
    std::thread reader_;
    std::mutex mutex_;
    std::string text_;
};

std::size_t count_of(const std::string& text, const std::string& word) {
    std::size_t count = 0;
    for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + word.size())) ++count;
    return count;
}

// The files in `folder` that a damaged `name` was moved to: "<name>.corrupt-<yyyymmddThhmmssZ>".
std::vector<fs::path> moved_aside(const fs::path& folder, const std::string& name) {
    const std::regex pattern(std::regex_replace(name, std::regex(R"(\.)"), R"(\.)") + R"(\.corrupt-\d{8}T\d{6}Z)");
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (std::regex_match(entry.path().filename().string(), pattern)) found.push_back(entry.path());
    }
    return found;
}

// Writes past `bytes` into any file fail with EFBIG while it lives, as on a full disk.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        ::getrlimit(RLIMIT_FSIZE, &saved_);
        old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
        rlimit limit = saved_;
        limit.rlim_cur = bytes;
        if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) throw std::runtime_error("setrlimit");
    }
    ~FileSizeLimit() { lift(); }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;
    void lift() {
        if (lifted_) return;
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        ::signal(SIGXFSZ, old_handler_);
        lifted_ = true;
    }

private:
    rlimit saved_{};
    sighandler_t old_handler_ = SIG_DFL;
    bool lifted_ = false;
};

std::uint64_t unix_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

}  // namespace

TEST_CASE("seqs start at 1, go up by one, and carry on after a reopen, even when all were acknowledged") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    {
        Outbox outbox(options);
        CHECK(outbox.stats().next_seq == 1);
        std::vector<std::uint64_t> seqs;
        for (int i = 0; i < 3; ++i) seqs.push_back(add(outbox, "berrykit/pi/readings/t", "x"));
        CHECK(seqs == std::vector<std::uint64_t>{1, 2, 3});
        REQUIRE(outbox.flush());
    }
    {
        Outbox outbox(options);
        CHECK(outbox.stats().queued == 3);
        CHECK(outbox.stats().next_seq == 4);
        CHECK(add(outbox, "berrykit/pi/readings/t", "y") == 4);
        REQUIRE(outbox.flush());  // the bridge acknowledges only what peek gave it, which is stored
        for (std::uint64_t seq = 1; seq <= 4; ++seq) outbox.acknowledge(seq);
        REQUIRE(outbox.flush());
        CHECK(outbox.stats().queued == 0);
    }
    CHECK(seqs_in_file(options.file).empty());
    {
        Outbox outbox(options);
        CHECK(outbox.stats().next_seq == 5);
        CHECK(add(outbox, "berrykit/pi/readings/t", "z") == 5);
        REQUIRE(outbox.flush());
        CHECK(seqs_of(outbox.peek(0, 10)) == std::vector<std::uint64_t>{5});
    }
}

TEST_CASE("on_stored runs only once the message is committed and in the file") {
    TempDir dir;
    OutboxOptions options = options_in(dir);
    options.batch_window = 300ms;  // a moment in which the message is appended but not yet stored
    Outbox outbox(options);

    std::mutex mutex;
    std::condition_variable told;
    bool stored = false;
    bool in_file_when_told = false;
    const std::uint64_t seq = add(outbox, "berrykit/pi/readings/t", reading(1), [&](std::uint64_t stored_seq) {
        const auto seqs = seqs_in_file(options.file);  // on the writer thread, right after the commit
        std::lock_guard guard(mutex);
        in_file_when_told = stored_seq == 1 && seqs == std::vector<std::int64_t>{1};
        stored = true;
        told.notify_all();
    });
    CHECK(seq == 1);
    {
        std::lock_guard guard(mutex);
        CHECK_FALSE(stored);
    }
    CHECK(outbox.stats().pending == 1);
    CHECK(outbox.stats().queued == 0);
    CHECK(seqs_in_file(options.file).empty());
    CHECK(outbox.peek(0, 10).empty());  // not stored yet, so not to be sent yet

    std::unique_lock lock(mutex);
    REQUIRE(told.wait_for(lock, 5s, [&] { return stored; }));
    CHECK(in_file_when_told);
    lock.unlock();
    CHECK(outbox.stats().queued == 1);
    CHECK(outbox.stats().pending == 0);
    const auto messages = outbox.peek(0, 10);
    REQUIRE(messages.size() == 1);
    CHECK(messages[0].payload == reading(1));
}

TEST_CASE("the bridge's callback is told after each commit that stored messages, not after acknowledgements") {
    TempDir dir;
    Outbox outbox(options_in(dir));
    std::atomic<int> calls{0};
    outbox.set_on_stored([&] { ++calls; });
    add(outbox, "berrykit/pi/readings/t", "1");
    REQUIRE(outbox.flush());
    CHECK(calls == 1);
    outbox.acknowledge(1);
    REQUIRE(outbox.flush());
    CHECK(calls == 1);
    add(outbox, "berrykit/pi/readings/t", "2");
    REQUIRE(outbox.flush());
    CHECK(calls == 2);
    outbox.set_on_stored({});
    add(outbox, "berrykit/pi/readings/t", "3");
    REQUIRE(outbox.flush());
    CHECK(calls == 2);
}

TEST_CASE("an acknowledged message leaves the file, and an unknown seq changes nothing") {
    TempDir dir;
    OutboxOptions options = options_in(dir);
    options.batch_window = 60s;  // only flush commits here
    Outbox outbox(options);
    const std::string topic = "berrykit/pi/readings/light";
    for (int i = 0; i < 3; ++i) add(outbox, topic, "reading");
    REQUIRE(outbox.flush());
    const std::uint64_t one = topic.size() + 7 + Outbox::row_overhead_bytes;
    CHECK(outbox.stats().queued_bytes == 3 * one);

    outbox.acknowledge(2);
    // Not sent again even before the removal is committed.
    CHECK(seqs_of(outbox.peek(0, 10)) == std::vector<std::uint64_t>{1, 3});
    CHECK(seqs_in_file(options.file) == std::vector<std::int64_t>{1, 2, 3});
    REQUIRE(outbox.flush());
    CHECK(seqs_in_file(options.file) == std::vector<std::int64_t>{1, 3});
    CHECK(outbox.stats().queued == 2);
    CHECK(outbox.stats().queued_bytes == 2 * one);

    outbox.acknowledge(2);
    outbox.acknowledge(99);
    REQUIRE(outbox.flush());
    CHECK(seqs_in_file(options.file) == std::vector<std::int64_t>{1, 3});
    CHECK(outbox.stats().queued == 2);
    CHECK(outbox.stats().queued_bytes == 2 * one);
    CHECK(outbox.stats().next_seq == 4);
}

TEST_CASE("peek gives stored messages oldest first, after the given seq, at most max") {
    TempDir dir;
    Outbox outbox(options_in(dir));
    for (int i = 1; i <= 10; ++i) add(outbox, "berrykit/pi/readings/s" + std::to_string(i), "m" + std::to_string(i));
    REQUIRE(outbox.flush());

    const auto first = outbox.peek(0, 3);
    REQUIRE(seqs_of(first) == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(first[1].topic == "berrykit/pi/readings/s2");
    CHECK(first[1].payload == "m2");
    CHECK(seqs_of(outbox.peek(3, 100)) == std::vector<std::uint64_t>{4, 5, 6, 7, 8, 9, 10});
    CHECK(seqs_of(outbox.peek(8, 1)) == std::vector<std::uint64_t>{9});
    CHECK(outbox.peek(10, 5).empty());
    CHECK(outbox.peek(0, 0).empty());
    // Any bytes go through unchanged.
    const std::string binary("\0\xff\x01 not text", 12);
    const auto seq = add(outbox, "berrykit/pi/events/button", binary);
    REQUIRE(outbox.flush());
    REQUIRE(outbox.peek(seq - 1, 1).size() == 1);
    CHECK(outbox.peek(seq - 1, 1)[0].payload == binary);
}

TEST_CASE("5000 appends are committed in far fewer transactions than messages") {
    TempDir dir;
    OutboxOptions options = options_in(dir);
    options.batch_window = 10ms;
    Outbox outbox(options);
    std::atomic<int> stored{0};
    for (int i = 0; i < 5000; ++i) {
        outbox.append("berrykit/pi/readings/t", reading, [&](std::uint64_t) { ++stored; });
    }
    REQUIRE(outbox.flush());
    const OutboxStats stats = outbox.stats();
    CHECK(stats.queued == 5000);
    CHECK(stored == 5000);
    CHECK(stats.commits >= 1);
    CHECK(stats.commits <= 50);
    CHECK(seqs_in_file(options.file).size() == 5000);
}

TEST_CASE("the size cap drops the oldest messages, counts them, says so once, and the count survives a reopen") {
    TempDir dir;
    OutboxOptions options = options_in(dir);
    const std::string topic = "berrykit/pi/readings/t";
    const std::string payload(100, 'x');
    const std::uint64_t one = topic.size() + payload.size() + Outbox::row_overhead_bytes;
    options.max_bytes = 10 * one;
    options.batch_window = 60s;
    CapturedLog log;
    {
        Outbox outbox(options);
        for (int i = 0; i < 15; ++i) {  // one commit each: the oldest stored ones go
            add(outbox, topic, payload);
            REQUIRE(outbox.flush());
        }
        CHECK(outbox.stats().queued == 10);
        CHECK(outbox.stats().queued_bytes == 10 * one);
        CHECK(outbox.stats().dropped == 5);
        CHECK(seqs_in_file(options.file) == range(6, 15));

        // A burst bigger than the cap in one commit: its oldest never reach the file.
        std::atomic<int> stored{0};
        for (int i = 0; i < 25; ++i) add(outbox, topic, payload, [&](std::uint64_t) { ++stored; });
        REQUIRE(outbox.flush());
        CHECK(stored == 10);
        CHECK(outbox.stats().dropped == 5 + 10 + 15);
        CHECK(seqs_in_file(options.file) == range(31, 40));
    }
    const std::string said = log.text();
    CHECK(count_of(said, "raise outbox.max_bytes") == 1);
    {
        Outbox outbox(options);
        CHECK(outbox.stats().dropped == 30);
        CHECK(outbox.stats().queued == 10);
        CHECK(seqs_of(outbox.peek(0, 100)) == std::vector<std::uint64_t>{31, 32, 33, 34, 35, 36, 37, 38, 39, 40});
    }
}

TEST_CASE("a message bigger than the whole cap is refused with a clear error, and nothing changes") {
    TempDir dir;
    OutboxOptions options = options_in(dir);
    options.max_bytes = 1000;
    Outbox outbox(options);
    CHECK_THROWS_MATCHES(add(outbox, "berrykit/pi/readings/camera", std::string(2000, 'x')), Error,
                         IsError(ErrorCode::bad_value, {"berrykit/pi/readings/camera", "outbox.max_bytes", "1000"}));
    CHECK(outbox.stats().next_seq == 1);
    CHECK(outbox.stats().pending == 0);
    CHECK(add(outbox, "berrykit/pi/readings/t", "small") == 1);
    REQUIRE(outbox.flush());
    CHECK(outbox.stats().dropped == 0);
    // A payload that throws uses no seq either.
    CHECK_THROWS(outbox.append("t", [](std::uint64_t) -> std::string { throw std::runtime_error("no reading"); }));
    CHECK(add(outbox, "berrykit/pi/readings/t", "small") == 2);
}

TEST_CASE("a truncated outbox is moved aside, a fresh one starts, and numbering goes on after the old one") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    {
        Outbox outbox(options);
        for (int i = 0; i < 2000; ++i) outbox.append("berrykit/pi/readings/t", reading);
        REQUIRE(outbox.flush());
    }
    REQUIRE_FALSE(fs::exists(dir.path() / "outbox.sqlite-wal"));  // all of it in the one file
    const auto half = fs::file_size(options.file) / 2;
    fs::resize_file(options.file, half);

    CapturedLog log;
    {
        Outbox outbox(options);
        const OutboxStats stats = outbox.stats();
        CHECK(stats.moved_aside == 1);
        CHECK(stats.queued == 0);
        CHECK(stats.next_seq == 2001);
        CHECK(add(outbox, "berrykit/pi/readings/t", "after") == 2001);
        REQUIRE(outbox.flush());
    }
    const std::string said = log.text();
    const auto moved = moved_aside(dir.path(), "outbox.sqlite");
    REQUIRE(moved.size() == 1);
    CHECK(fs::file_size(moved[0]) == half);  // kept as it was, to report the problem
    CHECK_THAT(said, Catch::Contains("<4>outbox: the file " + options.file.string() + " was damaged"));
    CHECK_THAT(said, Catch::Contains("moved to " + moved[0].string()));
    CHECK_THAT(said, Catch::Contains("berrykitd carries on"));
    Outbox reopened(options);
    CHECK(reopened.stats().moved_aside == 0);
    CHECK(seqs_of(reopened.peek(0, 10)) == std::vector<std::uint64_t>{2001});
}

TEST_CASE("an outbox with a page overwritten by garbage fails SQLite's check and is moved aside") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    {
        Outbox outbox(options);
        for (int i = 0; i < 2000; ++i) outbox.append("berrykit/pi/readings/t", reading);
        REQUIRE(outbox.flush());
    }
    const auto size = fs::file_size(options.file);
    {
        // Page 20 of 4096 bytes, in the middle of the messages: the size stays right.
        std::fstream file(options.file, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(19 * 4096);
        const std::string garbage(4096, '\x5a');
        file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    }
    REQUIRE(fs::file_size(options.file) == size);
    CapturedLog log;
    Outbox outbox(options);
    CHECK(outbox.stats().moved_aside == 1);
    CHECK(outbox.stats().next_seq == 2001);
    CHECK_THAT(log.text(), Catch::Contains("quick_check found damage"));
}

TEST_CASE("a damaged outbox kept from a real run is recovered, and numbering goes on after it") {
    // tests/data/outbox/truncated-v1.sqlite: a version 1 outbox that had given seqs 1..300, cut
    // to half its size (see tests/data/outbox/README.md).
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    fs::copy_file(test_data / "truncated-v1.sqlite", options.file);
    CapturedLog log;
    Outbox outbox(options);
    CHECK(outbox.stats().moved_aside == 1);
    CHECK(outbox.stats().next_seq == 301);
    CHECK(moved_aside(dir.path(), "outbox.sqlite").size() == 1);
    CHECK(add(outbox, "berrykit/pi/readings/t", "after") == 301);
    REQUIRE(outbox.flush());
    CHECK(seqs_in_file(options.file) == std::vector<std::int64_t>{301});
}

TEST_CASE("a file that is not a database is moved aside, and numbering goes on from the clock") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    std::string garbage;
    for (int i = 0; i < 200; ++i) garbage += "this is not a database, it is a shopping list\n";
    dir.write("outbox.sqlite", garbage);
    const std::uint64_t before = unix_ms();

    CapturedLog log;
    Outbox outbox(options);
    const std::uint64_t after = unix_ms();
    const auto moved = moved_aside(dir.path(), "outbox.sqlite");
    REQUIRE(moved.size() == 1);
    CHECK(fs::file_size(moved[0]) == garbage.size());
    const std::uint64_t next = outbox.stats().next_seq;
    CHECK(next >= before);
    CHECK(next <= after);
    CHECK(add(outbox, "berrykit/pi/readings/t", "after") == next);
    REQUIRE(outbox.flush());
    CHECK(outbox.stats().queued == 1);
    const std::string said = log.text();
    CHECK_THAT(said, Catch::Contains("moved to " + moved[0].string()));
    CHECK_THAT(said, Catch::Contains("numbering goes on from the clock"));
}

TEST_CASE("an outbox in an unknown format version is moved aside with a message saying so") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    {
        Outbox outbox(options);
        for (int i = 0; i < 5; ++i) add(outbox, "berrykit/pi/readings/t", "x");
        REQUIRE(outbox.flush());
    }
    RawFile(options.file, SQLITE_OPEN_READWRITE).exec("PRAGMA user_version = 2");

    CapturedLog log;
    Outbox outbox(options);
    CHECK(outbox.stats().moved_aside == 1);
    CHECK(outbox.stats().queued == 0);
    CHECK(outbox.stats().next_seq == 6);
    const std::string said = log.text();
    CHECK_THAT(said, Catch::Contains("format version 2, and this berrykitd reads version 1"));
    CHECK(moved_aside(dir.path(), "outbox.sqlite").size() == 1);
}

TEST_CASE("another program's SQLite file is not taken for the outbox") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    RawFile(options.file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        .exec("CREATE TABLE marks (pupil TEXT, mark INTEGER); INSERT INTO marks VALUES ('Ada', 10)");
    CapturedLog log;
    Outbox outbox(options);
    CHECK(outbox.stats().moved_aside == 1);
    CHECK_THAT(log.text(), Catch::Contains("it is not a berrykit outbox"));
    const auto moved = moved_aside(dir.path(), "outbox.sqlite");
    REQUIRE(moved.size() == 1);
    CHECK(RawFile(moved[0]).numbers("SELECT mark FROM marks") == std::vector<std::int64_t>{10});
}

TEST_CASE("an outbox damaged while berrykitd runs is moved aside, and berrykitd carries on") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    CapturedLog log;
    Outbox outbox(options);
    for (int i = 0; i < 3; ++i) add(outbox, "berrykit/pi/readings/t", "before");
    REQUIRE(outbox.flush());
    {
        // The table of messages now points at a page the file does not have.
        RawFile raw(options.file, SQLITE_OPEN_READWRITE);
        const auto version = raw.numbers("PRAGMA schema_version").at(0);
        raw.exec(
            "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET rootpage = 9999 WHERE name = 'messages';"
            "PRAGMA schema_version = " +
            std::to_string(version + 1));
    }
    std::atomic<bool> stored{false};
    CHECK(add(outbox, "berrykit/pi/readings/t", "after", [&](std::uint64_t) { stored = true; }) == 4);
    REQUIRE(outbox.flush());
    CHECK(stored);
    const OutboxStats stats = outbox.stats();
    CHECK(stats.moved_aside == 1);
    CHECK(stats.queued == 1);
    CHECK(stats.last_error.empty());
    CHECK(seqs_of(outbox.peek(0, 10)) == std::vector<std::uint64_t>{4});
    CHECK(add(outbox, "berrykit/pi/readings/t", "later") == 5);
    REQUIRE(outbox.flush());
    CHECK(seqs_in_file(options.file) == std::vector<std::int64_t>{4, 5});
    CHECK(moved_aside(dir.path(), "outbox.sqlite").size() == 1);
    CHECK_THAT(log.text(), Catch::Contains("was damaged"));
}

TEST_CASE("damage that peek meets has the writer check the file and move it aside") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    CapturedLog log;
    Outbox outbox(options);
    for (int i = 0; i < 3; ++i) add(outbox, "berrykit/pi/readings/t", "before");
    REQUIRE(outbox.flush());
    {
        RawFile raw(options.file, SQLITE_OPEN_READWRITE);
        const auto version = raw.numbers("PRAGMA schema_version").at(0);
        raw.exec(
            "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET rootpage = 9999 WHERE name = 'messages';"
            "PRAGMA schema_version = " +
            std::to_string(version + 1));
    }
    CHECK(outbox.peek(0, 10).empty());
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (outbox.stats().moved_aside == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(5ms);
    }
    CHECK(outbox.stats().moved_aside == 1);
    CHECK(add(outbox, "berrykit/pi/readings/t", "after") == 4);
    REQUIRE(outbox.flush());
    CHECK(seqs_of(outbox.peek(0, 10)) == std::vector<std::uint64_t>{4});
    const std::string said = log.text();
    CHECK(count_of(said, "<3>outbox: cannot read the waiting readings") == 1);
    CHECK_THAT(said, Catch::Contains("was damaged"));
}

TEST_CASE("the destructor commits what is still waiting, without waiting for the batch window") {
    TempDir dir;
    OutboxOptions options = options_in(dir);
    options.batch_window = 60s;
    std::atomic<int> stored{0};
    const auto start = std::chrono::steady_clock::now();
    {
        Outbox outbox(options);
        for (int i = 0; i < 3; ++i) add(outbox, "berrykit/pi/readings/t", "x", [&](std::uint64_t) { ++stored; });
        CHECK(outbox.stats().pending == 3);
    }
    CHECK(std::chrono::steady_clock::now() - start < 30s);
    CHECK(stored == 3);
    CHECK(seqs_in_file(options.file) == std::vector<std::int64_t>{1, 2, 3});
    Outbox reopened(options);
    CHECK(reopened.stats().next_seq == 4);
}

TEST_CASE("four threads appending at once lose nothing and repeat nothing") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    constexpr int per_thread = 1500;
    Outbox outbox(options);
    std::atomic<int> stored{0};
    std::array<std::vector<std::uint64_t>, 4> given;
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < given.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                given[t].push_back(add(outbox, "berrykit/pi/readings/t" + std::to_string(t), reading(0),
                                       [&](std::uint64_t) { ++stored; }));
            }
        });
    }
    for (auto& thread : threads) thread.join();
    REQUIRE(outbox.flush());

    std::set<std::uint64_t> all;
    for (const auto& seqs : given) {
        CHECK(std::is_sorted(seqs.begin(), seqs.end()));
        all.insert(seqs.begin(), seqs.end());
    }
    constexpr int total = 4 * per_thread;
    CHECK(all.size() == total);
    CHECK(*all.begin() == 1);
    CHECK(*all.rbegin() == total);
    CHECK(stored == total);
    CHECK(outbox.stats().queued == total);
    CHECK(seqs_in_file(options.file) == range(1, total));
}

TEST_CASE("a folder berrykitd may not write gives an error that names it and says what to do") {
    TempDir dir;
    const fs::path folder = dir.path() / "closed";
    fs::create_directory(folder);
    // Root writes anywhere, so the check runs as an ordinary user in a child process.
    fs::permissions(dir.path(), fs::perms::others_exec, fs::perm_options::add);
    fs::permissions(folder,
                    fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read | fs::perms::others_exec);
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(pipe_fds[0]);
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
        std::string said = "(no error)";
        try {
            OutboxOptions options;
            options.file = folder / "outbox.sqlite";
            Outbox outbox(options);
        } catch (const Error& e) {
            said = to_string(e.code()) + std::string(" ") + e.what();
        }
        const auto written = ::write(pipe_fds[1], said.data(), said.size());
        ::_exit(written == static_cast<ssize_t>(said.size()) ? 0 : 4);
    }
    ::close(pipe_fds[1]);
    std::string said;
    std::array<char, 1024> buffer{};
    for (ssize_t got; (got = ::read(pipe_fds[0], buffer.data(), buffer.size())) > 0;) {
        said.append(buffer.data(), static_cast<std::size_t>(got));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_THAT(said, Catch::StartsWith("bad_value "));
    CHECK_THAT(said, Catch::Contains((folder / "outbox.sqlite").string()));
    CHECK_THAT(said, Catch::Contains("permission denied"));
    CHECK_THAT(said, Catch::Contains("sudo chown -R berrykit: " + folder.string()));
    CHECK_THAT(said, Catch::Contains("outbox.file"));
}

TEST_CASE("a folder that does not exist gives an error that says to make it") {
    TempDir dir;
    OutboxOptions options;
    options.file = dir.path() / "nowhere" / "outbox.sqlite";
    const std::string folder = (dir.path() / "nowhere").string();
    CHECK_THROWS_MATCHES(Outbox(options), Error,
                         IsError(ErrorCode::bad_value,
                                 {"the folder " + folder, "does not exist", "sudo mkdir -p " + folder, "outbox.file"}));
    CHECK_FALSE(fs::exists(dir.path() / "nowhere"));
}

TEST_CASE("when the disk refuses writes, readings wait in memory and are saved once it takes them again") {
    TempDir dir;
    const OutboxOptions options = options_in(dir);
    CapturedLog log;
    Outbox outbox(options);
    add(outbox, "berrykit/pi/readings/t", "first");
    REQUIRE(outbox.flush());

    std::atomic<int> stored{0};
    FileSizeLimit full(1);  // every write into a file past its first byte fails
    for (int i = 0; i < 5; ++i) add(outbox, "berrykit/pi/readings/t", reading(0), [&](std::uint64_t) { ++stored; });
    CHECK_FALSE(outbox.flush());         // rather than waiting for ever
    std::this_thread::sleep_for(200ms);  // a few more tries
    OutboxStats stats = outbox.stats();
    CHECK_THAT(stats.last_error, Catch::Contains(options.file.string()));
    CHECK(stats.pending == 5);
    CHECK(stats.queued == 1);
    CHECK(stored == 0);
    outbox.acknowledge(1);  // acknowledgements wait too
    CHECK(seqs_of(outbox.peek(0, 10)).empty());

    full.lift();
    REQUIRE(outbox.flush());
    stats = outbox.stats();
    CHECK(stats.last_error.empty());
    CHECK(stats.pending == 0);
    CHECK(stats.queued == 5);
    CHECK(stored == 5);
    CHECK(seqs_in_file(options.file) == range(2, 6));
    const std::string said = log.text();
    CHECK(count_of(said, "<3>outbox: readings cannot be saved") == 1);
    CHECK_THAT(said, Catch::Contains("5 readings wait in memory"));
    CHECK_THAT(said, Catch::Contains("readings are saved to " + options.file.string() + " again"));
}

TEST_CASE("when the disk stays full, the oldest readings waiting in memory are dropped and counted") {
    TempDir dir;
    OutboxOptions options = options_in(dir);
    const std::string topic = "berrykit/pi/readings/t";
    const std::string payload(100, 'x');
    const std::uint64_t one = topic.size() + payload.size() + Outbox::row_overhead_bytes;
    options.max_pending_bytes = 4 * one;
    CapturedLog log;
    {
        Outbox outbox(options);
        FileSizeLimit full(1);
        for (int i = 0; i < 10; ++i) add(outbox, topic, payload);
        CHECK_FALSE(outbox.flush());
        CHECK(outbox.stats().pending == 4);
        CHECK(outbox.stats().dropped == 6);
        full.lift();
        REQUIRE(outbox.flush());
        CHECK(seqs_in_file(options.file) == range(7, 10));
    }
    Outbox reopened(options);
    CHECK(reopened.stats().dropped == 6);
    CHECK(reopened.stats().next_seq == 11);
    CHECK_THAT(log.text(),
               Catch::Contains("waiting in memory for the disk are over " + std::to_string(4 * one) + " bytes"));
}
