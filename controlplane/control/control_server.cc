#include "controlplane/control/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "controlplane/control/commands.h"
#include "controlplane/log.h"

namespace tally {

namespace {

constexpr size_t kChunkBytes = 64 * 1024;  // text per chunk frame
constexpr int kListenBacklog = 128;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string parentDir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

const char* refusalName(Refusal r) {
  switch (r) {
    case Refusal::kBusyTotal:
      return "busy_total";
    case Refusal::kBusyPerClient:
      return "busy_per_client";
    case Refusal::kEvicted:
      return "evicted_idle";
    case Refusal::kIdleTimeout:
      return "request_timeout";
    case Refusal::kOversized:
      return "request_too_long";
    case Refusal::kHalfRequest:
      return "half_request";
    case Refusal::kReplyCut:
      return "reply_cut";
    case Refusal::kCount:
      break;
  }
  return "?";
}

uint64_t ControlSocketStats::refusedTotal() const {
  uint64_t n = 0;
  for (uint64_t r : refused) {
    n += r;
  }
  return n;
}

namespace {

// The control socket's own figures (display statistics).
void addControlSocketJson(const ControlSocketStats* cs, nlohmann::ordered_json& j) {
  nlohmann::ordered_json refused = nlohmann::ordered_json::object();
  for (size_t r = 0; r < size_t(Refusal::kCount); ++r) {
    refused[refusalName(Refusal(r))] = cs->refused[r];
  }
  j["control_socket"] = {{"open_connections", cs->open_connections},
                         {"accepted", cs->accepted},
                         {"replies_complete", cs->replies_complete},
                         {"refused_total", cs->refusedTotal()},
                         {"refused", refused}};
}

std::string controlSocketText(const ControlSocketStats* cs) {
  std::string refused;
  for (size_t r = 0; r < size_t(Refusal::kCount); ++r) {
    refused += (refused.empty() ? "" : ", ") + std::string(refusalName(Refusal(r))) + " " +
               std::to_string(cs->refused[r]);
  }
  return "  Control socket\n"
         "    open / accepted / complete  : " +
         std::to_string(cs->open_connections) + " / " + std::to_string(cs->accepted) + " / " +
         std::to_string(cs->replies_complete) + "\n" +
         "    refused or closed early     : " + std::to_string(cs->refusedTotal()) + " (" +
         refused + ")\n";
}

}  // namespace

void registerControlSocketStatistics(CommandRegistry& registry, const ControlServer& server) {
  const ControlSocketStats* cs = &server.stats();
  registry.addStatistics(CommandRegistry::Section{
      [cs](std::string& out) { out += controlSocketText(cs); },
      [cs](nlohmann::ordered_json& j) { addControlSocketJson(cs, j); }});
}

Result<std::vector<std::string>> parseRequest(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty()) {
    return Error{"request must be a non-empty JSON array of strings"};
  }
  std::vector<std::string> words;
  for (const auto& w : j) {
    if (!w.is_string()) {
      return Error{"request must be a non-empty JSON array of strings"};
    }
    words.push_back(w.get<std::string>());
  }
  return words;
}

std::string encodeReply(const Reply& r) {
  nlohmann::json j;
  j["ok"] = r.ok;
  if (r.ok) {
    j["text"] = r.text;
  } else {
    j["error"] = r.error;
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string encodeChunk(const std::string& text) {
  return "chunk " + std::to_string(text.size()) + "\n" + text;
}

Result<std::unique_ptr<ControlServer>> ControlServer::open(const std::string& path, unsigned mode,
                                                           Handler handler,
                                                           const ControlLimits& limits) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Error{"control.socket '" + path + "': path must be 1-" +
                 std::to_string(sizeof(addr.sun_path) - 1) + " characters"};
  }
  if (mode & 0007) {
    return Error{"control socket must not be world-accessible"};
  }
  std::string dir = parentDir(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
      return Error{"cannot create directory " + dir + " for control.socket: " +
                   std::strerror(errno)};
    }
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  addr.sun_family = AF_UNIX;
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error{"control.socket " + path + " exists and is not a socket; not removing it"};
    }
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool live = probe >= 0 &&
                ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) {
      ::close(probe);
    }
    if (live) {
      return Error{"control.socket " + path + " is in use by another running tallyd"};
    }
    ::unlink(path.c_str());  // stale socket of a process that is gone
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return Error{std::string("socket(): ") + std::strerror(errno)};
  }
  // Create the socket file without world bits from the start, then set the exact mode.
  mode_t old = ::umask(0777 & ~mode);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int bind_errno = errno;
  ::umask(old);
  if (rc != 0) {
    ::close(fd);
    return Error{"cannot bind control.socket " + path + ": " + std::strerror(bind_errno)};
  }
  if (::chmod(path.c_str(), mode) != 0 || ::listen(fd, kListenBacklog) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Error{"cannot listen on control.socket " + path + ": " + std::strerror(e)};
  }
  return std::unique_ptr<ControlServer>(new ControlServer(fd, path, std::move(handler), limits));
}

ControlServer::ControlServer(int fd, std::string path, Handler h, const ControlLimits& limits)
    : listen_fd_(fd), path_(std::move(path)), handler_(std::move(h)), limits_(limits) {}

ControlServer::~ControlServer() {
  for (Conn& c : conns_) {
    if (c.fd >= 0 && c.replying && !c.end_queued) {
      cut(c, "tallyd is stopping");  // best effort, never waits
    }
    closeConn(c);
  }
  logRefusals(nowMs(), true);
  ::close(listen_fd_);
  ::unlink(path_.c_str());
}

void ControlServer::serve(int timeout_ms) {
  std::vector<pollfd> fds;
  fds.reserve(conns_.size() + 1);
  fds.push_back({listen_fd_, POLLIN, 0});
  for (const Conn& c : conns_) {
    // A reply in progress waits for room in the socket; a request being read, for data.
    fds.push_back({c.fd, short(c.replying ? POLLOUT : POLLIN), 0});
  }
  int n = ::poll(fds.data(), fds.size(), timeout_ms < 0 ? 0 : timeout_ms);
  int64_t now = nowMs();
  const int64_t budget_end = now + limits_.work_budget_ms;
  if (n > 0) {
    // Requests first (small, bounded), then replies: each connection in turn, starting
    // elsewhere each call, so that one big reply does not take every call's budget.
    const size_t count = conns_.size();
    for (size_t i = 0; i < count; ++i) {
      if (!conns_[i].replying && (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) {
        onReadable(conns_[i], now);
      }
    }
    for (size_t k = 0; k < count; ++k) {
      size_t i = (k + rotate_) % count;
      if (conns_[i].fd >= 0 && conns_[i].replying &&
          (fds[i + 1].revents & (POLLOUT | POLLHUP | POLLERR))) {
        flush(conns_[i], nowMs(), budget_end);
      }
    }
    rotate_ = count == 0 ? 0 : (rotate_ + 1) % count;
    if (fds[0].revents & POLLIN) {
      acceptAll(budget_end);
    }
  }
  now = nowMs();
  for (Conn& c : conns_) {
    if (c.fd < 0) {
      continue;
    }
    if (!c.replying) {
      if (now - c.accepted_ms > limits_.request_timeout_ms) {
        count(Refusal::kIdleTimeout, c.pid, now);
        answerAndClose(c, "no full request within " +
                              std::to_string(limits_.request_timeout_ms) + " ms");
      }
      continue;
    }
    if (c.close_by_ms != 0) {
      if (now > c.close_by_ms) {
        closeConn(c);  // the cut line did not get through either
      }
      continue;
    }
    if (c.blocked_since_ms != 0 && now - c.blocked_since_ms > limits_.stall_timeout_ms) {
      cut(c, "the client read nothing for " + std::to_string(limits_.stall_timeout_ms) + " ms");
    } else if (now - c.accepted_ms > limits_.reply_deadline_ms) {
      cut(c, "not sent whole within " + std::to_string(limits_.reply_deadline_ms) + " ms");
    }
  }
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [](const Conn& c) { return c.fd < 0; }),
               conns_.end());
  stats_.open_connections = conns_.size();
  logRefusals(now, false);
}

void ControlServer::acceptAll(int64_t budget_end_ms) {
  // Every pending connection is accepted (the backlog never fills with abusers); the ones over
  // a limit get a "busy" answer at once. A storm costs one accept, one send, one close each.
  while (nowMs() < budget_end_ms) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    int64_t now = nowMs();
    ++stats_.accepted;
    Conn c;
    c.fd = fd;
    c.accepted_ms = now;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      c.pid = cred.pid;
      c.uid = cred.uid;
    }
    uint32_t mine = 0;
    for (const Conn& o : conns_) {
      mine += o.fd >= 0 && o.pid == c.pid ? 1 : 0;
    }
    if (mine >= limits_.max_per_client) {
      count(Refusal::kBusyPerClient, c.pid, now);
      answerAndClose(c, "busy: this process (pid " + std::to_string(c.pid) + ") already holds " +
                            std::to_string(mine) + " control connections (limit " +
                            std::to_string(limits_.max_per_client) + ")");
      continue;
    }
    if (!makeRoom(c.pid, mine, now)) {
      count(Refusal::kBusyTotal, c.pid, now);
      answerAndClose(c, "busy: " + std::to_string(limits_.max_connections) +
                            " control connections open (the limit); try again");
      continue;
    }
    conns_.push_back(std::move(c));
  }
}

bool ControlServer::makeRoom(pid_t newcomer, uint32_t newcomer_conns, int64_t now_ms) {
  size_t open = 0;
  std::map<pid_t, uint32_t> per_pid;
  for (const Conn& o : conns_) {
    if (o.fd >= 0) {
      ++open;
      ++per_pid[o.pid];
    }
  }
  if (open < limits_.max_connections) {
    return true;
  }
  // Full: the heaviest other client gives up its oldest connection still waiting for its
  // request, if it holds more than the newcomer (so a flood cannot lock out a fresh tallyctl).
  pid_t heaviest = 0;
  uint32_t most = 0;
  for (const auto& [pid, n] : per_pid) {
    if (pid != newcomer && n > most) {
      heaviest = pid;
      most = n;
    }
  }
  if (most <= newcomer_conns + 1) {
    return false;
  }
  Conn* victim = nullptr;
  for (Conn& o : conns_) {
    if (o.fd >= 0 && o.pid == heaviest && !o.replying &&
        (victim == nullptr || o.accepted_ms < victim->accepted_ms)) {
      victim = &o;
    }
  }
  if (victim == nullptr) {
    return false;
  }
  count(Refusal::kEvicted, heaviest, now_ms);
  answerAndClose(*victim, "busy: closed to make room for another client (pid " +
                              std::to_string(heaviest) + " holds " + std::to_string(most) +
                              " of " + std::to_string(limits_.max_connections) +
                              " control connections)");
  return true;
}

void ControlServer::onReadable(Conn& c, int64_t now_ms) {
  char buf[1024];
  while (true) {
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n > 0) {
      c.in.append(buf, size_t(n));
      auto nl = c.in.find('\n');
      if (nl != std::string::npos && nl < limits_.max_request_bytes) {
        auto words = parseRequest(c.in.substr(0, nl));
        if (!words.ok()) {
          startReply(c, Reply{false, "", words.error().message, {}}, now_ms);
          return;
        }
        stats_.open_connections = conns_.size();
        Reply r = handler_(words.value());
        startReply(c, std::move(r), nowMs());  // the handler may have taken a while
        return;
      }
      if (c.in.size() >= limits_.max_request_bytes) {
        count(Refusal::kOversized, c.pid, now_ms);
        answerAndClose(c, "request longer than " + std::to_string(limits_.max_request_bytes) +
                              " bytes");
        return;
      }
      continue;
    }
    if (n == 0) {  // peer closed without a full line
      count(Refusal::kHalfRequest, c.pid, now_ms);
      closeConn(c);
      return;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      closeConn(c);
    }
    return;
  }
}

void ControlServer::startReply(Conn& c, Reply r, int64_t now_ms) {
  c.replying = true;
  c.in.clear();
  c.in.shrink_to_fit();
  if (r.ok && r.more) {
    c.more = std::move(r.more);
    if (!r.text.empty()) {
      appendFrame(c, r.text);
    }
  } else {
    c.out = encodeReply(r);
    c.end_queued = true;
  }
  flush(c, now_ms, now_ms + limits_.work_budget_ms);
}

void ControlServer::appendFrame(Conn& c, const std::string& text) {
  size_t start = c.out.size();
  c.out += encodeChunk(text);
  c.text_framed += text.size();
  c.frames.push_back(Frame{start, c.out.size(), c.text_framed});
}

void ControlServer::flush(Conn& c, int64_t now_ms, int64_t budget_end_ms) {
  while (c.fd >= 0) {
    if (c.out_off < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.out_off += size_t(n);
        c.blocked_since_ms = 0;
        while (!c.frames.empty() && c.frames.front().end <= c.out_off) {
          c.text_sent = c.frames.front().text_end;
          c.frames.pop_front();
        }
        continue;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (c.blocked_since_ms == 0) {
          c.blocked_since_ms = now_ms;
        }
        return;  // back-pressure: nothing more is rendered until the client reads
      }
      closeConn(c);  // the client went away
      return;
    }
    if (c.end_queued) {
      if (c.close_by_ms == 0) {
        ++stats_.replies_complete;
      }
      closeConn(c);
      return;
    }
    // Everything rendered so far is in the socket: render the next step, within the budget.
    if (!c.more || nowMs() >= budget_end_ms) {
      return;  // (the next serve() call goes on: the socket is still writable)
    }
    c.out.clear();
    c.out_off = 0;
    c.frames.clear();
    std::string text;
    bool done = false;
    while (!done && text.size() < limits_.out_buffer_bytes && nowMs() < budget_end_ms) {
      done = c.more(text, kChunkBytes);
    }
    if (!text.empty()) {
      appendFrame(c, text);
    }
    if (done) {
      c.more = nullptr;
      c.out += encodeReply(Reply{});
      c.end_queued = true;
    }
  }
}

void ControlServer::cut(Conn& c, const std::string& why) {
  count(Refusal::kReplyCut, c.pid, nowMs());
  if (c.end_queued) {
    closeConn(c);  // the end line is (partly) in the socket already: nothing can follow it
    return;
  }
  // Keep the frame being sent whole (the client reads whole frames), drop the rest.
  size_t keep = c.out_off;
  uint64_t text = c.text_sent;
  if (!c.frames.empty() && c.out_off > c.frames.front().start) {
    keep = c.frames.front().end;
    text = c.frames.front().text_end;
  }
  c.out.resize(keep);
  c.frames.clear();
  c.more = nullptr;
  nlohmann::json j;
  j["ok"] = false;
  j["cut"] = true;
  j["error"] = "reply cut after " + std::to_string(text) + " octets: " + why;
  c.out += j.dump() + "\n";
  c.end_queued = true;
  c.close_by_ms = nowMs() + 1000;
  flush(c, nowMs(), 0);
}

void ControlServer::answerAndClose(Conn& c, const std::string& error) {
  // What the client sent is read first: closing with unread data would reset the connection
  // and the client could lose the answer.
  char buf[1024];
  for (int i = 0; i < 8 && ::read(c.fd, buf, sizeof buf) > 0; ++i) {
  }
  std::string line = encodeReply(Reply{false, "", error, {}});
  (void)!::send(c.fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  closeConn(c);
}

void ControlServer::closeConn(Conn& c) {
  if (c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
  }
}

void ControlServer::count(Refusal why, pid_t pid, int64_t now_ms) {
  ++stats_.refused[size_t(why)];
  ++unlogged_[size_t(why)];
  unlogged_pid_[size_t(why)] = pid;
  logRefusals(now_ms, false);
}

void ControlServer::logRefusals(int64_t now_ms, bool force) {
  // One line per reason and interval, however many refusals: a storm does not flood the log.
  for (size_t r = 0; r < size_t(Refusal::kCount); ++r) {
    if (unlogged_[r] == 0 ||
        (!force && logged_ms_[r] != 0 && now_ms - logged_ms_[r] < limits_.log_interval_ms)) {
      continue;
    }
    logWarn("control socket: " + std::string(refusalName(Refusal(r))) + " x" +
            std::to_string(unlogged_[r]) + " since the last report (last from pid " +
            std::to_string(unlogged_pid_[r]) + "); " + std::to_string(stats_.refused[r]) +
            " in all, " + std::to_string(stats_.open_connections) + " open");
    unlogged_[r] = 0;
    logged_ms_[r] = now_ms;
  }
}

}  // namespace tally
