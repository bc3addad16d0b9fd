// tallyctl: the operator CLI. Talks to a running tallyd over its control socket.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/bill/local_bill_commands.h"
#include "controlplane/bill/secret.h"
#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/charging/billing_commands.h"
#include "controlplane/control/commands.h"
#include "controlplane/control/ctl_client.h"
#include "controlplane/identity/identity_client.h"
#include "controlplane/identity/identity_commands.h"
#include "controlplane/radius/radius_commands.h"
#include "shared/config.h"

namespace {

// The daemon's command table (the modules register it as in tallyd), and the local commands.
std::string commandHelp() {
  static const tally::AccountingConfig kNoAccounting;
  tally::CommandRegistry table;
  tally::registerSessionCommands(table, nullptr);
  tally::registerIdentityCommands(table, nullptr, nullptr);
  tally::registerBillingCommands(table, kNoAccounting, nullptr);
  tally::registerLocalBillCommands(table, nullptr);
  tally::radius::registerRadiusCommands(table, nullptr);
  return table.help() +
         "  decode FILE...                       print bill files (CDRs, local bills) as JSON\n"
         "                                       (local, no daemon)\n"
         "  encrypt-password [--key-file PATH]   read a bill-server password from stdin (one\n"
         "                                       line, not echoed), print the configuration\n"
         "                                       value {cipher: \"v1:...\"} (local, no daemon;\n"
         "                                       key file default /etc/tally/bill-server.key,\n"
         "                                       created 0600 when missing)\n";
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

// encrypt-password: the password comes from stdin only (never argv: it would be visible in
// ps and the shell history); one line, without echo when stdin is a terminal.
int encryptPasswordCommand(const std::vector<std::string>& words) {
  std::string key_file = tally::bill::kDefaultPasswordKeyFile;
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "--key-file" && i + 1 < words.size()) {
      key_file = words[++i];
    } else {
      std::fprintf(stderr, "tallyctl: usage: tallyctl encrypt-password [--key-file PATH]\n");
      return 2;
    }
  }
  const bool tty = ::isatty(STDIN_FILENO) == 1;
  struct termios saved {};
  if (tty && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
    struct termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    std::fprintf(stderr, "bill-server password: ");
    std::fflush(stderr);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  int c;
  bool got = false;
  while ((c = std::fgetc(stdin)) != EOF) {
    got = true;
    if (c == '\n') {
      break;
    }
    line.push_back(static_cast<char>(c));
  }
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  if (!got || line.empty()) {
    std::fprintf(stderr, "tallyctl: encrypt-password: %s\n",
                 got ? "the password is empty: an SFTP password needs at least one character"
                     : "no password on stdin");
    return 2;
  }
  auto cipher = tally::bill::encryptPassword(key_file, line, true);
  std::fill(line.begin(), line.end(), '\0');
  if (!cipher.ok()) {
    std::fprintf(stderr, "tallyctl: encrypt-password: %s\n", cipher.error().message.c_str());
    return 1;
  }
  std::printf("{cipher: \"%s\"}\n", cipher->c_str());
  return 0;
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
  if (words[0] == "encrypt-password") {
    return encryptPasswordCommand(words);
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
  if (words.size() >= 3 && words[0] == "session" && words[1] == "identify" &&
      words[2] == "--bulk") {
    if (words.size() != 3) {
      std::fprintf(stderr, "tallyctl: usage: tallyctl session identify --bulk < FILE.jsonl\n");
      return 2;
    }
    const int rc = tally::identifyBulk(socket_path, timeout_ms, tally::fdLines(STDIN_FILENO),
                                        [](std::string_view t) {
                                          std::fwrite(t.data(), 1, t.size(), stdout);
                                          std::fflush(stdout);  // a feeding process reads it now
                                        });
    std::fflush(stdout);
    return rc;
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
