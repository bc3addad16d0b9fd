#pragma once
// Messages between a worker and the control plane, one SPSC queue per direction per worker
// (boost::lockfree::spsc_queue: the worker never blocks; a full queue is handled by the sender).
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>

#include "shared/counters.h"
#include "shared/net.h"

namespace tally {

enum class W2cType : uint8_t {
  kFlowLearned,   // first packet of (slot, rg) since the slot was last zeroed; counted in slot
  kFlowReleased,  // answer to kReleaseSlot: final counters of one flow of the slot (then zeroed)
  kSlotReleased,  // answer to kReleaseSlot: the slot is zero and free (after its kFlowReleased)
  kServingNode,   // uplink GTP-U seen from a new outer source for this slot (reserved)
};

struct W2cEvent {
  W2cType type = W2cType::kFlowLearned;
  uint8_t rg_index = 0;
  uint32_t slot = 0;
  IpAddress key;         // subscriber key (IPv4 address or masked IPv6 prefix)
  FlowCounters final;    // kFlowReleased only
  IpAddress serving_node;  // kServingNode only
};

enum class C2wType : uint8_t {
  kReleaseSlot,  // session ended and will not be continued: hand over and zero the slot
  kRefuse,       // RADIUS start_fail offline: the subscriber `key`'s packets are not forwarded
  kAdmit,        // the refusal of `key` is lifted
};

struct C2wCommand {
  C2wType type = C2wType::kReleaseSlot;
  uint32_t slot = 0;
  IpAddress key;
  // kReleaseSlot only: +1 refuse `key` (as kRefuse) or -1 admit it (as kAdmit) in the same
  // step as the release, so that no packet falls between the two (one counted in the released
  // slot but not forwarded, or forwarded but counted as refused).
  int8_t refusal = 0;
};

constexpr size_t kW2cQueueSize = 65536;
constexpr size_t kC2wQueueSize = 16384;
using W2cQueue = boost::lockfree::spsc_queue<W2cEvent, boost::lockfree::capacity<kW2cQueueSize>>;
using C2wQueue = boost::lockfree::spsc_queue<C2wCommand, boost::lockfree::capacity<kC2wQueueSize>>;

}  // namespace tally
