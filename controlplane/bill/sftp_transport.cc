#include "controlplane/bill/sftp_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace tally::bill {
namespace {

using Clock = std::chrono::steady_clock;

const char* sftpStatusName(unsigned long code) {
  switch (code) {
    case LIBSSH2_FX_OK: return "ok";
    case LIBSSH2_FX_EOF: return "end of file";
    case LIBSSH2_FX_NO_SUCH_FILE: return "no such file";
    case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
    case LIBSSH2_FX_FAILURE: return "failure";
    case LIBSSH2_FX_BAD_MESSAGE: return "bad message";
    case LIBSSH2_FX_NO_CONNECTION: return "no connection";
    case LIBSSH2_FX_CONNECTION_LOST: return "connection lost";
    case LIBSSH2_FX_OP_UNSUPPORTED: return "operation unsupported";
    case LIBSSH2_FX_INVALID_HANDLE: return "invalid handle";
    case LIBSSH2_FX_NO_SUCH_PATH: return "no such path";
    case LIBSSH2_FX_FILE_ALREADY_EXISTS: return "file already exists";
    case LIBSSH2_FX_WRITE_PROTECT: return "write protected";
    case LIBSSH2_FX_NO_MEDIA: return "no media";
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: return "no space on file system";
    case LIBSSH2_FX_QUOTA_EXCEEDED: return "quota exceeded";
    case LIBSSH2_FX_UNKNOWN_PRINCIPAL: return "unknown principal";
    case LIBSSH2_FX_LOCK_CONFLICT: return "lock conflict";
    case LIBSSH2_FX_DIR_NOT_EMPTY: return "directory not empty";
    case LIBSSH2_FX_NOT_A_DIRECTORY: return "not a directory";
    case LIBSSH2_FX_INVALID_FILENAME: return "invalid file name";
    case LIBSSH2_FX_LINK_LOOP: return "link loop";
  }
  return "unknown status";
}

// known_hosts key type (LIBSSH2_KNOWNHOST_KEY_*) -> host key algorithm name for method_pref.
const char* hostKeyMethod(int knownhost_key) {
  switch (knownhost_key) {
    case LIBSSH2_KNOWNHOST_KEY_ED25519: return "ssh-ed25519";
    case LIBSSH2_KNOWNHOST_KEY_ECDSA_256: return "ecdsa-sha2-nistp256";
    case LIBSSH2_KNOWNHOST_KEY_ECDSA_384: return "ecdsa-sha2-nistp384";
    case LIBSSH2_KNOWNHOST_KEY_ECDSA_521: return "ecdsa-sha2-nistp521";
    case LIBSSH2_KNOWNHOST_KEY_SSHRSA: return "ssh-rsa";
    case LIBSSH2_KNOWNHOST_KEY_SSHDSS: return "ssh-dss";
  }
  return nullptr;
}

// libssh2_session_hostkey type -> LIBSSH2_KNOWNHOST_KEY_*.
int knownHostKeyType(int hostkey_type) {
  switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
  }
  return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

bool isSocketError(int rc) {
  return rc == LIBSSH2_ERROR_SOCKET_NONE || rc == LIBSSH2_ERROR_SOCKET_SEND ||
         rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
         rc == LIBSSH2_ERROR_BANNER_RECV || rc == LIBSSH2_ERROR_BANNER_SEND ||
         rc == LIBSSH2_ERROR_SOCKET_TIMEOUT || rc == LIBSSH2_ERROR_BAD_SOCKET;
}

bool validRemoteName(const std::string& n) {
  return !n.empty() && n.find('/') == std::string::npos && n != "." && n != ".." &&
         n.find('\0') == std::string::npos;
}

// One upload attempt: owns the socket, the session, the SFTP subsystem and the open handle,
// and frees all of them in the destructor on every path.
class Attempt {
 public:
  explicit Attempt(const ServerTarget& t) : t_(t) {}
  ~Attempt() { teardown(); }
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;

  TransferResult run(const std::string& local_path, const std::string& remote_name);

 private:
  struct Fail {
    TransferStatus status;
    std::string detail;
  };

  std::chrono::milliseconds step() const {
    return std::chrono::milliseconds(t_.step_timeout_ms > 0 ? t_.step_timeout_ms : 1);
  }
  // Waits until the socket is ready in the directions libssh2 is blocked on, or the deadline.
  // false: the deadline passed.
  bool waitSocket(Clock::time_point deadline) const;
  // Calls f() (libssh2 return convention) again while it says EAGAIN and the deadline has not
  // passed. Returns f()'s last result, or LIBSSH2_ERROR_TIMEOUT.
  template <typename F>
  int retry(F&& f, Clock::time_point deadline) const {
    while (true) {
      int rc = f();
      if (rc != LIBSSH2_ERROR_EAGAIN) {
        return rc;
      }
      if (!waitSocket(deadline)) {
        return LIBSSH2_ERROR_TIMEOUT;
      }
    }
  }
  int retryStep(auto&& f) const { return retry(f, Clock::now() + step()); }

  // The failure for libssh2 result `rc` of `what`.
  Fail failure(const std::string& what, int rc) const;
  std::string lastError() const;

  Fail connectSocket();
  bool readKnownHosts(Fail* fail);
  // stat of `name`: 1 exists (size in *size), 0 does not exist, <0 a libssh2 error.
  int remoteStat(const std::string& name, uint64_t* size, bool* has_size);
  int remoteUnlink(const std::string& name);
  // Graceful close of the handle, the SFTP channel and the session, each with a deadline; on
  // any failure falls back to abort().
  void closeGracefully();
  // Ends everything without waiting: shuts the socket down so that libssh2 fails fast, then
  // frees its objects and closes the socket.
  void teardown();

  const ServerTarget& t_;
  int fd_ = -1;
  LIBSSH2_SESSION* session_ = nullptr;
  LIBSSH2_KNOWNHOSTS* known_ = nullptr;
  LIBSSH2_SFTP* sftp_ = nullptr;
  LIBSSH2_SFTP_HANDLE* handle_ = nullptr;
  bool handshaken_ = false;
  std::string prefs_;  // host key algorithms from known_hosts
};

bool Attempt::waitSocket(Clock::time_point deadline) const {
  while (true) {
    auto now = Clock::now();
    if (now >= deadline) {
      return false;
    }
    int dirs = libssh2_session_block_directions(session_);
    struct pollfd p {};
    p.fd = fd_;
    if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND) {
      p.events |= POLLIN;
    }
    if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) {
      p.events |= POLLOUT;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
    if (p.events == 0) {
      // libssh2 did not say: look again soon.
      p.events = POLLIN;
      left = std::min<long>(left, 10);
    }
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    // Ready, an error or hang-up on the socket (libssh2 reports it on the next call), or the
    // poll timed out: the caller calls libssh2 again and comes back here, where the deadline
    // is checked first.
    return true;
  }
}

std::string Attempt::lastError() const {
  char* msg = nullptr;
  int len = 0;
  libssh2_session_last_error(session_, &msg, &len, 0);
  return msg != nullptr && len > 0 ? std::string(msg, static_cast<size_t>(len)) : "";
}

Attempt::Fail Attempt::failure(const std::string& what, int rc) const {
  if (rc == LIBSSH2_ERROR_TIMEOUT) {
    return {TransferStatus::kTimeout,
            what + ": no answer within " + std::to_string(t_.step_timeout_ms) + " ms"};
  }
  if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && sftp_ != nullptr) {
    unsigned long code = libssh2_sftp_last_error(sftp_);
    return {TransferStatus::kRemote, what + ": " + sftpStatusName(code) + " (SFTP status " +
                                         std::to_string(code) + ")"};
  }
  std::string text = what + ": " + lastError() + " (libssh2 " + std::to_string(rc) + ")";
  switch (rc) {
    case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
    case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
    case LIBSSH2_ERROR_PASSWORD_EXPIRED:
      return {TransferStatus::kAuth, text};
    case LIBSSH2_ERROR_FILE:
    case LIBSSH2_ERROR_KEYFILE_AUTH_FAILED:
      return {TransferStatus::kLocal, text};
    default:
      break;
  }
  if (isSocketError(rc)) {
    return {handshaken_ ? TransferStatus::kProtocol : TransferStatus::kConnect,
            text + (handshaken_ ? ": connection lost" : "")};
  }
  return {TransferStatus::kProtocol, text};
}

Attempt::Fail Attempt::connectSocket() {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = 0;
  if (t_.address.family == 4) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&ss);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(t_.port);
    sa->sin_addr.s_addr = htonl(t_.address.v4);
    len = sizeof(sockaddr_in);
    family = AF_INET;
  } else if (t_.address.family == 6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&ss);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(t_.port);
    for (int i = 0; i < 8; ++i) {
      sa->sin6_addr.s6_addr[i] = static_cast<uint8_t>(t_.address.v6.hi >> (56 - 8 * i));
      sa->sin6_addr.s6_addr[8 + i] = static_cast<uint8_t>(t_.address.v6.lo >> (56 - 8 * i));
    }
    len = sizeof(sockaddr_in6);
    family = AF_INET6;
  } else {
    return {TransferStatus::kLocal, "no server address configured"};
  }
  const std::string where = formatIp(t_.address) + " port " + std::to_string(t_.port);
  fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    return {TransferStatus::kLocal, std::string("socket: ") + std::strerror(errno)};
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    return {TransferStatus::kOk, ""};
  }
  if (errno != EINPROGRESS) {
    return {TransferStatus::kConnect, "connect " + where + ": " + std::strerror(errno)};
  }
  auto deadline = Clock::now() + step();
  while (true) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return {TransferStatus::kTimeout, "connect " + where + ": no answer within " +
                                            std::to_string(t_.step_timeout_ms) + " ms"};
    }
    struct pollfd p {};
    p.fd = fd_;
    p.events = POLLOUT;
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n > 0) {
      break;
    }
  }
  int err = 0;
  socklen_t el = sizeof(err);
  ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &el);
  if (err != 0) {
    return {TransferStatus::kConnect, "connect " + where + ": " + std::strerror(err)};
  }
  return {TransferStatus::kOk, ""};
}

bool Attempt::readKnownHosts(Fail* fail) {
  if (t_.known_hosts_path.empty()) {
    *fail = {TransferStatus::kLocal, "no known_hosts file configured"};
    return false;
  }
  known_ = libssh2_knownhost_init(session_);
  if (known_ == nullptr) {
    *fail = {TransferStatus::kLocal, "libssh2_knownhost_init failed"};
    return false;
  }
  // readfile does not tell a missing file from an empty one clearly: check first.
  if (::access(t_.known_hosts_path.c_str(), R_OK) != 0) {
    *fail = {TransferStatus::kLocal,
             "known_hosts " + t_.known_hosts_path + ": " + std::strerror(errno)};
    return false;
  }
  int n = libssh2_knownhost_readfile(known_, t_.known_hosts_path.c_str(),
                                     LIBSSH2_KNOWNHOST_FILE_OPENSSH);
  if (n < 0) {
    *fail = {TransferStatus::kLocal,
             "known_hosts " + t_.known_hosts_path + ": cannot parse (" + lastError() + ")"};
    return false;
  }
  const std::string ip = formatIp(t_.address);
  const std::string name = t_.port == 22 ? ip : "[" + ip + "]:" + std::to_string(t_.port);
  std::set<std::string> methods;
  struct libssh2_knownhost* prev = nullptr;
  struct libssh2_knownhost* h = nullptr;
  while (libssh2_knownhost_get(known_, &h, prev) == 0) {
    prev = h;
    // A hashed entry (name NULL) may be for this server: its key type counts.
    if (h->name != nullptr && name != h->name) {
      continue;
    }
    const char* m = hostKeyMethod(h->typemask & LIBSSH2_KNOWNHOST_KEY_MASK);
    if (m != nullptr) {
      methods.insert(m);
    }
  }
  // Preferred order: ed25519, ECDSA, then the rest.
  for (const char* m : {"ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                        "ecdsa-sha2-nistp521", "ssh-rsa", "ssh-dss"}) {
    if (methods.count(m) != 0) {
      if (!prefs_.empty()) {
        prefs_ += ',';
      }
      prefs_ += m;
    }
  }
  return true;
}

int Attempt::remoteStat(const std::string& name, uint64_t* size, bool* has_size) {
  LIBSSH2_SFTP_ATTRIBUTES attrs{};
  int rc = retryStep([&] {
    return libssh2_sftp_stat_ex(sftp_, name.c_str(), static_cast<unsigned>(name.size()),
                                LIBSSH2_SFTP_STAT, &attrs);
  });
  if (rc == 0) {
    *has_size = (attrs.flags & LIBSSH2_SFTP_ATTR_SIZE) != 0;
    *size = attrs.filesize;
    return 1;
  }
  if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
    unsigned long code = libssh2_sftp_last_error(sftp_);
    if (code == LIBSSH2_FX_NO_SUCH_FILE || code == LIBSSH2_FX_NO_SUCH_PATH) {
      return 0;
    }
  }
  return rc;
}

int Attempt::remoteUnlink(const std::string& name) {
  return retryStep([&] {
    return libssh2_sftp_unlink_ex(sftp_, name.c_str(), static_cast<unsigned>(name.size()));
  });
}

void Attempt::closeGracefully() {
  if (handle_ != nullptr) {
    int rc = retryStep([&] { return libssh2_sftp_close_handle(handle_); });
    if (rc == LIBSSH2_ERROR_TIMEOUT) {
      return;  // teardown() ends it
    }
    handle_ = nullptr;
  }
  if (sftp_ != nullptr) {
    int rc = retryStep([&] { return libssh2_sftp_shutdown(sftp_); });
    if (rc == LIBSSH2_ERROR_TIMEOUT) {
      return;
    }
    sftp_ = nullptr;
  }
  if (session_ != nullptr) {
    retryStep([&] {
      return libssh2_session_disconnect_ex(session_, SSH_DISCONNECT_BY_APPLICATION, "done", "");
    });
  }
}

void Attempt::teardown() {
  // After shutdown() every send fails (EPIPE; libssh2 sends with MSG_NOSIGNAL) and every
  // receive sees the end: libssh2 frees its objects without waiting for the server.
  if (fd_ >= 0) {
    ::shutdown(fd_, SHUT_RDWR);
  }
  // Bounded: with the socket shut down libssh2 does not say EAGAIN; the bound is a safety net.
  auto drain = [](auto&& f) {
    for (int i = 0; i < 100 && f() == LIBSSH2_ERROR_EAGAIN; ++i) {
    }
  };
  if (handle_ != nullptr) {
    drain([&] { return libssh2_sftp_close_handle(handle_); });
    handle_ = nullptr;
  }
  if (sftp_ != nullptr) {
    drain([&] { return libssh2_sftp_shutdown(sftp_); });
    sftp_ = nullptr;
  }
  if (known_ != nullptr) {
    libssh2_knownhost_free(known_);
    known_ = nullptr;
  }
  if (session_ != nullptr) {
    drain([&] { return libssh2_session_free(session_); });
    session_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

TransferResult Attempt::run(const std::string& local_path, const std::string& remote_name) {
  TransferResult r;
  auto start = Clock::now();
  auto done = [&](TransferStatus s, std::string detail) {
    r.status = s;
    r.detail = std::move(detail);
    if (r.ok()) {
      closeGracefully();
    }
    teardown();
    r.elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start)
                       .count();
    return r;
  };
  auto doneWith = [&](const Fail& f) { return done(f.status, f.detail); };

  if (!validRemoteName(remote_name)) {
    return done(TransferStatus::kLocal, "invalid remote file name '" + remote_name + "'");
  }
  const std::string part = remote_name + ".part";
  int local = ::open(local_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (local < 0) {
    return done(TransferStatus::kLocal, "open " + local_path + ": " + std::strerror(errno));
  }
  struct LocalFile {
    int fd;
    ~LocalFile() { ::close(fd); }
  } local_file{local};
  struct stat st;
  if (::fstat(local, &st) != 0 || !S_ISREG(st.st_mode)) {
    return done(TransferStatus::kLocal, local_path + ": not a readable regular file");
  }
  const uint64_t local_size = static_cast<uint64_t>(st.st_size);
  if (!t_.private_key_path.empty() && ::access(t_.private_key_path.c_str(), R_OK) != 0) {
    return done(TransferStatus::kLocal,
                "private key " + t_.private_key_path + ": " + std::strerror(errno));
  }

  session_ = libssh2_session_init();
  if (session_ == nullptr) {
    return done(TransferStatus::kLocal, "libssh2_session_init failed");
  }
  libssh2_session_set_blocking(session_, 0);
  Fail f{TransferStatus::kOk, ""};
  if (!readKnownHosts(&f)) {
    return doneWith(f);
  }
  if (!prefs_.empty() &&
      libssh2_session_method_pref(session_, LIBSSH2_METHOD_HOSTKEY, prefs_.c_str()) != 0) {
    return done(TransferStatus::kLocal, "host key algorithms '" + prefs_ + "': " + lastError());
  }
  f = connectSocket();
  if (f.status != TransferStatus::kOk) {
    return doneWith(f);
  }
  int rc = retryStep([&] { return libssh2_session_handshake(session_, fd_); });
  if (rc != 0) {
    return doneWith(failure("ssh handshake", rc));
  }
  handshaken_ = true;

  // Host key against known_hosts.
  size_t key_len = 0;
  int key_type = 0;
  const char* key = libssh2_session_hostkey(session_, &key_len, &key_type);
  if (key == nullptr) {
    return done(TransferStatus::kProtocol, "no host key from the server");
  }
  struct libssh2_knownhost* match = nullptr;
  const std::string ip = formatIp(t_.address);
  int check = libssh2_knownhost_checkp(
      known_, ip.c_str(), t_.port, key, key_len,
      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | knownHostKeyType(key_type),
      &match);
  const std::string server = t_.port == 22 ? ip : "[" + ip + "]:" + std::to_string(t_.port);
  if (check == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) {
    return done(TransferStatus::kHostKeyUnknown,
                "host key of " + server + " is not in " + t_.known_hosts_path);
  }
  if (check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
    return done(TransferStatus::kHostKeyChanged, "host key of " + server + " differs from " +
                                                     t_.known_hosts_path + " (changed key?)");
  }
  if (check != LIBSSH2_KNOWNHOST_CHECK_MATCH) {
    return done(TransferStatus::kProtocol, "host key check of " + server + " failed");
  }

  // Authentication.
  const std::string& user = t_.user_name;
  if (!t_.private_key_path.empty()) {
    std::string pub = t_.private_key_path + ".pub";
    const char* pub_path = ::access(pub.c_str(), R_OK) == 0 ? pub.c_str() : nullptr;
    rc = retryStep([&] {
      return libssh2_userauth_publickey_fromfile_ex(session_, user.c_str(),
                                                    static_cast<unsigned>(user.size()), pub_path,
                                                    t_.private_key_path.c_str(), nullptr);
    });
    if (rc != 0) {
      // A key file libssh2 cannot use is reported as an authentication failure too (-18/-19
      // come from the server; -16 / -48 from the file).
      return doneWith(failure("public key authentication of '" + user + "' with " +
                                  t_.private_key_path,
                              rc));
    }
  } else {
    rc = retryStep([&] {
      return libssh2_userauth_password_ex(session_, user.c_str(),
                                          static_cast<unsigned>(user.size()),
                                          t_.password.c_str(),
                                          static_cast<unsigned>(t_.password.size()), nullptr);
    });
    if (rc != 0) {
      return doneWith(failure("password authentication of '" + user + "'", rc));
    }
  }

  rc = retryStep([&] {
    sftp_ = libssh2_sftp_init(session_);
    return sftp_ != nullptr ? 0 : libssh2_session_last_errno(session_);
  });
  if (rc != 0) {
    sftp_ = nullptr;
    return doneWith(failure("sftp_init", rc));
  }

  // Delivered before (a crash between the rename and the local delete)?
  uint64_t remote_size = 0;
  bool has_size = false;
  rc = remoteStat(remote_name, &remote_size, &has_size);
  if (rc < 0) {
    return doneWith(failure("sftp_stat(" + remote_name + ")", rc));
  }
  if (rc == 1) {
    if (has_size && remote_size == local_size) {
      return done(TransferStatus::kAlreadyThere,
                  remote_name + " already on the server with " + std::to_string(local_size) +
                      " octets");
    }
    return done(TransferStatus::kRemote,
                remote_name + " exists on the server with " +
                    (has_size ? std::to_string(remote_size) : std::string("unknown")) +
                    " octets, the local file has " + std::to_string(local_size));
  }

  rc = retryStep([&] {
    handle_ = libssh2_sftp_open_ex(sftp_, part.c_str(), static_cast<unsigned>(part.size()),
                                   LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
                                   0644, LIBSSH2_SFTP_OPENFILE);
    return handle_ != nullptr ? 0 : libssh2_session_last_errno(session_);
  });
  if (rc != 0) {
    handle_ = nullptr;
    return doneWith(failure("sftp_open(" + part + ")", rc));
  }

  // Writes: one chunk of the file at a time. libssh2_sftp_write sends the whole chunk as
  // requests in flight and returns when the first is acknowledged; a short return means "call
  // again with the rest of the same, unmodified buffer".
  const size_t chunk = t_.write_chunk_bytes > 0 ? t_.write_chunk_bytes : (2u << 20);
  std::vector<char> buf(chunk);
  uint64_t sent = 0;
  while (true) {
    size_t have = 0;
    while (have < chunk) {
      ssize_t n = ::read(local, buf.data() + have, chunk - have);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        r.bytes = sent;
        return done(TransferStatus::kLocal, "read " + local_path + ": " + std::strerror(errno));
      }
      if (n == 0) {
        break;
      }
      have += static_cast<size_t>(n);
    }
    if (have == 0) {
      break;
    }
    size_t off = 0;
    auto deadline = Clock::now() + step();
    while (off < have) {
      ssize_t w = libssh2_sftp_write(handle_, buf.data() + off, have - off);
      if (w == LIBSSH2_ERROR_EAGAIN) {
        if (!waitSocket(deadline)) {
          r.bytes = sent;
          return doneWith(failure("sftp_write(" + part + ") at offset " + std::to_string(sent),
                                  LIBSSH2_ERROR_TIMEOUT));
        }
        continue;
      }
      if (w < 0) {
        r.bytes = sent;
        return doneWith(failure("sftp_write(" + part + ") at offset " + std::to_string(sent),
                                static_cast<int>(w)));
      }
      off += static_cast<size_t>(w);
      sent += static_cast<uint64_t>(w);
      deadline = Clock::now() + step();  // progress: a new deadline for the rest
    }
    if (have < chunk) {
      break;
    }
  }
  r.bytes = sent;

  rc = retryStep([&] { return libssh2_sftp_fsync(handle_); });
  if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL &&
      libssh2_sftp_last_error(sftp_) == LIBSSH2_FX_OP_UNSUPPORTED) {
    rc = 0;  // the server has no fsync@openssh.com: accepted
  }
  if (rc != 0) {
    return doneWith(failure("sftp_fsync(" + part + ")", rc));
  }
  rc = retryStep([&] { return libssh2_sftp_close_handle(handle_); });
  if (rc != 0) {
    return doneWith(failure("sftp_close(" + part + ")", rc));
  }
  handle_ = nullptr;

  rc = remoteStat(part, &remote_size, &has_size);
  if (rc < 0) {
    return doneWith(failure("sftp_stat(" + part + ")", rc));
  }
  if (rc == 0 || (has_size && remote_size != local_size)) {
    return done(TransferStatus::kRemote,
                part + " on the server has " +
                    (rc == 0 ? std::string("vanished") : std::to_string(remote_size) + " octets") +
                    " after the upload of " + std::to_string(local_size));
  }

  rc = retryStep([&] {
    return libssh2_sftp_rename_ex(sftp_, part.c_str(), static_cast<unsigned>(part.size()),
                                  remote_name.c_str(), static_cast<unsigned>(remote_name.size()),
                                  LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
                                      LIBSSH2_SFTP_RENAME_NATIVE);
  });
  if (rc != 0) {
    Fail rename_fail = failure("sftp_rename(" + part + " -> " + remote_name + ")", rc);
    if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
      return doneWith(rename_fail);
    }
    // OpenSSH (v3): link+unlink, fails when the name exists. Delivered meanwhile?
    int s = remoteStat(remote_name, &remote_size, &has_size);
    if (s == 1 && has_size && remote_size == local_size) {
      remoteUnlink(part);
      return done(TransferStatus::kAlreadyThere,
                  remote_name + " appeared on the server with the local size during the upload");
    }
    if (s == 1) {
      return done(TransferStatus::kRemote,
                  rename_fail.detail + ": " + remote_name + " exists with " +
                      (has_size ? std::to_string(remote_size) : std::string("unknown")) +
                      " octets, the local file has " + std::to_string(local_size));
    }
    return doneWith(rename_fail);
  }
  return done(TransferStatus::kOk, "");
}

class SftpTransport final : public Transport {
 public:
  explicit SftpTransport(const ServerTarget& t) : target_(t) {}
  const char* protocol() const override { return "sftp"; }
  TransferResult upload(const std::string& local_path, const std::string& remote_name) override {
    Attempt a(target_);
    return a.run(local_path, remote_name);
  }

 private:
  ServerTarget target_;
};

}  // namespace

std::unique_ptr<Transport> makeSftpTransport(const ServerTarget& target) {
  static std::once_flag once;
  std::call_once(once, [] { libssh2_init(0); });
  return std::make_unique<SftpTransport>(target);
}

}  // namespace tally::bill
