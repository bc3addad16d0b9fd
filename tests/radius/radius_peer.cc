// A RADIUS server made of tally's codec, for cross-checks against FreeRADIUS's radclient
// (tests/radius/radclient_it.py): it answers `count` requests on 127.0.0.1:PORT and exits 0
// when every request parsed, verified with the secret and (an Accounting-Request Stop) was
// byte-equal to tally's own encoding of stopAttributes() with radclient's Identifier.
//
//   radius_peer PORT SECRET MODE COUNT
//   MODE: good     answer correctly (Accounting-Response; Access-Accept with
//                  Message-Authenticator to a Status-Server)
//         bad-auth answer with one octet of the Response Authenticator flipped
//         bad-ma   Status-Server only: answer with a wrong Message-Authenticator (the Response
//                  Authenticator computed over it, so only the Message-Authenticator is wrong)
// Test code: plain sockets, messages on stderr, no timeouts of its own (the script kills it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "controlplane/radius/radius_codec.h"
#include "tests/controlplane/radius/radius_vectors.h"

using namespace tally::radius;

namespace {

std::string hexOf(const std::vector<uint8_t>& b) {
  std::string s;
  char buf[3];
  for (uint8_t x : b) {
    std::snprintf(buf, sizeof buf, "%02x", x);
    s += buf;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: radius_peer PORT SECRET good|bad-auth|bad-ma COUNT\n");
    return 2;
  }
  int port = std::atoi(argv[1]);
  std::string secret = argv[2];
  std::string mode = argv[3];
  int count = std::atoi(argv[4]);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("radius_peer: bind");
    return 2;
  }
  std::fprintf(stderr, "radius_peer: listening on 127.0.0.1:%d\n", port);
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    uint8_t buf[8192];
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      std::perror("radius_peer: recvfrom");
      return 2;
    }
    std::vector<uint8_t> got(buf, buf + n);
    auto parsed = parsePacket(got);
    if (auto* f = std::get_if<ParseFailure>(&parsed)) {
      std::fprintf(stderr, "radius_peer: refused %s: %s\n", parseErrorName(f->reason),
                   f->detail.c_str());
      ++failures;
      continue;
    }
    const ParsedPacket& req = std::get<ParsedPacket>(parsed);
    ResponseCheck check = verifyRequest(req, secret);
    std::fprintf(stderr, "radius_peer: %s id %u, %zu octets: %s\n", codeName(req.packet.code),
                 req.packet.identifier, req.wire.size(), responseCheckName(check));
    if (check != ResponseCheck::kOk) {
      ++failures;
      continue;
    }
    Code answer = Code::kAccountingResponse;
    bool with_ma = false;
    if (req.packet.code == Code::kAccountingRequest) {
      const Attribute* status = req.packet.find(attr::kAcctStatusType);
      if (status && asInteger(*status) == static_cast<uint32_t>(AcctStatusType::kStop)) {
        auto mine = encodeAccountingRequest(req.packet.identifier, stopAttributes(), secret);
        if (!mine.ok() || mine.value() != req.wire) {
          std::fprintf(stderr, "radius_peer: radclient sent %s\nradius_peer: tally encodes  %s\n",
                       hexOf(req.wire).c_str(), mine.ok() ? hexOf(mine.value()).c_str() : "-");
          ++failures;
        } else {
          std::fprintf(stderr, "radius_peer: byte-equal to tally's encoding\n");
        }
      }
    } else if (req.packet.code == Code::kStatusServer) {
      answer = Code::kAccessAccept;
      with_ma = true;
    } else {
      std::fprintf(stderr, "radius_peer: unexpected %s\n", codeName(req.packet.code));
      ++failures;
      continue;
    }
    auto resp = encodeResponse(answer, req.packet.identifier, req.packet.authenticator, {},
                               mode == "bad-ma" ? secret + "x" : secret, with_ma);
    if (!resp.ok()) {
      std::fprintf(stderr, "radius_peer: %s\n", resp.error().message.c_str());
      return 2;
    }
    std::vector<uint8_t> out = resp.value();
    if (mode == "bad-auth") {
      out[10] ^= 0x01;
    } else if (mode == "bad-ma") {
      // The Message-Authenticator keyed with another secret, the Response Authenticator
      // recomputed with the right one over it.
      auto p = std::get<ParsedPacket>(parsePacket(out));
      out = encodeResponse(answer, req.packet.identifier, req.packet.authenticator,
                           p.packet.attributes, secret)
                .value();
    }
    sendto(fd, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
  close(fd);
  return failures == 0 ? 0 : 1;
}
