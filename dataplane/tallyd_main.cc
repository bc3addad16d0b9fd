// tallyd: the daemon. See README.md and docs/ for what it does.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dataplane/runtime.h"
#include "shared/config.h"
#include "shared/config_check.h"

namespace {

void usage(FILE* out) {
  std::fprintf(out,
      "usage: tallyd --config FILE [options]\n"
      "       tallyd --check-config FILE [--eal-args \"ARGS\"] [--usage-report PATH]\n"
      "options:\n"
      "  --eal-args \"ARGS\"      EAL arguments (space separated) replacing dataplane.eal\n"
      "  --exit-when-idle MS     stop when no packet arrived for MS milliseconds, harvest\n"
      "                          everything and exit\n"
      "  --run-for SECONDS       stop after SECONDS (benchmarks)\n"
      "  --usage-report PATH     write per-flow usage and totals (JSON Lines) at exit\n"
      "  --no-summary            do not print the usage summary at exit\n"
      "  --print-rate            print the receive rate at exit\n");
}

bool parseNumber(const std::string& s, double lo, double hi, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0' && out >= lo && out <= hi;
}

std::vector<std::string> splitSpaces(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) {
        out.push_back(cur);
        cur.clear();
      }
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) {
    out.push_back(cur);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  tally::DaemonOptions opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tallyd: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    double num = 0;
    if (a == "--config" || a == "-c") {
      config_path = value();
    } else if (a == "--check-config") {
      config_path = value();
      check_only = true;
    } else if (a == "--eal-args") {
      opt.eal_override = splitSpaces(value());
    } else if (a == "--exit-when-idle") {
      std::string v = value();
      if (!parseNumber(v, 0, 86400000, num) || num != double(int64_t(num))) {
        std::fprintf(stderr, "tallyd: --exit-when-idle '%s': allowed 0-86400000 (ms)\n",
                     v.c_str());
        return 2;
      }
      opt.exit_when_idle_ms = int64_t(num);
    } else if (a == "--run-for") {
      std::string v = value();
      if (!parseNumber(v, 0.001, 86400, num)) {
        std::fprintf(stderr, "tallyd: --run-for '%s': allowed 0.001-86400 (seconds)\n",
                     v.c_str());
        return 2;
      }
      opt.run_for_s = num;
    } else if (a == "--usage-report") {
      opt.usage_report = value();
    } else if (a == "--no-summary") {
      opt.summary = false;
    } else if (a == "--print-rate") {
      opt.rate = true;
    } else if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "tallyd: unknown argument '%s'\n", a.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (config_path.empty()) {
    usage(stderr);
    return 2;
  }
  tally::ConfigResult r = tally::loadConfigFile(config_path);
  if (!r.config) {
    std::fprintf(stderr, "tallyd: invalid configuration: %s\n", r.error->format().c_str());
    return check_only ? 1 : 2;
  }
  for (const std::string& w : r.config->warnings) {
    std::fprintf(stderr, "tallyd: warning: %s\n", w.c_str());
  }
  // The machine: the same checks for --check-config and before start-up (shared/config_check.h).
  tally::EnvironmentReport env =
      tally::checkEnvironment(*r.config, tally::EnvironmentOptions{opt.eal_override,
                                                                   opt.usage_report});
  for (const std::string& w : env.warnings) {
    std::fprintf(stderr, "tallyd: warning: %s\n", w.c_str());
  }
  for (const tally::ConfigError& e : env.errors) {
    std::fprintf(stderr, "tallyd: %s: %s\n", check_only ? "invalid configuration" : "cannot start",
                 e.format().c_str());
  }
  if (check_only) {
    if (env.errors.empty()) {
      std::printf("%s: configuration is valid\n", config_path.c_str());
    }
    std::printf("%s: %s\n", config_path.c_str(), tally::kNotCheckedWithoutStarting);
    return env.errors.empty() ? 0 : 1;
  }
  if (!env.errors.empty()) {
    return 2;
  }
  return tally::runDaemon(*r.config, opt);
}
