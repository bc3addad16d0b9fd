#include "controlplane/radius/udp_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace tally::radius {
namespace {

// Datagrams above RFC 2865's 4096 octets are read whole (up to the UDP maximum) so the parser
// sees their real size and refuses them by their Length field, never a silent cut.
constexpr size_t kReceiveBuffer = 65536;

void storeIp6(const Ip6& a, uint8_t* out) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(a.hi >> (56 - 8 * i));
    out[8 + i] = static_cast<uint8_t>(a.lo >> (56 - 8 * i));
  }
}

// The sockaddr of an endpoint; its length, 0 for an unset family.
socklen_t toSockaddr(const Endpoint& e, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof(*ss));
  if (e.address.family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(e.port);
    sin->sin_addr.s_addr = htonl(e.address.v4);
    return sizeof(sockaddr_in);
  }
  if (e.address.family == 6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(e.port);
    storeIp6(e.address.v6, sin6->sin6_addr.s6_addr);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

Endpoint fromSockaddr(const sockaddr_storage& ss) {
  Endpoint e;
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    e.address.family = 4;
    e.address.v4 = ntohl(sin->sin_addr.s_addr);
    e.port = ntohs(sin->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    e.address.family = 6;
    e.address.v6 = loadIp6(sin6->sin6_addr.s6_addr);
    e.port = ntohs(sin6->sin6_port);
  }
  return e;
}

TransportResult fromErrno(int err, const char* call, const std::string& peer) {
  TransportStatus s = TransportStatus::kError;
  switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      s = TransportStatus::kWouldBlock;
      break;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
      s = TransportStatus::kUnreachable;
      break;
    case EMSGSIZE:
      s = TransportStatus::kTooLarge;
      break;
    default:
      break;
  }
  return {s, std::string(call) + " " + peer + ": " + std::strerror(err)};
}

}  // namespace

std::string formatEndpoint(const Endpoint& e) {
  if (e.address.family == 6) {
    return "[" + formatIp(e.address) + "]:" + std::to_string(e.port);
  }
  return formatIp(e.address) + ":" + std::to_string(e.port);
}

std::unique_ptr<RadiusTransport> UdpTransport::open(const Endpoint& to, std::string* error) {
  const std::string peer = formatEndpoint(to);
  sockaddr_storage ss;
  socklen_t len = toSockaddr(to, &ss);
  if (len == 0 || to.port == 0) {
    if (error != nullptr) {
      *error = "socket " + peer + ": no address family or port";
    }
    return nullptr;
  }
  int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (error != nullptr) {
      *error = "socket " + peer + ": " + std::strerror(errno);
    }
    return nullptr;
  }
  // No explicit bind: connect() binds the socket to an ephemeral port the kernel chooses, with
  // the source address the route to the server gives.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    int err = errno;
    ::close(fd);
    if (error != nullptr) {
      *error = "connect " + peer + ": " + std::strerror(err);
    }
    return nullptr;
  }
  return std::unique_ptr<RadiusTransport>(new UdpTransport(fd, to));
}

UdpTransport::UdpTransport(int fd, Endpoint peer)
    : fd_(fd), peer_(peer), peer_text_(formatEndpoint(peer)) {}

UdpTransport::~UdpTransport() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

uint16_t UdpTransport::localPort() const {
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return 0;
  }
  return fromSockaddr(ss).port;
}

TransportResult UdpTransport::send(const Endpoint& to, std::span<const uint8_t> datagram) {
  if (!(to == peer_)) {
    return {TransportStatus::kError,
            "send " + formatEndpoint(to) + ": socket is connected to " + peer_text_};
  }
  for (;;) {
    ssize_t n = ::send(fd_, datagram.data(), datagram.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      if (static_cast<size_t>(n) != datagram.size()) {  // UDP never sends part; be sure
        return {TransportStatus::kError, "send " + peer_text_ + ": " + std::to_string(n) +
                                             " of " + std::to_string(datagram.size()) +
                                             " octets sent"};
      }
      return {TransportStatus::kOk, ""};
    }
    if (errno != EINTR) {
      return fromErrno(errno, "send", peer_text_);
    }
  }
}

ReceivedDatagram UdpTransport::receive() {
  ReceivedDatagram d;
  if (buffer_.empty()) {
    buffer_.resize(kReceiveBuffer);
  }
  for (;;) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    ssize_t n = ::recvfrom(fd_, buffer_.data(), buffer_.size(), 0,
                           reinterpret_cast<sockaddr*>(&ss), &len);
    if (n >= 0) {
      d.bytes.assign(buffer_.begin(), buffer_.begin() + n);
      d.source = fromSockaddr(ss);
      d.result = {TransportStatus::kOk, ""};
      return d;
    }
    if (errno != EINTR) {
      d.result = fromErrno(errno, "recvfrom", peer_text_);
      return d;
    }
  }
}

}  // namespace tally::radius
