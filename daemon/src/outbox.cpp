#include "berrykit/daemon/outbox.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <utility>

#include "berrykit/daemon/log.hpp"
#include "berrykit/error.hpp"

namespace berrykit::daemon {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int schema_version = 1;
constexpr int application_id = 0x426b4f78;  // "BkOx": this SQLite file is berrykit's outbox

// The bytes a message counts against max_bytes, as SQL over a row of `messages`.
constexpr const char* row_bytes_sql = "length(CAST(topic AS BLOB)) + length(payload)";

// A failed SQLite call: what we were doing, its extended result code, SQLite's words and the
// errno behind it.
class SqliteError : public std::runtime_error {
public:
    SqliteError(sqlite3* db, int code, const std::string& doing, int errno_now = errno)
        : std::runtime_error(doing + ": " + words(db, code)),
          code_(code),
          system_errno_(system_errno(db, code, errno_now)),
          words_(words(db, code)) {}
    int code() const noexcept { return code_; }
    int system_errno() const noexcept { return system_errno_; }
    // SQLite's words alone ("disk I/O error"), without the SQL.
    const std::string& words() const noexcept { return words_; }
    bool corrupt() const noexcept { return (code_ & 0xff) == SQLITE_CORRUPT || (code_ & 0xff) == SQLITE_NOTADB; }

private:
    // SQLite keeps the errno of some failures only (not of a failed write), but errno itself
    // still holds it when the call returns.
    static int system_errno(sqlite3* db, int code, int errno_now) {
        const int kept = db ? sqlite3_system_errno(db) : 0;
        if (kept != 0) return kept;
        const int primary = code & 0xff;
        return primary == SQLITE_IOERR || primary == SQLITE_FULL || primary == SQLITE_CANTOPEN ? errno_now : 0;
    }
    static std::string words(sqlite3* db, int code) {
        return db && sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    }
    int code_;
    int system_errno_;
    std::string words_;
};

// The file is there and readable, but is not a healthy outbox of ours: `what()` says why.
class Damaged : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct CloseDb {
    void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;

struct FinalizeStatement {
    void operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

// Resets a statement when a use of it ends, so it holds no read transaction open (which would stop
// checkpoints) and can be stepped again.
class Use {
public:
    explicit Use(sqlite3_stmt* statement) : statement_(statement) {}
    ~Use() {
        sqlite3_reset(statement_);
        sqlite3_clear_bindings(statement_);
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

private:
    sqlite3_stmt* statement_;
};

Db open_db(const fs::path& file, int flags) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(file.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    Db db(raw);
    if (rc != SQLITE_OK) throw SqliteError(raw, rc, "opening " + file.string());
    sqlite3_extended_result_codes(raw, 1);
    // Only a person inspecting the file with the sqlite3 tool takes a lock for long.
    sqlite3_busy_timeout(raw, 2000);
    return db;
}

void exec(sqlite3* db, const std::string& sql) {
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) throw SqliteError(db, sqlite3_extended_errcode(db), sql);
}

Statement prepare(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    Statement statement(raw);
    if (rc != SQLITE_OK) throw SqliteError(db, rc, sql);
    return statement;
}

// Steps `statement`: true for a row, false when it is done.
bool step(sqlite3* db, sqlite3_stmt* statement) {
    const int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SqliteError(db, rc, sqlite3_sql(statement));
}

void bind(sqlite3* db, sqlite3_stmt* statement, int index, std::uint64_t value) {
    const auto clamped = static_cast<sqlite3_int64>(std::min<std::uint64_t>(value, INT64_MAX));
    const int rc = sqlite3_bind_int64(statement, index, clamped);
    if (rc != SQLITE_OK) throw SqliteError(db, rc, sqlite3_sql(statement));
}

void bind(sqlite3* db, sqlite3_stmt* statement, int index, const std::string& value, bool blob) {
    const int rc = blob ? sqlite3_bind_blob64(statement, index, value.data(), value.size(), SQLITE_STATIC)
                        : sqlite3_bind_text64(statement, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8);
    if (rc != SQLITE_OK) throw SqliteError(db, rc, sqlite3_sql(statement));
}

// The first column of the first row of `sql` (0 when there is no row or it is NULL).
std::int64_t query_int(sqlite3* db, const std::string& sql) {
    const Statement statement = prepare(db, sql);
    return step(db, statement.get()) ? sqlite3_column_int64(statement.get(), 0) : 0;
}

std::uint64_t column_u64(sqlite3_stmt* statement, int column) {
    return static_cast<std::uint64_t>(std::max<sqlite3_int64>(0, sqlite3_column_int64(statement, column)));
}

std::string column_bytes(sqlite3_stmt* statement, int column) {
    const void* data = sqlite3_column_blob(statement, column);
    const int size = sqlite3_column_bytes(statement, column);
    return data ? std::string(static_cast<const char*>(data), static_cast<std::size_t>(size)) : std::string();
}

// Makes a rename or a new file in `folder` survive a power cut.
void sync_folder(const fs::path& folder) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

std::string utc_stamp() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
    return text;
}

std::uint64_t unix_milliseconds() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

fs::path with_suffix(const fs::path& file, const char* suffix) { return fs::path(file.string() + suffix); }

std::string folder_of(const fs::path& file) {
    const fs::path folder = file.parent_path();
    return folder.empty() ? std::string(".") : folder.string();
}

// "1 reading", "2 readings".
std::string readings_text(std::uint64_t count) {
    return std::to_string(count) + (count == 1 ? " reading" : " readings");
}

std::string size_text(std::uint64_t bytes) {
    if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + " MiB";
    if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + " KiB";
    return std::to_string(bytes) + " bytes";
}

// What a person can do about a disk error on the outbox `file`, in words: the cause and the fix.
std::string explain_disk_error(const fs::path& file, int sqlite_code, int system_errno, const std::string& detail) {
    const std::string folder = folder_of(file);
    const int primary = sqlite_code & 0xff;
    if (primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY) {
        // SQLite's last errno is often of its fallback (a read-only open of a file that is not
        // there: ENOENT), not of the open that mattered, so ask the folder and the file directly.
        if (::access(folder.c_str(), W_OK | X_OK) != 0 ||
            (::access(file.c_str(), F_OK) == 0 && ::access(file.c_str(), W_OK) != 0)) {
            system_errno = errno;
        }
    }
    if (system_errno == ENOSPC || primary == SQLITE_FULL) {
        return "the disk that holds " + file.string() +
               " is full: free some space on it (old files in /var/log, downloads), or set outbox.file in "
               "berrykitd's config to a disk with room";
    }
    if (system_errno == EROFS) {
        return "the disk that holds " + file.string() +
               " is read-only (is the SD card write-protected, or did Linux make it read-only after an error? "
               "`dmesg` says): make it writable, or set outbox.file in berrykitd's config to a writable disk";
    }
    if (system_errno == EACCES || system_errno == EPERM || primary == SQLITE_READONLY) {
        return "berrykitd may not write its outbox " + file.string() +
               " (permission denied): let the user berrykitd runs as write to the folder " + folder +
               " and the files in it (for example `sudo chown -R berrykit: " + folder +
               "`), or set outbox.file in berrykitd's config to a file in a folder it may write";
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
        return "another program is writing to berrykitd's outbox " + file.string() +
               " (the sqlite3 tool?): close it, so berrykitd can save readings again";
    }
    std::string errno_text = system_errno ? std::string(" (") + std::strerror(system_errno) + ")" : std::string();
    return "berrykitd could not use its outbox " + file.string() + ": " + detail + errno_text +
           ". Check that the folder " + folder + " is writable and the disk is working";
}

struct Pending {
    std::uint64_t seq = 0;
    std::string topic;
    std::string payload;
    std::function<void(std::uint64_t)> on_stored;
    std::uint64_t bytes = 0;
};

// What the writer takes from the queues for one transaction.
struct Batch {
    std::deque<Pending> messages;
    std::vector<std::uint64_t> acks;
    std::uint64_t dropped_unsaved = 0;  // dropped from memory since the last commit: added to the file's counter
    std::uint64_t next_seq = 0;         // the counter to keep in the file
    std::uint64_t last_ticket = 0;      // every append/acknowledge up to this one is in the batch
    std::uint64_t attempt = 0;
    bool empty() const noexcept { return messages.empty() && acks.empty() && dropped_unsaved == 0; }
};

// What a committed batch did.
struct Outcome {
    std::size_t skipped = 0;              // oldest messages of the batch that the cap kept out of the file
    std::uint64_t dropped_from_file = 0;  // stored messages the cap removed
};

}  // namespace

struct Outbox::Impl {
    OutboxOptions options;

    // The writer thread's own (and the constructor's and destructor's, when it is not running).
    Db db;
    Statement insert_message, bytes_of, delete_message, oldest_messages, delete_up_to, set_meta;
    std::uint64_t file_next_seq = 1;  // the counters as the file holds them
    std::uint64_t file_dropped = 0;
    std::uint64_t file_queued = 0;
    std::uint64_t file_queued_bytes = 0;
    bool synchronous_full = true;

    // peek's connection. A connection of its own, because in WAL mode a reader sees the last
    // commit without waiting for the writer: the MQTT bridge's peek never sits behind an fsync
    // that can take tens of milliseconds on an SD card.
    std::mutex read_mutex;
    Db read_db;
    Statement peek_messages;
    bool peek_failing = false;

    // Shared with the callers, under `mutex`.
    mutable std::mutex mutex;
    std::condition_variable writer_wake;
    std::condition_variable committed;
    std::deque<Pending> appends;
    std::vector<std::uint64_t> acks;
    std::unordered_set<std::uint64_t> acked_unsaved;  // acknowledged, removal not committed yet
    std::uint64_t pending_bytes = 0;                  // of `appends`
    std::uint64_t in_flight = 0;                      // messages in the batch being committed
    std::uint64_t dropped_unsaved = 0;                // dropped from memory, not yet counted in the file
    std::uint64_t next_seq = 1;
    std::uint64_t issued = 0;            // tickets: one per append and acknowledge
    std::uint64_t committed_ticket = 0;  // every ticket up to this one is committed (or dropped)
    std::uint64_t attempts = 0;
    std::uint64_t last_failed_attempt = 0;
    Clock::time_point batch_started;
    std::optional<Clock::time_point> retry_at;
    bool urgent = false;  // flush or stop: no batch window, no retry wait
    bool stopping = false;
    bool writer_done = false;
    bool recheck_requested = false;  // peek met damage: the writer checks the file
    bool drop_burst = false;
    std::uint64_t drop_burst_count = 0;
    std::function<void()> on_stored_all;
    OutboxStats shown;  // queued, queued_bytes, dropped, commits, moved_aside, last_error
    std::thread writer;

    explicit Impl(OutboxOptions opts) : options(std::move(opts)) {}

    // --- Opening ----------------------------------------------------------------------------

    // Opens the outbox file, moving a damaged one aside. `known_next_seq` is the counter in memory
    // (when the writer reopens after damage); with none, it comes from the file.
    void open_file(std::optional<std::uint64_t> known_next_seq) try {
        try {
            try {
                load(known_next_seq);
            } catch (const SqliteError& e) {
                if (!e.corrupt()) throw;
                throw Damaged("SQLite says: " + e.words());
            }
        } catch (const Damaged& damage) {
            close_connections(/*checkpoint=*/false);
            const fs::path moved = move_aside(damage.what());
            std::uint64_t next = 1;
            std::string numbering;
            if (known_next_seq) {
                next = *known_next_seq;
            } else if (const auto salvaged = next_seq_in(moved)) {
                next = std::max<std::uint64_t>(*salvaged, 1);
                numbering = "numbering goes on from " + std::to_string(next) + ", after the damaged file's";
            } else {
                next = unix_milliseconds();
                numbering = "the damaged file's numbering could not be read, so numbering goes on from the clock (" +
                            std::to_string(next) + "), above any number it had given";
            }
            create(next, file_dropped);
            load(next);
            if (!numbering.empty()) log_info("outbox: " + numbering);
        }
    } catch (...) {
        // Half-opened: the writer opens it again from the start on its next try.
        close_connections(/*checkpoint=*/false);
        throw;
    }

    void load(std::optional<std::uint64_t> known_next_seq) {
        db = open_db(options.file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        if (sqlite3_db_readonly(db.get(), "main") == 1) {
            throw SqliteError(db.get(), SQLITE_READONLY, "opening " + options.file.string());
        }
        const auto version = query_int(db.get(), "PRAGMA user_version");
        const auto app = query_int(db.get(), "PRAGMA application_id");
        const auto objects = query_int(db.get(), "SELECT count(*) FROM sqlite_schema");
        if (version == 0 && app == 0 && objects == 0) {
            db.reset();
            create(known_next_seq.value_or(1), file_dropped);
            db = open_db(options.file, SQLITE_OPEN_READWRITE);
        } else {
            if (app != application_id) {
                throw Damaged("it is not a berrykit outbox (a SQLite file of another program, application_id " +
                              std::to_string(app) + ")");
            }
            if (version != schema_version) {
                throw Damaged("it is in format version " + std::to_string(version) + ", and this berrykitd reads " +
                              "version " + std::to_string(schema_version) + " (was it written by a newer berrykitd?)");
            }
            const Statement check = prepare(db.get(), "PRAGMA quick_check");
            if (step(db.get(), check.get())) {
                const std::string verdict = column_bytes(check.get(), 0);
                if (verdict != "ok") throw Damaged("SQLite's quick_check found damage: " + verdict);
            }
            if (query_int(db.get(), "SELECT count(*) FROM sqlite_schema WHERE name IN ('messages', 'meta')") != 2) {
                throw Damaged("its tables are missing");
            }
        }
        configure_writer();
        file_next_seq =
            static_cast<std::uint64_t>(query_int(db.get(), "SELECT value FROM meta WHERE name = 'next_seq'"));
        file_dropped = static_cast<std::uint64_t>(query_int(db.get(), "SELECT value FROM meta WHERE name = 'dropped'"));
        const auto highest = static_cast<std::uint64_t>(query_int(db.get(), "SELECT max(seq) FROM messages"));
        file_next_seq = std::max({file_next_seq, highest + 1, known_next_seq.value_or(1)});
        {
            const Statement totals = prepare(
                db.get(), std::string("SELECT count(*), coalesce(sum(") + row_bytes_sql + "), 0) FROM messages");
            step(db.get(), totals.get());
            file_queued = column_u64(totals.get(), 0);
            file_queued_bytes = column_u64(totals.get(), 1) + file_queued * row_overhead_bytes;
        }
        insert_message = prepare(db.get(), "INSERT INTO messages (seq, topic, payload) VALUES (?, ?, ?)");
        bytes_of = prepare(db.get(), std::string("SELECT ") + row_bytes_sql + " FROM messages WHERE seq = ?");
        delete_message = prepare(db.get(), "DELETE FROM messages WHERE seq = ?");
        oldest_messages =
            prepare(db.get(), std::string("SELECT seq, ") + row_bytes_sql + " FROM messages ORDER BY seq");
        delete_up_to = prepare(db.get(), "DELETE FROM messages WHERE seq <= ?");
        set_meta = prepare(db.get(), "UPDATE meta SET value = ? WHERE name = ?");

        Db reader = open_db(options.file, SQLITE_OPEN_READWRITE);
        exec(reader.get(), "PRAGMA query_only = ON; PRAGMA cache_size = -512");
        sqlite3_db_config(reader.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
        Statement peek =
            prepare(reader.get(), "SELECT seq, topic, payload FROM messages WHERE seq > ? ORDER BY seq LIMIT ?");
        std::lock_guard guard(read_mutex);
        read_db = std::move(reader);
        peek_messages = std::move(peek);
    }

    void configure_writer() {
        // WAL: a commit appends to one file and fsyncs it once, and peek reads while it writes.
        // synchronous=FULL: a commit is on the disk when COMMIT returns (a commit of
        // acknowledgements alone lowers it to NORMAL: see commit()). secure_delete off: sent
        // readings are not secrets, and zeroing them would double the writes to the SD card.
        // journal_size_limit: after a checkpoint the WAL shrinks back to 4 MiB. cache_size: 1 MiB,
        // for the Pi Zero's memory.
        const Statement mode = prepare(db.get(), "PRAGMA journal_mode = WAL");
        if (!step(db.get(), mode.get()) || column_bytes(mode.get(), 0) != "wal") {
            throw SqliteError(db.get(), SQLITE_CANTOPEN, "switching " + options.file.string() + " to WAL mode");
        }
        exec(db.get(),
             "PRAGMA synchronous = FULL; PRAGMA secure_delete = OFF; PRAGMA journal_size_limit = 4194304;"
             "PRAGMA cache_size = -1024");
        synchronous_full = true;
    }

    // Makes the empty schema, counting on from `next` and `dropped`, in the ordinary rollback
    // journal mode, so the main file holds it at once (not only the WAL).
    void create(std::uint64_t next, std::uint64_t dropped) {
        Db fresh = open_db(options.file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        // auto_vacuum (set before any table): the file gives back the space of sent readings
        // after a long outage (see vacuum_if_worth_it).
        exec(fresh.get(),
             "PRAGMA synchronous = FULL; PRAGMA auto_vacuum = INCREMENTAL; BEGIN IMMEDIATE;"
             "CREATE TABLE messages (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL);"
             "CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
             "INSERT INTO meta (name, value) VALUES ('next_seq', " +
                 std::to_string(next) + "), ('dropped', " + std::to_string(dropped) +
                 ");"
                 "PRAGMA application_id = " +
                 std::to_string(application_id) + "; PRAGMA user_version = " + std::to_string(schema_version) +
                 "; COMMIT");
        fresh.reset();
        sync_folder(folder_of(options.file));
    }

    void close_connections(bool checkpoint) {
        {
            std::lock_guard guard(read_mutex);
            peek_messages.reset();
            read_db.reset();
        }
        insert_message.reset();
        bytes_of.reset();
        delete_message.reset();
        oldest_messages.reset();
        delete_up_to.reset();
        set_meta.reset();
        // A damaged file is left as it is: no checkpoint copies the WAL into it on close.
        if (db && !checkpoint) sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
        db.reset();
    }

    // Renames the file and its -wal and -shm to "<file>.corrupt-<stamp>…"; returns the new name.
    fs::path move_aside(const std::string& reason) {
        const std::string base = options.file.string() + ".corrupt-" + utc_stamp();
        fs::path target = base;
        std::error_code ignored;
        for (int n = 2; fs::exists(target, ignored) || fs::exists(with_suffix(target, "-wal"), ignored); ++n) {
            target = base + "-" + std::to_string(n);
        }
        std::error_code error;
        fs::rename(options.file, target, error);
        if (error && error != std::errc::no_such_file_or_directory) {
            throw Error(ErrorCode::bad_value, "the outbox " + options.file.string() + " is damaged (" + reason +
                                                  "), and berrykitd could not move it aside to " + target.string() +
                                                  " (" + error.message() +
                                                  "): move or delete it yourself, then start berrykitd again");
        }
        for (const char* companion : {"-wal", "-shm"}) {
            const fs::path from = with_suffix(options.file, companion);
            if (fs::exists(from, ignored)) fs::rename(from, with_suffix(target, companion), ignored);
        }
        sync_folder(folder_of(options.file));
        log_warning("outbox: the file " + options.file.string() + " was damaged (" + reason + "), so it was moved to " +
                    target.string() +
                    " and a fresh outbox started; readings that were waiting in it will not be sent. berrykitd "
                    "carries on. Keep the moved file to report the problem, or delete it");
        {
            std::lock_guard guard(mutex);
            ++shown.moved_aside;
        }
        return target;
    }

    // The next seq a damaged outbox would have given, if its counter can still be read.
    static std::optional<std::uint64_t> next_seq_in(const fs::path& moved) {
        try {
            Db old = open_db(moved, SQLITE_OPEN_READONLY);
            sqlite3_db_config(old.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
            // Without it SQLite refuses a file shorter than its header says (a truncated one)
            // before reading anything; the pages that are still there can be read. Only read here.
            exec(old.get(), "PRAGMA writable_schema = ON");
            // The counter is written in the same transaction as the rows, so it is the one to
            // trust: the highest row left in a truncated file may be below the highest ever given.
            const Statement counter = prepare(old.get(), "SELECT value FROM meta WHERE name = 'next_seq'");
            if (!step(old.get(), counter.get())) return std::nullopt;
            std::uint64_t next = column_u64(counter.get(), 0);
            try {
                next = std::max(next,
                                static_cast<std::uint64_t>(query_int(old.get(), "SELECT max(seq) FROM messages")) + 1);
            } catch (const SqliteError&) {
                // The rows are damaged, the counter was not.
            }
            return next;
        } catch (const SqliteError&) {
            return std::nullopt;
        }
    }

    // --- The writer ---------------------------------------------------------------------------

    bool has_work_locked() const { return !appends.empty() || !acks.empty() || dropped_unsaved > 0; }

    std::uint64_t pending_limit() const { return std::min(options.max_bytes, options.max_pending_bytes); }

    // Drops the oldest messages waiting in memory while they are over the limit (the newest stays:
    // append already made sure one message fits).
    void trim_pending_locked() {
        std::uint64_t dropped = 0;
        while (pending_bytes > pending_limit() && appends.size() > 1) {
            pending_bytes -= appends.front().bytes;
            appends.pop_front();
            ++dropped;
        }
        if (dropped == 0) return;
        dropped_unsaved += dropped;
        shown.dropped += dropped;
        note_dropped_locked(dropped, "readings waiting in memory for the disk are over " + size_text(pending_limit()),
                            "the disk is not taking them (see the error above), or they come faster than it can "
                            "write them: mend the disk, or send fewer readings");
    }

    // Logs the first drop of a burst; the end of the burst (finish) says how many in all.
    void note_dropped_locked(std::uint64_t count, const std::string& why, const std::string& what_to_do) {
        if (!drop_burst) {
            drop_burst = true;
            drop_burst_count = 0;
            log_warning("outbox: " + why + ", so the oldest are being dropped to make room for new ones (" +
                        std::to_string(count) + " so far; berrykitd will say how many in all). " + what_to_do);
        }
        drop_burst_count += count;
    }

    Batch take_batch_locked() {
        Batch batch;
        batch.messages.swap(appends);
        batch.acks.swap(acks);
        batch.dropped_unsaved = std::exchange(dropped_unsaved, 0);
        batch.next_seq = next_seq;
        batch.last_ticket = issued;
        batch.attempt = ++attempts;
        in_flight = batch.messages.size();
        pending_bytes = 0;
        urgent = false;
        return batch;
    }

    void run() {
        std::unique_lock lock(mutex);
        for (;;) {
            writer_wake.wait(lock, [&] { return stopping || urgent || recheck_requested || has_work_locked(); });
            if (!has_work_locked() && !recheck_requested) {
                if (stopping) break;
                urgent = false;
                continue;
            }
            if (retry_at && !stopping && !urgent) {
                writer_wake.wait_until(lock, *retry_at, [&] { return stopping || urgent; });
            } else if (!retry_at && !stopping && !urgent && appends.size() < options.batch_max) {
                writer_wake.wait_until(lock, batch_started + options.batch_window,
                                       [&] { return stopping || urgent || appends.size() >= options.batch_max; });
            }
            const bool final_attempt = stopping;
            const bool recheck = std::exchange(recheck_requested, false);
            Batch batch = take_batch_locked();
            lock.unlock();

            std::string error;
            Outcome outcome;
            try {
                if (recheck) recheck_file();
                if (!batch.empty()) outcome = commit_or_recover(batch);
            } catch (const SqliteError& e) {
                error = explain_disk_error(options.file, e.code(), e.system_errno(), e.words());
            } catch (const Error& e) {
                error = e.what();
            } catch (const std::exception& e) {
                error = explain_disk_error(options.file, 0, 0, e.what());
            }

            if (error.empty() && !batch.empty()) {
                finish(lock, batch, outcome);
            } else if (error.empty()) {
                lock.lock();
                committed_ticket = std::max(committed_ticket, batch.last_ticket);
            } else {
                lock.lock();
                fail_locked(batch, error);
            }
            if (final_attempt && (!error.empty() || !has_work_locked())) break;
        }
        writer_done = true;
        committed.notify_all();
    }

    // After a commit: the counters, the callbacks, then flush's waiters.
    void finish(std::unique_lock<std::mutex>& lock, Batch& batch, const Outcome& outcome) {
        const std::size_t stored = batch.messages.size() - outcome.skipped;
        std::function<void()> notify_all;
        lock.lock();
        shown.queued = file_queued;
        shown.queued_bytes = file_queued_bytes;
        shown.dropped += outcome.dropped_from_file + outcome.skipped;
        ++shown.commits;
        in_flight = 0;
        retry_at.reset();
        for (const std::uint64_t seq : batch.acks) acked_unsaved.erase(seq);
        if (!shown.last_error.empty()) {
            shown.last_error.clear();
            log_info("outbox: readings are saved to " + options.file.string() + " again");
        }
        const std::uint64_t dropped_now = outcome.dropped_from_file + outcome.skipped;
        if (dropped_now > 0) {
            note_dropped_locked(dropped_now,
                                "the outbox is full (outbox.max_bytes is " + size_text(options.max_bytes) +
                                    ", and the cloud has not taken the readings yet)",
                                "To keep more while the cloud cannot be reached, raise outbox.max_bytes in "
                                "berrykitd's config");
        } else if (drop_burst && stored > 0 && pending_bytes <= pending_limit()) {
            drop_burst = false;
            log_warning("outbox: there is room again; the oldest " + readings_text(drop_burst_count) +
                        " had to be dropped while it was full (" + std::to_string(shown.dropped) +
                        " in all since this outbox was made)");
        }
        if (stored > 0) notify_all = on_stored_all;
        lock.unlock();

        for (std::size_t i = outcome.skipped; i < batch.messages.size(); ++i) {
            Pending& message = batch.messages[i];
            if (!message.on_stored) continue;
            try {
                message.on_stored(message.seq);
            } catch (const std::exception& e) {
                log_error(std::string("outbox: an on_stored callback failed: ") + e.what());
            }
        }
        if (notify_all) {
            try {
                notify_all();
            } catch (const std::exception& e) {
                log_error(std::string("outbox: the on_stored callback failed: ") + e.what());
            }
        }

        lock.lock();
        committed_ticket = std::max(committed_ticket, batch.last_ticket);
        committed.notify_all();
    }

    // After a failed commit: everything goes back in front of the queues, to be tried again.
    void fail_locked(Batch& batch, const std::string& error) {
        std::uint64_t bytes = 0;
        for (const Pending& message : batch.messages) bytes += message.bytes;
        appends.insert(appends.begin(), std::make_move_iterator(batch.messages.begin()),
                       std::make_move_iterator(batch.messages.end()));
        acks.insert(acks.begin(), batch.acks.begin(), batch.acks.end());
        pending_bytes += bytes;
        dropped_unsaved += batch.dropped_unsaved;
        in_flight = 0;
        trim_pending_locked();
        if (shown.last_error.empty()) {
            log_error("outbox: readings cannot be saved: " + error + ". " + readings_text(appends.size()) +
                      (appends.size() == 1 ? " waits" : " wait") + " in memory (up to " + size_text(pending_limit()) +
                      ") and berrykitd tries again every " + std::to_string(options.retry_interval.count()) + " ms");
        }
        shown.last_error = error;
        retry_at = Clock::now() + options.retry_interval;
        last_failed_attempt = batch.attempt;
        committed.notify_all();
    }

    Outcome commit_or_recover(Batch& batch) {
        if (!db) open_file(batch.next_seq);
        try {
            return commit(batch);
        } catch (const SqliteError& e) {
            if (!e.corrupt()) throw;
            recover("SQLite says: " + e.words(), batch.next_seq);
            return commit(batch);
        }
    }

    // peek met damage: a quick_check on the writer's connection decides.
    void recheck_file() {
        if (!db) return;
        std::string verdict;
        try {
            const Statement check = prepare(db.get(), "PRAGMA quick_check");
            verdict = step(db.get(), check.get()) ? column_bytes(check.get(), 0) : "ok";
        } catch (const SqliteError& e) {
            if (!e.corrupt()) throw;
            verdict = e.words();
        }
        if (verdict == "ok") return;
        std::uint64_t next;
        {
            std::lock_guard guard(mutex);
            next = next_seq;
        }
        recover("SQLite's quick_check found damage: " + verdict, next);
    }

    void recover(const std::string& reason, std::uint64_t next) {
        close_connections(/*checkpoint=*/false);
        move_aside(reason);
        create(next, file_dropped);
        load(next);
        std::lock_guard guard(mutex);
        shown.queued = file_queued;
        shown.queued_bytes = file_queued_bytes;
    }

    void set_synchronous(bool full) {
        if (full == synchronous_full) return;
        exec(db.get(), full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        synchronous_full = full;
    }

    void set_counter(const char* name, std::uint64_t value) {
        const Use use(set_meta.get());
        bind(db.get(), set_meta.get(), 1, value);
        const int rc = sqlite3_bind_text(set_meta.get(), 2, name, -1, SQLITE_STATIC);
        if (rc != SQLITE_OK) throw SqliteError(db.get(), rc, "binding the counter's name");
        step(db.get(), set_meta.get());
    }

    // One transaction: the acknowledged messages go, the cap makes room, the new messages and the
    // counters are written.
    Outcome commit(const Batch& batch) {
        sqlite3* const c = db.get();
        // Acknowledgements alone need no fsync: losing one to a power cut only sends a message
        // again, which QoS 1 allows; the next commit with new messages makes them durable too.
        const bool durable = !batch.messages.empty() || batch.dropped_unsaved > 0 || batch.next_seq != file_next_seq;
        set_synchronous(durable);
        exec(c, "BEGIN IMMEDIATE");
        try {
            Outcome outcome;
            std::uint64_t queued = file_queued;
            std::uint64_t queued_bytes = file_queued_bytes;
            for (const std::uint64_t seq : batch.acks) {
                std::uint64_t bytes = 0;
                {
                    const Use use(bytes_of.get());
                    bind(c, bytes_of.get(), 1, seq);
                    if (!step(c, bytes_of.get())) continue;
                    bytes = column_u64(bytes_of.get(), 0) + row_overhead_bytes;
                }
                const Use use(delete_message.get());
                bind(c, delete_message.get(), 1, seq);
                step(c, delete_message.get());
                --queued;
                queued_bytes -= std::min(queued_bytes, bytes);
            }

            std::uint64_t batch_bytes = 0;
            for (const Pending& message : batch.messages) batch_bytes += message.bytes;
            if (queued_bytes + batch_bytes > options.max_bytes) {
                // The oldest stored messages go first, then (a burst bigger than the cap) the
                // oldest of the batch, which then never reach the file.
                const std::uint64_t excess = queued_bytes + batch_bytes - options.max_bytes;
                std::uint64_t freed = 0;
                std::uint64_t count = 0;
                std::uint64_t cutoff = 0;
                {
                    const Use use(oldest_messages.get());
                    while (freed < excess && step(c, oldest_messages.get())) {
                        cutoff = column_u64(oldest_messages.get(), 0);
                        freed += column_u64(oldest_messages.get(), 1) + row_overhead_bytes;
                        ++count;
                    }
                }
                if (count > 0) {
                    const Use use(delete_up_to.get());
                    bind(c, delete_up_to.get(), 1, cutoff);
                    step(c, delete_up_to.get());
                    queued -= std::min(queued, count);
                    queued_bytes -= std::min(queued_bytes, freed);
                    outcome.dropped_from_file = count;
                }
                while (queued_bytes + batch_bytes > options.max_bytes && outcome.skipped < batch.messages.size()) {
                    batch_bytes -= batch.messages[outcome.skipped].bytes;
                    ++outcome.skipped;
                }
            }

            for (std::size_t i = outcome.skipped; i < batch.messages.size(); ++i) {
                const Pending& message = batch.messages[i];
                const Use use(insert_message.get());
                bind(c, insert_message.get(), 1, message.seq);
                bind(c, insert_message.get(), 2, message.topic, false);
                bind(c, insert_message.get(), 3, message.payload, true);
                step(c, insert_message.get());
            }
            queued += batch.messages.size() - outcome.skipped;
            queued_bytes += batch_bytes;

            const std::uint64_t next = std::max(file_next_seq, batch.next_seq);
            if (next != file_next_seq) set_counter("next_seq", next);
            const std::uint64_t dropped =
                file_dropped + batch.dropped_unsaved + outcome.dropped_from_file + outcome.skipped;
            if (dropped != file_dropped) set_counter("dropped", dropped);
            exec(c, "COMMIT");

            file_next_seq = next;
            file_dropped = dropped;
            file_queued = queued;
            file_queued_bytes = queued_bytes;
            if (!batch.acks.empty() || outcome.dropped_from_file > 0) vacuum_if_worth_it();
            return outcome;
        } catch (...) {
            if (!sqlite3_get_autocommit(c)) sqlite3_exec(c, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }

    // Gives the space of removed messages back to the file system once a quarter of the file, and
    // at least 4 MiB, is free (after a long outage has drained), so the outbox does not keep its
    // largest size for ever. Failing here costs only space.
    void vacuum_if_worth_it() {
        try {
            const auto free_pages = query_int(db.get(), "PRAGMA freelist_count");
            const auto pages = query_int(db.get(), "PRAGMA page_count");
            if (free_pages >= 1024 && free_pages * 4 >= pages) exec(db.get(), "PRAGMA incremental_vacuum");
        } catch (const SqliteError& e) {
            log_debug(std::string("outbox: giving back free space failed: ") + e.what());
        }
    }
};

Outbox::Outbox(OutboxOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
    Impl& s = *impl_;
    if (s.options.file.empty()) throw Error(ErrorCode::bad_value, "the outbox needs a file name (outbox.file)");
    if (sqlite3_threadsafe() == 0) {
        throw Error(ErrorCode::unsupported, "this SQLite library was built without threads, which the outbox needs");
    }
    if (s.options.max_bytes == 0 || s.options.batch_max == 0) {
        throw Error(ErrorCode::bad_value, "the outbox's max_bytes and batch_max must be more than 0");
    }
    const std::string folder = folder_of(s.options.file);
    std::error_code error;
    const fs::file_status status = fs::status(folder, error);
    if (error && error != std::errc::no_such_file_or_directory && error != std::errc::not_a_directory) {
        throw Error(ErrorCode::bad_value,
                    explain_disk_error(s.options.file, 0, error.value(), "cannot look into " + folder));
    }
    if (!fs::is_directory(status)) {
        throw Error(ErrorCode::bad_value,
                    "the folder " + folder + " for berrykitd's outbox " + s.options.file.string() +
                        " does not exist: make it (sudo mkdir -p " + folder + " && sudo chown berrykit: " + folder +
                        "), or set outbox.file in berrykitd's config to a file in a folder that exists");
    }
    try {
        s.open_file(std::nullopt);
    } catch (const SqliteError& e) {
        throw Error(ErrorCode::bad_value, explain_disk_error(s.options.file, e.code(), e.system_errno(), e.words()));
    } catch (const Damaged& e) {
        throw Error(ErrorCode::bad_value, "the outbox " + s.options.file.string() + " is damaged (" + e.what() +
                                              ") and a fresh one could not be made in its place");
    }
    s.next_seq = s.file_next_seq;
    s.shown.queued = s.file_queued;
    s.shown.queued_bytes = s.file_queued_bytes;
    s.shown.dropped = s.file_dropped;
    s.writer = std::thread([&s] { s.run(); });
}

Outbox::~Outbox() {
    Impl& s = *impl_;
    {
        std::lock_guard guard(s.mutex);
        s.stopping = true;
        s.urgent = true;
    }
    s.writer_wake.notify_all();
    s.writer.join();
    if (!s.appends.empty()) {
        log_error("outbox: berrykitd is stopping, and " + readings_text(s.appends.size()) +
                  " that could not be saved to " + s.options.file.string() + " " +
                  (s.appends.size() == 1 ? "is" : "are") + " lost (" + s.shown.last_error + ")");
    }
    s.close_connections(/*checkpoint=*/true);
}

void Outbox::append(std::string topic, std::function<std::string(std::uint64_t seq)> make_payload,
                    std::function<void(std::uint64_t seq)> on_stored) {
    Impl& s = *impl_;
    std::lock_guard guard(s.mutex);
    const std::uint64_t seq = s.next_seq;
    std::string payload = make_payload(seq);
    const std::uint64_t bytes = topic.size() + payload.size() + row_overhead_bytes;
    if (bytes > s.options.max_bytes) {
        throw Error(ErrorCode::bad_value, "the message for " + topic + " is " + std::to_string(bytes) +
                                              " bytes, more than the outbox may hold in all (outbox.max_bytes is " +
                                              std::to_string(s.options.max_bytes) +
                                              "), so it could never be sent: send something smaller, or raise "
                                              "outbox.max_bytes in berrykitd's config");
    }
    ++s.next_seq;
    const bool was_idle = !s.has_work_locked();
    if (was_idle) s.batch_started = Clock::now();
    s.appends.push_back(Pending{seq, std::move(topic), std::move(payload), std::move(on_stored), bytes});
    ++s.issued;
    s.pending_bytes += bytes;
    s.trim_pending_locked();
    if (was_idle || s.appends.size() == s.options.batch_max) s.writer_wake.notify_one();
}

void Outbox::set_on_stored(std::function<void()> callback) {
    std::lock_guard guard(impl_->mutex);
    impl_->on_stored_all = std::move(callback);
}

std::vector<OutboxMessage> Outbox::peek(std::uint64_t after_seq, std::size_t max) {
    Impl& s = *impl_;
    std::vector<OutboxMessage> messages;
    if (max == 0) return messages;
    // Acknowledged but not yet removed: left out. Taken before reading, so a removal committed in
    // between is not missed.
    std::unordered_set<std::uint64_t> acknowledged;
    {
        std::lock_guard guard(s.mutex);
        for (const std::uint64_t seq : s.acked_unsaved) {
            if (seq > after_seq) acknowledged.insert(seq);
        }
    }
    std::lock_guard guard(s.read_mutex);
    if (!s.read_db) return messages;
    sqlite3* const c = s.read_db.get();
    sqlite3_stmt* const statement = s.peek_messages.get();
    try {
        const Use use(statement);
        bind(c, statement, 1, after_seq);
        const std::uint64_t wanted = max;
        bind(c, statement, 2, wanted + std::min<std::uint64_t>(acknowledged.size(), UINT64_MAX - wanted));
        while (messages.size() < max && step(c, statement)) {
            const std::uint64_t seq = column_u64(statement, 0);
            if (acknowledged.count(seq)) continue;
            messages.push_back(OutboxMessage{seq, column_bytes(statement, 1), column_bytes(statement, 2)});
        }
        s.peek_failing = false;
    } catch (const SqliteError& e) {
        if (!s.peek_failing) {
            s.peek_failing = true;
            log_error("outbox: cannot read the waiting readings: " +
                      explain_disk_error(s.options.file, e.code(), e.system_errno(), e.words()));
        }
        if (e.corrupt()) {
            std::lock_guard state(s.mutex);
            s.recheck_requested = true;
            s.writer_wake.notify_one();
        }
        messages.clear();
    }
    return messages;
}

void Outbox::acknowledge(std::uint64_t seq) {
    Impl& s = *impl_;
    std::lock_guard guard(s.mutex);
    const bool was_idle = !s.has_work_locked();
    if (was_idle) s.batch_started = Clock::now();
    s.acks.push_back(seq);
    s.acked_unsaved.insert(seq);
    ++s.issued;
    if (was_idle) s.writer_wake.notify_one();
}

bool Outbox::flush() {
    Impl& s = *impl_;
    std::unique_lock lock(s.mutex);
    const std::uint64_t target = s.issued;
    const std::uint64_t since = s.attempts;
    if (s.committed_ticket >= target) return true;
    // From a callback, on the writer thread itself: waiting would wait for ever.
    if (std::this_thread::get_id() == s.writer.get_id()) return false;
    s.urgent = true;
    s.writer_wake.notify_one();
    s.committed.wait(lock,
                     [&] { return s.committed_ticket >= target || s.last_failed_attempt > since || s.writer_done; });
    return s.committed_ticket >= target;
}

OutboxStats Outbox::stats() const {
    const Impl& s = *impl_;
    OutboxStats stats;
    {
        std::lock_guard guard(s.mutex);
        stats = s.shown;
        stats.next_seq = s.next_seq;
        stats.pending = s.appends.size() + s.in_flight;
    }
    for (const char* suffix : {"", "-wal"}) {
        std::error_code error;
        const auto size = fs::file_size(with_suffix(s.options.file, suffix), error);
        if (!error) stats.file_bytes += size;
    }
    return stats;
}

}  // namespace berrykit::daemon
