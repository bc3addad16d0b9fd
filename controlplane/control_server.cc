#include "controlplane/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

namespace tally {

namespace {

constexpr size_t kMaxRequest = 4096;
constexpr int64_t kConnTimeoutMs = 2000;
constexpr size_t kMaxConns = 32;

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

Result<std::unique_ptr<ControlServer>> ControlServer::open(const std::string& path, unsigned mode,
                                                           Handler handler) {
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
  if (::chmod(path.c_str(), mode) != 0 || ::listen(fd, 16) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return Error{"cannot listen on control.socket " + path + ": " + std::strerror(e)};
  }
  return std::unique_ptr<ControlServer>(new ControlServer(fd, path, std::move(handler)));
}

ControlServer::ControlServer(int fd, std::string path, Handler h)
    : listen_fd_(fd), path_(std::move(path)), handler_(std::move(h)) {}

ControlServer::~ControlServer() {
  for (Conn& c : conns_) {
    ::close(c.fd);
  }
  ::close(listen_fd_);
  ::unlink(path_.c_str());
}

void ControlServer::serve(int timeout_ms) {
  std::vector<pollfd> fds;
  fds.push_back({listen_fd_, POLLIN, 0});
  for (const Conn& c : conns_) {
    fds.push_back({c.fd, short(c.out.empty() ? POLLIN : POLLOUT), 0});
  }
  int n = ::poll(fds.data(), fds.size(), timeout_ms < 0 ? 0 : timeout_ms);
  if (n > 0) {
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        if (conns_[i - 1].out.empty()) {
          onReadable(conns_[i - 1]);
        }
      }
      if (fds[i].revents & POLLOUT) {
        onWritable(conns_[i - 1]);
      }
    }
    if (fds[0].revents & POLLIN) {
      accept();
    }
  }
  int64_t now = nowMs();
  std::vector<Conn> keep;
  for (Conn& c : conns_) {
    if (c.fd < 0) {
      continue;
    }
    if (now > c.deadline_ms) {
      ::close(c.fd);
      continue;
    }
    keep.push_back(std::move(c));
  }
  conns_ = std::move(keep);
}

void ControlServer::accept() {
  while (true) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      return;
    }
    if (conns_.size() >= kMaxConns) {
      ::close(fd);
      continue;
    }
    Conn c;
    c.fd = fd;
    c.deadline_ms = nowMs() + kConnTimeoutMs;
    conns_.push_back(std::move(c));
  }
}

void ControlServer::onReadable(Conn& c) {
  char buf[1024];
  while (true) {
    ssize_t n = ::read(c.fd, buf, sizeof buf);
    if (n > 0) {
      c.in.append(buf, size_t(n));
      if (c.in.size() > kMaxRequest) {
        c.out = encodeReply({false, "", "request longer than 4096 bytes"});
        break;
      }
      auto nl = c.in.find('\n');
      if (nl != std::string::npos) {
        auto words = parseRequest(c.in.substr(0, nl));
        Reply r = words.ok() ? handler_(words.value()) : Reply{false, "", words.error().message};
        c.out = encodeReply(r);
        break;
      }
      continue;
    }
    if (n == 0) {  // peer closed without a full line
      ::close(c.fd);
      c.fd = -1;
      return;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ::close(c.fd);
      c.fd = -1;
    }
    return;
  }
  onWritable(c);
}

void ControlServer::onWritable(Conn& c) {
  while (c.fd >= 0 && c.out_off < c.out.size()) {
    ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += size_t(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    }
    break;
  }
  if (c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
  }
}

}  // namespace tally
