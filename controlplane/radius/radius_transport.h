#pragma once
// The RADIUS datagram seam: one UDP datagram to a server, and the datagrams that arrive with
// their source. Socket errors become TransportStatus values here; nothing above this seam sees
// errno. The production implementation (a non-blocking UDP socket, next issue) and the fake
// for unit tests (tests/fakes/fake_radius_transport.h) implement it.
//
// Contract:
// - Both calls are non-blocking and run on the RADIUS client's thread only.
// - send() hands one whole datagram to the network or reports why not; it never sends part.
// - receive() returns kOk with one datagram, kWouldBlock when none is waiting. The source is
//   the datagram's real source (address and port), which the client compares against its
//   configured servers before looking at the packet.
// - readableFd() is what the client's event loop waits on (poll()); -1 when there is none
//   (the fake).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "shared/net.h"

namespace tally::radius {

struct Endpoint {
  IpAddress address;
  uint16_t port = 0;
  bool operator==(const Endpoint&) const = default;
};

enum class TransportStatus : uint8_t {
  kOk = 0,
  kWouldBlock,   // send: socket buffer full; receive: nothing waiting
  kUnreachable,  // ICMP unreachable reported on the socket (ECONNREFUSED, EHOSTUNREACH, ...)
  kTooLarge,     // the datagram exceeds what the socket can send (EMSGSIZE)
  kError,        // anything else; detail names the call and errno
};
const char* transportStatusName(TransportStatus s);

struct TransportResult {
  TransportStatus status = TransportStatus::kError;
  std::string detail;  // "sendto 192.0.2.1:1813: Network is unreachable"
  bool ok() const { return status == TransportStatus::kOk; }
};

struct ReceivedDatagram {
  TransportResult result;
  Endpoint source;
  std::vector<uint8_t> bytes;
};

class RadiusTransport {
 public:
  virtual ~RadiusTransport() = default;
  virtual TransportResult send(const Endpoint& to, std::span<const uint8_t> datagram) = 0;
  virtual ReceivedDatagram receive() = 0;
  virtual int readableFd() const = 0;
};

inline const char* transportStatusName(TransportStatus s) {
  switch (s) {
    case TransportStatus::kOk:
      return "ok";
    case TransportStatus::kWouldBlock:
      return "would-block";
    case TransportStatus::kUnreachable:
      return "unreachable";
    case TransportStatus::kTooLarge:
      return "too-large";
    case TransportStatus::kError:
      return "error";
  }
  return "unknown";
}

}  // namespace tally::radius
