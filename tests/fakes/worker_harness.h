#pragma once
// One real worker's memory (slab, queues, statistics) and its FastPath, driven from a test
// thread, plus the Poller reading it: the whole counting path without DPDK.
#include <memory>
#include <vector>

#include "controlplane/poller.h"
#include "dataplane/fastpath.h"
#include "tests/fakes/fake_clock.h"

namespace tally::testing {

struct WorkerHarness {
  std::unique_ptr<CounterSlab> slab;
  std::unique_ptr<W2cQueue> w2c = std::make_unique<W2cQueue>();
  std::unique_ptr<C2wQueue> c2w = std::make_unique<C2wQueue>();
  std::unique_ptr<WorkerStats> stats = std::make_unique<WorkerStats>();
  std::unique_ptr<FastPath> fp;

  explicit WorkerHarness(const CountingPlan& plan)
      : slab(std::make_unique<CounterSlab>(plan.geometry)) {
    fp = std::make_unique<FastPath>(plan, *slab, *w2c, *stats);
  }
  void send(const std::vector<uint8_t>& f) {
    fp->countFrame(f.data(), uint32_t(f.size()));
    fp->publish();
  }
  WorkerChannel channel() { return {slab.get(), stats.get(), w2c.get(), c2w.get()}; }
};

}  // namespace tally::testing
