// Control-plane poll benchmark: time of one Poller::poll() with 1 M tracked flows per worker
// (1 and 2 workers), every flow known to the poller, with
//   poll_unchanged    no counter changed since the last poll,
//   poll_10pct_changed 10 % of the flows (a fresh random choice per poll) changed.
// Config: idle_timeout 0 (never), max_sessions 2^22, 4 rating groups.
//
// Subscribers are distinct uniformly random addresses of 10.0.0.0/8. Argument `rg_per_sub`:
//   4  every subscriber uses all 4 rating groups (250 K subscribers x 4 = 1 M flows per worker),
//      the traffic model of the hot-path benchmark: the target case;
//   1  every subscriber uses one random rating group (1 M subscribers per worker): the scan
//      covers 4 M flow entries for 1 M flows (information, the worst case).
// Argument `rg_configured`: 4 (the services of bench_services.h), or 16 (12 more rules on
// remote ports 2000-2011): with more than 8 configured the poller reads only the rating
// groups a subscriber announced (information).
// The flows are announced exactly as a worker does: slots in order of first appearance
// (slot i = the worker's i-th subscriber), W2cEvent kFlowLearned with the counters already
// non-zero, in batches of <= 60000, poll() draining the queues between batches.
//
// The "worker" writes here run on the poller's thread (between polls, untimed), so the lines
// a poll reads after a change may still be in this core's cache: with 100 K random lines
// (6.4 MB) against a 2 MiB L2 most are not. See docs/performance.md.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "bench/poller_fixture.h"
#include "controlplane/poller.h"

namespace {

using namespace tally;
using namespace tally::bench;

std::unique_ptr<Fixture> g_fixture;

Fixture& fixtureFor(const benchmark::State& state) {
  uint32_t workers = uint32_t(state.range(0));
  uint32_t rgs = uint32_t(state.range(1));
  uint32_t configured = uint32_t(state.range(2));
  if (!g_fixture || g_fixture->n_workers != workers || g_fixture->rg_per_sub != rgs ||
      g_fixture->rg_configured != configured) {
    g_fixture.reset();
    g_fixture = std::make_unique<Fixture>(workers, rgs, configured);
  }
  return *g_fixture;
}

void setCounters(benchmark::State& state, const Fixture& fx) {
  double flows = double(kFlowsPerWorker) * fx.n_workers;
  state.counters["flows"] = flows;
  state.counters["rg_per_sub"] = fx.rg_per_sub;
  state.counters["rg_configured"] = fx.rg_configured;
  state.counters["ms_per_poll"] = benchmark::Counter(
      1e-3, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["ns_per_flow"] = benchmark::Counter(
      flows / 1e9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  const Statistics& s = fx.poller->statistics();
  if (s.conservation_violations != 0) {
    state.SkipWithError("conservation violated");
  }
}

void poll_unchanged(benchmark::State& state) {
  Fixture& fx = fixtureFor(state);
  fx.poller->poll();  // nothing pending from a previous benchmark
  for (auto _ : state) {
    fx.poller->poll();
  }
  setCounters(state, fx);
}

void poll_10pct_changed(benchmark::State& state) {
  Fixture& fx = fixtureFor(state);
  fx.poller->poll();
  uint64_t before = fx.poller->statistics().attributed_packets;
  for (auto _ : state) {
    state.PauseTiming();
    fx.changeTenPercent();
    state.ResumeTiming();
    fx.poller->poll();
  }
  uint64_t attributed = fx.poller->statistics().attributed_packets - before;
  uint64_t want = uint64_t(state.iterations()) * (kFlowsPerWorker / 10) * fx.n_workers;
  if (attributed != want) {
    state.SkipWithError("the poll did not attribute every change");
  }
  setCounters(state, fx);
}

}  // namespace

// Registration order = run order: both cases of one (workers, rg_per_sub) share one set-up.
void args(benchmark::internal::Benchmark* b, int64_t workers, int64_t rgs,
          int64_t configured = 4) {
  b->ArgNames({"workers", "rg_per_sub", "rg_configured"})
      ->Args({workers, rgs, configured})
      ->Unit(benchmark::kMillisecond);
}
BENCHMARK(poll_unchanged)->Apply([](auto* b) { args(b, 1, 4); });
BENCHMARK(poll_10pct_changed)->Apply([](auto* b) { args(b, 1, 4); });
BENCHMARK(poll_unchanged)->Apply([](auto* b) { args(b, 2, 4); });
BENCHMARK(poll_10pct_changed)->Apply([](auto* b) { args(b, 2, 4); });
BENCHMARK(poll_unchanged)->Apply([](auto* b) { args(b, 1, 1); });
BENCHMARK(poll_10pct_changed)->Apply([](auto* b) { args(b, 1, 1); });
BENCHMARK(poll_unchanged)->Apply([](auto* b) { args(b, 2, 1); });
BENCHMARK(poll_10pct_changed)->Apply([](auto* b) { args(b, 2, 1); });
BENCHMARK(poll_unchanged)->Apply([](auto* b) { args(b, 1, 1, 16); });
BENCHMARK(poll_10pct_changed)->Apply([](auto* b) { args(b, 1, 1, 16); });

BENCHMARK_MAIN();
