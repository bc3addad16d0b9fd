#pragma once
// SftpTransport: the bill-server seam (transport.h) over SFTP with libssh2 1.10.
//
// One upload = one TCP connection and one SSH session, torn down before upload() returns (no
// connection is kept between files). The session is non-blocking: every libssh2 call that
// would block is retried after poll() on the socket in the directions libssh2 asks for
// (libssh2_session_block_directions), against a deadline of step_timeout_ms per step (connect,
// handshake, authentication, sftp init, stat, open, each write, fsync, close, rename). For the
// writes the deadline is counted from the last progress (an acknowledged write request), so a
// large file is not limited in time as a whole but a server that stops answering fails the
// transfer within step_timeout_ms.
//
// Host key: pinned. The host key algorithms offered are those of the known_hosts entries for
// the server ("[ip]:port" for a port other than 22, plain "ip" for 22; hashed entries count
// for their key type); a key not in the file is kHostKeyUnknown, another key kHostKeyChanged,
// and nothing of the bill is sent in either case. No trust on first use.
//
// Authentication: private_key_path when set (ed25519 or ECDSA; RSA keys are signed with SHA-1
// by libssh2 1.10 and OpenSSH >= 8.8 refuses them; NAME.pub is used when it exists), else the
// password.
//
// Upload: stat(NAME) first (there with the local size -> kAlreadyThere without sending; there
// with another size -> kRemote), NAME.part written (WRITE|CREAT|TRUNC, 0644) in writes of
// write_chunk_bytes (libssh2 splits each into ~30000-octet requests in flight: the chunk is the
// pipelining depth), fsync (fsync@openssh.com; a server without it is accepted), close, stat of
// NAME.part == local size, rename to NAME. OpenSSH (SFTP v3) renames by link+unlink and fails
// when NAME exists: then NAME with the local size is kAlreadyThere (NAME.part is removed), with
// another size kRemote.
//
// Threads: upload() blocks; call it from one thread at a time per transport object (the
// transfer thread). Different objects may upload concurrently. libssh2_init() is done once
// by makeSftpTransport().
#include <memory>

#include "controlplane/bill/transport.h"

namespace tally::bill {

std::unique_ptr<Transport> makeSftpTransport(const ServerTarget& target);

}  // namespace tally::bill
