#include "controlplane/charging/biller.h"

#include <filesystem>

#include "controlplane/bill/secret.h"
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
    case EndCause::kRadius:
      // > abnormalRelease: RADIUS accounting ended it (start or interims unanswered).
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
  auto seq = openSequenceStore(config);
  if (!seq.ok()) {
    return Error{seq.error().message};
  }
  auto transport = openTransport(config);
  if (!transport.ok()) {
    return Error{transport.error().message};
  }
  std::unique_ptr<Biller> b(new Biller(config, tz.value(), std::move(seq.value())));
  auto pool = bill::BillPool::open(b->config_, b->tz_, *b->seq_, clock,
                                   std::move(transport.value()));
  if (!pool.ok()) {
    return Error{pool.error().message};
  }
  b->pool_ = std::move(pool.value());
  b->engine_ = std::make_unique<ChargingEngine>(b->config_, b->tz_, *b->pool_, *b->seq_);
  return b;
}

Result<std::unique_ptr<bill::Transport>> Biller::openTransport(const Config& config) {
  const LocalBillConfig& lb = config.local_bill;
  if (!lb.bill_server) {
    return std::unique_ptr<bill::Transport>();
  }
  const BillServerConfig& s = *lb.bill_server;
  const bool tftp = lb.cache.backup_mode == CacheBackupMode::kTftp ||
                    (lb.cache.backup_mode != CacheBackupMode::kSftp &&
                     lb.cfcard.backup_mode == CfCardBackupMode::kTftp);
  bill::ServerTarget t;
  t.address = s.address;
  t.port = s.port ? *s.port : (tftp ? 69 : 22);
  t.user_name = s.user_name;
  t.private_key_path = s.private_key_path;
  t.known_hosts_path = s.known_hosts_path;
  t.step_timeout_ms = s.timeout_ms;
  if (!tftp && !s.password_cipher.empty()) {
    auto pw = bill::decryptPassword(s.key_file, s.password_cipher);
    if (!pw.ok()) {
      return Error{"local_aaa_server.bill_server.password: " + pw.error().message};
    }
    t.password = std::move(pw.value());
  }
  return tftp ? bill::makeTftpTransport(t) : bill::makeSftpTransport(t);
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
  // Large blocks: the bill journal continues the numbering exactly after a crash
  // (SequenceStore::resumeAfter), so the block only bounds how often the poll stores the file.
  return SequenceStore::open(path, uint64_t{1} << 20);
}

Biller::Biller(const Config& config, TimeZonePtr tz, std::unique_ptr<SequenceStore> seq)
    : config_(config), tz_(std::move(tz)), seq_(std::move(seq)) {}

namespace {
// TS 32.298 chChSelectionMode for a P-GW: a CC profile supplied with the session by the
// control plane that serves it (`session identify`) is servingNodeSupplied; one from tally's own
// configuration (static subscriber or default) is homeDefault (docs/cdr-format.md).
cdr::ChChSelectionMode chChSelectionModeOf(const Session& s) {
  return s.cc_profile_supplied ? cdr::ChChSelectionMode::kServingNodeSupplied
                               : cdr::ChChSelectionMode::kHomeDefault;
}

// The subscriber's identity as the session has it (at its start and when one is provisioned).
void setIdentity(ChargingSessionInfo& info, const Session& s) {
  info.imsi = s.imsi;
  info.msisdn = s.msisdn;
  info.imei = s.imei;
  info.apn = s.apn;
  info.cc_profile = s.cc_profile;
  info.ch_ch_selection_mode = chChSelectionModeOf(s);
}
}  // namespace

void Biller::onOpen(const Session& s, int64_t now_ns) {
  ChargingSessionInfo info;
  info.session_id = s.id;
  info.served_address = s.key;
  info.served_prefix_length = s.key.family == 6 ? config_.subscribers.ipv6_prefix_length : 0;
  setIdentity(info, s);
  info.is_static = s.is_static;
  info.serving_node = s.serving_node;
  // A QCI the operator set (`session qos-change`) before the session's first usage: the poller
  // kept it for the session, and the records start with it. Else the CC profile's qci / arp
  // (subscribers have no QoS of their own in the configuration yet).
  if (s.qci != 0) {
    info.qci = s.qci;
  }
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

std::optional<uint8_t> Biller::chargingQci(const Session& s) const {
  auto v = engine_->view(s.id);
  return v ? std::optional<uint8_t>(v->qci) : std::nullopt;
}

void Biller::onIdentity(const Session& s, uint8_t qci, int64_t now_ns) {
  ChargingSessionInfo info;
  setIdentity(info, s);
  engine_->identify(s.id, info, qci, now_ns);
}

void Biller::onEnd(const Session& s, EndCause cause, int64_t now_ns) {
  engine_->close(s.id, causeOf(cause), now_ns);
}

void Biller::onTick(int64_t now_ns) {
  engine_->tick(now_ns);
  if (pool_->checkpointDue(now_ns)) {
    pool_->checkpoint(engine_->snapshotOpen(now_ns), now_ns);
  }
  pool_->tick(now_ns);
}

void Biller::shutdown() {
  pool_->shutdown();
}

}  // namespace tally
