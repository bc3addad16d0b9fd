// tallyctl: the operator CLI. Talks to a running tallyd over its control socket.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/charging/billing_commands.h"
#include "controlplane/control/commands.h"
#include "controlplane/control/ctl_client.h"
#include "shared/config.h"

namespace {

// The daemon's command table (the modules register it as in tallyd), and the local commands.
std::string commandHelp() {
  static const tally::AccountingConfig kNoAccounting;
  tally::CommandRegistry table;
  tally::registerSessionCommands(table, nullptr);
  tally::registerBillingCommands(table, kNoAccounting, nullptr);
  return table.help() +
         "  decode FILE...                       print CDR files as JSON (local, no daemon)\n";
}

void usage(FILE* out) {
  std::fprintf(out,
               "usage: tallyctl [--socket PATH | --config FILE] [--timeout MS] COMMAND...\n"
               "%s"
               "The socket is --socket, else control.socket of --config, else $TALLY_SOCKET,\n"
               "else /run/tally/tally.sock. --timeout (default 5000 ms): how long to wait for the\n"
               "daemon each time (a large reply may take longer in all). Exit status: 0 done,\n"
               "1 refused (\"busy: ...\" when the socket is at a connection limit, after\n"
               "retrying for a second), 2 usage, 3 no answer or a reply cut short.\n",
               commandHelp().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  std::string config_path;
  int timeout_ms = 5000;
  std::vector<std::string> words;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "tallyctl: %s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    if (words.empty() && (a == "--socket" || a == "-s")) {
      socket_path = value("--socket");
    } else if (words.empty() && (a == "--config" || a == "-c")) {
      config_path = value("--config");
    } else if (words.empty() && a == "--timeout") {
      std::string v = value("--timeout");
      char* end = nullptr;
      long t = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || t < 1 || t > 600000) {
        std::fprintf(stderr, "tallyctl: --timeout '%s': allowed 1-600000 ms\n", v.c_str());
        return 2;
      }
      timeout_ms = int(t);
    } else if (words.empty() && (a == "--help" || a == "-h")) {
      usage(stdout);
      return 0;
    } else {
      words.push_back(a);
    }
  }
  if (words.empty()) {
    usage(stderr);
    return 2;
  }
  if (words[0] == "decode") {
    // Local: reads CDR files, needs no daemon. One JSON object per record and line.
    if (words.size() < 2) {
      std::fprintf(stderr, "tallyctl: usage: tallyctl decode FILE...\n");
      return 2;
    }
    int rc = 0;
    for (size_t i = 1; i < words.size(); ++i) {
      auto records = tally::cdr::decodeCdrFileToJson(words[i]);
      if (!records.ok()) {
        std::fprintf(stderr, "tallyctl: %s\n", records.error().message.c_str());
        rc = 1;
        continue;
      }
      for (const auto& r : records.value()) {
        std::string line = tally::cdr::toJsonLine(r);
        if (line.empty() || line.back() != '\n') {
          line += '\n';
        }
        std::fputs(line.c_str(), stdout);
      }
    }
    return rc;
  }
  if (socket_path.empty() && !config_path.empty()) {
    tally::ConfigResult r = tally::loadConfigFile(config_path);
    if (!r.config) {
      std::fprintf(stderr, "tallyctl: %s\n", r.error->format().c_str());
      return 2;
    }
    socket_path = r.config->control.socket;
  }
  if (socket_path.empty()) {
    const char* env = std::getenv("TALLY_SOCKET");
    socket_path = env != nullptr ? env : "/run/tally/tally.sock";
  }
  // The text goes to stdout as it arrives (a display of a million sessions is large).
  auto reply = tally::sendCommand(socket_path, words, timeout_ms, [](std::string_view t) {
    std::fwrite(t.data(), 1, t.size(), stdout);
  });
  std::fflush(stdout);
  if (!reply.ok()) {
    // Also a reply cut short ("reply cut after N octets: why"): what was printed is incomplete.
    std::fprintf(stderr, "tallyctl: %s\n", reply.error().message.c_str());
    return 3;
  }
  if (!reply->ok) {
    std::fprintf(stderr, "tallyctl: refused: %s\n", reply->error.c_str());
    return 1;
  }
  return 0;
}
