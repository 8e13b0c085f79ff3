#include "sqlite_replayer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace sqlite_example {
namespace {

// One table; seq orders the events (rowid: the newest row's seq + 1 on insert).
// Topics and group are length-prefixed strings ("<len>:<bytes>", repeated), so
// any byte is safe in them; expires_ms is NULL for an event without TTL.
constexpr const char* schema = R"(
CREATE TABLE IF NOT EXISTS events(
  seq        INTEGER PRIMARY KEY,
  id         TEXT NOT NULL,
  at_ms      INTEGER NOT NULL,
  expires_ms INTEGER,
  topics     BLOB NOT NULL,
  grp        BLOB NOT NULL,
  frame      BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_id ON events(id);
)";

[[noreturn]] void fail(sqlite3* db, std::string_view what) {
    throw std::runtime_error("sqlite_replayer: " + std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

void append(std::string& out, std::string_view s) {
    out += std::to_string(s.size());
    out += ':';
    out += s;
}

// Reads the next length-prefixed string of `in` into `s`; false at the end or
// on malformed input (a damaged row then matches nothing).
bool next(std::string_view& in, std::string_view& s) {
    const auto colon = in.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 10) return false;
    std::size_t n = 0;
    for (char c : in.substr(0, colon)) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    if (in.size() - colon - 1 < n) return false;
    s = in.substr(colon + 1, n);
    in.remove_prefix(colon + 1 + n);
    return true;
}

std::string_view column_text(sqlite3_stmt* s, int col) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(s, col))) : std::string_view{};
}

// A prepared statement, reset (and its bindings cleared) when the scope ends:
// a throw in between never leaves a read transaction open.
struct stmt {
    sqlite3_stmt* s = nullptr;
    stmt() = default;
    stmt(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) fail(db, sql);
    }
    ~stmt() { sqlite3_finalize(s); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
};

struct use {
    sqlite3_stmt* s;
    explicit use(const stmt& st) : s(st.s) {}
    ~use() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    use(const use&) = delete;
    use& operator=(const use&) = delete;
};

}  // namespace

struct sqlite_replayer::statements {
    explicit statements(sqlite3* db)
        : insert(db, "INSERT INTO events(id, at_ms, expires_ms, topics, grp, frame) VALUES(?1, ?2, ?3, ?4, ?5, ?6)"),
          find(db, "SELECT seq, at_ms FROM events WHERE id = ?1 ORDER BY seq DESC LIMIT 1"),
          after(db, "SELECT id, at_ms, expires_ms, topics, grp, frame FROM events WHERE seq > ?1 ORDER BY seq"),
          drop_through(db, "DELETE FROM events WHERE seq <= ?1"),
          first_young(db, "SELECT seq FROM events WHERE at_ms > ?1 ORDER BY seq LIMIT 1"),
          count(db, "SELECT count(*) FROM events"),
          newest(db, "SELECT seq, id FROM events ORDER BY seq DESC LIMIT 1"),
          begin(db, "BEGIN"),
          commit(db, "COMMIT"),
          rollback(db, "ROLLBACK") {}
    stmt insert, find, after, drop_through, first_young, count, newest, begin, commit, rollback;
};

sqlite_replayer::sqlite_replayer(sqlite_replayer_config config) : cfg_(std::move(config)) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(cfg_.path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw std::runtime_error("sqlite_replayer: cannot open " + cfg_.path + ": " + why);
    }
    try {
        // WAL: an INSERT appends to the log, no rewrite of the table's pages in
        // place; exclusive locking: this process is the file's only user (a
        // second daemon on the same file fails here, clearly, instead of
        // evicting this one's events), and WAL needs no shared-memory file.
        const std::string pragmas = std::string("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; ") +
                                    "PRAGMA synchronous=" + (cfg_.sync_every_event ? "FULL" : "NORMAL") + ";";
        char* err = nullptr;
        for (const std::string& sql : {pragmas, std::string(schema), std::string("BEGIN IMMEDIATE; COMMIT;")}) {
            if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
                const std::string why = err ? err : sqlite3_errmsg(db_);
                sqlite3_free(err);
                throw std::runtime_error("sqlite_replayer: cannot use " + cfg_.path + ": " + why);
            }
        }
        st_ = std::make_unique<statements>(db_);
        {
            use q(st_->newest);
            if (sqlite3_step(q.s) == SQLITE_ROW) newest_seq_ = sqlite3_column_int64(q.s, 0);
        }
        prune(now_ms());  // the bounds may have changed since the file was written
    } catch (...) {
        st_.reset();
        sqlite3_close(db_);
        db_ = nullptr;
        throw;
    }
}

sqlite_replayer::~sqlite_replayer() { close(); }

void sqlite_replayer::close() noexcept {
    if (st_ && uncommitted_ > 0) {
        try {
            commit();
        } catch (...) {  // nobody to tell at this point; the file stays consistent (WAL)
        }
    }
    st_.reset();  // statements first: sqlite3_close refuses while any is alive
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    uncommitted_ = 0;
}

sqlite_replayer::sqlite_replayer(sqlite_replayer&& o) noexcept
    : cfg_(std::move(o.cfg_)),
      db_(std::exchange(o.db_, nullptr)),
      st_(std::move(o.st_)),
      newest_seq_(o.newest_seq_),
      uncommitted_(std::exchange(o.uncommitted_, 0)) {}

sqlite_replayer& sqlite_replayer::operator=(sqlite_replayer&& o) noexcept {
    if (this != &o) {
        close();
        cfg_ = std::move(o.cfg_);
        db_ = std::exchange(o.db_, nullptr);
        st_ = std::move(o.st_);
        newest_seq_ = o.newest_seq_;
        uncommitted_ = std::exchange(o.uncommitted_, 0);
    }
    return *this;
}

std::int64_t sqlite_replayer::now_ms() const {
    const auto t = cfg_.clock ? cfg_.clock() : std::chrono::system_clock::now();
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

void sqlite_replayer::prune(std::int64_t now) {
    if (cfg_.max_events == 0 || newest_seq_ > static_cast<std::int64_t>(cfg_.max_events)) {
        use q(st_->drop_through);
        sqlite3_bind_int64(q.s, 1, newest_seq_ - static_cast<std::int64_t>(cfg_.max_events));
        if (sqlite3_step(q.s) != SQLITE_DONE) fail(db_, "evict by count");
    }
    if (cfg_.max_age.count() > 0) {
        // Rows are in time order: the first young row is found right after the
        // old ones (a scan only as long as what is deleted), the rest goes.
        std::int64_t keep_from = newest_seq_ + 1;
        {
            use q(st_->first_young);
            sqlite3_bind_int64(q.s, 1, now - cfg_.max_age.count());
            const int rc = sqlite3_step(q.s);
            if (rc == SQLITE_ROW) keep_from = sqlite3_column_int64(q.s, 0);
            else if (rc != SQLITE_DONE) fail(db_, "evict by age");
        }
        use q(st_->drop_through);
        sqlite3_bind_int64(q.s, 1, keep_from - 1);
        if (sqlite3_step(q.s) != SQLITE_DONE) fail(db_, "evict by age");
    }
}

void sqlite_replayer::store(ssehub::stored_event ev) {
    if (cfg_.max_events == 0) return;
    const std::int64_t now = now_ms();
    std::string topics;
    for (const auto& t : ev.topics) append(topics, t);
    std::string group;
    for (const auto& [k, v] : ev.group) {
        append(group, k);
        append(group, v);
    }
    const std::string_view frame = ev.bytes ? std::string_view(*ev.bytes) : std::string_view{};
    // The insert and the evictions in one transaction, committed every
    // events_per_commit events: one WAL append per commit, not per statement.
    if (uncommitted_ == 0) {
        use q(st_->begin);
        if (sqlite3_step(q.s) != SQLITE_DONE) fail(db_, "begin");
    }
    try {
        {
            use q(st_->insert);
            sqlite3_bind_text(q.s, 1, ev.id.data(), static_cast<int>(ev.id.size()), SQLITE_STATIC);
            sqlite3_bind_int64(q.s, 2, now);
            if (ev.expires != std::chrono::steady_clock::time_point::max()) {
                // The TTL as a wall-clock deadline: steady_clock does not survive a restart.
                const auto at = ev.at == std::chrono::steady_clock::time_point{} ? std::chrono::steady_clock::now() : ev.at;
                sqlite3_bind_int64(q.s, 3,
                                   now + std::chrono::duration_cast<std::chrono::milliseconds>(ev.expires - at).count());
            }
            sqlite3_bind_blob(q.s, 4, topics.data(), static_cast<int>(topics.size()), SQLITE_STATIC);
            sqlite3_bind_blob(q.s, 5, group.data(), static_cast<int>(group.size()), SQLITE_STATIC);
            sqlite3_bind_blob(q.s, 6, frame.data(), static_cast<int>(frame.size()), SQLITE_STATIC);
            if (sqlite3_step(q.s) != SQLITE_DONE) fail(db_, "store");
            newest_seq_ = sqlite3_last_insert_rowid(db_);
        }
        prune(now);
        if (++uncommitted_ >= std::max<std::size_t>(cfg_.events_per_commit, 1)) commit();
    } catch (...) {
        // What this transaction held is lost for replay (never for live delivery).
        uncommitted_ = 0;
        use r(st_->rollback);
        sqlite3_step(r.s);
        newest_seq_ = 0;
        use q(st_->newest);
        if (sqlite3_step(q.s) == SQLITE_ROW) newest_seq_ = sqlite3_column_int64(q.s, 0);
        throw;
    }
}

void sqlite_replayer::commit() {
    if (uncommitted_ == 0) return;
    use q(st_->commit);
    if (sqlite3_step(q.s) != SQLITE_DONE) fail(db_, "commit");
    uncommitted_ = 0;
}

ssehub::replay_result sqlite_replayer::replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                              const ssehub::metadata& conn_meta, std::size_t max_events) {
    ssehub::replay_result result;
    if (last_id.empty()) return result;
    const std::int64_t now = now_ms();
    const std::int64_t too_old = cfg_.max_age.count() > 0 ? now - cfg_.max_age.count() : INT64_MIN;
    std::int64_t from = 0;
    if (!cfg_.earliest_id.empty() && last_id == cfg_.earliest_id) {  // everything kept
        if (cfg_.max_events > 0) from = std::max<std::int64_t>(0, newest_seq_ - static_cast<std::int64_t>(cfg_.max_events));
    } else {
        use q(st_->find);
        sqlite3_bind_text(q.s, 1, last_id.data(), static_cast<int>(last_id.size()), SQLITE_STATIC);
        const int rc = sqlite3_step(q.s);
        if (rc == SQLITE_DONE) return result;  // never stored, or evicted
        if (rc != SQLITE_ROW) fail(db_, "replay");
        from = sqlite3_column_int64(q.s, 0);
        if (sqlite3_column_int64(q.s, 1) <= too_old) return result;  // evicted in effect; the next store deletes it
        if (cfg_.max_events > 0 && from <= newest_seq_ - static_cast<std::int64_t>(cfg_.max_events)) return result;
    }
    result.known = true;
    use q(st_->after);
    sqlite3_bind_int64(q.s, 1, from);
    std::vector<std::string> topics;
    ssehub::metadata group;
    int rc;
    while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
        if (sqlite3_column_int64(q.s, 1) <= too_old) continue;
        if (sqlite3_column_type(q.s, 2) != SQLITE_NULL && sqlite3_column_int64(q.s, 2) <= now) continue;  // TTL
        topics.clear();
        group.clear();
        std::string_view in = column_text(q.s, 3), s;
        while (next(in, s)) topics.emplace_back(s);
        in = column_text(q.s, 4);
        std::string_view v;
        while (next(in, s) && next(in, v)) group.emplace(std::string(s), std::string(v));
        if (!ssehub::replay_matches(topics, group, patterns, conn_meta)) continue;
        if (result.events.size() == max_events) {
            result.truncated = true;
            break;
        }
        result.events.push_back(ssehub::replayed_event{
            std::string(column_text(q.s, 0)), std::make_shared<const std::string>(column_text(q.s, 5))});
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(db_, "replay");
    return result;
}

asio::awaitable<void> sqlite_replayer::async_store(ssehub::stored_event ev) {
    store(std::move(ev));
    co_return;
}

asio::awaitable<ssehub::replay_result> sqlite_replayer::async_replay(std::string_view last_id,
                                                                     const std::vector<std::string>& patterns,
                                                                     const ssehub::metadata& conn_meta,
                                                                     std::size_t max_events) {
    co_return replay(last_id, patterns, conn_meta, max_events);
}

std::size_t sqlite_replayer::size() {
    use q(st_->count);
    if (sqlite3_step(q.s) != SQLITE_ROW) fail(db_, "count");
    return static_cast<std::size_t>(sqlite3_column_int64(q.s, 0));
}

std::string sqlite_replayer::newest_id() {
    use q(st_->newest);
    const int rc = sqlite3_step(q.s);
    if (rc == SQLITE_DONE) return {};
    if (rc != SQLITE_ROW) fail(db_, "newest");
    return std::string(column_text(q.s, 1));
}

}  // namespace sqlite_example
