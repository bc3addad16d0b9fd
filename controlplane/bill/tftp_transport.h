#pragma once
// TftpTransport: the bill-server seam (transport.h) over TFTP (RFC 1350, options RFC 2347-2349)
// with libcurl 7.88: one easy handle per upload, torn down before upload() returns.
//
// TFTP has no authentication, no encryption and no rename: the file is written under its final
// name, a failed upload can leave it partial on the server, and an existing file is
// overwritten (tftpd-hpa). There is no "already there" check (TFTP cannot stat).
//
// Size limit: block numbers are 16 bit. The upload asks for tftp_blksize octets per block but
// a server that ignores the option makes it 512, so the limit is computed for 512 (and for
// tftp_blksize when that is smaller): a file needs floor(size / blksize) + 1 DATA blocks (the
// last one short, possibly empty). More than kTftpMaxBlocks blocks is refused with kTooLarge
// before anything is sent. kTftpMaxBlocks is 65534, not 65535: libcurl 7.88 sends the whole
// file but then fails with a timeout when the final block number is 65535 or 0 (mod 65536)
// (its end test breaks at the 16-bit roll-over), so a final block 65535 is refused too. At
// 512 octets that is at most 33,553,407 octets per file; no roll-over is relied upon (servers
// differ).
//
// Deadlines: CURLOPT_CONNECTTIMEOUT_MS = step_timeout_ms (until the server's first answer);
// CURLOPT_TIMEOUT_MS (the whole transfer; TFTP is lock-step, one block per round trip) =
// step_timeout_ms + 10 ms for each 512-octet block of the file (the time for a 10 ms round
// trip at the worst-case block size: +655 s at the largest allowed file); and a stall
// (no octet sent for step_timeout_ms, rounded up to whole seconds) also ends it
// (CURLOPT_LOW_SPEED_LIMIT/TIME). With no server listening curl sees no ICMP (unconnected UDP
// socket) and the result is kTimeout.
//
// Errors: the CURLcode decides (libcurl 7.88's text for TFTP errors is often a bogus
// "getpeername() failed"); each TFTP error packet becomes kRemote with its meaning.
//
// Threads: upload() blocks; one thread at a time per transport object. curl_global_init() is
// done once by makeTftpTransport() (call it before starting other threads that use libcurl).
#include <cstdint>
#include <memory>

#include "controlplane/bill/transport.h"

namespace tally::bill {

constexpr uint64_t kTftpMaxBlocks = 65534;
// Whether a file of `size_bytes` may be sent with `blksize` asked for (see above).
bool tftpSizeAllowed(uint64_t size_bytes, uint16_t blksize);
// The largest size allowed with `blksize` asked for (33,553,407 for blksize >= 512).
uint64_t tftpMaxBytes(uint16_t blksize);
// CURLOPT_TIMEOUT_MS for a file of `size_bytes` (see above).
int64_t tftpTransferTimeoutMs(int64_t step_timeout_ms, uint64_t size_bytes);

std::unique_ptr<Transport> makeTftpTransport(const ServerTarget& target);

}  // namespace tally::bill
