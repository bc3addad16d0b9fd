// Out-of-line entry points of the packet parser; the implementation is in parser_inline.h.
#include "dataplane/parser.h"

#include "dataplane/parser_inline.h"

namespace tally {

ParseStatus parsePacket(const uint8_t* frame, uint32_t readable, uint32_t len,
                        ParsedPacket& out) noexcept {
  if (readable >= len) [[likely]] {
    return parser_detail::parseFrame<false>(frame, len, len, out);
  }
  return parser_detail::parseFrame<true>(frame, readable, len, out);
}

const char* parseStatusName(ParseStatus s) noexcept {
  // The names of the matching counters in shared/stats.h (kStatNames).
  switch (s) {
    case ParseStatus::kIp:
      return "ip";
    case ParseStatus::kNonIp:
      return "non_ip";
    case ParseStatus::kL2Truncated:
      return "l2_truncated";
    case ParseStatus::kBadIpVersion:
      return "bad_ip_version";
    case ParseStatus::kBadIpHeader:
      return "bad_ip_header";
    case ParseStatus::kIpLengthExceedsFrame:
      return "ip_length_exceeds_frame";
    case ParseStatus::kGtpMalformed:
      return "gtpu_malformed";
    case ParseStatus::kGtpNotGpdu:
      return "gtpu_not_gpdu";
    case ParseStatus::kHeadersSplit:
      return "headers_split";
    case ParseStatus::kCount:
      break;
  }
  return "unknown";
}

}  // namespace tally
