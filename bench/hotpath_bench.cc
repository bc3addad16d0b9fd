// Hot-path benchmark: FastPath::countBurst on one thread (= one worker lcore), no PMD, no DPDK.
//
// What it measures (docs/performance.md): ns per packet and Mpps of the counting engine for
// packets that are already in cache, as after NIC DMA. A small set of burst buffers (32 frames)
// is rewritten before every burst from a precomputed random sequence (read sequentially): the
// subscriber address and the remote address / protocol / port that select the rating group.
// Then stageBurst + the per-burst statistics publish, exactly what the DPDK worker does per burst
// minus rte_eth_rx_burst / rte_pktmbuf_free_bulk (stageBurst counts each burst two bursts
// later; the bursts still in flight are counted after the timed loop and checked).
//
// Before timing, every subscriber's flows are sent once (the W2c queue is drained by a consumer
// loop in the same thread as it fills), so the timed part is the steady state: no announcements.
//
// Scenarios (rules: udp/53 -> 10, remote 198.51.100.0/24 -> 20, tcp/443 -> 30, default 1):
//   hotpath_ipv4   64-byte IPv4 UDP/TCP frames, 1 K / 100 K / 1 M subscribers of 10.0.0.0/8
//   hotpath_ipv6   IPv6 frames, 100 K and 1 M subscriber /64s of 2001:db8::/32
//   hotpath_gtpu   IPv4 in GTP-U over IPv4, 1 M subscribers; _ext: with a PDU session container
//                  extension header (5G N3)
//   hotpath_ipv4_zipf   IPv4, 1 M subscribers with Zipf(1.0) popularity
//   hotpath_ipv4_imix   IPv4, 1 M subscribers, IMIX 7:4:1 (64 / 570 / 1518 octets on the wire)
//   hotpath_workers     1 or 2 worker threads, each its own FastPath, 1 M subscribers split
//                       between them by subscriber (as RSS gives); total rate
// Subscribers get slots in order of first appearance (dataplane/slot_table.h), so where they
// lie in the pool only changes which lines of the IPv4 index are touched.
//   harness_only   the per-burst rewrite alone (the harness's own cost, to subtract)
//   parse_only     the rewrite + parsePacket alone (no lookup, no counting)
#include <benchmark/benchmark.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/fastpath.h"
#include "bench/bench_services.h"
#include "shared/config.h"
#include "shared/counters.h"
#include "shared/events.h"
#include "shared/stats.h"

namespace {

using namespace tally;

constexpr uint32_t kBurst = 32;
constexpr size_t kSeqLen = size_t{1} << 22;  // 4 M packets, read sequentially, then wrapped
constexpr size_t kFrameBuf = 1536;  // room for an IMIX 1514-octet frame

enum class Family { kV4, kV6, kGtpu, kGtpuExt };

// What one fixture's traffic looks like (its cache key).
struct Traffic {
  Family family = Family::kV4;
  uint32_t subscribers = 0;  // in all (split between `workers` by subscriber)
  bool zipf = false;         // Zipf(1.0) subscriber popularity, else uniform
  bool imix = false;         // IMIX 7:4:1 frame sizes, else 64 octets
  uint32_t worker = 0;       // this fixture's share of the subscribers
  uint32_t workers = 1;
  bool operator==(const Traffic&) const = default;
};
bool isGtpu(Family f) { return f == Family::kGtpu || f == Family::kGtpuExt; }

// Frame offsets.
constexpr size_t kEth = 14;
// IPv4 / UDP frame (60 bytes in memory, 64 on the wire with the FCS).
constexpr size_t kV4Proto = kEth + 9, kV4Src = kEth + 12, kV4Dst = kEth + 16;
constexpr size_t kV4Dport = kEth + 20 + 2;
constexpr uint32_t kV4FrameLen = 60;
// IPv6 / UDP frame (62 bytes + FCS).
constexpr size_t kV6Next = kEth + 6, kV6Src = kEth + 8, kV6Dst = kEth + 24;
constexpr size_t kV6Dport = kEth + 40 + 2;
constexpr uint32_t kV6FrameLen = kEth + 40 + 20;  // 20 octets of L4: room for a TCP header
// GTP-U: Ethernet + outer IPv4 (20) + UDP (8) + GTP-U (8) + inner IPv4 (20) + UDP (8) + 18.
constexpr size_t kGtpInner = kEth + 20 + 8 + 8;
constexpr uint32_t kGtpFrameLen = uint32_t(kGtpInner + 20 + 8 + 18);
// With the optional fields (4) and a PDU session container (TS 38.415, 4 octets): 8 more.
constexpr size_t kGtpExtInner = kGtpInner + 8;
// IMIX 7:4:1: frames of 64, 570 and 1518 octets on the wire (60, 566, 1514 in memory).
constexpr std::array<uint32_t, 3> kImixFrameLen = {60, 566, 1514};
constexpr std::array<uint8_t, 12> kImixPattern = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2};

uint32_t ip4(const char* s) {
  in_addr a{};
  inet_pton(AF_INET, s, &a);
  return ntohl(a.s_addr);
}

IpPrefix prefix(const char* s) {
  auto p = parseIpPrefix(s);
  if (!p) {
    std::fprintf(stderr, "bad prefix %s\n", s);
    std::abort();
  }
  return *p;
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, uint16_t(v >> 16));
  put16(p + 2, uint16_t(v));
}

// The service rules of the issue, built in code (no YAML).
Config benchConfig(Family fam, uint32_t subscribers) {
  Config c;
  c.node.id = "bench";
  c.node.address.family = 4;
  c.node.address.v4 = ip4("192.0.2.1");
  c.dataplane.workers = 1;
  if (fam == Family::kV6) {
    c.subscribers.pools.push_back(prefix("2001:db8::/32"));
    c.subscribers.ipv6_prefix_length = 64;
    uint32_t slots = 1024;
    while (slots < subscribers + subscribers / 4) {
      slots *= 2;
    }
    c.dataplane.max_sessions = slots;
  } else {
    c.subscribers.pools.push_back(prefix("10.0.0.0/8"));
    c.dataplane.max_sessions = 1u << 24;
  }
  c.subscribers.idle_timeout_s = 0;
  c.services = bench::benchServices();
  return c;
}

// What selects the rating group of a packet (uplink: the remote is the destination).
struct Kind {
  uint8_t proto;
  uint32_t remote;  // IPv4 remote (host order); IPv6 frames use a fixed remote
  uint16_t dport;
};
constexpr int kKinds = 4;
const std::array<Kind, kKinds> kKindTable = {{
    {17, 0xCB00710A /*203.0.113.10*/, 53},     // udp/53          -> 10
    {17, 0xC6336407 /*198.51.100.7*/, 5001},   // 198.51.100.0/24 -> 20
    {6, 0xCB00710A, 443},                      // tcp/443         -> 30
    {17, 0xCB00710A, 5001},                    // anything else   -> 1
}};

struct Fixture {
  Traffic traffic;
  Family family;
  uint32_t subscribers;  // this fixture's (worker's) subscribers
  Config config;
  CountingPlan plan;
  std::unique_ptr<CounterSlab> slab;
  std::unique_ptr<W2cQueue> w2c;
  std::unique_ptr<WorkerStats> shared;
  std::unique_ptr<FastPath> fp;
  // The burst buffers: 128 octets apart, kFrameBuf for IMIX.
  alignas(64) std::array<uint8_t, kFrameBuf * kBurst> frame_mem{};
  size_t stride = 128;
  uint8_t* frame(uint32_t i) { return frame_mem.data() + i * stride; }
  std::array<const uint8_t*, kBurst> ptrs{};
  std::array<uint32_t, kBurst> lens{};
  // The random sequence: subscriber (IPv4 address in network order, or the low 32 bits of
  // the /64's upper half) and kind, per packet.
  std::vector<uint32_t> seq_sub;
  std::vector<uint8_t> seq_kind;
  std::vector<uint8_t> seq_size;  // IMIX: index into kImixFrameLen
  size_t pos = 0;
  uint64_t announced = 0;  // kFlowLearned events consumed so far
  std::string error;       // set when the warm-up did not reach the expected state
  std::vector<uint32_t> subs;

  explicit Fixture(const Traffic& t)
      : traffic(t), family(t.family), subscribers(t.subscribers / t.workers),
        config(benchConfig(t.family, t.subscribers)) {
    plan = CountingPlan::fromConfig(config);
    slab = std::make_unique<CounterSlab>(plan.geometry);
    if (!slab->ok()) {
      std::fprintf(stderr, "cannot map the counter slab\n");
      std::abort();
    }
    w2c = std::make_unique<W2cQueue>();
    shared = std::make_unique<WorkerStats>();
    fp = std::make_unique<FastPath>(plan, *slab, *w2c, *shared);
    fp->setPorts(2);  // as tallyd with the pipeline's two ports (access, forward_to target)
    stride = t.imix ? kFrameBuf : 128;
    buildFrames();
    chooseSubscribers();
    buildSequence();
    warmUp();
  }

  void buildFrames() {
    for (uint32_t i = 0; i < kBurst; ++i) {
      uint8_t* b = frame(i);
      std::memset(b, 0, stride);
      const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
      std::memcpy(b, macs, 12);
      ptrs[i] = b;
      if (family == Family::kV6) {
        put16(b + 12, 0x86DD);
        uint8_t* ip = b + kEth;
        ip[0] = 0x60;
        put16(ip + 4, 20);  // payload length
        ip[6] = 17;
        ip[7] = 64;
        put32(ip + 8, 0x20010db8);
        put32(ip + 20, 0x00000001);  // low half of the subscriber address: ::1
        put32(ip + 24, 0x20014860);  // remote 2001:4860::8888
        put32(ip + 36, 0x8888);
        put16(ip + 40, 40000);
        put16(ip + 42, 5001);
        put16(ip + 44, 20);
        ip[52] = 0x50;  // TCP data offset when the kind makes it a TCP frame
        lens[i] = kV6FrameLen;
        continue;
      }
      put16(b + 12, 0x0800);
      uint8_t* ip = b + kEth;
      if (isGtpu(family)) {
        const uint32_t ext = family == Family::kGtpuExt ? 8 : 0;
        ip[0] = 0x45;
        put16(ip + 2, uint16_t(20 + 8 + 8 + ext + 46));
        ip[8] = 64;
        ip[9] = 17;
        put32(ip + 12, ip4("192.0.2.100"));  // eNodeB
        put32(ip + 16, ip4("192.0.2.1"));    // this gateway
        put16(ip + 20, 2152);
        put16(ip + 22, 2152);
        put16(ip + 24, uint16_t(8 + 8 + ext + 46));
        uint8_t* gtp = ip + 28;
        gtp[0] = ext != 0 ? 0x34 : 0x30;  // version 1, PT 1, E when the extension is there
        gtp[1] = 0xFF;                    // G-PDU
        put16(gtp + 2, uint16_t(ext + 46));
        put32(gtp + 4, 0x1000 + i);
        if (ext != 0) {
          gtp[11] = 0x85;  // next extension header: PDU session container
          gtp[12] = 1;     // its length: 4 octets
          gtp[13] = 0x10;  // UL PDU session information
          gtp[14] = 9;     // QFI
          gtp[15] = 0;     // no further extension header
        }
        ip = b + kGtpInner + ext;
        lens[i] = kGtpFrameLen + ext;
      } else {
        lens[i] = kV4FrameLen;
      }
      ip[0] = 0x45;
      put16(ip + 2, 46);
      ip[8] = 64;
      ip[9] = 17;
      put16(ip + 20, 40000);
      put16(ip + 22, 5001);
      put16(ip + 24, 26);
      ip[32] = 0x50;  // TCP data offset (5 words) when the kind makes it a TCP frame
    }
  }

  void chooseSubscribers() {
    std::mt19937_64 rng(0x7a11 + traffic.subscribers);
    // Distinct uniformly random hosts of the 24-bit space (10.0.0.0/8 or the /64 ids); with
    // several workers, every workers-th one is this worker's (a split by subscriber, as RSS).
    std::vector<uint64_t> used((1u << 24) / 64);
    subs.reserve(subscribers);
    uint32_t chosen = 0;
    while (subs.size() < subscribers) {
      uint32_t h = uint32_t(rng() & 0xFFFFFF);
      if (h == 0 || h == 0xFFFFFF || (used[h / 64] >> (h % 64) & 1)) {
        continue;
      }
      used[h / 64] |= uint64_t{1} << (h % 64);
      if (chosen++ % traffic.workers == traffic.worker) {
        subs.push_back(h);
      }
    }
  }

  uint32_t subValue(uint32_t host) const {
    // IPv4: 10.x.y.z in network order; IPv6: the 32 bits after 2001:db8:, network order.
    return family == Family::kV6 ? htonl(host) : htonl(0x0A000000u | host);
  }

  void buildSequence() {
    std::mt19937_64 rng(42 + subscribers + traffic.worker);
    std::uniform_int_distribution<uint32_t> pick(0, subscribers - 1);
    // Zipf(1.0): the subscriber of rank r (subs is in random order) with probability
    // proportional to 1 / r, by inverting the cumulative distribution.
    std::vector<double> cdf;
    if (traffic.zipf) {
      cdf.resize(subscribers);
      double sum = 0;
      for (uint32_t r = 0; r < subscribers; ++r) {
        sum += 1.0 / double(r + 1);
        cdf[r] = sum;
      }
      for (double& c : cdf) {
        c /= sum;
      }
    }
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    seq_sub.resize(kSeqLen);
    seq_kind.resize(kSeqLen);
    if (traffic.imix) {
      seq_size.resize(kSeqLen);
    }
    for (size_t i = 0; i < kSeqLen; ++i) {
      uint32_t r;
      if (traffic.zipf) {
        r = uint32_t(std::lower_bound(cdf.begin(), cdf.end(), unit(rng)) - cdf.begin());
        r = std::min(r, subscribers - 1);
      } else {
        r = pick(rng);
      }
      seq_sub[i] = subValue(subs[r]);
      seq_kind[i] = uint8_t(rng() % kKinds);
      if (traffic.imix) {
        seq_size[i] = kImixPattern[rng() % kImixPattern.size()];
      }
    }
  }

  // Write packet `i` of the burst: subscriber and rating-group selectors.
  inline void rewrite(uint32_t i, uint32_t sub_be, uint8_t kind) {
    uint8_t* b = frame(i);
    const Kind& k = kKindTable[kind];
    if (family == Family::kV6) {
      std::memcpy(b + kV6Src + 4, &sub_be, 4);
      b[kV6Next] = k.proto;
      uint16_t dp = htons(k.dport);
      std::memcpy(b + kV6Dport, &dp, 2);
      return;
    }
    uint8_t* ip = family == Family::kGtpu      ? b + kGtpInner - kEth
                  : family == Family::kGtpuExt ? b + kGtpExtInner - kEth
                                               : b;
    std::memcpy(ip + kV4Src, &sub_be, 4);
    uint32_t remote = htonl(k.remote);
    std::memcpy(ip + kV4Dst, &remote, 4);
    ip[kV4Proto] = k.proto;
    uint16_t dp = htons(k.dport);
    std::memcpy(ip + kV4Dport, &dp, 2);
  }

  void fillFromSequence() {
    const uint32_t* s = seq_sub.data() + pos;
    const uint8_t* k = seq_kind.data() + pos;
    for (uint32_t i = 0; i < kBurst; ++i) {
      rewrite(i, s[i], k[i]);
    }
    if (traffic.imix) {
      const uint8_t* z = seq_size.data() + pos;
      for (uint32_t i = 0; i < kBurst; ++i) {
        const uint32_t len = kImixFrameLen[z[i]];
        uint8_t* ip = frame(i) + kEth;
        put16(ip + 2, uint16_t(len - kEth));       // IPv4 total length
        put16(ip + 24, uint16_t(len - kEth - 20));  // UDP length (unused for TCP kinds)
        lens[i] = len;
        rx_octets += len;
      }
    } else {
      rx_octets += uint64_t(kBurst) * lens[0];
    }
    pos = (pos + kBurst) & (kSeqLen - 1);
  }
  uint64_t rx_octets = 0;  // of the frames written so far (the worker's rx_octets)

  // What the DPDK worker does after countBurst (minus the mbuf handling).
  inline void afterBurst(uint32_t n) {
    WorkerStats& l = fp->local();
    l.c[size_t(Stat::kRxPackets)] += n;
    l.c[size_t(Stat::kRxOctets)] = rx_octets;
    l.port[0].rx_packets += n;
    l.port[0].tap_drops += n;
    fp->publish();
  }

  // Consume the W2c queue as the poller would; returns the flow announcements seen.
  uint64_t drain() {
    uint64_t learned = 0;
    w2c->consume_all([&learned](const W2cEvent& ev) {
      learned += ev.type == W2cType::kFlowLearned ? 1 : 0;
    });
    announced += learned;
    return learned;
  }

  // Send every subscriber's flows once (every kind), draining the queue as it fills.
  void warmUp() {
    uint32_t n = 0;
    for (uint32_t s : subs) {
      for (uint8_t k = 0; k < kKinds; ++k) {
        rewrite(n, subValue(s), k);
        if (++n == kBurst) {
          fp->countBurst(ptrs.data(), lens.data(), n);
          afterBurst(n);
          drain();
          n = 0;
        }
      }
    }
    if (n != 0) {
      fp->countBurst(ptrs.data(), lens.data(), n);
      afterBurst(n);
      drain();
    }
    const auto& c = fp->local().c;
    uint64_t lost = c[size_t(Stat::kLearnQueueFullPackets)] + c[size_t(Stat::kSlotTableFullPackets)];
    uint64_t counted = c[size_t(Stat::kCountedPackets)];
    uint64_t expect_flows = uint64_t(subscribers) * (family == Family::kV6 ? 3 : 4);
    if (lost != 0 || counted != uint64_t(subscribers) * kKinds || announced != expect_flows) {
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    "warm-up mismatch: counted %llu (want %llu), unattributed %llu, "
                    "flows announced %llu (want %llu)",
                    (unsigned long long)counted, (unsigned long long)subscribers * kKinds,
                    (unsigned long long)lost, (unsigned long long)announced,
                    (unsigned long long)expect_flows);
      error = buf;
    }
  }
};

// The fixtures of the last benchmark (one per worker), kept while the next one wants the same.
std::vector<std::unique_ptr<Fixture>> g_fixtures;

Fixture& fixtureFor(const Traffic& t, size_t index = 0) {
  if (g_fixtures.size() <= index) {
    g_fixtures.resize(index + 1);
  }
  if (!g_fixtures[index] || !(g_fixtures[index]->traffic == t)) {
    g_fixtures[index].reset();  // free the previous slab first
    g_fixtures[index] = std::make_unique<Fixture>(t);
  }
  return *g_fixtures[index];
}
Fixture& fixtureFor(Family f, uint32_t subscribers) {
  Traffic t;
  t.family = f;
  t.subscribers = subscribers;
  g_fixtures.resize(1);  // a one-worker benchmark: free the others
  return fixtureFor(t);
}

void setRates(benchmark::State& state, uint64_t packets) {
  state.SetItemsProcessed(int64_t(packets));
  state.counters["Mpps"] = benchmark::Counter(double(packets) / 1e6, benchmark::Counter::kIsRate);
  state.counters["ns_per_pkt"] = benchmark::Counter(
      double(packets) / 1e9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void runHotPath(benchmark::State& state, Fixture& fx) {
  if (!fx.error.empty()) {
    state.SkipWithError(fx.error.c_str());
    return;
  }
  uint64_t counted_before = fx.fp->local().c[size_t(Stat::kCountedPackets)];
  for (auto _ : state) {
    fx.fillFromSequence();
    fx.fp->stageBurst(fx.ptrs.data(), fx.lens.data(), kBurst);
    fx.afterBurst(kBurst);
  }
  fx.fp->flush();
  uint64_t packets = uint64_t(state.iterations()) * kBurst;
  uint64_t counted = fx.fp->local().c[size_t(Stat::kCountedPackets)] - counted_before;
  // Steady state: every packet counted in a known flow, nothing announced.
  uint64_t learned = fx.drain();
  if (counted != packets || learned != 0) {
    state.SkipWithError("not steady state: packets were not counted or flows were announced");
  }
  setRates(state, packets);
  state.counters["subscribers"] = double(fx.subscribers);
}

void runHotPath(benchmark::State& state, Family family) {
  runHotPath(state, fixtureFor(family, uint32_t(state.range(0))));
}

void hotpath_ipv4(benchmark::State& state) { runHotPath(state, Family::kV4); }
void hotpath_ipv6(benchmark::State& state) { runHotPath(state, Family::kV6); }
void hotpath_gtpu(benchmark::State& state) { runHotPath(state, Family::kGtpu); }
void hotpath_gtpu_ext(benchmark::State& state) { runHotPath(state, Family::kGtpuExt); }
void hotpath_ipv4_zipf(benchmark::State& state) {
  Traffic t;
  t.subscribers = uint32_t(state.range(0));
  t.zipf = true;
  g_fixtures.resize(1);
  runHotPath(state, fixtureFor(t));
}
void hotpath_ipv4_imix(benchmark::State& state) {
  Traffic t;
  t.subscribers = uint32_t(state.range(0));
  t.imix = true;
  g_fixtures.resize(1);
  runHotPath(state, fixtureFor(t));
}

// 1 or 2 workers, each a thread with its own fixture (FastPath, slab, table, queue), the
// subscribers split between them. One benchmark iteration = every worker runs kChunk bursts
// (about 8 ms), free-running: the threads meet only between iterations. The machine is shared,
// so a worker may not get its vCPU all the time: `Mpps` sums each worker's packets per second
// of its own CPU time (thread CPU clock), the rate with a core per worker, as the one-thread
// rows (CPU time); `wall_Mpps` is all packets over the wall time, for information.
constexpr uint32_t kChunk = 8192;
uint64_t threadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}
// Runs kChunk bursts on `fx`; returns the thread CPU time it took.
uint64_t runChunk(Fixture& fx) {
  const uint64_t t0 = threadCpuNs();
  for (uint32_t b = 0; b < kChunk; ++b) {
    fx.fillFromSequence();
    fx.fp->stageBurst(fx.ptrs.data(), fx.lens.data(), kBurst);
    fx.afterBurst(kBurst);
  }
  return threadCpuNs() - t0;
}
void hotpath_workers(benchmark::State& state) {
  const uint32_t workers = uint32_t(state.range(1));
  std::vector<Fixture*> fx;
  for (uint32_t w = 0; w < workers; ++w) {
    Traffic t;
    t.subscribers = uint32_t(state.range(0));
    t.worker = w;
    t.workers = workers;
    fx.push_back(&fixtureFor(t, w));
    if (!fx.back()->error.empty()) {
      state.SkipWithError(fx.back()->error.c_str());
      return;
    }
  }
  g_fixtures.resize(workers);
  std::vector<uint64_t> before;
  for (Fixture* f : fx) {
    before.push_back(f->fp->local().c[size_t(Stat::kCountedPackets)]);
  }
  // Worker 0 is this thread; the others wait for `go` (a generation number), run one chunk and
  // bump `done`. cpu_ns[w]: worker w's CPU time over all chunks.
  std::atomic<uint64_t> go{0};
  std::atomic<uint32_t> done{0};
  std::atomic<bool> quit{false};
  std::vector<uint64_t> cpu_ns(workers, 0);
  std::vector<std::thread> threads;
  for (uint32_t w = 1; w < workers; ++w) {
    threads.emplace_back([&, w] {
      uint64_t seen = 0;
      while (true) {
        uint64_t g;
        while ((g = go.load(std::memory_order_acquire)) == seen) {
          if (quit.load(std::memory_order_relaxed)) {
            return;
          }
          std::this_thread::yield();
        }
        seen = g;
        cpu_ns[w] += runChunk(*fx[w]);
        done.fetch_add(1, std::memory_order_acq_rel);
      }
    });
  }
  uint64_t gen = 0;
  for (auto _ : state) {
    done.store(0, std::memory_order_relaxed);
    go.store(++gen, std::memory_order_release);
    cpu_ns[0] += runChunk(*fx[0]);
    while (done.load(std::memory_order_acquire) != workers - 1) {
      std::this_thread::yield();
    }
  }
  quit.store(true);
  for (std::thread& t : threads) {
    t.join();
  }
  bool steady = true;
  const uint64_t per_worker = uint64_t(state.iterations()) * kChunk * kBurst;
  double mpps = 0;
  for (uint32_t w = 0; w < workers; ++w) {
    fx[w]->fp->flush();
    uint64_t counted = fx[w]->fp->local().c[size_t(Stat::kCountedPackets)] - before[w];
    steady = steady && counted == per_worker && fx[w]->drain() == 0;
    mpps += cpu_ns[w] == 0 ? 0 : double(per_worker) * 1e3 / double(cpu_ns[w]);
  }
  if (!steady) {
    state.SkipWithError("not steady state: packets were not counted or flows were announced");
  }
  state.SetItemsProcessed(int64_t(per_worker * workers));
  state.counters["Mpps"] = mpps;
  state.counters["ns_per_pkt"] = mpps > 0 ? 1e3 / mpps : 0;  // of the total rate
  state.counters["wall_Mpps"] = benchmark::Counter(double(per_worker * workers) / 1e6,
                                                   benchmark::Counter::kIsRate);
  state.counters["workers"] = double(workers);
}

// The harness alone: the per-burst rewrite from the sequence (what the NIC's DMA would do).
void harness_only(benchmark::State& state) {
  Fixture& fx = fixtureFor(Family::kV4, uint32_t(state.range(0)));
  for (auto _ : state) {
    fx.fillFromSequence();
    benchmark::DoNotOptimize(fx.frame_mem.data());
    benchmark::ClobberMemory();
  }
  setRates(state, uint64_t(state.iterations()) * kBurst);
}

// Parsing alone (the same frames, no lookup, no counting): the floor of any design that looks at
// the packets, for the pipeline analysis in docs/performance.md.
void parse_only(benchmark::State& state) {
  Fixture& fx = fixtureFor(Family::kV4, uint32_t(state.range(0)));
  ParsedPacket out[kBurst];
  uint64_t ip = 0;
  for (auto _ : state) {
    fx.fillFromSequence();
    for (uint32_t i = 0; i < kBurst; ++i) {
      ip += parsePacket(fx.ptrs[i], fx.lens[i], out[i]) == ParseStatus::kIp ? 1 : 0;
    }
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  uint64_t packets = uint64_t(state.iterations()) * kBurst;
  if (ip != packets) {
    state.SkipWithError("a frame did not parse as IP");
  }
  setRates(state, packets);
}

}  // namespace

BENCHMARK(hotpath_ipv4)->ArgName("subscribers")->Arg(1000)->Arg(8192)->Arg(100000)->Arg(200000)
    ->Arg(1000000);
BENCHMARK(harness_only)->ArgName("subscribers")->Arg(1000000);
BENCHMARK(parse_only)->ArgName("subscribers")->Arg(1000000);
// 1 K subscribers: everything in cache, the compute cost (and the one to profile: callgrind).
BENCHMARK(hotpath_ipv6)->ArgName("subscribers")->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(hotpath_gtpu)->ArgName("subscribers")->Arg(1000)->Arg(1000000);
BENCHMARK(hotpath_gtpu_ext)->ArgName("subscribers")->Arg(1000)->Arg(1000000);
BENCHMARK(hotpath_ipv4_zipf)->ArgName("subscribers")->Arg(1000000);
BENCHMARK(hotpath_ipv4_imix)->ArgName("subscribers")->Arg(1000000);
// Wall time: the rate of both workers together.
// Wall time (wall_Mpps); Mpps from the workers' CPU time.
BENCHMARK(hotpath_workers)->ArgNames({"subscribers", "workers"})->Args({1000000, 1})
    ->Args({1000000, 2})->UseRealTime()->MinTime(2);

BENCHMARK_MAIN();
