#pragma once
// The poller benchmarks' set-up (bench/poller_bench.cc, bench/display_bench.cc): a Poller over
// 1 or 2 simulated workers with 1 M announced flows each, the W2c announcements made exactly
// as a worker makes them. See poller_bench.cc for the traffic models.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "bench/bench_services.h"
#include "controlplane/poller.h"
#include "dataplane/fastpath.h"
#include "shared/clock.h"
#include "shared/config.h"
#include "shared/counters.h"
#include "shared/events.h"
#include "shared/stats.h"

namespace tally::bench {

// 1 M by default; POLLER_BENCH_FLOWS overrides it (for profiling under valgrind).
inline const uint32_t kFlowsPerWorker = [] {
  const char* e = std::getenv("POLLER_BENCH_FLOWS");
  return e != nullptr && std::atoi(e) > 0 ? uint32_t(std::atoi(e)) : 1000000u;
}();
constexpr uint32_t kAnnounceBatch = 60000;  // < the W2c queue's 65536
constexpr uint32_t kOctets = 46;

inline IpPrefix prefix(const char* s) {
  auto p = parseIpPrefix(s);
  if (!p) {
    std::abort();
  }
  return *p;
}

inline Config pollerConfig(uint32_t workers, uint32_t rg_configured) {
  Config c;
  c.node.id = "bench";
  c.node.address = *parseIpAddress("192.0.2.1");
  c.dataplane.workers = workers;
  c.dataplane.max_sessions = 1u << 22;
  c.dataplane.poll_interval_ms = 100;
  PortConfig port;
  port.name = "net_null0";
  c.dataplane.ports.push_back(port);
  c.subscribers.pools.push_back(prefix("10.0.0.0/8"));
  c.subscribers.idle_timeout_s = 0;
  c.services = benchServices();
  for (uint32_t r = 0; c.services.rules.size() + 1 < rg_configured; ++r) {
    ServiceRule extra;
    extra.rating_group = 100 + r;
    extra.match.remote_port_min = uint16_t(2000 + r);
    c.services.rules.push_back(extra);
  }
  return c;
}

struct FlowRef {
  uint32_t slot;
  uint8_t rg;
};

struct WorkerSide {
  std::unique_ptr<CounterSlab> slab;
  std::unique_ptr<W2cQueue> w2c;
  std::unique_ptr<C2wQueue> c2w;
  std::unique_ptr<WorkerStats> stats;
  std::vector<FlowRef> flows;
  std::vector<uint32_t> addresses;  // by slot
  std::vector<uint32_t> perm;
  uint64_t counted_packets = 0;
  uint64_t counted_octets = 0;

  void bump(const FlowRef& f) {
    FlowCounters& c = slab->flow(f.slot, f.rg);
    bumpCounter(c.ul_octets, kOctets);
    bumpCounter(c.ul_packets, 1);
    ++counted_packets;
    counted_octets += kOctets;
  }
  void publish() {
    storeCounter(stats->c[size_t(Stat::kCountedPackets)], counted_packets);
    storeCounter(stats->c[size_t(Stat::kCountedOctets)], counted_octets);
    std::atomic_ref<uint64_t>(stats->bursts).fetch_add(1, std::memory_order_release);
  }
};

struct Fixture {
  uint32_t n_workers;
  uint32_t rg_per_sub;
  uint32_t rg_configured;
  Config config;
  CountingPlan plan;
  SteadyClock clock;
  std::vector<WorkerSide> workers;
  std::unique_ptr<Poller> poller;
  std::mt19937_64 rng{7};

  Fixture(uint32_t n, uint32_t rgs, uint32_t configured)
      : n_workers(n), rg_per_sub(rgs), rg_configured(configured),
        config(pollerConfig(n, configured)) {
    plan = CountingPlan::fromConfig(config);
    workers.resize(n);
    std::vector<WorkerChannel> channels;
    for (WorkerSide& w : workers) {
      w.slab = std::make_unique<CounterSlab>(plan.geometry);
      if (!w.slab->ok()) {
        std::fprintf(stderr, "cannot map a counter slab\n");
        std::abort();
      }
      w.w2c = std::make_unique<W2cQueue>();
      w.c2w = std::make_unique<C2wQueue>();
      w.stats = std::make_unique<WorkerStats>();
      channels.push_back(WorkerChannel{w.slab.get(), w.stats.get(), w.w2c.get(), w.c2w.get()});
    }
    poller = std::make_unique<Poller>(config, plan, channels, clock);
    announce();
  }

  // Distinct random subscribers across all workers (RSS gives a subscriber to one worker),
  // `rg_per_sub` flows each, announced in batches with a poll between batches.
  void announce() {
    std::vector<uint64_t> used((1u << 24) / 64);
    for (WorkerSide& w : workers) {
      w.flows.reserve(kFlowsPerWorker);
      uint32_t slot = 0;
      while (w.flows.size() < kFlowsPerWorker) {
        uint32_t h = uint32_t(rng() & 0xFFFFFF);
        if (h == 0 || h == 0xFFFFFF || (used[h / 64] >> (h % 64) & 1)) {
          continue;
        }
        used[h / 64] |= uint64_t{1} << (h % 64);
        w.addresses.push_back(0x0A000000u | h);
        if (rg_per_sub == 1) {
          w.flows.push_back(FlowRef{slot, uint8_t(rng() % rg_configured)});
        } else {
          for (uint32_t rg = 0; rg < rg_per_sub && w.flows.size() < kFlowsPerWorker; ++rg) {
            w.flows.push_back(FlowRef{slot, uint8_t(rg)});
          }
        }
        ++slot;
      }
    }
    for (uint32_t start = 0; start < kFlowsPerWorker; start += kAnnounceBatch) {
      uint32_t end = std::min(kFlowsPerWorker, start + kAnnounceBatch);
      for (WorkerSide& w : workers) {
        for (uint32_t i = start; i < end; ++i) {
          const FlowRef& f = w.flows[i];
          W2cEvent ev;
          ev.type = W2cType::kFlowLearned;
          ev.rg_index = f.rg;
          ev.slot = f.slot;
          ev.key.family = 4;
          ev.key.v4 = w.addresses[f.slot];
          if (!w.w2c->push(ev)) {
            std::fprintf(stderr, "W2c queue full during announcement\n");
            std::abort();
          }
          w.bump(f);  // the worker counts the packet after announcing it
        }
        w.publish();
      }
      poller->poll();
    }
    poller->poll();
    const Statistics& s = poller->statistics();
    uint64_t subscribers = 0;
    for (const WorkerSide& w : workers) {
      subscribers += w.addresses.size();
    }
    if (s.tracked_flows != uint64_t(kFlowsPerWorker) * n_workers ||
        s.sessions_created != subscribers ||
        s.conservation_violations != 0) {
      std::fprintf(stderr, "set-up mismatch: tracked %llu flows, %llu sessions created, "
                   "%llu conservation violations\n",
                   (unsigned long long)s.tracked_flows, (unsigned long long)s.sessions_created,
                   (unsigned long long)s.conservation_violations);
      std::abort();
    }
  }

  // 10 % of each worker's flows (a fresh random choice of distinct flows: partial
  // Fisher-Yates over a persistent permutation) get one more packet.
  void changeTenPercent() {
    for (WorkerSide& w : workers) {
      if (w.perm.empty()) {
        w.perm.resize(w.flows.size());
        for (uint32_t i = 0; i < w.perm.size(); ++i) {
          w.perm[i] = i;
        }
      }
      const uint32_t n = uint32_t(w.perm.size());
      for (uint32_t k = 0; k < n / 10; ++k) {
        uint32_t j = k + uint32_t(rng() % (n - k));
        std::swap(w.perm[k], w.perm[j]);
        w.bump(w.flows[w.perm[k]]);
      }
      w.publish();
    }
  }
};

}  // namespace tally::bench
