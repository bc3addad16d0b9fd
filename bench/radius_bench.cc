// RADIUS accounting throughput of tally's client (controlplane/radius/radius_client.h) against
// a real server, driven the way tallyd drives it: a loop imitating the control-plane poll thread
// wakes every poll_interval_ms, submits the next batch of requests (topping the requests not yet
// drained up to --window) and drains the completions. A small tool, not Google Benchmark: one
// run sends --requests requests and reports
//   - requests, seconds (first submit -> last completion), requests/s,
//   - outcomes (answered, no-answer, others) and the client's retransmissions and timeouts,
//   - the longest poll iteration (building + submitting the batch + draining: the poll thread's
//     own cost, which must stay far below poll_interval_ms: the client never blocks it), the
//     longest submit() + drainCompletions() alone, and the longest gap between the starts of
//     consecutive iterations (target: <= 2 x poll_interval_ms),
//   - the process's CPU time (the client's thread and the poll loop).
// The last line is the same as one JSON object. bench/radius_bench.py runs it against
// FreeRADIUS next to radclient, which gets the same requests from --write-radclient.
//
// The requests: a Start / Interim-Update / Stop mix (i % 3), User-Name, an Acct-Session-Id
// unique per request ("<prefix>-<i in hex>"), NAS-IP-Address, NAS-Identifier,
// Framed-IP-Address, Event-Timestamp; Interim and Stop with Acct-Session-Time, 64-bit octets
// (Acct-*-Octets + Acct-*-Gigawords when non-zero) and packets; Stop with
// Acct-Terminate-Cause. tally's client adds Acct-Delay-Time (0 here); the radclient file
// carries Acct-Delay-Time = 0 as well, so both send the same attributes.
//
//   radius_bench --port P [--address 127.0.0.1] [--secret testing123] [--requests N]
//                [--prefix T] [--window N] [--poll-ms 100] [--max-outstanding 4096]
//                [--timeout-ms 3000] [--retries 3] [--limit-s 300]
//   radius_bench --write-radclient FILE --requests N --prefix R
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/radius/radius_client.h"
#include "shared/clock.h"
#include "shared/net.h"

namespace {

using namespace tally;
using namespace tally::radius;

int64_t nowNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

double cpuSeconds() {
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The i-th request's values, shared by both outputs.
struct Fields {
  AcctStatusType type;
  const char* type_name;
  std::string user;
  std::string session_id;
  uint32_t framed;  // host order
  uint32_t event_ts;
  uint32_t session_time;
  uint64_t up_octets, down_octets;
  uint32_t up_packets, down_packets;
};

constexpr uint32_t kNasIp = 0x7f000001;
constexpr const char* kNasId = "tally-bench";

Fields fields(uint64_t i, const std::string& prefix) {
  Fields f;
  switch (i % 3) {
    case 0: f.type = AcctStatusType::kStart; f.type_name = "Start"; break;
    case 1: f.type = AcctStatusType::kInterimUpdate; f.type_name = "Interim-Update"; break;
    default: f.type = AcctStatusType::kStop; f.type_name = "Stop"; break;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "sub%06" PRIu64, (i / 3) % 1000000);
  f.user = buf;
  std::snprintf(buf, sizeof buf, "%s-%08" PRIx64, prefix.c_str(), i);
  f.session_id = buf;
  f.framed = 0x0a000000u | uint32_t(i & 0xffffff);
  f.event_ts = 1796600000u + uint32_t(i / 1000);
  f.session_time = 60 + uint32_t(i % 3600);
  // Some beyond 2^32 (Gigawords), most not.
  f.up_octets = (i * 7919u + 12345u) % (uint64_t{1} << 34);
  f.down_octets = (i * 104729u + 777u) % (uint64_t{1} << 36);
  f.up_packets = uint32_t(f.up_octets / 700);
  f.down_packets = uint32_t(f.down_octets / 1200);
  return f;
}

std::vector<Attribute> attributes(const Fields& f) {
  std::vector<Attribute> a;
  a.push_back(makeInteger(attr::kAcctStatusType, uint32_t(f.type)));
  a.push_back(*makeText(attr::kUserName, f.user));
  a.push_back(*makeText(attr::kAcctSessionId, f.session_id));
  a.push_back(makeIpv4(attr::kNasIpAddress, kNasIp));
  a.push_back(*makeText(attr::kNasIdentifier, kNasId));
  a.push_back(makeIpv4(attr::kFramedIpAddress, f.framed));
  a.push_back(makeInteger(attr::kEventTimestamp, f.event_ts));
  if (f.type != AcctStatusType::kStart) {
    a.push_back(makeInteger(attr::kAcctSessionTime, f.session_time));
    appendInputOctets(a, f.up_octets);
    appendOutputOctets(a, f.down_octets);
    a.push_back(makeInteger(attr::kAcctInputPackets, f.up_packets));
    a.push_back(makeInteger(attr::kAcctOutputPackets, f.down_packets));
  }
  if (f.type == AcctStatusType::kStop) {
    a.push_back(makeInteger(attr::kAcctTerminateCause, uint32_t(AcctTerminateCause::kUserRequest)));
  }
  return a;
}

// The same request in radclient's input syntax (one attribute per line, blank line after).
void writeRadclient(FILE* out, const Fields& f) {
  std::fprintf(out, "Acct-Status-Type = %s\nUser-Name = \"%s\"\nAcct-Session-Id = \"%s\"\n",
               f.type_name, f.user.c_str(), f.session_id.c_str());
  std::fprintf(out, "NAS-IP-Address = %s\nNAS-Identifier = \"%s\"\nFramed-IP-Address = %s\n",
               formatIp4(kNasIp).c_str(), kNasId, formatIp4(f.framed).c_str());
  std::fprintf(out, "Event-Timestamp = %u\n", f.event_ts);
  if (f.type != AcctStatusType::kStart) {
    SplitCount up = splitOctets(f.up_octets), down = splitOctets(f.down_octets);
    std::fprintf(out, "Acct-Session-Time = %u\nAcct-Input-Octets = %u\n", f.session_time,
                 up.octets);
    if (up.gigawords) std::fprintf(out, "Acct-Input-Gigawords = %u\n", up.gigawords);
    std::fprintf(out, "Acct-Output-Octets = %u\n", down.octets);
    if (down.gigawords) std::fprintf(out, "Acct-Output-Gigawords = %u\n", down.gigawords);
    std::fprintf(out, "Acct-Input-Packets = %u\nAcct-Output-Packets = %u\n", f.up_packets,
                 f.down_packets);
  }
  if (f.type == AcctStatusType::kStop) std::fprintf(out, "Acct-Terminate-Cause = User-Request\n");
  std::fprintf(out, "Acct-Delay-Time = 0\n\n");
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "radius_bench: %s\n"
               "usage: radius_bench --port P [--address A] [--secret S] [--requests N] "
               "[--prefix T] [--window N] [--poll-ms MS] [--max-outstanding N] "
               "[--timeout-ms MS] [--retries N] [--limit-s S]\n"
               "       radius_bench --write-radclient FILE --requests N --prefix R\n",
               why);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1", secret = "testing123", prefix = "T", radclient_file;
  uint64_t requests = 30000;
  uint64_t window = 16384;
  uint32_t poll_ms = 100, timeout_ms = 3000, retries = 3;
  size_t max_outstanding = 4096;
  double limit_s = 300;
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--port") port = std::atoi(next().c_str());
    else if (a == "--address") address = next();
    else if (a == "--secret") secret = next();
    else if (a == "--requests") requests = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--prefix") prefix = next();
    else if (a == "--window") window = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--poll-ms") poll_ms = uint32_t(std::atoi(next().c_str()));
    else if (a == "--max-outstanding") max_outstanding = std::strtoull(next().c_str(), nullptr, 10);
    else if (a == "--timeout-ms") timeout_ms = uint32_t(std::atoi(next().c_str()));
    else if (a == "--retries") retries = uint32_t(std::atoi(next().c_str()));
    else if (a == "--limit-s") limit_s = std::atof(next().c_str());
    else if (a == "--write-radclient") radclient_file = next();
    else usage(("unknown argument " + a).c_str());
  }
  if (requests == 0 || window == 0 || poll_ms == 0) usage("--requests, --window, --poll-ms > 0");

  if (!radclient_file.empty()) {
    FILE* out = std::fopen(radclient_file.c_str(), "w");
    if (!out) usage(("cannot write " + radclient_file).c_str());
    for (uint64_t i = 0; i < requests; ++i) writeRadclient(out, fields(i, prefix));
    if (std::fclose(out) != 0) usage(("cannot write " + radclient_file).c_str());
    return 0;
  }
  if (port <= 0 || port > 65535) usage("--port 1..65535 needed");
  auto ip = parseIpAddress(address);
  if (!ip) usage(("bad --address " + address).c_str());

  ClientOptions o;
  o.servers.push_back(ServerOptions{Endpoint{*ip, uint16_t(port)}, secret, true});
  o.timeout_ms = timeout_ms;
  o.retries = retries;
  o.max_outstanding = max_outstanding;
  SteadyClock clock;
  auto started = RadiusClient::start(o, clock);
  if (!started.ok()) {
    std::fprintf(stderr, "radius_bench: %s\n", started.error().message.c_str());
    return 1;
  }
  RadiusClient& client = **started;

  std::vector<int64_t> submitted_at(requests, 0);
  std::array<uint64_t, size_t(Outcome::kCount)> outcomes{};
  std::vector<Completion> completions;
  std::vector<Request> batch;
  uint64_t next = 0, done = 0;
  int64_t first_submit = 0, last_completion = 0;
  int64_t longest_poll = 0, longest_gap = 0, prev_start = 0, longest_calls = 0;
  uint64_t polls = 0, polls_over_interval = 0;
  const int64_t interval_ns = int64_t(poll_ms) * 1'000'000;
  const double cpu_begin = cpuSeconds();
  const int64_t t_begin = nowNs();
  int64_t tick = t_begin;
  bool timed_out = false;
  while (done < requests) {
    const int64_t start = nowNs();
    if (prev_start) longest_gap = std::max(longest_gap, start - prev_start);
    prev_start = start;
    // Submit: top the requests not yet drained up to the window.
    batch.clear();
    while (next < requests && next - done + batch.size() < window) {
      Request r;
      r.tag = next;
      r.session = next + 1;  // one session per request: no Stop cancels another's Interim
      Fields f = fields(next, prefix);
      r.type = f.type;
      r.attributes = attributes(f);
      batch.push_back(std::move(r));
      ++next;
    }
    const int64_t calls_start = nowNs();
    if (!batch.empty()) {
      if (!first_submit) first_submit = calls_start;
      for (const Request& r : batch) submitted_at[r.tag] = calls_start;
      client.submit(batch);
    }
    // Drain.
    completions.clear();
    client.drainCompletions(completions);
    longest_calls = std::max(longest_calls, nowNs() - calls_start);
    for (const Completion& c : completions) {
      outcomes[size_t(c.outcome)]++;
      if (c.tag < requests) {
        last_completion = std::max(last_completion, submitted_at[c.tag] + c.latency_ns);
      }
    }
    done += completions.size();
    const int64_t end = nowNs();
    longest_poll = std::max(longest_poll, end - start);
    ++polls;
    if (end - start > interval_ns) ++polls_over_interval;
    if (double(end - t_begin) / 1e9 > limit_s) {
      timed_out = true;
      break;
    }
    if (done >= requests) break;
    tick += interval_ns;
    if (tick < end) tick = end;  // overran: the next poll at once, no catching up in a burst
    std::this_thread::sleep_for(std::chrono::nanoseconds(tick - nowNs()));
  }
  ClientStats st = client.stats();
  client.stop();
  const double cpu_s = cpuSeconds() - cpu_begin;

  const double secs = double(last_completion - first_submit) / 1e9;
  const uint64_t answered = outcomes[size_t(Outcome::kAnswered)];
  const uint64_t no_answer = outcomes[size_t(Outcome::kNoAnswer)];
  const uint64_t other = done - answered - no_answer;
  uint64_t retrans = 0, timeouts = 0, dropped = 0;
  for (const ServerStats& s : st.servers) {
    retrans += s.retransmissions;
    timeouts += s.timeouts;
  }
  for (uint64_t d : st.dropped) dropped += d;
  const double rate = secs > 0 ? double(answered) / secs : 0;
  std::printf("tally RadiusClient: %" PRIu64 " requests in %.3f s = %.0f answered/s; answered %"
              PRIu64 ", no-answer %" PRIu64 ", other %" PRIu64 "; retransmissions %" PRIu64
              ", timeouts %" PRIu64 ", dropped datagrams %" PRIu64
              "; %" PRIu64 " polls, longest poll %.2f ms (submit + drain calls %.3f ms), "
              "longest gap %.1f ms (poll_interval_ms %u, max_outstanding %zu); CPU %.2f s%s\n",
              done, secs, rate, answered, no_answer, other, retrans, timeouts, dropped, polls,
              ms(longest_poll), ms(longest_calls), ms(longest_gap), poll_ms, max_outstanding,
              cpu_s, timed_out ? " TIMED OUT" : "");
  std::printf("{\"tool\": \"tally\", \"requests\": %" PRIu64 ", \"completed\": %" PRIu64
              ", \"seconds\": %.6f, \"rate\": %.1f, \"answered\": %" PRIu64
              ", \"no_answer\": %" PRIu64 ", \"other\": %" PRIu64 ", \"retransmissions\": %"
              PRIu64 ", \"timeouts\": %" PRIu64 ", \"dropped\": %" PRIu64 ", \"polls\": %" PRIu64
              ", \"polls_over_interval\": %" PRIu64 ", \"max_poll_ms\": %.3f, \"max_calls_ms\": "
              "%.3f, \"max_gap_ms\": %.3f, \"poll_interval_ms\": %u, \"max_outstanding\": %zu, "
              "\"cpu_s\": %.3f, \"timed_out\": %s}\n",
              requests, done, secs, rate, answered, no_answer, other, retrans, timeouts, dropped,
              polls, polls_over_interval, ms(longest_poll), ms(longest_calls), ms(longest_gap),
              poll_ms, max_outstanding, cpu_s, timed_out ? "true" : "false");
  return timed_out ? 1 : 0;
}
