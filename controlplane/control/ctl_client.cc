#include "controlplane/control/ctl_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

namespace tally {

namespace {

using SteadyT = std::chrono::steady_clock;

constexpr int64_t kBusyRetryMs = 1000;  // how long a "busy" answer is retried
constexpr size_t kMaxHeaderBytes = 64;  // "chunk LENGTH\n"
constexpr uint64_t kMaxChunkBytes = uint64_t{1} << 30;

int64_t msUntil(SteadyT::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - SteadyT::now()).count();
}

// Waits for `events` on fd until `deadline`; false on timeout.
bool waitFor(int fd, short events, SteadyT::time_point deadline) {
  while (true) {
    int64_t left = msUntil(deadline);
    if (left <= 0) {
      return false;
    }
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, int(left));
    if (r > 0) {
      return true;
    }
    if (r < 0 && errno != EINTR) {
      return true;  // let the read or write report it
    }
  }
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads the framed reply (control_server.h) as it arrives.
class ReplyReader {
 public:
  explicit ReplyReader(const TextSink& sink) : sink_(sink) {}

  // Consumes `data`. Returns false on a framing error (error() says which).
  bool feed(const char* data, size_t n) {
    buf_.append(data, n);
    while (!done_) {
      if (chunk_left_ > 0) {
        size_t take = size_t(std::min<uint64_t>(chunk_left_, buf_.size() - off_));
        if (take == 0) {
          break;
        }
        deliver(std::string_view(buf_).substr(off_, take));
        off_ += take;
        chunk_left_ -= take;
        continue;
      }
      size_t nl = buf_.find('\n', std::max(off_, scanned_));
      if (nl == std::string::npos) {
        scanned_ = buf_.size();  // a long end line: do not search its beginning again
        if (buf_.size() - off_ > kMaxHeaderBytes && buf_.compare(off_, 1, "{") != 0) {
          return fail();
        }
        break;
      }
      std::string_view line = std::string_view(buf_).substr(off_, nl - off_);
      off_ = nl + 1;
      if (line.substr(0, 6) == "chunk ") {
        std::string len(line.substr(6));
        char* end = nullptr;
        unsigned long long v = std::strtoull(len.c_str(), &end, 10);
        if (len.empty() || *end != '\0' || v > kMaxChunkBytes) {
          return fail();
        }
        chunk_left_ = v;
        continue;
      }
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j["ok"].is_boolean()) {
        return fail();
      }
      end_.ok = j["ok"].get<bool>();
      end_.error = j.value("error", "");
      cut_ = j.value("cut", false);
      deliver(j.value("text", ""));
      done_ = true;
    }
    if (off_ > 0 && (off_ == buf_.size() || off_ > (1u << 20))) {
      buf_.erase(0, off_);
      scanned_ = scanned_ > off_ ? scanned_ - off_ : 0;
      off_ = 0;
    }
    return true;
  }
  bool done() const { return done_; }
  bool cut() const { return cut_; }
  uint64_t textOctets() const { return text_octets_; }
  Reply& end() { return end_; }

 private:
  bool fail() { return false; }
  void deliver(std::string_view t) {
    if (t.empty()) {
      return;
    }
    text_octets_ += t.size();
    if (sink_) {
      sink_(t);
    } else {
      end_.text.append(t);
    }
  }

  const TextSink& sink_;
  std::string buf_;
  size_t off_ = 0;
  size_t scanned_ = 0;  // no newline in buf_ before this offset
  uint64_t chunk_left_ = 0;
  bool done_ = false;
  bool cut_ = false;
  uint64_t text_octets_ = 0;
  Reply end_;
};

// One attempt: connect, send, read the whole reply.
Result<Reply> attempt(const sockaddr_un& addr, const std::string& socket_path,
                      const std::string& line, int timeout_ms, const TextSink& sink) {
  const auto wait = std::chrono::milliseconds(timeout_ms);
  auto deadline = SteadyT::now() + wait;
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    return Error{std::string("socket(): ") + std::strerror(errno)};
  }
  // A full listen backlog answers EAGAIN at once: try again until the deadline.
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if ((errno == EAGAIN || errno == EINTR) && msUntil(deadline) > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    std::string why = errno == EAGAIN ? std::string("its connection queue is full")
                                      : std::string(std::strerror(errno));
    return Error{"cannot connect to tallyd at " + socket_path + ": " + why +
                 " (is tallyd running? is this the right control.socket?)"};
  }
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::send(fd.get(), line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        waitFor(fd.get(), POLLOUT, deadline)) {
      continue;
    }
    break;  // the daemon may have answered (busy) and closed: read what it sent
  }
  ReplyReader reader(sink);
  deadline = SteadyT::now() + wait;
  char buf[64 * 1024];
  while (!reader.done()) {
    if (!waitFor(fd.get(), POLLIN, deadline)) {
      if (reader.textOctets() == 0) {
        return Error{"no reply from tallyd within " + std::to_string(timeout_ms) + " ms"};
      }
      return Error{"reply cut after " + std::to_string(reader.textOctets()) +
                   " octets: no data from tallyd for " + std::to_string(timeout_ms) + " ms"};
    }
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n > 0) {
      if (!reader.feed(buf, size_t(n))) {
        return Error{"malformed reply from tallyd"};
      }
      deadline = SteadyT::now() + wait;
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
      continue;
    }
    std::string why = n == 0 ? "tallyd closed the connection" : std::strerror(errno);
    if (reader.textOctets() == 0) {
      return Error{"no reply from tallyd: " + why + " before answering"};
    }
    return Error{"reply cut after " + std::to_string(reader.textOctets()) + " octets: " + why +
                 " before the end of the reply"};
  }
  if (reader.cut()) {
    return Error{reader.end().error};
  }
  return std::move(reader.end());
}

}  // namespace

Result<Reply> sendCommand(const std::string& socket_path, const std::vector<std::string>& words,
                          int timeout_ms, const TextSink& sink) {
  sockaddr_un addr{};
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return Error{"invalid control socket path '" + socket_path + "'"};
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  nlohmann::json req = words;
  const std::string line = req.dump() + "\n";
  const auto retry_until =
      SteadyT::now() + std::chrono::milliseconds(std::min<int64_t>(kBusyRetryMs, timeout_ms));
  int64_t backoff_ms = 10;
  while (true) {
    Result<Reply> r = attempt(addr, socket_path, line, timeout_ms, sink);
    bool busy = r.ok() && !r->ok && r->error.rfind("busy:", 0) == 0;
    if (!busy || msUntil(retry_until) <= 0) {
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 200);
  }
}

}  // namespace tally
