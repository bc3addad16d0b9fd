// CDR encoding and file writing (Google Benchmark).
//   BM_EncodePgwRecord      records/s for a typical PGW-CDR (4 service containers, 2 traffic
//                           containers), one reused buffer; target >= 100 k/s on one core.
//   BM_EncodePgwRecordVector the same through the vector-returning API.
//   BM_DecodeRecordToJson   the `tallyctl decode` path.
//   BM_WriteCdrFile10       TS 32.297 files of 10 records written with fsync + rename + dir fsync
//                           (files/s); the directory is $TALLY_BENCH_DIR or /tmp.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>

#include "controlplane/cdr/ber.h"
#include "controlplane/cdr/cdr.h"
#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/cdr/cdr_encode.h"
#include "controlplane/cdr/cdr_file.h"
#include "controlplane/storage/sequence_store.h"
#include "tests/fakes/cdr_fixtures.h"
#include "shared/clock.h"
#include "shared/config.h"

namespace tally::cdr {
namespace {

using tally::testing::FixedZone;


PgwRecord typicalRecord() {
  const int64_t t0 = int64_t{1779432000} * 1000000000;  // 2026-05-22 06:40 UTC
  PgwRecord r;
  r.imsi = "001010123456789";
  r.msisdn = "491701234567";
  r.served_address = *parseIpAddress("10.45.0.7");
  r.pgw_address = *parseIpAddress("198.51.100.1");
  r.charging_id = 0x89ABCDEF;
  r.serving_nodes = {*parseIpAddress("192.0.2.10")};
  r.serving_node_types = {ServingNodeType::kGtpSgw};
  r.apn = "internet";
  r.record_opening_time_ns = t0;
  r.duration_s = 3600;
  r.cause = Cause::kVolumeLimit;
  r.record_sequence_number = 3;
  r.node_id = "gw-biller-01";
  r.local_sequence_number = 123456789;
  r.start_time_ns = t0;
  for (int i = 0; i < 2; ++i) {
    TrafficContainer t;
    t.uplink_octets = 123456789ULL * (i + 1);
    t.downlink_octets = 3000000000ULL + i;
    t.change_condition = i == 0 ? ChangeCondition::kTariffTime : ChangeCondition::kRecordClosure;
    t.change_time_ns = t0 + int64_t{1800 + i * 1800} * 1000000000;
    t.qci = i == 0 ? 9 : 0;
    r.traffic_volumes.push_back(t);
  }
  const uint32_t groups[] = {1, 10, 20, 100};
  for (int i = 0; i < 4; ++i) {
    ServiceContainer s;
    s.rating_group = groups[i];
    s.local_sequence_number = static_cast<uint32_t>(10 + i);
    s.time_of_first_usage_ns = t0 + 5000000000LL;
    s.time_of_last_usage_ns = t0 + 3500000000000LL;
    s.time_usage_s = 3495;
    s.service_condition_change = scBit(kScRecordClosure);
    s.serving_node = r.serving_nodes[0];
    s.uplink_octets = 1000000ULL * (i + 1);
    s.downlink_octets = 25000000ULL * (i + 1);
    s.time_of_report_ns = t0 + 3600000000000LL;
    r.service_data.push_back(s);
  }
  return r;
}

void BM_EncodePgwRecord(benchmark::State& state) {
  FixedZone tz(7200);
  PgwRecord r = typicalRecord();
  ber::DerWriter w;
  size_t bytes = 0;
  for (auto _ : state) {
    w.clear();
    encodePgwRecord(r, tz, w);
    bytes = w.bytes().size();
    benchmark::DoNotOptimize(w.bytes().data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["record_octets"] = static_cast<double>(bytes);
}
BENCHMARK(BM_EncodePgwRecord);

void BM_EncodePgwRecordVector(benchmark::State& state) {
  FixedZone tz(7200);
  PgwRecord r = typicalRecord();
  for (auto _ : state) {
    std::vector<uint8_t> b = encodePgwRecord(r, tz);
    benchmark::DoNotOptimize(b.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodePgwRecordVector);

void BM_DecodeRecordToJson(benchmark::State& state) {
  FixedZone tz(7200);
  std::vector<uint8_t> b = encodePgwRecord(typicalRecord(), tz);
  for (auto _ : state) {
    auto j = decodeRecordToJson(b);
    benchmark::DoNotOptimize(j.ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeRecordToJson);

void BM_WriteCdrFile10(benchmark::State& state) {
  const char* base = std::getenv("TALLY_BENCH_DIR");
  std::string dir =
      std::string(base ? base : "/tmp") + "/tally-cdr-bench-" + std::to_string(::getpid());
  Config config;
  config.node.id = "bench";
  config.node.address = *parseIpAddress("198.51.100.1");
  config.local_bill.cfcard_path = dir;
  config.accounting.cdr.file_max_records = 10;
  auto seq = SequenceStore::open(dir + "/" + SequenceStore::kFileName);
  if (!seq) {
    state.SkipWithError(seq.error().message.c_str());
    return;
  }
  SteadyClock clock;
  auto w = CdrFileWriter::open(config, std::make_shared<FixedZone>(7200), *seq.value(), clock);
  if (!w) {
    state.SkipWithError(w.error().message.c_str());
    return;
  }
  PgwRecord r = typicalRecord();
  for (auto _ : state) {
    for (int i = 0; i < 10; ++i) {
      w.value()->emit(r, false);  // the 10th closes and writes the file
    }
  }
  state.SetItemsProcessed(state.iterations());  // files
  state.counters["write_errors"] = static_cast<double>(w.value()->writeErrors());
  w.value().reset();
  seq.value().reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
BENCHMARK(BM_WriteCdrFile10)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace tally::cdr

BENCHMARK_MAIN();
