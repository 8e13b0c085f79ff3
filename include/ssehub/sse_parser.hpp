// Incremental client-side parser of a text/event-stream, following the WHATWG
// "interpreting an event stream" rules: one leading BOM ignored, CRLF/CR/LF line
// ends (also split across feeds), fields without a colon, one leading space of a
// value stripped, `id` containing NUL ignored, `retry` only when all ASCII digits,
// dispatch on a blank line, trailing LF of the data buffer removed, no event for
// an empty data buffer (the last event id still updates), unknown fields ignored,
// an unterminated event at end of stream discarded (simply never dispatched).
// Deviation: bytes are not UTF-8 decoded; invalid UTF-8 passes through as is
// instead of becoming U+FFFD.
// Linear in the input: each byte is scanned once, partial lines are buffered
// and never rescanned. Used by tests and by the load generator.
// Thread safety: Distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ssehub {

struct parsed_event {
    std::string id;    // the stream's last event id when the event was dispatched
    std::string type;  // "message" when no `event:` field was given
    std::string data;  // data lines joined with LF
    friend bool operator==(const parsed_event&, const parsed_event&) = default;
};

class sse_parser {
public:
    struct options {
        // Keep the text of comment lines (after ':' with one leading space
        // stripped) for comments(); otherwise they are only counted.
        bool keep_comments = false;
        // Bound on a partial line plus the pending data buffer; beyond it the
        // parser fails (failed() is true) and ignores further input.
        std::size_t max_buffered = 16u * 1024u * 1024u;
    };

    sse_parser() = default;
    explicit sse_parser(options opts) : opts_(opts) {}

    // Parses `bytes`; dispatched events are queued for drain().
    void feed(std::string_view bytes);

    // Parses `bytes`; calls on_event(const parsed_event&) for each dispatched
    // event instead of queueing it. The reference is valid only during the
    // call; its buffers are reused, so steady-state parsing does not allocate.
    template <class F>
        requires std::is_invocable_v<F&, const parsed_event&>
    void feed(std::string_view bytes, F&& on_event) {
        auto thunk = [](void* ctx, parsed_event& ev) { (*static_cast<std::remove_reference_t<F>*>(ctx))(std::as_const(ev)); };
        feed_impl(bytes, sink{const_cast<void*>(static_cast<const void*>(std::addressof(on_event))), thunk, false});
    }

    // Events queued by feed(bytes) since the last drain(), oldest first.
    std::vector<parsed_event> drain() { return std::exchange(queue_, {}); }
    const std::vector<parsed_event>& pending() const noexcept { return queue_; }

    // The reconnection time from the last valid `retry` field, if any.
    std::optional<long> retry() const noexcept { return retry_; }
    // The last event id string (set at each dispatch, even without an event).
    const std::string& last_event_id() const noexcept { return last_event_id_; }
    std::size_t comment_count() const noexcept { return comment_count_; }
    const std::vector<std::string>& comments() const noexcept { return comments_; }
    std::size_t event_count() const noexcept { return event_count_; }
    bool failed() const noexcept { return failed_; }

    // Starts a new stream (a reconnection): drops partial input and pending
    // buffers, looks for a BOM again; keeps last_event_id(), retry(), counters.
    void reset_stream() noexcept;

private:
    struct sink {
        void* ctx;
        void (*fn)(void*, parsed_event&);
        bool queue;
    };

    void feed_impl(std::string_view bytes, const sink& out);
    void feed_lines(const char* p, const char* end, const sink& out);
    void process_line(std::string_view line, const sink& out);
    void dispatch(const sink& out);

    options opts_{};
    std::string line_;         // partial line carried between feeds
    std::string data_;         // data buffer
    std::string type_;         // event type buffer
    std::string id_buffer_;    // last event id buffer
    std::string last_event_id_;
    parsed_event current_;     // reused for callback dispatch
    std::vector<parsed_event> queue_;
    std::vector<std::string> comments_;
    std::optional<long> retry_;
    std::size_t comment_count_ = 0;
    std::size_t event_count_ = 0;
    unsigned char bom_matched_ = 0;  // BOM bytes matched so far at stream start
    bool bom_done_ = false;
    bool pending_cr_ = false;  // last feed ended with CR: skip one leading LF
    bool failed_ = false;
};

}  // namespace ssehub
