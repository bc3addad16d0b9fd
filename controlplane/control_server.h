#pragma once
// The control socket: a Unix stream socket (mode from control.socket_mode, never
// world-accessible). One request per connection: a JSON array of words on one line, e.g.
// ["display","session","10.0.0.1","--json"]; one reply: {"ok":true,"text":"..."} or
// {"ok":false,"error":"reason"}. Served from the control-plane loop with poll(): a slow or
// silent client never blocks the counter poll (non-blocking sockets, bounded buffers,
// per-connection deadline).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shared/result.h"

namespace tally {

struct Reply {
  bool ok = true;
  std::string text;   // when ok
  std::string error;  // when !ok: why the command was refused
};

class ControlServer {
 public:
  using Handler = std::function<Reply(const std::vector<std::string>& words)>;

  static Result<std::unique_ptr<ControlServer>> open(const std::string& path, unsigned mode,
                                                     Handler handler);
  ~ControlServer();

  // Waits at most timeout_ms for socket activity and serves what is ready.
  void serve(int timeout_ms);
  const std::string& path() const { return path_; }

 private:
  struct Conn {
    int fd = -1;
    std::string in;
    std::string out;
    size_t out_off = 0;
    int64_t deadline_ms = 0;
  };
  ControlServer(int fd, std::string path, Handler h);
  void accept();
  void onReadable(Conn& c);
  void onWritable(Conn& c);

  int listen_fd_;
  std::string path_;
  Handler handler_;
  std::vector<Conn> conns_;
};

// Parses a request line; an error text on malformed input.
Result<std::vector<std::string>> parseRequest(const std::string& line);
std::string encodeReply(const Reply& r);

}  // namespace tally
