#pragma once
// The control socket: a Unix stream socket (mode from control.socket_mode, never
// world-accessible), served from the control-plane loop between polls (dataplane/runtime.cc
// calls serve()). Everything it does delays the next poll, so a serve() call works for at most
// ControlLimits::work_budget_ms after its wait, a large answer is produced in steps
// (Reply::more), and a client never blocks it (non-blocking sockets, bounded buffers,
// deadlines). Limits and refusals: docs/architecture.md, "The control socket".
//
// Wire format. One request per connection: a JSON array of words on one line of at most
// ControlLimits::max_request_bytes, e.g. ["display","session","10.0.0.1","--json"]. The reply
// is zero or more chunk frames, then exactly one end line, then the server closes:
//   chunk = "chunk " LENGTH "\n" followed by LENGTH octets of the reply text
//   end   = one JSON object on one line: {"ok":true,"text":"REST"} (REST: the end of the text;
//           a small reply is just this line), {"ok":false,"error":"why"} (refused, and
//           "busy: ..." when over a connection limit), or
//           {"ok":false,"cut":true,"error":"reply cut after N octets: why"}.
// A reply is complete only when its end line arrived; the text is the chunks in order plus
// REST. A connection that closes before the end line was cut too (the client says so).
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "shared/result.h"

namespace tally {

struct Reply {
  bool ok = true;
  std::string text;   // when ok: the whole answer, or its beginning when `more` is set
  std::string error;  // when !ok: why the command was refused
  // A large answer produced in steps (only when ok): each call appends about max_bytes of
  // text to `out` (at least one item) and returns true once the answer is complete. Called on
  // the control-plane thread between polls, only while the client keeps reading.
  std::function<bool(std::string& out, size_t max_bytes)> more;
};

struct ControlLimits {
  uint32_t max_connections = 64;      // open at once, all clients
  uint32_t max_per_client = 8;        // open at once by one peer process (SO_PEERCRED pid)
  int64_t request_timeout_ms = 2000;  // from accept to the request's newline
  size_t max_request_bytes = 4096;    // the request line, newline included
  // A reply whose client accepted nothing for stall_timeout_ms, or that is not sent whole
  // after reply_deadline_ms, is cut (with the cut end line when the socket takes it).
  int64_t stall_timeout_ms = 10000;
  int64_t reply_deadline_ms = 600000;
  int64_t work_budget_ms = 5;         // work per serve() call after its wait
  size_t out_buffer_bytes = 256 * 1024;  // rendered but not yet sent, per connection
  int64_t log_interval_ms = 10000;    // refusals are logged at most once per interval and reason
};

// Why a connection was refused or closed early; counted by reason.
enum class Refusal : uint8_t {
  kBusyTotal,      // max_connections reached and nobody to evict: answered "busy"
  kBusyPerClient,  // the peer process holds max_per_client: answered "busy"
  kEvicted,        // oldest idle connection of the heaviest client, to make room: "busy"
  kIdleTimeout,    // no full request within request_timeout_ms: answered, closed
  kOversized,      // request longer than max_request_bytes: answered, closed
  kHalfRequest,    // the client closed before sending a full request
  kReplyCut,       // the reply was cut (stalled reader, deadline, daemon stopping)
  kCount
};
const char* refusalName(Refusal r);  // "busy_total", "busy_per_client", ...

// Written by the control-plane thread only (the server), read on the same thread.
struct ControlSocketStats {
  uint64_t accepted = 0;
  uint64_t replies_complete = 0;
  uint64_t open_connections = 0;  // now
  uint64_t refused[size_t(Refusal::kCount)] = {};
  uint64_t refusedTotal() const;
};

class ControlServer {
 public:
  using Handler = std::function<Reply(const std::vector<std::string>& words)>;

  static Result<std::unique_ptr<ControlServer>> open(const std::string& path, unsigned mode,
                                                     Handler handler,
                                                     const ControlLimits& limits = {});
  // Replies still being sent end with the cut line ("tallyd is stopping") when the socket
  // takes it.
  ~ControlServer();

  // Waits at most timeout_ms for socket activity, then serves what is ready for at most
  // limits.work_budget_ms (plus one step of a large reply).
  void serve(int timeout_ms);
  const std::string& path() const { return path_; }
  const ControlSocketStats& stats() const { return stats_; }

 private:
  struct Frame {
    size_t start, end;  // offsets in Conn::out
    uint64_t text_end;  // reply text octets framed up to the end of this frame
  };
  struct Conn {
    int fd = -1;
    pid_t pid = 0;
    uid_t uid = 0;
    std::string in;
    bool replying = false;  // the request was read: `out` (and `more`) is the reply
    std::string out;
    size_t out_off = 0;
    std::deque<Frame> frames;  // the chunk frames in `out` not yet sent whole
    std::function<bool(std::string&, size_t)> more;
    bool end_queued = false;   // the end line is in `out`: close once it is sent
    uint64_t text_framed = 0;  // reply text octets put in frames so far
    uint64_t text_sent = 0;    // ... and in frames sent whole
    int64_t accepted_ms = 0;
    int64_t blocked_since_ms = 0;  // the socket took nothing since then (0: it takes data)
    int64_t close_by_ms = 0;       // a cut reply: close then, whether the cut line went or not
  };
  ControlServer(int fd, std::string path, Handler h, const ControlLimits& limits);
  void acceptAll(int64_t budget_end_ms);
  bool makeRoom(pid_t newcomer, uint32_t newcomer_conns, int64_t now_ms);
  void onReadable(Conn& c, int64_t now_ms);
  void startReply(Conn& c, Reply r, int64_t now_ms);
  void appendFrame(Conn& c, const std::string& text);
  // Sends what the socket takes, rendering further steps of a large reply until budget_end_ms.
  void flush(Conn& c, int64_t now_ms, int64_t budget_end_ms);
  void cut(Conn& c, const std::string& why);
  void answerAndClose(Conn& c, const std::string& error);  // one end line, best effort
  void closeConn(Conn& c);
  void count(Refusal why, pid_t pid, int64_t now_ms);
  void logRefusals(int64_t now_ms, bool force);

  int listen_fd_;
  std::string path_;
  Handler handler_;
  ControlLimits limits_;
  std::vector<Conn> conns_;
  size_t rotate_ = 0;  // where the next serve() starts sending replies
  ControlSocketStats stats_;
  // Rate-limited log: refusals counted since the last line, per reason.
  uint64_t unlogged_[size_t(Refusal::kCount)] = {};
  pid_t unlogged_pid_[size_t(Refusal::kCount)] = {};  // the last peer refused for the reason
  int64_t logged_ms_[size_t(Refusal::kCount)] = {};
};

// The control socket's section of `display statistics` (connections, refusals by reason).
class CommandRegistry;
void registerControlSocketStatistics(CommandRegistry& registry, const ControlServer& server);

// Parses a request line; an error text on malformed input.
Result<std::vector<std::string>> parseRequest(const std::string& line);
// The end line of a reply (its text, if any, goes in "text").
std::string encodeReply(const Reply& r);
// One chunk frame of reply text.
std::string encodeChunk(const std::string& text);

}  // namespace tally
