// `session identify --bulk` against tallyd's control-plane loop: 1 M sessions (one worker, one
// flow each: bench/poller_fixture.h), the identity commands with their store writing
// identities.jsonl to a temporary state directory, and this thread running the loop as tallyd
// does (dataplane/runtime.cc): Poller::poll() every poll_interval_ms (100), ControlServer::
// serve() with the time left until the next poll in between. A client thread runs the bulk
// client exactly as tallyctl does (controlplane/identity/identity_client.cc: batches within the
// socket's 4 KiB request limit over 4 connections) with IDENTITY_BENCH_LINES identities
// (default 100 000): half of them for live sessions (applied), half for addresses without a
// session (waiting).
//
// Figures:
//   identify_bulk_socket   identities_per_s: the whole call, first line sent to last answer
//                          read, per second; longest_poll_ms: the longest time from one poll's
//                          start to the next (100 when the bulk never delays a poll; the issue
//                          allows 200); late_ms: the most a poll started after it was due;
//                          longest_serve_ms: the longest serve() beyond its wait; write_ms: from
//                          the last answer until the store's file holds every identity
//   identify_apply         identities_per_s of the daemon's side alone (parse one JSON line,
//                          validate, Poller::identify, hand to the store), no socket
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <sstream>
#include <string>

#include "bench/poller_fixture.h"
#include "controlplane/control/commands.h"
#include "controlplane/control/control_server.h"
#include "controlplane/identity/identity_client.h"
#include "controlplane/identity/identity_commands.h"
#include "controlplane/identity/identity_store.h"

namespace {

using namespace tally;
using namespace tally::bench;
using SteadyT = std::chrono::steady_clock;

std::unique_ptr<Fixture> g_fixture;

double ms(SteadyT::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

size_t lineCount() {
  const char* e = std::getenv("IDENTITY_BENCH_LINES");
  return e != nullptr && std::atoi(e) > 0 ? size_t(std::atoi(e)) : 100000;
}

// Half for live sessions, half for other pool addresses.
std::vector<std::string> identityLines(const Fixture& fx, size_t n, uint64_t round) {
  std::vector<std::string> lines;
  lines.reserve(n);
  const std::vector<uint32_t>& live = fx.workers[0].addresses;
  for (size_t i = 0; i < n; ++i) {
    uint32_t a = i % 2 == 0 ? live[(i / 2) % live.size()] : 0x0A000000u | uint32_t(i * 2654435761u & 0xFFFFFF);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  R"({"address":"%u.%u.%u.%u","imsi":"00101%010llu","msisdn":"4917%08llu","cc_profile":8})",
                  a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
                  (unsigned long long)(i + round * n) % 10000000000ULL,
                  (unsigned long long)(i % 100000000));
    lines.push_back(buf);
  }
  return lines;
}

struct StateDir {
  std::string path;
  StateDir() {
    char tmpl[] = "/tmp/tally-identity-bench-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~StateDir() { std::filesystem::remove_all(path); }
};

// The shared fixture (one worker, 4 rating groups) and an identity store in `dir`; null (the
// benchmark skipped with the reason) when the store cannot be opened.
std::unique_ptr<IdentityStore> openStore(benchmark::State& state, const StateDir& dir) {
  if (!g_fixture) {
    g_fixture = std::make_unique<Fixture>(1, 1, 4);
  }
  IdentityStore::Loaded loaded;
  auto store = IdentityStore::open(dir.path, g_fixture->config, g_fixture->plan, loaded);
  if (!store.ok()) {
    state.SkipWithError(store.error().message.c_str());
    return nullptr;
  }
  return std::move(*store);
}

void identify_bulk_socket(benchmark::State& state) {
  StateDir dir;
  auto store = openStore(state, dir);
  if (!store) {
    return;
  }
  Fixture& fx = *g_fixture;
  Poller& poller = *fx.poller;
  std::string path = "/tmp/tally-identity-bench-" + std::to_string(::getpid()) + ".sock";
  CommandRegistry commands;
  registerIdentityCommands(commands, &poller, store.get());
  auto server = ControlServer::open(path, 0600, [&commands](const auto& words) {
    return commands.dispatch(words);
  });
  if (!server.ok()) {
    state.SkipWithError(server.error().message.c_str());
    return;
  }
  const size_t n = lineCount();
  const auto interval = std::chrono::milliseconds(fx.config.dataplane.poll_interval_ms);
  SteadyT::duration longest_gap{}, late{}, longest_serve{}, total{}, write{};
  size_t answered = 0, refused = 0;
  uint64_t round = 0;
  for (auto _ : state) {
    std::vector<std::string> lines = identityLines(fx, n, round++);
    std::string text;
    for (const std::string& l : lines) {
      text += l;
      text += '\n';
    }
    auto t0 = SteadyT::now();
    auto client = std::async(std::launch::async, [&] {
      std::istringstream in(text);
      return identifyBulk(path, 60000, streamLines(in), [&](std::string_view t) {
        for (char c : t) {
          answered += c == '\n';
        }
        for (size_t at = t.find("\"ok\":false"); at != std::string_view::npos;
             at = t.find("\"ok\":false", at + 1)) {
          ++refused;
        }
      });
    });
    auto last_poll = SteadyT::now();
    auto next_poll = last_poll + interval;
    poller.poll();
    while (client.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      auto now = SteadyT::now();
      if (now >= next_poll) {
        late = std::max(late, now - next_poll);
        longest_gap = std::max(longest_gap, now - last_poll);
        last_poll = now;
        poller.poll();
        next_poll += interval;
        if (next_poll < now) {
          next_poll = now + interval;
        }
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - SteadyT::now());
      int timeout = int(std::max<int64_t>(0, std::min<int64_t>(wait.count(), 100)));
      auto s0 = SteadyT::now();
      (*server)->serve(timeout);
      longest_serve = std::max(longest_serve, SteadyT::now() - s0 - std::chrono::milliseconds(timeout));
    }
    auto t1 = SteadyT::now();
    total += t1 - t0;
    client.get();
    store->sync();
    write = std::max(write, SteadyT::now() - t1);
  }
  state.counters["identities_per_s"] =
      double(n) * double(state.iterations()) / std::chrono::duration<double>(total).count();
  state.counters["longest_poll_ms"] = ms(longest_gap);
  state.counters["late_ms"] = ms(late);
  state.counters["longest_serve_ms"] = ms(longest_serve);
  state.counters["write_ms"] = ms(write);
  state.counters["answered"] = double(answered) / double(state.iterations());
  state.counters["refused"] = double(refused) / double(state.iterations());
  state.counters["stored"] = double(store->stats().stored);
}

void identify_apply(benchmark::State& state) {
  StateDir dir;
  auto store = openStore(state, dir);
  if (!store) {
    return;
  }
  Fixture& fx = *g_fixture;
  CommandRegistry commands;
  registerIdentityCommands(commands, fx.poller.get(), store.get());
  const size_t n = lineCount();
  uint64_t round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<std::string> lines = identityLines(fx, n, round++);
    state.ResumeTiming();
    // As the server gets them: batches of 32 lines.
    for (size_t from = 0; from < lines.size(); from += 32) {
      std::vector<std::string> words = {"session", "identify", "--batch"};
      for (size_t i = from; i < std::min(lines.size(), from + 32); ++i) {
        words.push_back(std::move(lines[i]));
      }
      benchmark::DoNotOptimize(commands.dispatch(words));
    }
  }
  state.counters["identities_per_s"] =
      benchmark::Counter(double(n) * double(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(identify_apply)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(identify_bulk_socket)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
