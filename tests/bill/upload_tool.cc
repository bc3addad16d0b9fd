// upload_tool: one bill file to a real bill server through the production transports
// (controlplane/bill), for tests/bill/transport_it.py and bench/sftp_bench.sh.
//
//   upload_tool --protocol sftp|tftp --address IP --port N [--user U] [--password-env VAR]
//               [--key PATH] [--known-hosts PATH] [--timeout MS] [--chunk BYTES]
//               [--blksize N] [--repeat N] LOCAL REMOTE
//
// The password is read from the environment variable named by --password-env (never argv).
// Prints one JSON line per upload ({"iteration", "status", "detail", "bytes", "elapsed_ms"})
// and, with --repeat N > 1, a summary line ({"summary": true, "counts": {status: n},
// "fds_before", "fds_after_first", "fds_after", "rss_kb_before", "rss_kb_after", ...}); with
// --repeat the remote names are REMOTE-0 ... REMOTE-(N-1). Exit 0 when every upload was ok or
// already-there, 1 otherwise, 2 usage.
#include <dirent.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "controlplane/bill/sftp_transport.h"
#include "controlplane/bill/tftp_transport.h"
#include "controlplane/bill/transport.h"

namespace {

std::string jsonString(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\u%04x", c);
      o += b;
    } else {
      o += static_cast<char>(c);
    }
  }
  return o + "\"";
}

int countFds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) {
    return -1;
  }
  int n = 0;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') {
      ++n;
    }
  }
  ::closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

long rssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: upload_tool --protocol sftp|tftp --address IP --port N [--user U]\n"
               "  [--password-env VAR] [--key PATH] [--known-hosts PATH] [--timeout MS]\n"
               "  [--chunk BYTES] [--blksize N] [--repeat N] LOCAL REMOTE\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  std::string protocol, address, local, remote;
  tally::bill::ServerTarget t;
  long repeat = 1;
  std::string positional[2];
  int npos = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
      }
      return argv[++i];
    };
    if (a == "--protocol") {
      protocol = val();
    } else if (a == "--address") {
      address = val();
    } else if (a == "--port") {
      t.port = static_cast<uint16_t>(std::atoi(val().c_str()));
    } else if (a == "--user") {
      t.user_name = val();
    } else if (a == "--password-env") {
      std::string var = val();
      const char* p = std::getenv(var.c_str());
      if (p == nullptr) {
        std::fprintf(stderr, "upload_tool: %s is not set\n", var.c_str());
        return 2;
      }
      t.password = p;
    } else if (a == "--key") {
      t.private_key_path = val();
    } else if (a == "--known-hosts") {
      t.known_hosts_path = val();
    } else if (a == "--timeout") {
      t.step_timeout_ms = std::atoll(val().c_str());
    } else if (a == "--chunk") {
      t.write_chunk_bytes = static_cast<size_t>(std::atoll(val().c_str()));
    } else if (a == "--blksize") {
      t.tftp_blksize = static_cast<uint16_t>(std::atoi(val().c_str()));
    } else if (a == "--repeat") {
      repeat = std::atol(val().c_str());
    } else if (a.rfind("--", 0) == 0 || npos >= 2) {
      usage();
    } else {
      positional[npos++] = a;
    }
  }
  if (npos != 2 || repeat < 1 || (protocol != "sftp" && protocol != "tftp")) {
    usage();
  }
  local = positional[0];
  remote = positional[1];
  auto ip = tally::parseIpAddress(address);
  if (!ip) {
    std::fprintf(stderr, "upload_tool: bad address '%s'\n", address.c_str());
    return 2;
  }
  t.address = *ip;

  const int fds_before = countFds();
  const long rss_before = rssKb();
  auto transport =
      protocol == "sftp" ? tally::bill::makeSftpTransport(t) : tally::bill::makeTftpTransport(t);
  std::map<std::string, long> counts;
  int fds_after_first = -1;
  long rss_after_first = -1;
  int64_t min_ns = INT64_MAX, max_ns = 0;
  bool all_ok = true;
  for (long i = 0; i < repeat; ++i) {
    std::string name = repeat > 1 ? remote + "-" + std::to_string(i) : remote;
    tally::bill::TransferResult r = transport->upload(local, name);
    if (i == 0) {
      fds_after_first = countFds();
      rss_after_first = rssKb();
    }
    all_ok = all_ok && r.ok();
    counts[tally::bill::transferStatusName(r.status)]++;
    min_ns = std::min(min_ns, r.elapsed_ns);
    max_ns = std::max(max_ns, r.elapsed_ns);
    std::printf("{\"iteration\": %ld, \"status\": \"%s\", \"detail\": %s, \"bytes\": %llu, "
                "\"elapsed_ms\": %.3f}\n",
                i, tally::bill::transferStatusName(r.status), jsonString(r.detail).c_str(),
                static_cast<unsigned long long>(r.bytes), r.elapsed_ns / 1e6);
    std::fflush(stdout);
  }
  if (repeat > 1) {
    std::string c;
    for (const auto& [k, v] : counts) {
      c += (c.empty() ? "" : ", ") + jsonString(k) + ": " + std::to_string(v);
    }
    std::printf("{\"summary\": true, \"repeat\": %ld, \"counts\": {%s}, \"fds_before\": %d, "
                "\"fds_after_first\": %d, \"fds_after\": %d, \"rss_kb_before\": %ld, "
                "\"rss_kb_after_first\": %ld, \"rss_kb_after\": %ld, \"min_elapsed_ms\": %.3f, "
                "\"max_elapsed_ms\": %.3f}\n",
                repeat, c.c_str(), fds_before, fds_after_first, countFds(), rss_before,
                rss_after_first, rssKb(), min_ns / 1e6, max_ns / 1e6);
  }
  return all_ok ? 0 : 1;
}
