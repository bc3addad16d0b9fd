#pragma once
// The bill-server seam: one bill file from the local disk (CF card or outbox) to the bill server.
// libssh2 / libcurl errors become TransferStatus values here; nothing above this seam sees a
// library. Implementations: sftp_transport.cc (libssh2), tftp_transport.cc (libcurl); the fake
// for unit tests is tests/fakes/fake_transport.h.
//
// Contract:
// - upload() is blocking and runs on the transfer thread only (never on the poll). Every step
//   (connect, handshake, authentication, open, each write, fsync, close, rename, stat) has a
//   deadline of step_timeout_ms, also in non-blocking mode; a server that stops answering
//   fails the transfer within that deadline, and a failed transfer leaks no descriptor or memory.
// - kOk / kAlreadyThere: the server holds remote_name whole (SFTP: uploaded as NAME.part,
//   fsync'd where the server supports it, renamed, size checked). kAlreadyThere: remote_name
//   was already on the server with the local file's size (delivered before a crash between the
//   rename and the local delete). Only then may the caller delete its local copy.
// - TFTP cannot rename: a failed upload can leave a partial remote_name on the server (the
//   sequence numbers in the file let mediation see it; docs/storage.md).
// - `detail` is for the log and the display: it names the step and the library's error, and
//   never contains a password, a key or a passphrase.
#include <cstdint>
#include <memory>
#include <string>

#include "shared/net.h"

namespace tally::bill {

enum class TransferStatus : uint8_t {
  kOk = 0,
  kAlreadyThere,    // delivered earlier: remote_name exists with the same size
  kConnect,         // no TCP connection (refused, unreachable)
  kTimeout,         // a step missed its deadline
  kHostKeyUnknown,  // SFTP: the server's host key is not in known_hosts (nothing sent)
  kHostKeyChanged,  // SFTP: known_hosts holds another key for this server (nothing sent)
  kAuth,            // user name / password / key refused
  kRemote,          // the server refused an operation (permission, no space, name exists with
                    // another size, TFTP error packet)
  kLocal,           // the local file could not be read, or configuration (key file) is unusable
  kTooLarge,        // TFTP: more blocks than the negotiated block size can number
  kProtocol,        // anything else the library reported
};
const char* transferStatusName(TransferStatus s);  // "ok", "already-there", "connect", ...
// Whether trying the same file again later can succeed without the operator (connect, timeout,
// remote, protocol; not host key, auth, local, too large).
bool transferRetryable(TransferStatus s);

struct TransferResult {
  TransferStatus status = TransferStatus::kProtocol;
  std::string detail;     // e.g. "sftp_open(x.part): permission denied (SFTP status 3)"
  uint64_t bytes = 0;     // file bytes sent in this attempt
  int64_t elapsed_ns = 0;
  bool ok() const { return status == TransferStatus::kOk || status == TransferStatus::kAlreadyThere; }
};

struct ServerTarget {
  IpAddress address;
  uint16_t port = 22;
  std::string user_name;          // SFTP
  std::string password;           // SFTP, decrypted; in memory only, never logged
  std::string private_key_path;   // SFTP: ed25519 / ECDSA private key (instead of password)
  std::string known_hosts_path;   // SFTP: OpenSSH known_hosts; required
  int64_t step_timeout_ms = 10000;
  size_t write_chunk_bytes = 2u << 20;  // SFTP: bytes per libssh2_sftp_write call (pipelining)
  uint16_t tftp_blksize = 1468;         // TFTP: asked for (512 when the server ignores options)
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual const char* protocol() const = 0;  // "sftp" | "tftp"
  // remote_name: a plain file name (no '/', no "..").
  virtual TransferResult upload(const std::string& local_path, const std::string& remote_name) = 0;
};

std::unique_ptr<Transport> makeSftpTransport(const ServerTarget& target);
std::unique_ptr<Transport> makeTftpTransport(const ServerTarget& target);

}  // namespace tally::bill
