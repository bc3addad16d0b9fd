// The control socket during a large display: `display session --json` of every session with
// 1 M sessions (one worker, 1 M subscribers with one flow each: bench/poller_fixture.h), read by
// a client thread through a real Unix socket, while this thread runs tallyd's control-plane
// loop (dataplane/runtime.cc): Poller::poll() every poll_interval_ms (100), ControlServer::serve()
// with the time left until the next poll in between. The polls find no changed counter: what
// is measured is what the display adds to the loop.
//
// Figures (one iteration = one whole display; time = its wall time):
//   longest_poll_ms  the longest time from one poll's start to the next (100 ms when the
//                    display never delays a poll): "the longest poll" of the issue
//   late_ms          the most a poll started after it was due
//   longest_serve_ms the longest serve() call beyond the wait it was given
//   max_poll_ms      the longest Poller::poll() itself during the display
//   MB, sessions     the size of the reply and the sessions in it; complete: 1 when whole
// Cases: display_streamed (the server renders the reply in steps as the client reads: the
// code as it is), display_one_step (the same text rendered in one step: the code before
// streaming, for comparison). DISPLAY_BENCH_SKIP_ONE_STEP=1 skips the second (it holds the whole
// JSON tree: several GB with 1 M sessions). POLLER_BENCH_FLOWS sets the number of sessions.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <string_view>

#include "bench/poller_fixture.h"
#include "controlplane/control/commands.h"
#include "controlplane/control/control_server.h"
#include "controlplane/control/ctl_client.h"
#include "controlplane/report.h"

namespace {

using namespace tally;
using namespace tally::bench;
using SteadyT = std::chrono::steady_clock;

std::unique_ptr<Fixture> g_fixture;

double ms(SteadyT::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

void runDisplay(benchmark::State& state, bool one_step) {
  if (!g_fixture) {
    g_fixture = std::make_unique<Fixture>(1, 1, 4);
  }
  Fixture& fx = *g_fixture;
  Poller& poller = *fx.poller;
  std::string path = "/tmp/tally-display-bench-" + std::to_string(::getpid()) + ".sock";
  CommandRegistry commands;
  registerSessionCommands(commands, &poller);
  auto server = ControlServer::open(path, 0600, [&poller, &commands, one_step](const auto& words) {
    if (!one_step) {
      return commands.dispatch(words);
    }
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const Session* s : poller.sessions()) {
      arr.push_back(sessionJson(*s, poller.plan()));
    }
    return Reply{true, arr.dump(2) + "\n", "", {}};
  });
  if (!server.ok()) {
    state.SkipWithError(server.error().message.c_str());
    return;
  }
  const auto interval = std::chrono::milliseconds(fx.config.dataplane.poll_interval_ms);
  SteadyT::duration longest_gap{}, late{}, longest_serve{}, longest_poll_call{};
  uint64_t bytes = 0;
  uint64_t sessions = 0;
  bool complete = false;
  for (auto _ : state) {
    std::string tail;
    auto client = std::async(std::launch::async, [&] {
      return sendCommand(path, {"display", "session", "--json"}, 60000, [&](std::string_view t) {
        bytes += t.size();
        // Pieces end anywhere: the last 11 octets of the previous one (shorter than the key)
        // go in front, so that a key split between two is counted once.
        std::string seen = tail + std::string(t);
        const std::string_view key = "\"session_id\"";
        for (size_t at = seen.find(key); at != std::string::npos; at = seen.find(key, at + 1)) {
          ++sessions;
        }
        tail = seen.substr(seen.size() > 11 ? seen.size() - 11 : 0);
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
        longest_poll_call = std::max(longest_poll_call, SteadyT::now() - now);
        next_poll += interval;
        if (next_poll < now) {
          next_poll = now + interval;
        }
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_poll - SteadyT::now());
      int timeout = int(std::max<int64_t>(0, std::min<int64_t>(wait.count(), 100)));
      auto t0 = SteadyT::now();
      (*server)->serve(timeout);
      longest_serve =
          std::max(longest_serve, SteadyT::now() - t0 - std::chrono::milliseconds(timeout));
    }
    auto r = client.get();
    complete = r.ok() && r->ok && tail.size() >= 2 && tail.substr(tail.size() - 2) == "]\n";
    if (!complete) {
      std::fprintf(stderr, "display incomplete: %s\n",
                   r.ok() ? r->error.c_str() : r.error().message.c_str());
    }
  }
  state.counters["complete"] = complete ? 1 : 0;
  state.counters["longest_poll_ms"] = ms(longest_gap);
  state.counters["late_ms"] = ms(late);
  state.counters["longest_serve_ms"] = ms(longest_serve);
  state.counters["max_poll_ms"] = ms(longest_poll_call);
  state.counters["MB"] = double(bytes) / 1e6 / double(state.iterations());
  state.counters["sessions"] = double(sessions) / double(state.iterations());
}

void display_streamed(benchmark::State& state) { runDisplay(state, false); }
void display_one_step(benchmark::State& state) {
  const char* skip = std::getenv("DISPLAY_BENCH_SKIP_ONE_STEP");
  if (skip != nullptr && std::string(skip) == "1") {
    state.SkipWithError("skipped (DISPLAY_BENCH_SKIP_ONE_STEP=1)");
    for (auto _ : state) {
    }
    return;
  }
  runDisplay(state, true);
}

}  // namespace

BENCHMARK(display_streamed)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();
BENCHMARK(display_one_step)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

BENCHMARK_MAIN();
