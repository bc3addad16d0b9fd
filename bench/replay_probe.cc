// replay_probe: what the pipeline benchmark's replay charges a program for per-packet work of
// its own (scripts/bench.sh section (c), docs/performance.md "What the replay charges").
//
// The pipeline benchmark replays a pcap through DPDK's net_pcap (infinite_rx=1: the whole trace
// stored in mbufs, each received packet copied out of it). This program receives from port 0
// exactly as tallyd and testpmd do, reads each packet's first cache line (as any parser does:
// an 8-octet load at the IPv4 addresses), then spins for --spin-ns nanoseconds per packet
// (rdtsc, no memory access at all) and frees the burst (tap, against testpmd rxonly) or sends
// it to port 1 (--forward, against testpmd io). With --spin-ns set to the hot-path figure of
// the same traffic, its cost over testpmd is what this testbed charges any program that does
// tally's per-packet work, touching no memory of its own.
//
// Usage: replay_probe EAL_ARGS -- --mbufs N [--spin-ns X] [--seconds S] [--warmup S]
//                                  [--forward] [--burst N]
// Ports: the first probed port receives (net_pcap0), the second is the output (net_null0).
// Prints one line: replay_probe: packets=... wall_s=... cpu_s=... pps_wall=... cpu_share=...
// ns_per_pkt_cpu=... spin_ns=...
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace {

struct Options {
  uint32_t mbufs = 0;
  double spin_ns = 0;
  double seconds = 6;
  double warmup = 4;
  bool forward = false;
  uint16_t burst = 32;
};

struct Result {
  uint64_t packets = 0;
  double wall_s = 0;
  double cpu_s = 0;
};

// What the packet reads add up to: stored, so that the compiler keeps the reads.
volatile uint64_t g_sink = 0;

struct Worker {
  Options opt;
  uint16_t rx_port = 0;
  uint16_t tx_port = 1;
  Result result;
};

double seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return double(t.tv_sec) + double(t.tv_nsec) * 1e-9;
}

int workerMain(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t spin_per_pkt = uint64_t(w.opt.spin_ns * double(hz) / 1e9);
  const uint64_t begin = rte_rdtsc() + uint64_t(w.opt.warmup * double(hz));
  const uint64_t end = begin + uint64_t(w.opt.seconds * double(hz));
  rte_mbuf* bufs[512];
  uint64_t packets = 0;
  uint64_t packets0 = 0;
  uint64_t sink = 0;
  double wall0 = 0;
  double cpu0 = 0;
  bool measuring = false;
  for (;;) {
    const uint64_t now = rte_rdtsc();
    if (!measuring && now >= begin) {
      measuring = true;
      packets0 = packets;
      wall0 = seconds(CLOCK_MONOTONIC);
      cpu0 = seconds(CLOCK_THREAD_CPUTIME_ID);
    }
    if (now >= end) {
      break;
    }
    const uint16_t n = rte_eth_rx_burst(w.rx_port, 0, bufs, w.opt.burst);
    if (n == 0) {
      continue;
    }
    for (uint16_t i = 0; i < n; ++i) {
      uint64_t v = 0;
      if (rte_pktmbuf_data_len(bufs[i]) >= 34) {
        std::memcpy(&v, rte_pktmbuf_mtod_offset(bufs[i], const uint8_t*, 26), sizeof v);
      }
      sink += v;
    }
    if (spin_per_pkt != 0) {
      const uint64_t until = rte_rdtsc() + spin_per_pkt * n;
      while (rte_rdtsc() < until) {
        // no pause: its latency (~140 cycles on recent cores) is longer than the spins asked
      }
    }
    if (w.opt.forward) {
      const uint16_t sent = rte_eth_tx_burst(w.tx_port, 0, bufs, n);
      if (sent < n) {
        rte_pktmbuf_free_bulk(bufs + sent, n - sent);
      }
    } else {
      rte_pktmbuf_free_bulk(bufs, n);
    }
    packets += n;
  }
  w.result.packets = packets - packets0;
  w.result.wall_s = seconds(CLOCK_MONOTONIC) - wall0;
  w.result.cpu_s = seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  g_sink = sink;
  return 0;
}

bool parseOptions(int argc, char** argv, Options& o, std::string& error) {
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    char* endp = nullptr;
    if (a == "--forward") {
      o.forward = true;
      continue;
    }
    if (!has_value) {
      error = "option '" + a + "' is unknown or has no value";
      return false;
    }
    const char* v = argv[++i];
    if (a == "--mbufs" || a == "--burst") {
      // strtoul takes "-1" as a huge number, and a cast would wrap one past the type's range:
      // both are checked before the value is kept.
      const unsigned long u = v[0] == '-' ? 0 : std::strtoul(v, &endp, 10);
      const unsigned long limit = a == "--mbufs" ? UINT32_MAX : 512;
      if (v[0] == '-' || u > limit) {
        error = "option '" + a + "': '" + v + "' is out of range (" +
                (a == "--mbufs" ? "1024.." + std::to_string(limit) : "1..512") + ")";
        return false;
      }
      if (a == "--mbufs") {
        o.mbufs = uint32_t(u);
      } else {
        o.burst = uint16_t(u);
      }
    } else if (a == "--spin-ns") {
      o.spin_ns = std::strtod(v, &endp);
    } else if (a == "--seconds") {
      o.seconds = std::strtod(v, &endp);
    } else if (a == "--warmup") {
      o.warmup = std::strtod(v, &endp);
    } else {
      error = "unknown option '" + a + "'";
      return false;
    }
    if (endp == nullptr || *endp != '\0') {
      error = "option '" + a + "': '" + v + "' is not a number";
      return false;
    }
  }
  if (o.mbufs < 1024) {
    error = "--mbufs: at least 1024 (the trace's packets plus the rings) is needed";
    return false;
  }
  if (o.spin_ns < 0 || o.spin_ns > 100000 || o.seconds <= 0 || o.warmup < 0 || o.burst == 0 ||
      o.burst > 512) {
    error = "out of range: --spin-ns 0..100000, --seconds > 0, --warmup >= 0, --burst 1..512";
    return false;
  }
  return true;
}

bool setupPort(uint16_t port, rte_mempool* pool, std::string& error) {
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr, pool) != 0 ||
      rte_eth_tx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr) != 0 ||
      rte_eth_dev_start(port) != 0) {
    error = "port " + std::to_string(port) + " could not be set up: " + rte_strerror(rte_errno);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const int eal = rte_eal_init(argc, argv);
  if (eal < 0) {
    std::fprintf(stderr, "replay_probe: EAL init failed: %s\n", rte_strerror(rte_errno));
    return 2;
  }
  Worker w;
  std::string error;
  if (!parseOptions(argc - eal - 1, argv + eal + 1, w.opt, error)) {
    std::fprintf(stderr, "replay_probe: %s\n", error.c_str());
    rte_eal_cleanup();
    return 2;
  }
  if (rte_eth_dev_count_avail() < 2) {
    std::fprintf(stderr, "replay_probe: needs two ports (net_pcap0 and net_null0)\n");
    rte_eal_cleanup();
    return 2;
  }
  const unsigned lcore = rte_get_next_lcore(-1, 1, 0);
  if (lcore >= RTE_MAX_LCORE) {
    std::fprintf(stderr, "replay_probe: needs a worker lcore (-l 0-1)\n");
    rte_eal_cleanup();
    return 2;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("probe_mbufs", w.opt.mbufs, 256, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, int(rte_socket_id()));
  if (pool == nullptr) {
    std::fprintf(stderr, "replay_probe: no pool of %u mbufs: %s\n", w.opt.mbufs,
                 rte_strerror(rte_errno));
    rte_eal_cleanup();
    return 2;
  }
  uint16_t ports[2];
  uint16_t found = 0;
  uint16_t id = 0;
  RTE_ETH_FOREACH_DEV(id) {
    if (found < 2) {
      ports[found++] = id;
    }
  }
  for (uint16_t i = 0; i < 2; ++i) {
    if (!setupPort(ports[i], pool, error)) {
      std::fprintf(stderr, "replay_probe: %s\n", error.c_str());
      rte_eal_cleanup();
      return 2;
    }
  }
  w.rx_port = ports[0];
  w.tx_port = ports[1];
  rte_eal_remote_launch(workerMain, &w, lcore);
  rte_eal_wait_lcore(lcore);
  for (uint16_t i = 0; i < 2; ++i) {
    rte_eth_dev_stop(ports[i]);
    rte_eth_dev_close(ports[i]);
  }
  const Result& r = w.result;
  if (r.packets == 0 || r.wall_s <= 0 || r.cpu_s <= 0) {
    std::fprintf(stderr, "replay_probe: no packets received while measuring\n");
    rte_eal_cleanup();
    return 1;
  }
  const double share = r.cpu_s / r.wall_s > 1.0 ? 1.0 : r.cpu_s / r.wall_s;
  std::printf(
      "replay_probe: packets=%llu wall_s=%.3f cpu_s=%.3f pps_wall=%.0f cpu_share=%.4f "
      "ns_per_pkt_cpu=%.2f spin_ns=%.2f forward=%d\n",
      static_cast<unsigned long long>(r.packets), r.wall_s, r.cpu_s,
      double(r.packets) / r.wall_s, share, r.cpu_s * 1e9 / double(r.packets), w.opt.spin_ns,
      w.opt.forward ? 1 : 0);
  rte_mempool_free(pool);
  rte_eal_cleanup();
  return 0;
}
