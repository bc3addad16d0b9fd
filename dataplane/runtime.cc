#include "dataplane/runtime.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>

#include "controlplane/log.h"
#include "dataplane/fastpath.h"
#include "dataplane/mbuf_frame.h"

namespace tally {

namespace {

std::atomic<bool> g_signal_stop{false};

void onSignal(int) { g_signal_stop.store(true, std::memory_order_relaxed); }

constexpr uint16_t kRxDesc = 1024;
constexpr uint16_t kTxDesc = 1024;

struct RxAssign {
  uint16_t port_id;
  uint16_t queue;
  uint16_t port_index;     // config index, for statistics
  int32_t forward_id;      // DPDK port id to transmit on, -1 = tap (count and drop)
  uint16_t forward_index;  // config index of the forward_to port
};

// Everything one worker lcore owns. Allocated by the main lcore before launch.
struct alignas(64) WorkerCtx {
  std::unique_ptr<CounterSlab> slab;
  std::unique_ptr<W2cQueue> w2c;
  std::unique_ptr<C2wQueue> c2w;
  WorkerStats* stats = nullptr;  // shared (published) statistics
  std::unique_ptr<FastPath> fp;
  std::vector<RxAssign> rx;
  uint16_t tx_queue = 0;
  uint32_t burst = 32;
  const std::atomic<bool>* stop = nullptr;
  // Headers of a burst's frames in several buffers whose first buffer holds fewer than
  // kHeaderWindow octets (rare: drivers fill the first buffer), copied so that the parser sees
  // them contiguous. Only the headers: the payload is never copied.
  alignas(64) uint8_t headers[FastPath::kMaxBurst][kHeaderWindow];
};

int workerMain(void* arg) {
  WorkerCtx& w = *static_cast<WorkerCtx*>(arg);
  rte_mbuf* mbufs[FastPath::kMaxBurst];
  const uint8_t* frames[FastPath::kMaxBurst];
  uint32_t readable[FastPath::kMaxBurst];
  uint32_t lens[FastPath::kMaxBurst];
  WorkerStats& local = w.fp->local();
  uint32_t idle_loops = 0;
  while (!w.stop->load(std::memory_order_relaxed)) {
    bool got = false;
    for (const RxAssign& a : w.rx) {
      uint16_t n = rte_eth_rx_burst(a.port_id, a.queue, mbufs, uint16_t(w.burst));
      if (n == 0) {
        continue;
      }
      got = true;
      uint64_t octets = 0;
      for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = mbufs[i];
        octets += m->pkt_len;
        if (i + 1 < n) {
          rte_prefetch0(rte_pktmbuf_mtod(mbufs[i + 1], void*));
        }
        const FrameRef f = frameOf(m, w.headers[i]);
        frames[i] = f.data;
        readable[i] = f.readable;
        lens[i] = f.len;
      }
      // Parsed now (the frames may be sent on), counted within two bursts.
      const uint32_t refused = w.fp->stageBurst(frames, readable, lens, n);
      local.c[size_t(Stat::kRxPackets)] += n;
      local.c[size_t(Stat::kRxOctets)] += octets;
      PortStats& ps = local.port[a.port_index];
      ps.rx_packets += n;
      if (refused != 0 && a.forward_id >= 0) [[unlikely]] {
        // A refused subscriber's frames (RADIUS start_fail offline) are freed, not sent on.
        const uint8_t* mask = w.fp->refusedMask();
        uint16_t kept = 0;
        for (uint16_t i = 0; i < n; ++i) {
          if (mask[i]) {
            rte_pktmbuf_free(mbufs[i]);
          } else {
            mbufs[kept++] = mbufs[i];
          }
        }
        ps.refused_drops += n - kept;
        n = kept;
      }
      if (a.forward_id >= 0) {
        uint16_t sent = rte_eth_tx_burst(uint16_t(a.forward_id), w.tx_queue, mbufs, n);
        PortStats& out = local.port[a.forward_index];
        out.tx_packets += sent;
        for (uint16_t i = sent; i < n; ++i) {
          rte_pktmbuf_free(mbufs[i]);
        }
        out.tx_drops += n - sent;
      } else {
        rte_pktmbuf_free_bulk(mbufs, n);
        ps.tap_drops += n;
      }
      w.fp->publish();
    }
    if (!got) {
      w.fp->flush();  // nothing more arriving: count what is in flight
      w.fp->publish();
    }
    if (!got || ++idle_loops >= 64) {
      idle_loops = 0;
      w.fp->handleCommands(*w.c2w);
    }
  }
  w.fp->flush();
  w.fp->handleCommands(*w.c2w);
  w.fp->publish();
  return 0;
}

std::string availablePorts() {
  std::string names;
  uint16_t pid;
  RTE_ETH_FOREACH_DEV(pid) {
    char name[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(pid, name) == 0) {
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
  }
  return names.empty() ? "none" : names;
}

// How a port takes frames of up to dataplane.max_frame_size octets.
struct FrameSetup {
  uint16_t mtu = 1500;         // max_frame_size less the Ethernet header, within the device's
                               // [min_mtu, max_mtu]
  bool scatter = false;        // frames larger than one buffer arrive as chained buffers
  bool multi_seg_tx = false;   // the device transmits chained buffers (forward_to targets)
};

struct PortSetup {
  FrameSetup frames;
  uint16_t id = 0;
  uint16_t nb_rxq = 0;
  uint16_t nb_txq = 0;
};

// The largest MTU rte_eth_dev_configure accepts: max_mtu, and max_rx_pktlen less the L2
// overhead that ethdev assumes (the device's own, or Ethernet header + CRC).
uint32_t maxMtu(const rte_eth_dev_info& info) {
  uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
  if (info.max_mtu != UINT16_MAX && info.max_rx_pktlen > info.max_mtu) {
    overhead = info.max_rx_pktlen - info.max_mtu;
  }
  uint32_t by_len = info.max_rx_pktlen > overhead ? info.max_rx_pktlen - overhead : info.min_mtu;
  return std::max<uint32_t>(info.min_mtu, std::min<uint32_t>(info.max_mtu, by_len));
}

}  // namespace

int runDaemon(const Config& config, const DaemonOptions& opt) {
  // ---- EAL ----
  std::vector<std::string> eal = opt.eal_override ? *opt.eal_override : config.dataplane.eal;
  std::vector<std::string> argv_store = {"tallyd"};
  argv_store.insert(argv_store.end(), eal.begin(), eal.end());
  std::vector<char*> argv;
  for (std::string& s : argv_store) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);
  if (rte_eal_init(int(argv.size() - 1), argv.data()) < 0) {
    std::fprintf(stderr, "tallyd: error: EAL initialisation failed: %s (EAL arguments:",
                 rte_strerror(rte_errno));
    for (const std::string& s : eal) {
      std::fprintf(stderr, " %s", s.c_str());
    }
    std::fprintf(stderr, ")\n");
    return 2;
  }
  auto fail = [](const std::string& msg) {
    std::fprintf(stderr, "tallyd: error: %s\n", msg.c_str());
    rte_eal_cleanup();
    return 2;
  };

  const uint32_t workers = config.dataplane.workers;
  if (rte_lcore_count() < workers + 1) {
    return fail("dataplane.workers is " + std::to_string(workers) + " but EAL gives " +
                std::to_string(rte_lcore_count()) + " lcore(s); need workers + 1 (the main " +
                "lcore runs the control plane): widen the EAL -l/--lcores list");
  }

  // ---- ports ----
  const auto& ports_cfg = config.dataplane.ports;
  std::vector<PortSetup> ports(ports_cfg.size());
  for (size_t i = 0; i < ports_cfg.size(); ++i) {
    if (rte_eth_dev_get_port_by_name(ports_cfg[i].name.c_str(), &ports[i].id) != 0) {
      return fail("dataplane.ports[" + std::to_string(i) + "].name: port '" + ports_cfg[i].name +
                  "' does not exist (available: " + availablePorts() + ")");
    }
  }
  auto indexOf = [&ports_cfg](const std::string& name) {
    for (size_t i = 0; i < ports_cfg.size(); ++i) {
      if (ports_cfg[i].name == name) {
        return int(i);
      }
    }
    return -1;
  };
  std::vector<bool> is_target(ports_cfg.size(), false);
  for (const PortConfig& p : ports_cfg) {
    if (p.forward_to) {
      is_target[size_t(indexOf(*p.forward_to))] = true;
    }
  }
  unsigned socket = rte_socket_id();
  uint32_t nb_mbufs = 0;
  // Frame sizes (docs/counting.md, "Frame sizes"): every port takes frames of up to
  // max_frame_size octets. A port that can chain buffers (scattered receive) keeps the default
  // 2048-octet buffers; if any port cannot, every buffer holds a whole frame.
  // A chained frame is forwarded as a chain: a port scatters only when its forward_to target
  // (if any) transmits chains.
  const uint32_t max_frame = config.dataplane.max_frame_size;
  uint32_t data_room = RTE_MBUF_DEFAULT_DATAROOM;
  std::vector<rte_eth_dev_info> infos(ports.size());
  for (size_t i = 0; i < ports.size(); ++i) {
    if (rte_eth_dev_info_get(ports[i].id, &infos[i]) != 0) {
      return fail("cannot read device info of port '" + ports_cfg[i].name + "'");
    }
    ports[i].frames.multi_seg_tx =
        (infos[i].tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
  }
  for (size_t i = 0; i < ports.size(); ++i) {
    const rte_eth_dev_info& info = infos[i];
    FrameSetup& fs = ports[i].frames;
    fs.mtu = uint16_t(std::clamp<uint32_t>(max_frame - RTE_ETHER_HDR_LEN, info.min_mtu,
                                           maxMtu(info)));
    const int target = ports_cfg[i].forward_to ? indexOf(*ports_cfg[i].forward_to) : -1;
    const bool target_chains = target < 0 || ports[size_t(target)].frames.multi_seg_tx;
    fs.scatter = max_frame > RTE_MBUF_DEFAULT_DATAROOM && target_chains &&
                 (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER);
    if (max_frame > RTE_MBUF_DEFAULT_DATAROOM && !fs.scatter) {
      data_room = std::max<uint32_t>(data_room, max_frame);
    }
    ports[i].nb_rxq = uint16_t(std::max<uint32_t>(1, std::min<uint32_t>(workers,
                                                                        info.max_rx_queues)));
    if (is_target[i]) {
      if (info.max_tx_queues < workers) {
        return fail("port '" + ports_cfg[i].name + "' is a forward_to target but supports " +
                    std::to_string(info.max_tx_queues) + " tx queue(s); workers is " +
                    std::to_string(workers));
      }
      ports[i].nb_txq = uint16_t(workers);
    } else {
      ports[i].nb_txq = uint16_t(std::min<uint32_t>(1, info.max_tx_queues));
    }
    nb_mbufs += ports[i].nb_rxq * kRxDesc + ports[i].nb_txq * kTxDesc;
  }
  nb_mbufs += workers * (512 + config.dataplane.burst_size * 4) + 1024;
  if (config.dataplane.mbufs != 0) {
    nb_mbufs = config.dataplane.mbufs;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("tally_mbufs", nb_mbufs, 256, 0,
                                              uint16_t(data_room + RTE_PKTMBUF_HEADROOM),
                                              int(socket));
  if (pool == nullptr) {
    return fail("cannot create the packet buffer pool of " + std::to_string(nb_mbufs) +
                " mbufs: " + rte_strerror(rte_errno) + " (give EAL more memory with -m)");
  }
  for (size_t i = 0; i < ports.size(); ++i) {
    rte_eth_dev_info info{};
    rte_eth_dev_info_get(ports[i].id, &info);
    rte_eth_conf conf{};
    const FrameSetup& fs = ports[i].frames;
    conf.rxmode.mtu = fs.mtu;
    if (fs.scatter) {
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
    }
    if (fs.multi_seg_tx) {
      conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
    }
    if (ports[i].nb_rxq > 1) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
    }
    int rc = rte_eth_dev_configure(ports[i].id, ports[i].nb_rxq, ports[i].nb_txq, &conf);
    if (rc != 0) {
      return fail("cannot configure port '" + ports_cfg[i].name + "': " + rte_strerror(-rc));
    }
    uint16_t nrx = kRxDesc;
    uint16_t ntx = kTxDesc;
    rte_eth_dev_adjust_nb_rx_tx_desc(ports[i].id, &nrx, &ntx);
    for (uint16_t q = 0; q < ports[i].nb_rxq; ++q) {
      rc = rte_eth_rx_queue_setup(ports[i].id, q, nrx, socket, nullptr, pool);
      if (rc != 0) {
        return fail("cannot set up rx queue " + std::to_string(q) + " of port '" +
                    ports_cfg[i].name + "': " + rte_strerror(-rc));
      }
    }
    for (uint16_t q = 0; q < ports[i].nb_txq; ++q) {
      rc = rte_eth_tx_queue_setup(ports[i].id, q, ntx, socket, nullptr);
      if (rc != 0) {
        return fail("cannot set up tx queue " + std::to_string(q) + " of port '" +
                    ports_cfg[i].name + "': " + rte_strerror(-rc));
      }
    }
    rc = rte_eth_dev_start(ports[i].id);
    if (rc != 0) {
      return fail("cannot start port '" + ports_cfg[i].name + "': " + rte_strerror(-rc));
    }
    rte_eth_promiscuous_enable(ports[i].id);  // not every driver supports it; harmless
    const uint32_t frame_limit = uint32_t(fs.mtu) + RTE_ETHER_HDR_LEN;
    logInfo("port '" + ports_cfg[i].name + "': MTU " + std::to_string(fs.mtu) +
            " (frames up to " + std::to_string(frame_limit) + " octets" +
            (frame_limit < max_frame ? ", the most the device allows; max_frame_size is " +
                                           std::to_string(max_frame)
                                     : std::string()) +
            "), " + (fs.scatter ? "scattered receive into " : "one buffer per frame, ") +
            std::to_string(data_room) + "-octet buffers" +
            (fs.multi_seg_tx ? ", multi-buffer transmit" : ""));
  }

  // ---- workers ----
  CountingPlan plan = CountingPlan::fromConfig(config);
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<WorkerCtx>> ctx;
  auto stats_mem = std::make_unique<WorkerStats[]>(workers);
  for (uint32_t w = 0; w < workers; ++w) {
    auto c = std::make_unique<WorkerCtx>();
    c->slab = std::make_unique<CounterSlab>(plan.geometry);
    if (!c->slab->ok()) {
      return fail("cannot reserve counter memory for " + std::to_string(plan.geometry.flows()) +
                  " flows");
    }
    c->w2c = std::make_unique<W2cQueue>();
    c->c2w = std::make_unique<C2wQueue>();
    c->stats = &stats_mem[w];
    c->fp = std::make_unique<FastPath>(plan, *c->slab, *c->w2c, *c->stats);
    if (!c->fp->ok()) {
      return fail("cannot reserve the subscriber table (" + std::to_string(plan.v4_addresses) +
                  " IPv4 pool addresses, " + std::to_string(plan.geometry.slots) + " slots)");
    }
    c->fp->setPorts(uint32_t(ports.size()));  // publish() copies only these ports' counters
    c->tx_queue = uint16_t(w);
    c->burst = config.dataplane.burst_size;
    c->stop = &stop;
    ctx.push_back(std::move(c));
  }
  for (size_t i = 0; i < ports.size(); ++i) {
    int fwd_index = ports_cfg[i].forward_to ? indexOf(*ports_cfg[i].forward_to) : -1;
    int fwd = fwd_index >= 0 ? int(ports[size_t(fwd_index)].id) : -1;
    for (uint16_t q = 0; q < ports[i].nb_rxq; ++q) {
      ctx[q % workers]->rx.push_back(
          RxAssign{ports[i].id, q, uint16_t(i), fwd, uint16_t(fwd_index < 0 ? 0 : fwd_index)});
    }
  }

  std::vector<WorkerChannel> channels;
  for (auto& c : ctx) {
    channels.push_back(WorkerChannel{c->slab.get(), c->stats, c->w2c.get(), c->c2w.get()});
  }
  SteadyClock clock;
  auto daemon = Daemon::open(config, plan, std::move(channels), clock, opt);
  if (!daemon.ok()) {
    return fail(daemon.error().message);
  }

  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);

  uint32_t launched = 0;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (launched == workers) {
      break;
    }
    rte_eal_remote_launch(workerMain, ctx[launched].get(), lcore);
    ++launched;
  }
  logInfo("running: " + std::to_string(workers) + " worker(s), " + std::to_string(ports.size()) +
          " port(s), control socket " + config.control.socket);

  (*daemon)->run(g_signal_stop);  // the control plane, on the main lcore

  // ---- stop and harvest ----
  stop.store(true, std::memory_order_relaxed);
  rte_eal_mp_wait_lcore();  // every worker counted what it had in flight
  (*daemon)->finish();
  // Close the ports first: every mbuf must then be back in the pool (none leaked).
  for (PortSetup& p : ports) {
    rte_eth_dev_stop(p.id);
    rte_eth_dev_close(p.id);
  }
  const int rc = (*daemon)->report(int64_t(rte_mempool_in_use_count(pool)));
  daemon->reset();
  ctx.clear();
  rte_mempool_free(pool);
  rte_eal_cleanup();
  return rc;
}

}  // namespace tally
