#include "controlplane/ctl_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

namespace tally {

Result<Reply> sendCommand(const std::string& socket_path, const std::vector<std::string>& words,
                          int timeout_ms) {
  sockaddr_un addr{};
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return Error{"invalid control socket path '" + socket_path + "'"};
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error{std::string("socket(): ") + std::strerror(errno)};
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string e = "cannot connect to tallyd at " + socket_path + ": " + std::strerror(errno) +
                    " (is tallyd running? is this the right control.socket?)";
    ::close(fd);
    return Error{e};
  }
  nlohmann::json req = words;
  std::string line = req.dump() + "\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      ::close(fd);
      return Error{std::string("cannot send to tallyd: ") + std::strerror(errno)};
    }
    off += size_t(n);
  }
  std::string in;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      ::close(fd);
      return Error{"no reply from tallyd within " + std::to_string(timeout_ms) + " ms"};
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, int(left));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      continue;
    }
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      in.append(buf, size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    break;
  }
  ::close(fd);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("ok")) {
    return Error{"malformed reply from tallyd"};
  }
  Reply r;
  r.ok = j["ok"].get<bool>();
  r.text = j.value("text", "");
  r.error = j.value("error", "");
  return r;
}

}  // namespace tally
