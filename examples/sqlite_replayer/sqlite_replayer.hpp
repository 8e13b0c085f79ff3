// sqlite_replayer: a user's own ssehub::replayer, durable on SQLite. An
// example of the plug point, not part of the library: it uses only public
// ssehub headers (the concept, replay_matches) and the system's libsqlite3.
//
// Events are rows of one table in a WAL-mode database file; a node that
// restarts on the same file replays what it stored before (Last-Event-ID
// values from before the restart stay valid while their events are kept).
// Bounded by count (max_events) and by age (max_age), like memory_replayer.
//
// It offers the synchronous fast path (ssehub::sync_replayer): the hub calls
// store() and replay() on its strand, so each is one short SQLite statement
// (an INSERT; an indexed lookup and a range scan of at most the events kept)
// on a local file: no network, no fsync per event in the default
// synchronous=NORMAL mode. See docs/custom-replayer.md for the trade-off.
//
// Thread safety: not synchronised. Distinct objects: safe. Shared objects:
// unsafe (the hub uses it from its primary strand only). Two processes must
// not share one file: each would evict the other's events by its own count.
#pragma once

#include <ssehub/replay/replayer.hpp>

#include <asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace sqlite_example {

struct sqlite_replayer_config {
    std::string path;               // database file; created when missing (":memory:" for a throwaway one)
    std::size_t max_events = 10000; // newest events kept; older ones are evicted (0: store nothing)
    std::chrono::milliseconds max_age{std::chrono::minutes(5)};  // older events are not replayed, then deleted (0: no limit)
    // synchronous=FULL: every event survives a power loss too, at one fsync per
    // event. Default NORMAL: survives the process being killed; a power loss
    // may lose the last events (WAL keeps the file consistent either way).
    bool sync_every_event = false;
    // Events written per SQLite transaction. 1: each event is committed
    // before store() returns (a killed process loses none). N > 1: about N
    // times fewer WAL writes; up to N-1 events not yet committed are lost for
    // replay if the process dies without running the destructor (SIGKILL, a
    // crash); a clean exit commits them. Replays always see them.
    std::size_t events_per_commit = 1;
    // A Last-Event-ID equal to this (not empty) replays every event still
    // kept (Mercure's `earliest`); publishers must not use it as an id.
    std::string earliest_id;
    // Wall clock for ages and TTLs (they must survive a restart, so not
    // steady_clock); empty: system_clock::now (tests inject).
    std::function<std::chrono::system_clock::time_point()> clock;
};

class sqlite_replayer {
public:
    // Opens (or creates) the database; throws std::runtime_error with
    // SQLite's message when it cannot (bad path, not a database, locked).
    explicit sqlite_replayer(sqlite_replayer_config config);
    ~sqlite_replayer();
    sqlite_replayer(sqlite_replayer&&) noexcept;
    sqlite_replayer& operator=(sqlite_replayer&&) noexcept;
    sqlite_replayer(const sqlite_replayer&) = delete;
    sqlite_replayer& operator=(const sqlite_replayer&) = delete;

    // Appends `ev` (frame, id, topics, group, TTL as a wall-clock deadline),
    // then evicts beyond the bounds. Throws std::runtime_error on an SQLite
    // error (the hub logs it; live delivery is unaffected).
    void store(ssehub::stored_event ev);

    // The stored events after the newest one with id `last_id` that
    // ssehub::replay_matches() the patterns and conn_meta, skipping expired
    // ones (TTL, max_age). known = false when the id is empty, was never
    // stored, or is evicted (beyond max_events or max_age). At most
    // max_events events; truncated when more matched.
    ssehub::replay_result replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                 const ssehub::metadata& conn_meta, std::size_t max_events);

    // The awaitable forms the concept requires; they run the calls above.
    asio::awaitable<void> async_store(ssehub::stored_event ev);
    asio::awaitable<ssehub::replay_result> async_replay(std::string_view last_id, const std::vector<std::string>& patterns,
                                                        const ssehub::metadata& conn_meta, std::size_t max_events);

    std::size_t size();          // rows in the file now (evicted ones are gone)
    std::string newest_id();     // the id of the newest stored event; "" when none
    const sqlite_replayer_config& config() const noexcept { return cfg_; }

private:
    struct statements;
    std::int64_t now_ms() const;
    void prune(std::int64_t now);
    void commit();
    void close() noexcept;

    sqlite_replayer_config cfg_;
    sqlite3* db_ = nullptr;
    std::unique_ptr<statements> st_;
    std::int64_t newest_seq_ = 0;  // the newest row's seq (0: none yet)
    std::size_t uncommitted_ = 0;  // events in the open transaction (0: none open)
};

static_assert(ssehub::sync_replayer<sqlite_replayer>);

}  // namespace sqlite_example
