#pragma once
// The production RadiusTransport: one non-blocking UDP socket (IPv4 or IPv6) connect()ed to one
// RADIUS server. Connecting does three things for the client: the kernel picks the ephemeral
// source port (one socket = one Identifier space of 256), datagrams from any other source are
// filtered by the kernel, and an ICMP port/host unreachable for the server is reported on the
// socket (ECONNREFUSED, EHOSTUNREACH: TransportStatus::kUnreachable) so the client can fail
// over without waiting for its timeout (docs/radius.md, section 6).
//
// Contract (radius_transport.h): send() and receive() never block; errno never leaves this
// file: EAGAIN -> kWouldBlock, ECONNREFUSED / EHOSTUNREACH / ENETUNREACH -> kUnreachable,
// EMSGSIZE -> kTooLarge, anything else -> kError with "call addr:port: strerror" in detail.
// The descriptor is SOCK_CLOEXEC: a child process (a bill upload helper) never inherits it.
#include <memory>
#include <string>
#include <vector>

#include "controlplane/radius/radius_transport.h"

namespace tally::radius {

// "192.0.2.1:1813", "[2001:db8::1]:1813": for logs and error details.
std::string formatEndpoint(const Endpoint& e);

class UdpTransport final : public RadiusTransport {
 public:
  // A socket connected to `to`; null with *error set ("socket ...: why", "connect ...: why")
  // when it cannot be opened (an address family the host lacks, no descriptors left).
  static std::unique_ptr<RadiusTransport> open(const Endpoint& to, std::string* error);
  ~UdpTransport() override;
  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;

  // `to` must be the connected server (the client only sends a socket's datagrams to its
  // server); anything else is refused with kError rather than sent elsewhere.
  TransportResult send(const Endpoint& to, std::span<const uint8_t> datagram) override;
  ReceivedDatagram receive() override;
  int readableFd() const override { return fd_; }

  // The local port the kernel chose (tests, logs); 0 if unknown.
  uint16_t localPort() const;

 private:
  UdpTransport(int fd, Endpoint peer);
  int fd_ = -1;
  Endpoint peer_;
  std::string peer_text_;
  std::vector<uint8_t> buffer_;  // receive(): one datagram at a time, reused
};

}  // namespace tally::radius
