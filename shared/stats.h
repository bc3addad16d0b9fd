#pragma once
// Named per-worker counters: everything a worker saw that is not a flow counter.
// Written by its worker once per burst (publish), read by the control plane.
#include <array>
#include <atomic>
#include <cstdint>

#include "shared/counters.h"
#include "shared/config.h"

namespace tally {

enum class Stat : uint16_t {
  // Receive side.
  kRxPackets,
  kRxOctets,            // frame octets received (layer 2 included)
  // Parse outcomes that are never billed (each mirrors a ParseStatus).
  kNonIp,
  kL2Truncated,
  kBadIpVersion,
  kBadIpHeader,
  kIpLengthExceedsFrame,
  kGtpMalformed,
  kGtpNotGpdu,
  kHeadersSplit,
  // IP packets that touch no subscriber pool.
  kTransitPackets,
  kTransitOctets,
  // Billable: every (packet, subscriber-side) counted. A sub-to-sub packet counts twice
  // (uplink for the sender, downlink for the receiver).
  kCountedPackets,
  kCountedOctets,
  // Of those, the ones that could not be put in a flow slot ("unattributed" at the worker).
  kLearnQueueFullPackets,   // W2c queue full when a new flow had to be announced
  kLearnQueueFullOctets,
  kSlotTableFullPackets,    // every slot of the worker's subscriber table in use
  kSlotTableFullOctets,
  // Informational (not billing-relevant): GTP-U G-PDUs decapsulated, IPv6 extension chains
  // that ended early (classified without ports), IP fragments.
  kGtpDecapsulated,
  kFragments,
  kReleasesHandled,
  // Packets of a refused subscriber (RADIUS start_fail offline, C2w kRefuse): counted as usual
  // (the control plane attributes them to radius_refused) and not forwarded. IP octets.
  kRefusedPackets,
  kRefusedOctets,
  kRefuseTableFull,         // a refusal the worker could not store (IPv6 set full)
  kCount
};

constexpr std::array<const char*, size_t(Stat::kCount)> kStatNames = {
    "rx_packets", "rx_octets", "non_ip", "l2_truncated", "bad_ip_version", "bad_ip_header",
    "ip_length_exceeds_frame", "gtpu_malformed", "gtpu_not_gpdu", "headers_split",
    "transit_packets", "transit_octets", "counted_packets", "counted_octets",
    "learn_queue_full_packets", "learn_queue_full_octets", "slot_table_full_packets",
    "slot_table_full_octets", "gtpu_decapsulated", "fragments", "releases_handled",
    "refused_packets", "refused_octets", "refuse_table_full"};

struct PortStats {
  uint64_t rx_packets = 0;
  uint64_t tx_packets = 0;
  uint64_t tx_drops = 0;    // tx ring full: freed and counted
  uint64_t tap_drops = 0;   // received on a port without forward_to: counted and dropped
  uint64_t refused_drops = 0;  // not forwarded: a refused subscriber's (RADIUS start_fail)
};

// alignas(64): one writer per cache line.
struct alignas(64) WorkerStats {
  std::array<uint64_t, size_t(Stat::kCount)> c{};
  std::array<PortStats, kMaxPorts> port{};
  uint64_t bursts = 0;  // published last, with release order: a reader that loads it with
                        // acquire sees every flow counter store made before that publish.
};

}  // namespace tally
