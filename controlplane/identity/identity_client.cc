#include "controlplane/identity/identity_client.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "controlplane/identity/identity_commands.h"
#include "shared/net.h"

namespace tally {
namespace {

// The size of `s` as a JSON string in the request (quotes and escapes included), without
// building it.
size_t jsonStringSize(const std::string& s) {
  size_t n = s.size() + 2;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') {
      n += 1;
    } else if (c < 0x20) {
      n += 5;  // \u00XX
    }
  }
  return n;
}

// The subscriber a line names, for its connection: the "address" value as written, parsed (IPv6:
// its first 32 bits, within every subscriber prefix). 0 when there is none to find (the
// daemon's answer says why).
size_t shardKey(const std::string& l) {
  size_t at = l.find("\"address\"");
  if (at == std::string::npos) {
    return 0;
  }
  at = l.find_first_not_of(" \t:", at + 9);
  if (at == std::string::npos || l[at] != '"') {
    return 0;
  }
  size_t end = l.find('"', at + 1);
  if (end == std::string::npos) {
    return 0;
  }
  auto a = parseIpAddress(std::string_view(l).substr(at + 1, end - at - 1));
  if (!a) {
    return 0;
  }
  return a->family == 4 ? a->v4 : size_t(a->v6.hi >> 32);
}

// UTF-8 (a request is JSON text; nlohmann refuses to write anything else).
bool validUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
    if (n == 9) {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 2) {
        return false;
      }
    }
    i += n + 1;
  }
  return true;
}

}  // namespace

LineSource streamLines(std::istream& in) {
  return [&in](std::vector<std::string>& lines, size_t max) {
    std::string input;
    while (lines.size() < max) {
      if (!std::getline(in, input)) {
        return false;
      }
      lines.push_back(input);
    }
    return true;
  };
}

LineSource fdLines(int fd) {
  struct State {
    std::string buf;
    bool eof = false;
  };
  auto st = std::make_shared<State>();
  return [fd, st](std::vector<std::string>& lines, size_t max) {
    for (;;) {
      size_t from = 0;
      for (size_t nl = st->buf.find('\n'); nl != std::string::npos && lines.size() < max;
           nl = st->buf.find('\n', from)) {
        lines.push_back(st->buf.substr(from, nl - from));
        from = nl + 1;
      }
      st->buf.erase(0, from);
      if (lines.size() >= max) {
        return true;
      }
      if (st->eof) {
        if (!st->buf.empty()) {
          lines.push_back(std::move(st->buf));  // the last line, without its newline
          st->buf.clear();
        }
        return false;
      }
      // Block for the first line; after it, take only what is there already, so that a
      // process feeding identities as they come gets its answers without waiting for more.
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, lines.empty() ? -1 : 0);
      if (ready == 0) {
        return true;
      }
      if (ready < 0 && errno != EINTR) {
        st->eof = true;
        continue;
      }
      char chunk[65536];
      const ssize_t n = ::read(fd, chunk, sizeof chunk);
      if (n > 0) {
        st->buf.append(chunk, size_t(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        st->eof = true;
      }
    }
  };
}

int identifyBulk(const std::string& socket_path, int timeout_ms, const LineSource& source,
                 const TextSink& out_sink) {
  constexpr size_t kShards = 4;
  constexpr size_t kWindow = 16384;        // lines read before they are sent
  constexpr size_t kMaxRequest = 4096 - 1;  // the request line without its newline
  const std::string kPrefix = R"(["session","identify","--batch")";
  int rc = 0;
  uint64_t line_no = 0;
  bool more = true;
  while (more) {
    std::vector<std::string> lines;
    more = source(lines, kWindow);
    if (lines.empty()) {
      break;
    }
    for (std::string& l : lines) {
      if (!l.empty() && l.back() == '\r') {
        l.pop_back();
      }
    }
    std::vector<std::string> answers(lines.size());
    std::vector<std::vector<size_t>> shard(kShards);
    std::vector<size_t> sizes(lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string& l = lines[i];
      if (l.find_first_not_of(" \t") == std::string::npos) {
        answers[i] = R"({"ok":false,"error":"empty line"})";
        continue;
      }
      if (!validUtf8(l)) {
        answers[i] = R"({"ok":false,"error":"not valid UTF-8"})";
        continue;
      }
      sizes[i] = jsonStringSize(l) + 1;
      if (sizes[i] + kPrefix.size() + 1 > kMaxRequest) {
        answers[i] = R"({"ok":false,"error":"line too long: a line may hold at most 4000 bytes"})";
        continue;
      }
      const uint64_t h = shardKey(l);
      shard[(h * 0x9e3779b97f4a7c15ULL >> 32) % kShards].push_back(i);
    }
    std::atomic<bool> unreachable{false};
    std::string unreachable_why;
    auto run = [&](size_t s) {
      const std::vector<size_t>& idx = shard[s];
      for (size_t from = 0; from < idx.size() && !unreachable;) {
        std::vector<std::string> words = {"session", "identify", "--batch"};
        size_t bytes = kPrefix.size() + 1;
        size_t to = from;
        while (to < idx.size() && to - from < kIdentifyBatchMaxLines) {
          const size_t add = sizes[idx[to]];
          if (bytes + add > kMaxRequest) {
            break;
          }
          bytes += add;
          words.push_back(lines[idx[to]]);
          ++to;
        }
        auto reply = sendCommand(socket_path, words, timeout_ms);
        std::string text;
        if (reply.ok() && reply->ok) {
          text = reply->text;
        }
        size_t pos = 0;
        for (size_t k = from; k < to; ++k) {
          size_t nl = text.find('\n', pos);
          if (nl == std::string::npos) {
            if (!reply.ok()) {
              unreachable = true;
              unreachable_why = reply.error().message;
              answers[idx[k]] = nlohmann::json{{"ok", false}, {"error", reply.error().message}}.dump();
            } else {
              answers[idx[k]] = nlohmann::json{{"ok", false},
                                               {"error", reply->ok ? "no answer for this line"
                                                                   : reply->error}}.dump();
            }
            continue;
          }
          answers[idx[k]] = text.substr(pos, nl - pos);
          pos = nl + 1;
        }
        from = to;
      }
    };
    std::vector<std::thread> threads;
    for (size_t s = 1; s < kShards; ++s) {
      threads.emplace_back(run, s);
    }
    run(0);
    for (std::thread& t : threads) {
      t.join();
    }
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      ++line_no;
      std::string& a = answers[i];
      if (a.empty()) {
        a = R"({"ok":false,"error":"not sent: tallyd could not be reached"})";
      }
      if (a.rfind(R"({"ok":true)", 0) != 0) {
        rc = std::max(rc, 1);
      }
      out += "{\"line\":" + std::to_string(line_no) + "," + a.substr(1) + "\n";
    }
    out_sink(out);
    if (unreachable) {
      std::fprintf(stderr, "tallyctl: %s\n", unreachable_why.c_str());
      return 3;
    }
  }
  return rc;
}


}  // namespace tally
