// Loading a large configuration (Google Benchmark).
//   BM_LoadConfig300kStatics  loadConfigFile() of a generated 16 MB file holding 300,000 static
//                             subscribers (what `tallyd --check-config` does before its path
//                             checks). Target: <= 2 s and <= 200 MB. Counters: file_MB, and
//                             peak_rss_MB, the process's peak resident memory after the runs
//                             minus what it held before the first (getrusage ru_maxrss).
//                             The file is written to $TALLY_BENCH_DIR or /tmp and removed.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "shared/config.h"

namespace tally {
namespace {

constexpr int kStatics = 300000;

// A valid configuration: one /8 pool and kStatics static subscribers, one flow mapping a line
// ("- {address: 10.1.2.3, imsi: "001010000066051"}"), about 16 MB.
std::string bigConfig() {
  std::string text =
      "node:\n"
      "  id: bench-gw\n"
      "  address: 192.0.2.1\n"
      "dataplane:\n"
      "  eal: [\"--no-huge\", \"-m\", \"256\", \"--no-pci\", \"-l\", \"0-1\"]\n"
      "  ports:\n"
      "    - name: net_pcap0\n"
      "      role: access\n"
      "      forward_to: net_null0\n"
      "    - name: net_null0\n"
      "      role: core\n"
      "subscribers:\n"
      "  pools: [10.0.0.0/8, \"2001:db8::/32\"]\n"
      "  static:\n";
  text.reserve(17 << 20);
  char line[128];
  for (int i = 0; i < kStatics; ++i) {
    uint32_t a = 0x0A010000u + uint32_t(i);
    std::snprintf(line, sizeof line, "    - {address: %u.%u.%u.%u, imsi: \"00101%010d\"}\n",
                  a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, i);
    text += line;
  }
  text +=
      "services:\n"
      "  rules:\n"
      "    - rating_group: 10\n"
      "      match: {protocol: udp, remote_port: 53}\n"
      "  default_rating_group: 1\n";
  return text;
}

long maxRssKiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

void BM_LoadConfig300kStatics(benchmark::State& state) {
  const char* dir = std::getenv("TALLY_BENCH_DIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/tally-config-bench-" +
                     std::to_string(::getpid()) + ".yaml";
  size_t bytes = 0;
  {
    std::string text = bigConfig();
    bytes = text.size();
    std::ofstream(path, std::ios::binary) << text;
  }
  const long rss_before = maxRssKiB();
  for (auto _ : state) {
    ConfigResult r = loadConfigFile(path);
    if (!r.config || r.config->subscribers.statics.size() != size_t(kStatics)) {
      state.SkipWithError(r.error ? r.error->format().c_str() : "wrong static count");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  ::unlink(path.c_str());
  state.counters["file_MB"] = double(bytes) / 1e6;
  state.counters["peak_rss_MB"] = double(maxRssKiB() - rss_before) / 1024.0;
}
BENCHMARK(BM_LoadConfig300kStatics)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace tally

BENCHMARK_MAIN();
