#pragma once
// A received mbuf as the parser sees it (dataplane/parser.h, "Frame sizes"). DPDK adapter only:
// included by dataplane/runtime.cc and its tests.
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>

#include "dataplane/parser.h"

namespace tally {

struct FrameRef {
  const uint8_t* data = nullptr;  // the first `readable` octets, contiguous
  uint32_t readable = 0;
  uint32_t len = 0;               // the whole frame (pkt_len): what length checks use
};

// A frame in one buffer is read in place. A frame in several buffers (larger than one mbuf:
// jumbo frames, or a driver's scattered receive) keeps its whole length and is parsed from its
// first buffer when that holds at least kHeaderWindow octets (or the whole frame), else from a
// copy of its first kHeaderWindow octets into `copy`. The payload is never copied. noexcept, no
// allocation: called per packet on the worker lcore.
inline FrameRef frameOf(const rte_mbuf* m, uint8_t (&copy)[kHeaderWindow]) noexcept {
  FrameRef f;
  f.len = m->pkt_len;
  if (m->nb_segs == 1 || m->data_len >= std::min<uint32_t>(m->pkt_len, kHeaderWindow))
      [[likely]] {
    f.data = rte_pktmbuf_mtod(m, const uint8_t*);
    f.readable = m->data_len;
    return f;
  }
  const uint32_t n = std::min<uint32_t>(m->pkt_len, kHeaderWindow);
  const void* p = rte_pktmbuf_read(m, 0, n, copy);
  f.data = static_cast<const uint8_t*>(p);
  f.readable = p == nullptr ? 0 : n;  // never null: n <= pkt_len
  return f;
}

}  // namespace tally
