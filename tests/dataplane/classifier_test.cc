// The precompiled Classifier gives what the reference walk of the rules (classify()) gives, for
// random rule sets (protocols, port ranges, IPv4 and IPv6 prefixes, up to the 64-rule limit) and
// random packets of both families, both directions, with and without ports. Rule sets with up to
// 8 prefixes of a family take the classifier's flat (branch-free) test, larger ones its
// per-candidate loop: both are met (counted below).
#include "dataplane/classifier.h"

#include <gtest/gtest.h>

#include <random>

#include "dataplane/fastpath.h"
#include "tests/fakes/test_config.h"

namespace tally {
namespace {

TEST(ClassifierTest, SameAsTheReferenceWalkOnRandomRulesAndPackets) {
  std::mt19937_64 rng(12);
  auto pick = [&rng](uint64_t n) { return rng() % n; };
  // Few distinct values, so that rules and packets meet often.
  const uint8_t protos[] = {6, 17, 1, 132, 58};
  const uint16_t ports[] = {0, 1, 53, 80, 443, 1000, 1999, 2000, 5001, 65535};
  const uint32_t v4[] = {0xC6336407, 0xC6336480, 0xCB00710A, 0x0A000001, 0xC0A80001};
  const Ip6 v6[] = {{0x20014860ull << 32, 0x8888}, {0x2001486000010000ull, 1},
                    {0x20010db800000000ull, 2}, {0x2a00145000000000ull, 3}};
  int flat_sets = 0;
  int looped_sets = 0;  // more than 8 prefixes of a family
  for (int round = 0; round < 300; ++round) {
    Config c = testing::testConfig();
    c.services.rules.clear();
    const size_t n = round == 0 ? 64 : 1 + pick(round % 10 == 0 ? 64 : 8);
    for (size_t i = 0; i < n; ++i) {
      ServiceRule r;
      r.rating_group = uint32_t(100 + i);
      do {
        if (pick(2) == 0) {
          r.match.protocol = protos[pick(5)];
        }
        if (pick(2) == 0) {
          uint16_t a = ports[pick(10)];
          uint16_t b = ports[pick(10)];
          r.match.remote_port_min = std::min(a, b);
          r.match.remote_port_max = std::max(a, b);
        }
        if (pick(3) == 0) {
          IpPrefix p;
          if (pick(2) == 0) {
            p.len = uint8_t(pick(33));
            p.addr.family = 4;
            p.addr.v4 = p.len == 0 ? 0 : v4[pick(5)] & (~uint32_t{0} << (32 - p.len));
          } else {
            p.len = uint8_t(pick(129));
            p.addr.family = 6;
            p.addr.v6 = maskIp6(v6[pick(4)], p.len);
          }
          r.match.remote_prefix = p;
        }
      } while (!r.match.protocol && !r.match.remote_port_min && !r.match.remote_prefix);
      c.services.rules.push_back(r);
    }
    const CountingPlan plan = CountingPlan::fromConfig(c);
    const Classifier classifier(plan);
    size_t v4_prefixes = 0;
    size_t v6_prefixes = 0;
    for (const ServiceRule& r : c.services.rules) {
      if (r.match.remote_prefix) {
        ++(r.match.remote_prefix->addr.family == 4 ? v4_prefixes : v6_prefixes);
      }
    }
    ++(v4_prefixes > 8 || v6_prefixes > 8 ? looped_sets : flat_sets);
    for (int k = 0; k < 400; ++k) {
      ParsedPacket p;
      p.family = pick(2) == 0 ? 4 : 6;
      p.protocol = protos[pick(5)];
      p.has_ports = pick(4) != 0;
      // Without ports, the port fields hold anything (they are valid only with has_ports).
      if (p.has_ports || pick(2) == 0) {
        p.src_port = pick(3) == 0 ? uint16_t(rng()) : ports[pick(10)];
        p.dst_port = pick(3) == 0 ? uint16_t(rng()) : ports[pick(10)];
      }
      p.src4 = v4[pick(5)];
      p.dst4 = v4[pick(5)];
      p.src6 = v6[pick(4)];
      p.dst6 = v6[pick(4)];
      for (bool uplink : {true, false}) {
        const uint8_t want = classify(plan, p, uplink);
        ASSERT_EQ(classifier.classify(p, uplink), want)
            << "round " << round << " packet " << k << " uplink " << uplink;
        ASSERT_EQ(p.family == 4 ? classifier.classify4(p, uplink) : classifier.classify6(p, uplink),
                  want)
            << "round " << round << " packet " << k << " uplink " << uplink;
      }
    }
  }
  EXPECT_GT(flat_sets, 100);
  EXPECT_GT(looped_sets, 3) << "flat " << flat_sets;
}

}  // namespace
}  // namespace tally
