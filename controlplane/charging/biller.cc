#include "controlplane/charging/biller.h"

#include <filesystem>

#include "controlplane/storage/durable_file.h"
#include "controlplane/log.h"

namespace tally {

cdr::Cause Biller::causeOf(EndCause c) {
  switch (c) {
    case EndCause::kLogout:
      return cdr::Cause::kNormalRelease;
    case EndCause::kIdleTimeout:
      // > abnormalRelease: the session was lost (no logout seen; it idled out).
      return cdr::Cause::kAbnormalRelease;
    case EndCause::kManagement:
    case EndCause::kNone:
      return cdr::Cause::kManagementIntervention;
  }
  return cdr::Cause::kManagementIntervention;
}

Result<std::unique_ptr<Biller>> Biller::open(const Config& config, const Clock& clock) {
  auto tz = TimeZone::load(config.node.timezone);
  if (!tz.ok()) {
    return Error{"node.timezone '" + config.node.timezone + "': " + tz.error().message};
  }
  auto store = FlashBillStore::open(config.local_bill.cfcard_path);
  if (!store.ok()) {
    return Error{store.error().message};
  }
  auto seq = openSequenceStore(config);
  if (!seq.ok()) {
    return Error{seq.error().message};
  }
  auto writer = cdr::CdrFileWriter::open(config, tz.value(), *seq.value(), clock, *store.value());
  if (!writer.ok()) {
    return Error{writer.error().message};
  }
  return std::unique_ptr<Biller>(new Biller(config, tz.value(), std::move(store.value()),
                                            std::move(seq.value()), std::move(writer.value())));
}

Result<std::unique_ptr<SequenceStore>> Biller::openSequenceStore(const Config& config) {
  const std::string& dir = config.node.state_dir;
  if (dir.empty()) {
    return Error{"node.state_dir is empty"};
  }
  auto d = ensureDirectory(dir, 0750);
  if (!d) {
    return Error{"node.state_dir: " + d.error().message};
  }
  std::error_code ec;
  if (std::filesystem::equivalent(dir, config.local_bill.cfcard_path, ec)) {
    return Error{"node.state_dir " + dir + " is the CF card directory (local_bill.cfcard_path " +
                 config.local_bill.cfcard_path +
                 "), which a transfer sweeps: give the state files a directory of their own "
                 "(e.g. /var/lib/tally)"};
  }
  const std::string path = dir + "/" + SequenceStore::kFileName;
  auto adopted = SequenceStore::adoptLegacyFile(
      path, config.local_bill.cfcard_path + "/" + SequenceStore::kFileName);
  if (!adopted.ok()) {
    return Error{adopted.error().message};
  }
  if (!adopted.value().empty()) {
    logInfo(adopted.value());
  }
  return SequenceStore::open(path);
}

Biller::Biller(const Config& config, TimeZonePtr tz, BillStorePtr store,
               std::unique_ptr<SequenceStore> seq, std::unique_ptr<cdr::CdrFileWriter> writer)
    : config_(config),
      tz_(std::move(tz)),
      store_(std::move(store)),
      seq_(std::move(seq)),
      writer_(std::move(writer)) {
  engine_ = std::make_unique<ChargingEngine>(config_, tz_, *writer_, *seq_);
}

void Biller::onOpen(const Session& s, int64_t now_ns) {
  ChargingSessionInfo info;
  info.session_id = s.id;
  info.served_address = s.key;
  info.served_prefix_length = s.key.family == 6 ? config_.subscribers.ipv6_prefix_length : 0;
  info.imsi = s.imsi;
  info.msisdn = s.msisdn;
  info.cc_profile = s.cc_profile;
  info.is_static = s.is_static;
  info.serving_node = s.serving_node;
  engine_->open(info, now_ns);
}

void Biller::onUsage(const Session& s, uint32_t rating_group, const FlowCounters& delta,
                     int64_t now_ns) {
  engine_->usage(s.id, rating_group, delta, now_ns);
}

void Biller::onServingNode(const Session& s, const IpAddress& node, int64_t now_ns) {
  engine_->servingNodeChange(s.id, node, now_ns);
}

void Biller::onQosChange(const Session& s, uint8_t qci, int64_t now_ns) {
  engine_->qosChange(s.id, qci, now_ns);
}

void Biller::onEnd(const Session& s, EndCause cause, int64_t now_ns) {
  engine_->close(s.id, causeOf(cause), now_ns);
}

void Biller::onTick(int64_t now_ns) {
  engine_->tick(now_ns);
  writer_->tick(now_ns);
}

void Biller::shutdown() { writer_->closeAll(); }

}  // namespace tally
