#include "controlplane/bill/local_bill_commands.h"

#include <charconv>

#include "controlplane/time_format.h"
#include "shared/net.h"

namespace tally {

namespace {

using bill::BillPool;
using bill::PoolInformation;
using nlohmann::ordered_json;

constexpr int64_t kNsPerS = 1'000'000'000;

void line(std::string& out, const std::string& key, const std::string& value) {
  out += "  " + key + std::string(key.size() < 30 ? 30 - key.size() : 0, ' ') + ": " + value +
         "\n";
}

std::string timeText(int64_t unix_ns) {
  return unix_ns == 0 ? std::string("-") : utcTimeText(unix_ns / kNsPerS) + " UTC";
}

ordered_json timeJson(int64_t unix_ns) {
  return unix_ns == 0 ? ordered_json(nullptr) : ordered_json(utcLogStamp(unix_ns / kNsPerS));
}

const char* cacheModeName(CacheBackupMode m) {
  switch (m) {
    case CacheBackupMode::kCfcard:
      return "cfcard";
    case CacheBackupMode::kNone:
      return "none";
    case CacheBackupMode::kTftp:
      return "tftp";
    case CacheBackupMode::kSftp:
      return "sftp";
  }
  return "?";
}

std::string bytesText(uint64_t b) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[64];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", (unsigned long long)b);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s (%llu B)", v, kUnits[u], (unsigned long long)b);
  }
  return buf;
}

Reply displayConfiguration(const Config& c, bool json) {
  const LocalBillConfig& lb = c.local_bill;
  const char* cf_mode = lb.cfcard.backup_mode == CfCardBackupMode::kTftp ? "tftp" : "sftp";
  const char* overflow = lb.cfcard.overflow == CfCardOverflow::kDropOldest ? "drop-oldest"
                                                                           : "drop-new";
  if (json) {
    ordered_json j;
    j["local_bill_pool"] = {{"enable", lb.bill_pool.enable},
                            {"capacity", lb.bill_pool.capacity_bills},
                            {"commit_delay_ms", lb.bill_pool.commit_delay_ms},
                            {"checkpoint_interval", lb.bill_pool.checkpoint_interval_s}};
    if (lb.bill_server) {
      const BillServerConfig& s = *lb.bill_server;
      j["bill_server"] = {{"address", formatIp(s.address)},
                          {"port", s.port ? ordered_json(*s.port) : ordered_json(nullptr)},
                          {"filename", s.filename},
                          {"user_name", s.user_name},
                          {"authentication", !s.private_key_path.empty() ? "private-key"
                                             : !s.password_cipher.empty() ? "password"
                                                                          : "none"},
                          {"private_key", s.private_key_path},
                          {"key_file", s.password_cipher.empty() ? "" : s.key_file},
                          {"known_hosts", s.known_hosts_path},
                          {"timeout_ms", s.timeout_ms}};
    } else {
      j["bill_server"] = nullptr;
    }
    j["cache"] = {{"backup_mode", cacheModeName(lb.cache.backup_mode)},
                  {"backup_interval", lb.cache.backup_interval_min},
                  {"alarm_threshold", lb.cache.alarm_threshold_pct}};
    j["cfcard"] = {{"path", lb.cfcard_path},
                   {"capacity", lb.cfcard.capacity_bytes ? ordered_json(*lb.cfcard.capacity_bytes)
                                                         : ordered_json(nullptr)},
                   {"backup_mode", cf_mode},
                   {"backup_interval", lb.cfcard.backup_interval_min},
                   {"alarm_threshold", lb.cfcard.alarm_threshold_pct},
                   {"overflow", overflow}};
    return textReply(j.dump(2) + "\n");
  }
  std::string out = "Local bill configuration\n";
  line(out, "Local bill pool", lb.bill_pool.enable ? "enabled" : "disabled (bills go straight to the CF card)");
  line(out, "Pool capacity", std::to_string(lb.bill_pool.capacity_bills) + " bills");
  line(out, "Commit delay", "at most " + std::to_string(lb.bill_pool.commit_delay_ms) + " ms + one fsync");
  line(out, "Checkpoint interval", std::to_string(lb.bill_pool.checkpoint_interval_s) + " s");
  line(out, "Cache backup mode", cacheModeName(lb.cache.backup_mode));
  line(out, "Cache backup interval", std::to_string(lb.cache.backup_interval_min) + " min");
  line(out, "Cache alarm threshold", std::to_string(lb.cache.alarm_threshold_pct) + " %");
  line(out, "CF card path", lb.cfcard_path);
  line(out, "CF card capacity",
       lb.cfcard.capacity_bytes ? bytesText(*lb.cfcard.capacity_bytes) : "not limited");
  line(out, "CF card backup mode", cf_mode);
  line(out, "CF card backup interval", std::to_string(lb.cfcard.backup_interval_min) + " min");
  line(out, "CF card alarm threshold", std::to_string(lb.cfcard.alarm_threshold_pct) + " %");
  line(out, "CF card overflow", overflow);
  if (lb.bill_server) {
    const BillServerConfig& s = *lb.bill_server;
    line(out, "Bill server address", formatIp(s.address));
    line(out, "Bill server port", s.port ? std::to_string(*s.port) : "default");
    line(out, "Bill server file name", s.filename.empty() ? "-" : s.filename);
    line(out, "Bill server user name", s.user_name.empty() ? "-" : s.user_name);
    line(out, "Authentication", !s.private_key_path.empty() ? "private key " + s.private_key_path
                                : !s.password_cipher.empty()
                                    ? "password (ciphered, key file " + s.key_file + ")"
                                    : "none");
    line(out, "Known hosts", s.known_hosts_path.empty() ? "-" : s.known_hosts_path);
    line(out, "Step timeout", std::to_string(s.timeout_ms) + " ms");
  } else {
    line(out, "Bill server", "not configured");
  }
  return textReply(out);
}

ordered_json localBillsJson(const bill::LocalBillCounters& l) {
  ordered_json by_reason = ordered_json::object();
  for (uint8_t r = 1; r <= bill::kLocalBillReasonMax; ++r) {
    by_reason[bill::localBillReasonName(bill::LocalBillReason(r))] = l.by_reason[r];
  }
  return {{"written", l.emitted},     {"octets", l.emitted_octets},
          {"kept", l.kept},           {"kept_octets", l.kept_octets},
          {"dropped", l.dropped},     {"dropped_octets", l.dropped_octets},
          {"by_reason", by_reason}};
}

ordered_json alarmJson(const bill::AlarmState& a) {
  return {{"raised", a.raised}, {"since", timeJson(a.since_unix_ns)}, {"text", a.text},
          {"times_raised", a.raised_count}};
}

Reply displayInformation(const BillPool& pool, bool json) {
  const PoolInformation i = pool.information();
  if (json) {
    ordered_json j;
    j["pool"] = {{"enabled", i.enabled},
                 {"bills", i.bills},
                 {"committed", i.committed},
                 {"moving", i.moving},
                 {"free", i.enabled && i.capacity > i.bills ? i.capacity - i.bills : 0},
                 {"max", i.capacity},
                 {"alarm_threshold", i.alarm_threshold},
                 {"bill_bytes", i.bill_bytes},
                 {"average_bill_bytes", i.average_bill_bytes}};
    j["cfcard"] = {{"bills", i.cfcard.bills},
                   {"files", i.cfcard.files},
                   {"bytes_used", i.cfcard.bytes},
                   {"max_bytes", i.cfcard.capacity_bytes ? ordered_json(*i.cfcard.capacity_bytes)
                                                         : ordered_json(nullptr)},
                   {"percent_used", i.cfcard.percent()},
                   {"alarm_threshold", i.cfcard_alarm_threshold}};
    ordered_json dropped = ordered_json::object();
    for (size_t c = 0; c < i.dropped.size(); ++c) {
      dropped[bill::dropCauseName(bill::DropCause(c))] = {{"bills", i.dropped[c].bills},
                                                          {"ul_octets", i.dropped[c].ul_octets},
                                                          {"dl_octets", i.dropped[c].dl_octets}};
    }
    j["dropped"] = dropped;
    j["bills_closed"] = i.emitted;
    j["octets_closed"] = i.emitted_octets;
    j["octets_kept"] = i.kept_octets;
    j["local_bills"] = localBillsJson(i.local);
    j["files_written"] = i.files_written;
    j["write_errors"] = i.write_errors;
    j["last_write_error"] = i.last_write_error;
    j["journal"] = {{"committed", i.journal.committed},
                    {"commits", i.journal.commits},
                    {"buffered_bytes", i.journal.buffered_bytes},
                    {"segments", i.journal.segments},
                    {"disk_bytes", i.journal.disk_bytes},
                    {"write_errors", i.journal.write_errors},
                    {"failing", i.journal.failing},
                    {"last_error", i.journal.last_error},
                    {"commit_delay_p50_us", i.journal.delay_p50_ns / 1000},
                    {"commit_delay_p99_us", i.journal.delay_p99_ns / 1000},
                    {"commit_delay_max_us", i.journal.delay_max_ns / 1000}};
    j["recovery"] = {{"torn_bytes_cut", i.recovery.torn_bytes},
                     {"open_records_closed", i.recovered_open_records},
                     {"files_found_written", i.intents_completed},
                     {"files_to_write_again", i.intents_undone}};
    j["checkpoint"] = {{"last", timeJson(i.last_checkpoint_unix_ns)},
                       {"open_records", i.checkpoint_records}};
    j["alarms"] = {{"pool", alarmJson(i.pool_alarm)},     {"cfcard", alarmJson(i.cfcard_alarm)},
                   {"full", alarmJson(i.full_alarm)},     {"write", alarmJson(i.write_alarm)},
                   {"transfer", alarmJson(i.transfer_alarm)}};
    if (i.transfer) {
      const bill::TransferStatusView& t = *i.transfer;
      j["transfer"] = {{"protocol", i.transfer_protocol},
                       {"queued_files", t.queued_files},
                       {"queued_bytes", t.queued_bytes},
                       {"in_flight", t.in_flight},
                       {"delivered_files", t.delivered_files},
                       {"delivered_bytes", t.delivered_bytes},
                       {"already_there", t.already_there},
                       {"attempts", t.attempts},
                       {"failures", t.failures},
                       {"failing", t.failing},
                       {"last_attempt", timeJson(t.last_attempt_unix_ns)},
                       {"last_file", t.last_file},
                       {"last_result", bill::transferStatusName(t.last_status)},
                       {"last_detail", t.last_detail},
                       {"next_attempt", timeJson(t.next_attempt_unix_ns)},
                       {"next_cfcard_backup", timeJson(i.next_cfcard_backup_unix_ns)}};
    } else {
      j["transfer"] = nullptr;
    }
    j["next_cache_backup"] = timeJson(i.next_cache_backup_unix_ns);
    return textReply(j.dump(2) + "\n");
  }
  std::string out = "Local bill pool\n";
  if (i.enabled) {
    line(out, "Bills", std::to_string(i.bills) + " (" + std::to_string(i.committed) +
                           " committed, " + std::to_string(i.moving) + " moving to a file)");
    line(out, "Free", std::to_string(i.capacity > i.bills ? i.capacity - i.bills : 0));
    line(out, "Max", std::to_string(i.capacity));
    line(out, "Alarm threshold", std::to_string(i.alarm_threshold) + " %");
    line(out, "Bill size", "average " + std::to_string(i.average_bill_bytes) + " B, " +
                               bytesText(i.bill_bytes) + " in all");
    line(out, "Next backup", timeText(i.next_cache_backup_unix_ns));
  } else {
    line(out, "Pool", "disabled: bills are journaled and go straight to the CF card (" +
                          std::to_string(i.bills) + " waiting)");
  }
  out += "CF card\n";
  line(out, "Bills", std::to_string(i.cfcard.bills));
  line(out, "Files", std::to_string(i.cfcard.files));
  line(out, "Space used", bytesText(i.cfcard.bytes) +
                              (i.cfcard.capacity_bytes
                                   ? " of " + bytesText(*i.cfcard.capacity_bytes) + " (" +
                                         std::to_string(i.cfcard.percent()) + " %)"
                                   : ""));
  line(out, "Alarm threshold", std::to_string(i.cfcard_alarm_threshold) + " %");
  out += "Bills\n";
  line(out, "Closed since start", std::to_string(i.emitted));
  line(out, "Files written", std::to_string(i.files_written) + " (" +
                                 std::to_string(i.write_errors) + " write errors)");
  if (!i.last_write_error.empty()) line(out, "Last write error", i.last_write_error);
  for (size_t c = 0; c < i.dropped.size(); ++c) {
    if (i.dropped[c].bills == 0) continue;
    line(out, std::string("Dropped (") + bill::dropCauseName(bill::DropCause(c)) + ")",
         std::to_string(i.dropped[c].bills) + " bills, uplink " +
             std::to_string(i.dropped[c].ul_octets) + " / downlink " +
             std::to_string(i.dropped[c].dl_octets) + " octets");
  }
  out += "Local bills (RADIUS fallback, not in the CDR balance)\n";
  line(out, "Written since start", std::to_string(i.local.emitted) + " (" +
                                        std::to_string(i.local.emitted_octets) + " octets)");
  line(out, "Kept / dropped", std::to_string(i.local.kept) + " / " +
                                  std::to_string(i.local.dropped) + " (" +
                                  std::to_string(i.local.dropped_octets) + " octets dropped)");
  for (uint8_t r = 1; r <= bill::kLocalBillReasonMax; ++r) {
    if (i.local.by_reason[r] == 0) continue;
    line(out, std::string("  ") + bill::localBillReasonName(bill::LocalBillReason(r)),
         std::to_string(i.local.by_reason[r]));
  }
  out += "Journal\n";
  line(out, "Committed entries", std::to_string(i.journal.committed) + " in " +
                                     std::to_string(i.journal.segments) + " segments, " +
                                     bytesText(i.journal.disk_bytes));
  line(out, "Commit delay", "median " + std::to_string(i.journal.delay_p50_ns / 1000) +
                                " us, p99 " + std::to_string(i.journal.delay_p99_ns / 1000) +
                                " us, max " + std::to_string(i.journal.delay_max_ns / 1000) + " us");
  if (i.journal.failing) line(out, "Journal error", i.journal.last_error);
  line(out, "Last checkpoint", timeText(i.last_checkpoint_unix_ns) + " (" +
                                   std::to_string(i.checkpoint_records) + " open records)");
  if (i.recovered_open_records || i.recovery.torn_bytes || i.intents_undone) {
    line(out, "Recovery at start",
         std::to_string(i.recovered_open_records) + " open records closed, " +
             std::to_string(i.recovery.torn_bytes) + " torn octets cut, " +
             std::to_string(i.intents_undone) + " files written again");
  }
  out += "Transfer\n";
  if (i.transfer) {
    const bill::TransferStatusView& t = *i.transfer;
    line(out, "Protocol", i.transfer_protocol);
    line(out, "Queued", std::to_string(t.queued_files) + " files, " + bytesText(t.queued_bytes) +
                            (t.in_flight ? " (one in flight)" : ""));
    line(out, "Delivered", std::to_string(t.delivered_files) + " files, " +
                               bytesText(t.delivered_bytes));
    line(out, "Last transfer", timeText(t.last_attempt_unix_ns) +
                                   (t.last_attempt_unix_ns
                                        ? std::string(" ") + t.last_file + ": " +
                                              bill::transferStatusName(t.last_status) +
                                              (t.last_detail.empty() ? "" : " (" + t.last_detail + ")")
                                        : ""));
    line(out, "Next attempt", timeText(t.next_attempt_unix_ns));
    line(out, "Next CF card backup", timeText(i.next_cfcard_backup_unix_ns));
  } else {
    line(out, "Bill server", "not configured");
  }
  const bill::AlarmState* alarms[] = {&i.pool_alarm, &i.cfcard_alarm, &i.full_alarm,
                                      &i.write_alarm, &i.transfer_alarm};
  std::string raised;
  for (const bill::AlarmState* a : alarms) {
    if (a->raised) raised += "  ALARM since " + timeText(a->since_unix_ns) + ": " + a->text + "\n";
  }
  out += raised.empty() ? "Alarms: none\n" : "Alarms\n" + raised;
  return textReply(out);
}

bool parseCount(const std::string& s, uint64_t& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

Reply displayCache(const BillPool& pool, const std::vector<std::string>& words, bool json) {
  constexpr uint64_t kMaxCount = 10000;
  if (words.size() != 2) {
    return refuseReply("usage: display local-bill cache START COUNT (START from 1, COUNT 1-" +
                       std::to_string(kMaxCount) + ")");
  }
  uint64_t start = 0, count = 0;
  if (!parseCount(words[0], start) || start == 0) {
    return refuseReply("START '" + words[0] + "': a bill position from 1");
  }
  if (!parseCount(words[1], count) || count == 0 || count > kMaxCount) {
    return refuseReply("COUNT '" + words[1] + "': allowed 1-" + std::to_string(kMaxCount));
  }
  const uint64_t size = pool.size();
  if (start > size) {
    return refuseReply("START " + words[0] + " is beyond the pool: it holds " +
                       std::to_string(size) + " bill" + (size == 1 ? "" : "s"));
  }
  std::vector<bill::CachedBill> bills = pool.cache(start, count);
  if (json) {
    ordered_json arr = ordered_json::array();
    for (const bill::CachedBill& b : bills) {
      const bill::BillInfo& i = b.info;
      arr.push_back({{"number", i.number},
                     {"session_id", i.session_id},
                     {"user_name", i.user_name},
                     {"start", timeJson(i.start_ns)},
                     {"stop", timeJson(i.stop_ns)},
                     {"elapsed_s", (i.stop_ns - i.start_ns) / kNsPerS},
                     {"ip", formatIp(i.ip)},
                     {"ul_octets", i.ul_octets},
                     {"dl_octets", i.dl_octets},
                     {"ul_packets", i.ul_packets},
                     {"dl_packets", i.dl_packets},
                     {"recovered", i.recovered},
                     {"status", b.status},
                     {"kind", bill::billKindName(i.kind)}});
      if (i.isLocal()) {
        ordered_json& l = arr.back();
        l["prefix_length"] = i.prefix_length;
        l["acct_session_id"] = i.acct_session_id;
        l["terminate_cause"] = i.terminate_cause;
        l["reason"] = bill::localBillReasonName(i.reason);
      }
    }
    return textReply(arr.dump(2) + "\n");
  }
  std::string out = "Bills " + std::to_string(start) + "-" +
                    std::to_string(start + bills.size() - 1) + " of " + std::to_string(size) +
                    "\n";
  for (const bill::CachedBill& b : bills) {
    const bill::BillInfo& i = b.info;
    out += "\n";
    line(out, "Bill number", std::to_string(i.number));
    line(out, "Kind", i.isLocal() ? std::string("local bill (") + bill::localBillReasonName(i.reason) + ")"
                                  : std::string("CDR"));
    if (i.isLocal()) line(out, "Acct-Session-Id", i.acct_session_id);
    line(out, "Session ID", std::to_string(i.session_id));
    line(out, "User name", i.user_name.empty() ? "-" : i.user_name);
    line(out, "Start time", timeText(i.start_ns));
    line(out, "Stop time", timeText(i.stop_ns));
    line(out, "Elapsed", std::to_string((i.stop_ns - i.start_ns) / kNsPerS) + " s");
    line(out, "IP address", formatIp(i.ip) + (i.isLocal() && i.prefix_length != 0
                                                     ? "/" + std::to_string(i.prefix_length)
                                                     : ""));
    line(out, "Uplink", std::to_string(i.ul_octets) + " octets, " + std::to_string(i.ul_packets) +
                            " packets");
    line(out, "Downlink", std::to_string(i.dl_octets) + " octets, " +
                              std::to_string(i.dl_packets) + " packets");
    if (i.isLocal()) line(out, "Terminate cause", std::to_string(i.terminate_cause));
    line(out, "Status", std::string(b.status) + (i.recovered ? " (closed from a checkpoint)" : ""));
  }
  return textReply(out);
}

}  // namespace

std::string formatLocalBillSummary(const BillPool& pool) {
  const PoolInformation i = pool.information();
  uint64_t dropped = 0, dropped_octets = 0;
  for (const auto& d : i.dropped) {
    dropped += d.bills;
    dropped_octets += d.ul_octets + d.dl_octets;
  }
  std::string out = "Bills: " + std::to_string(i.emitted) + " closed, " +
                    std::to_string(i.files_written) + " file(s) written to " +
                    pool.config().local_bill.cfcard_path + ", " + std::to_string(i.bills) +
                    " in the pool, CF card " + std::to_string(i.cfcard.files) + " file(s) " +
                    std::to_string(i.cfcard.bills) + " bill(s) " + std::to_string(i.cfcard.bytes) +
                    " octets, dropped " + std::to_string(dropped) + " bill(s) " +
                    std::to_string(dropped_octets) + " octets";
  if (i.transfer) {
    out += ", delivered " + std::to_string(i.transfer->delivered_files) + " file(s) by " +
           i.transfer_protocol;
  }
  out += "\n";
  // The bill balance (docs/storage.md, "Full"): what the biller closed this run is kept or
  // counted as dropped; drop-oldest is the usage of stored files deleted to make room.
  const uint64_t at_emit = i.droppedAtEmitOctets();
  const uint64_t oldest = i.dropped[size_t(bill::DropCause::kDropOldest)].ul_octets +
                          i.dropped[size_t(bill::DropCause::kDropOldest)].dl_octets;
  out += "Bill balance: closed " + std::to_string(i.emitted_octets) + " octets = kept " +
         std::to_string(i.kept_octets) + " + dropped " + std::to_string(at_emit) +
         " (cfcard-full, journal, encoding): " +
         (i.balanced() ? "ok" : "VIOLATED") +
         "; deleted by drop-oldest " + std::to_string(oldest) + " octets\n";
  if (i.local.emitted != 0) {
    // The RADIUS fallback ledger (docs/local-bill.md): usage the CDRs also carry, apart.
    out += "Local bills: " + std::to_string(i.local.emitted) + " written (" +
           std::to_string(i.local.emitted_octets) + " octets) = kept " +
           std::to_string(i.local.kept) + " + dropped " + std::to_string(i.local.dropped) +
           ": " + (i.local.balanced() ? "ok" : "VIOLATED") + "\n";
  }
  if (i.write_errors != 0) {
    out += "Bill write errors: " + std::to_string(i.write_errors) + "; last: " +
           i.last_write_error + "\n";
  }
  return out;
}

void registerLocalBillCommands(CommandRegistry& registry, BillPool* pool) {
  registry.add({"display", "local-bill", "configuration"},
               "display local-bill configuration [--json]", "bill pool, CF card, bill server settings",
               [pool](const CommandRegistry::Args& a) {
                 if (!a.words.empty()) return refuseReply("display local-bill configuration takes no argument");
                 return displayConfiguration(pool->config(), a.json);
               });
  registry.add({"display", "local-bill", "information"},
               "display local-bill information [--json]",
               "pool and CF card use, dropped bills, journal, transfer, alarms",
               [pool](const CommandRegistry::Args& a) {
                 if (!a.words.empty()) return refuseReply("display local-bill information takes no argument");
                 return displayInformation(*pool, a.json);
               });
  registry.add({"display", "local-bill", "cache"}, "display local-bill cache START COUNT [--json]",
               "the bills in the pool, from position START",
               [pool](const CommandRegistry::Args& a) {
                 return displayCache(*pool, a.words, a.json);
               });
  registry.add({"display", "local-bill"}, "", "", [](const CommandRegistry::Args& a) {
    return refuseReply("display local-bill " + (a.words.empty() ? std::string() : "'" + a.words[0] + "' ") +
                       "unknown: configuration, information or cache START COUNT");
  });
  registry.add({"local-bill", "cache", "backup"}, "local-bill cache backup [cfcard|sftp|tftp]",
               "move every pooled bill to TARGET (default: cache.backup_mode)",
               [pool](const CommandRegistry::Args& a) {
                 std::optional<CacheBackupMode> target;
                 if (a.words.size() > 1) return refuseReply("usage: local-bill cache backup [cfcard|sftp|tftp]");
                 if (a.words.size() == 1) {
                   const std::string& t = a.words[0];
                   if (t == "cfcard") target = CacheBackupMode::kCfcard;
                   else if (t == "sftp") target = CacheBackupMode::kSftp;
                   else if (t == "tftp") target = CacheBackupMode::kTftp;
                   else return refuseReply("target '" + t + "': allowed cfcard, sftp or tftp");
                 }
                 auto r = pool->backupCache(target);
                 return r ? textReply(r.value() + "\n") : refuseReply(r.error().message);
               });
  registry.add({"local-bill", "cfcard", "backup"}, "local-bill cfcard backup [NAME]",
               "every CF card file to the bill server now, as NAME-<time><NNN>",
               [pool](const CommandRegistry::Args& a) {
                 if (a.words.size() > 1) return refuseReply("usage: local-bill cfcard backup [NAME]");
                 auto r = pool->backupCfcard(a.words.empty() ? std::string() : a.words[0]);
                 return r ? textReply(r.value() + "\n") : refuseReply(r.error().message);
               });
  registry.add({"local-bill", "cfcard", "reset"}, "local-bill cfcard reset --confirm",
               "delete every bill file on the CF card (cannot be undone)",
               [pool](const CommandRegistry::Args& a) {
                 if (a.words.size() != 1 || a.words[0] != "--confirm") {
                   return refuseReply("local-bill cfcard reset deletes every bill on the CF card "
                                      "and cannot be undone: repeat it with --confirm");
                 }
                 auto r = pool->resetCfcard();
                 if (!r) return refuseReply(r.error().message);
                 return textReply("deleted " + std::to_string(r.value().bills) + " bills in " +
                                  std::to_string(r.value().files) + " files (" +
                                  std::to_string(r.value().bytes) + " octets) from " +
                                  pool->config().local_bill.cfcard_path + "\n");
               });
  registry.add({"local-bill"}, "", "", [](const CommandRegistry::Args&) {
    return refuseReply("local-bill: cache backup [TARGET], cfcard backup [NAME] or cfcard reset --confirm");
  });
  if (pool == nullptr) {
    return;
  }
  registry.addStatistics(CommandRegistry::Section{
      [pool](std::string& out) { out += "  Local bills\n    " + formatLocalBillSummary(*pool); },
      [pool](ordered_json& j) {
        const PoolInformation i = pool->information();
        j["bills_closed"] = i.emitted;
        j["bills_in_pool"] = i.bills;
        j["bill_files_written"] = i.files_written;
        j["bill_write_errors"] = i.write_errors;
        uint64_t dropped = 0;
        for (const auto& d : i.dropped) dropped += d.bills;
        j["bills_dropped"] = dropped;
        j["local_bills_written"] = i.local.emitted;
        j["cfcard_files"] = i.cfcard.files;
        j["cfcard_bytes"] = i.cfcard.bytes;
      }});
}

}  // namespace tally
