#include "controlplane/bill/bill_pool.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <sys/stat.h>
#include <unordered_set>

#include "controlplane/cdr/cdr_decode.h"
#include "controlplane/cdr/cdr_encode.h"
#include "controlplane/log.h"
#include "controlplane/storage/durable_file.h"

namespace tally::bill {

namespace {

constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kNsPerMin = 60 * kNsPerS;
// After a failed CF card / outbox write the pooled bills are tried again this much later.
constexpr int64_t kWriteRetryNs = 5 * kNsPerS;
// With the pool disabled, bills waiting for room (CF card full, transfer running) are bounded:
// beyond this many, new ones are dropped as if the card were full and the server unreachable.
constexpr uint64_t kMaxInvisiblePool = 1u << 20;
// Checkpoint entries are cut into parts of about this size.
constexpr size_t kCheckpointPartBytes = 4u << 20;

// Journal entry types (docs/storage.md, "The bill journal").
enum EntryType : uint8_t {
  kEntryBill = 1,
  kEntryIntent = 2,
  kEntryDone = 3,
  kEntryAbort = 4,
  kEntryCheckpointBegin = 5,
  kEntryCheckpointPart = 6,
  kEntryCheckpointEnd = 7,
};

// Little-endian payload encoding.
class Out {
 public:
  void u8(uint8_t v) { b_.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) b_.push_back(uint8_t(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) b_.push_back(uint8_t(v >> (8 * i)));
  }
  void i64(int64_t v) { u64(uint64_t(v)); }
  void bytes(std::span<const uint8_t> v) {
    u32(uint32_t(v.size()));
    b_.insert(b_.end(), v.begin(), v.end());
  }
  void str(const std::string& s) {
    bytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  void ip(const IpAddress& a) {
    u8(a.family);
    u32(a.v4);
    u64(a.v6.hi);
    u64(a.v6.lo);
  }
  std::vector<uint8_t>& data() { return b_; }

 private:
  std::vector<uint8_t> b_;
};

class In {
 public:
  explicit In(std::span<const uint8_t> b) : b_(b) {}
  bool ok() const { return ok_; }
  uint8_t u8() { return need(1) ? b_[pos_++] : 0; }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(b_[pos_ + i]) << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t(b_[pos_ + i]) << (8 * i);
    pos_ += 8;
    return v;
  }
  int64_t i64() { return int64_t(u64()); }
  std::vector<uint8_t> bytes() {
    uint32_t n = u32();
    if (!need(n)) return {};
    std::vector<uint8_t> v(b_.begin() + pos_, b_.begin() + pos_ + n);
    pos_ += n;
    return v;
  }
  std::string str() {
    auto v = bytes();
    return std::string(v.begin(), v.end());
  }
  IpAddress ip() {
    IpAddress a;
    a.family = u8();
    a.v4 = u32();
    a.v6.hi = u64();
    a.v6.lo = u64();
    return a;
  }

 private:
  bool need(size_t n) {
    if (!ok_ || b_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// BillInfo flags octet: 1 hot, 2 recovered, 4 a local bill (local_bill.h). Journals written
// before local bills existed never set 4: they replay as CDR bills, as they were.
constexpr uint8_t kFlagLocal = 4;

void putInfo(Out& o, const BillInfo& i) {
  o.u64(i.number);
  o.u64(i.session_id);
  o.str(i.user_name);
  o.i64(i.start_ns);
  o.i64(i.stop_ns);
  o.ip(i.ip);
  o.u8(i.prefix_length);
  o.u64(i.ul_octets);
  o.u64(i.dl_octets);
  o.u64(i.ul_packets);
  o.u64(i.dl_packets);
  o.u32(i.charging_id);
  o.u32(i.record_index);
  o.u8(i.cause);
  o.u8(uint8_t((i.hot ? 1 : 0) | (i.recovered ? 2 : 0) | (i.isLocal() ? kFlagLocal : 0)));
}

BillInfo getInfo(In& in) {
  BillInfo i;
  i.number = in.u64();
  i.session_id = in.u64();
  i.user_name = in.str();
  i.start_ns = in.i64();
  i.stop_ns = in.i64();
  i.ip = in.ip();
  i.prefix_length = in.u8();
  i.ul_octets = in.u64();
  i.dl_octets = in.u64();
  i.ul_packets = in.u64();
  i.dl_packets = in.u64();
  i.charging_id = in.u32();
  i.record_index = in.u32();
  i.cause = in.u8();
  uint8_t flags = in.u8();
  i.hot = flags & 1;
  i.recovered = flags & 2;
  i.kind = flags & kFlagLocal ? BillKind::kLocal : BillKind::kCdr;
  return i;
}

// A BILL entry: the info, the record, and for a local bill its own fields after the record
// (reason, Acct-Session-Id, terminate cause). They come last so that an older tally reading
// a newer journal still finds the record where it was (it ignores what follows).
void putBill(Out& o, const BillInfo& i, std::span<const uint8_t> data) {
  putInfo(o, i);
  o.bytes(data);
  if (i.isLocal()) {
    o.u8(uint8_t(i.reason));
    o.str(i.acct_session_id);
    o.u32(i.terminate_cause);
  }
}

void getBillTail(In& in, BillInfo& i) {
  if (!i.isLocal()) return;
  i.reason = LocalBillReason(in.u8());
  i.acct_session_id = in.str();
  i.terminate_cause = in.u32();
}

BillInfo infoOfLocal(const LocalBill& b) {
  BillInfo i;
  i.kind = BillKind::kLocal;
  i.number = b.number;
  i.session_id = b.session_id;
  i.user_name = b.user_name;
  i.start_ns = b.start_ns;
  i.stop_ns = b.stop_ns;
  i.ip = b.ip;
  i.prefix_length = b.prefix_length;
  i.ul_octets = b.ul_octets;
  i.dl_octets = b.dl_octets;
  i.ul_packets = b.ul_packets;
  i.dl_packets = b.dl_packets;
  i.charging_id = 0;
  i.record_index = 0;
  i.reason = b.reason;
  i.acct_session_id = b.acct_session_id;
  i.terminate_cause = b.terminate_cause;
  return i;
}

BillInfo infoOf(const cdr::PgwRecord& r, bool hot) {
  BillInfo i;
  i.number = r.local_sequence_number;
  i.session_id = r.session_id;
  i.user_name = !r.msisdn.empty() ? r.msisdn : r.imsi;
  i.start_ns = r.record_opening_time_ns;
  i.stop_ns = r.record_opening_time_ns + int64_t{r.duration_s} * kNsPerS;
  i.ip = r.served_address;
  i.prefix_length = r.served_prefix_length;
  for (const cdr::TrafficContainer& t : r.traffic_volumes) {
    i.ul_octets += t.uplink_octets;
    i.dl_octets += t.downlink_octets;
  }
  i.ul_packets = r.uplink_packets;
  i.dl_packets = r.downlink_packets;
  i.charging_id = r.charging_id;
  i.record_index = r.record_sequence_number.value_or(1);
  i.cause = uint8_t(r.cause);
  i.hot = hot;
  return i;
}

std::string countText(uint64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

uint64_t PoolInformation::droppedAtEmitOctets() const {
  uint64_t n = 0;
  for (size_t c = 0; c < dropped.size(); ++c) {
    if (DropCause(c) != DropCause::kDropOldest) {
      n += dropped[c].ul_octets + dropped[c].dl_octets;
    }
  }
  return n;
}

const char* billKindName(BillKind k) { return k == BillKind::kLocal ? "local" : "cdr"; }

const char* dropCauseName(DropCause c) {
  switch (c) {
    case DropCause::kCfcardFull:
      return "cfcard-full";
    case DropCause::kDropOldest:
      return "drop-oldest";
    case DropCause::kEncoding:
      return "encoding";
    case DropCause::kJournal:
      return "journal-full";
    case DropCause::kCount:
      break;
  }
  return "?";
}

// What a replay of the journal found.
struct BillPool::Replay {
  std::map<uint64_t, Bill> bills;
  std::unordered_map<uint64_t, uint64_t> by_lsn;
  std::map<Journal::Ticket, Intent> intents;
  uint64_t hw_lsn = 0;
  uint32_t hw_file = 0;
  // Checkpoints: the one being read, and the last complete one.
  uint64_t cur_id = 0;
  Journal::Ticket cur_begin = 0;
  std::vector<CheckpointItem> cur_items;
  Journal::Ticket last_begin = 0;
  uint64_t last_id = 0;
  std::vector<CheckpointItem> last_items;
  // Per charging id, the highest record index of a bill seen: a checkpointed record that later
  // closed (or was already recovered) is not closed again.
  std::unordered_map<uint32_t, uint32_t> max_index;
  std::string error;

  void visit(Journal::Ticket t, uint8_t type, std::span<const uint8_t> payload) {
    In in(payload);
    switch (type) {
      case kEntryBill: {
        Bill b;
        b.info = getInfo(in);
        b.data = in.bytes();
        getBillTail(in, b.info);
        b.ticket = t;
        if (!in.ok()) break;
        hw_lsn = std::max(hw_lsn, b.info.number);
        if (!b.info.isLocal()) {
          uint32_t& mi = max_index[b.info.charging_id];
          mi = std::max(mi, b.info.record_index);
        }
        auto found = by_lsn.find(b.info.number);
        if (found != by_lsn.end()) {
          bills[found->second].ticket = t;  // copied forward by compaction
        } else {
          by_lsn[b.info.number] = t;
          bills.emplace(t, std::move(b));
        }
        return;
      }
      case kEntryIntent: {
        Intent i;
        i.ticket = t;
        i.target = Target(in.u8());
        i.name = in.str();
        i.file_sequence = in.u32();
        i.bytes = in.u64();
        i.stem = in.str();
        hw_lsn = std::max(hw_lsn, in.u64());
        hw_file = std::max(hw_file, i.file_sequence);
        uint32_t n = in.u32();
        i.bills = n;
        for (uint32_t k = 0; k < n && in.ok(); ++k) {
          auto found = by_lsn.find(in.u64());
          if (found != by_lsn.end()) {
            i.orders.push_back(found->second);
            bills[found->second].intent = t;
          }
        }
        if (!in.ok()) break;
        intents.emplace(t, std::move(i));
        return;
      }
      case kEntryDone:
      case kEntryAbort: {
        Journal::Ticket it = in.u64();
        hw_lsn = std::max(hw_lsn, in.u64());
        hw_file = std::max(hw_file, in.u32());
        if (!in.ok()) break;
        auto found = intents.find(it);
        if (found != intents.end()) {
          for (uint64_t key : found->second.orders) {
            auto b = bills.find(key);
            if (b == bills.end()) continue;
            if (type == kEntryDone) {
              by_lsn.erase(b->second.info.number);
              bills.erase(b);
            } else {
              b->second.intent = 0;
            }
          }
          intents.erase(found);
        }
        return;
      }
      case kEntryCheckpointBegin:
        cur_id = in.u64();
        hw_lsn = std::max(hw_lsn, in.u64());
        hw_file = std::max(hw_file, in.u32());
        cur_begin = t;
        cur_items.clear();
        if (!in.ok()) break;
        return;
      case kEntryCheckpointPart: {
        uint64_t id = in.u64();
        uint32_t n = in.u32();
        if (id != cur_id) return;  // a part of a checkpoint whose begin was not seen
        for (uint32_t k = 0; k < n && in.ok(); ++k) {
          CheckpointItem item;
          item.info = getInfo(in);
          item.ber = in.bytes();
          cur_items.push_back(std::move(item));
        }
        if (!in.ok()) break;
        return;
      }
      case kEntryCheckpointEnd: {
        uint64_t id = in.u64();
        uint32_t n = in.u32();
        if (!in.ok()) break;
        if (id == cur_id && n == cur_items.size()) {
          last_begin = cur_begin;
          last_id = id;
          last_items = std::move(cur_items);
        }
        cur_items.clear();
        return;
      }
      default:
        break;
    }
    if (error.empty()) {
      error = "journal entry " + std::to_string(t) + " of type " + std::to_string(type) +
              " cannot be read (" + std::to_string(payload.size()) + " octets)";
    }
  }
};

BillPool::BillPool(const Config& config, TimeZonePtr tz, SequenceStore& seq, const Clock& clock)
    : config_(config), tz_(std::move(tz)), seq_(seq), clock_(clock) {
  info_.enabled = config.local_bill.bill_pool.enable;
  info_.capacity = info_.enabled ? config.local_bill.bill_pool.capacity_bills : 0;
  info_.alarm_threshold = config.local_bill.cache.alarm_threshold_pct;
  info_.cfcard_alarm_threshold = config.local_bill.cfcard.alarm_threshold_pct;
}

BillPool::~BillPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (storage_.joinable()) {
    storage_.join();
  }
  transfer_.reset();
  journal_.reset();
}

Result<std::unique_ptr<BillPool>> BillPool::open(const Config& config, TimeZonePtr tz,
                                                 SequenceStore& seq, const Clock& clock,
                                                 std::unique_ptr<Transport> transport) {
  std::unique_ptr<BillPool> p(new BillPool(config, std::move(tz), seq, clock));
  auto st = p->start(std::move(transport));
  if (!st) {
    return st.error();
  }
  return p;
}

Result<bool> BillPool::start(std::unique_ptr<Transport> transport) {
  const LocalBillConfig& lb = config_.local_bill;
  const std::string& state_dir = config_.node.state_dir;
  auto lock = DirectoryLock::acquire(state_dir, "node.state_dir");
  if (!lock) {
    return lock.error();
  }
  state_lock_ = std::move(lock.value());
  auto card = CfCard::open(lb.cfcard_path, lb.cfcard.capacity_bytes);
  if (!card) {
    return card.error();
  }
  cfcard_ = std::move(card.value());
  auto cf_store = FlashBillStore::open(lb.cfcard_path);
  if (!cf_store) {
    return cf_store.error();
  }
  cf_store_ = std::move(cf_store.value());
  outbox_dir_ = state_dir + "/outbox";
  auto outbox = FlashBillStore::open(outbox_dir_);
  if (!outbox) {
    return outbox.error();
  }
  outbox_store_ = std::move(outbox.value());

  JournalOptions jo;
  jo.dir = state_dir + "/bill-journal";
  jo.commit_delay_ns = int64_t{lb.bill_pool.commit_delay_ms} * 1'000'000;
  Replay replay;
  auto journal = Journal::open(
      jo,
      [&replay](Journal::Ticket t, uint8_t type, std::span<const uint8_t> payload) {
        replay.visit(t, type, payload);
      },
      &info_.recovery);
  if (!journal) {
    return Error{"bill journal: " + journal.error().message};
  }
  if (!replay.error.empty()) {
    return Error{"bill journal " + jo.dir + ": " + replay.error};
  }
  journal_ = std::move(journal.value());
  if (info_.recovery.torn_bytes != 0) {
    logWarn("bill journal: cut " + std::to_string(info_.recovery.torn_bytes) +
            " octets of a torn last write off " + info_.recovery.torn_segment + " (" +
            info_.recovery.torn_reason + "); every bill before it was kept");
  }
  storage_ = std::thread([this] { storageThread(); });
  if (transport) {
    transfer_protocol_ = transport->protocol();
    CfCard* card_ptr = cfcard_.get();
    const std::string cf_dir = lb.cfcard_path;
    transfer_ = std::make_unique<TransferWorker>(
        std::move(transport), tz_, TransferPolicy{}, [this] { return clock_.wallNs(); },
        [card_ptr, cf_dir](const TransferJob& job, const TransferResult& r,
                           const std::string& remote) {
          if (job.dir == cf_dir) {
            card_ptr->removed(job.name);
          }
          logInfo("bill file " + job.name + " delivered to the bill server as " + remote + " (" +
                  std::to_string(r.bytes) + " octets" +
                  (r.status == TransferStatus::kAlreadyThere ? ", already there" : "") + ")");
        },
        [](const TransferJob& job, const TransferResult& r) {
          logWarn("bill file " + job.name + " not delivered: " +
                  transferStatusName(r.status) + ": " + r.detail);
        });
  }
  applyReplay(replay);
  // What recovery journaled (intents completed or undone) must be durable before any file it
  // settled is sent: a file delivered and deleted before its done is on flash would, after a
  // crash, have its bills written and sent again. At start, off the poll: waiting is fine.
  if (journal_->waitCommitted(journal_->lastAppended(), 10 * kNsPerS)) {
    resumeTransfers();
  } else {
    logWarn("bill journal: recovery not yet on flash after 10 s (" + journal_->stats().last_error +
            "); transfers left over from before the start wait for the next trigger");
  }
  const int64_t now = clock_.wallNs();
  next_checkpoint_ns_ = now;  // a first checkpoint at once supersedes the recovered one
  next_cache_backup_ns_ = now + int64_t{lb.cache.backup_interval_min} * kNsPerMin;
  next_cfcard_backup_ns_ = now + int64_t{lb.cfcard.backup_interval_min} * kNsPerMin;
  return true;
}

void BillPool::applyReplay(Replay& r) {
  // Numbering continues where the journal ends: numbers the sequence store reserved beyond it
  // were never in a committed bill (docs/storage.md, "Numbering after a crash").
  last_lsn_ = r.hw_lsn;
  last_file_seq_ = r.hw_file;
  if (r.hw_lsn != 0 || r.hw_file != 0) {
    std::string note = seq_.resumeAfter(r.hw_lsn, r.hw_file);
    if (!note.empty()) {
      logInfo(note);
    }
  }
  bills_ = std::move(r.bills);
  by_lsn_ = std::move(r.by_lsn);
  intents_ = std::move(r.intents);
  // Intents a crash left open: done when the file is on its disk whole, else undone.
  std::vector<Journal::Ticket> open_intents;
  for (auto& [t, in] : intents_) {
    open_intents.push_back(t);
  }
  for (Journal::Ticket t : open_intents) {
    Intent& in = intents_[t];
    const std::string dir = in.target == Target::kCfcard ? cfcard_->dir() : outbox_dir_;
    auto exists = fileExists(dir + "/" + in.name);
    bool whole = false;
    if (exists && exists.value()) {
      std::error_code ec;
      whole = std::filesystem::file_size(dir + "/" + in.name, ec) == in.bytes && !ec;
      if (!whole) {
        // Cannot happen (the file is renamed into place whole); kept for the operator.
        renameDurably(dir, in.name, in.name + ".broken");
        if (in.target == Target::kCfcard) {
          cfcard_->removed(in.name);  // the start-up scan counted it as a bill file
        }
        logAlarm("bill file " + dir + "/" + in.name + " has not the size its intent says (" +
                 std::to_string(in.bytes) + "): set aside as .broken; its bills are pooled again");
      }
    }
    if (whole) {
      in.written = true;
      in.scanned = true;
      ++info_.intents_completed;
      journalDone(in, true);
    } else {
      auto tmp = fileExists(dir + "/" + in.name + ".tmp");
      if (tmp && tmp.value()) {
        removeDurably(dir, in.name + ".tmp");
      }
      ++info_.intents_undone;
      journalDone(in, false);
    }
  }
  for (auto& [key, b] : bills_) {
    if (b.intent == 0) {
      ++pooled_;
      pooled_bytes_ += b.data.size();
      if (b.info.hot) ++hot_pooled_;
    }
  }
  oldest_pooled_ns_ = clock_.wallNs();
  // Open records of the last checkpoint that never closed: closed now as partial records with
  // cause abnormalRelease and the usage checkpointed.
  for (CheckpointItem& item : r.last_items) {
    auto mi = r.max_index.find(item.info.charging_id);
    if (mi != r.max_index.end() && mi->second >= item.info.record_index) {
      continue;
    }
    auto rec = cdr::decodePgwRecord(item.ber);
    if (!rec) {
      logAlarm("checkpointed open record of session " + std::to_string(item.info.session_id) +
               " cannot be decoded: " + rec.error().message);
      continue;
    }
    rec.value().local_sequence_number = seq_.nextLocalSequence();
    rec.value().session_id = item.info.session_id;
    rec.value().uplink_packets = item.info.ul_packets;
    rec.value().downlink_packets = item.info.dl_packets;
    auto data = cdr::encodeRecordForFile(rec.value(), config_.accounting.cdr.format, *tz_, scratch_);
    if (!data) {
      continue;
    }
    BillInfo info = item.info;
    info.number = rec.value().local_sequence_number;
    info.recovered = true;
    admit(std::move(info), std::move(data.value()));
    ++info_.recovered_open_records;
  }
  if (info_.recovered_open_records != 0) {
    logWarn("closed " + countText(info_.recovered_open_records, "open record") +
            " of the last checkpoint as partial records (abnormalRelease): usage counted after "
            "that checkpoint was lost with the crash");
  }
  if (!bills_.empty() || info_.intents_completed || info_.intents_undone) {
    logInfo("bill journal: " + countText(bills_.size(), "bill") + " pooled again, " +
            countText(info_.intents_completed, "file") + " found written, " +
            countText(info_.intents_undone, "file") + " to write again");
  }
  // Files on the card from before: their done is committed (or they predate the journal).
}

// ---------------------------------------------------------------------------------------------
// Bills in

void BillPool::emit(cdr::PgwRecord record, bool flush_now) {
  ++info_.emitted;
  BillInfo info = infoOf(record, flush_now);
  const uint64_t octets = info.ul_octets + info.dl_octets;
  info_.emitted_octets += octets;
  auto data = cdr::encodeRecordForFile(record, config_.accounting.cdr.format, *tz_, scratch_);
  if (!data) {
    drop(DropCause::kEncoding, info);
    return;
  }
  if (dropIfFull(info, data.value().size())) {
    return;
  }
  if (admit(std::move(info), std::move(data.value()))) {
    info_.kept_octets += octets;
  }
}

uint64_t BillPool::emitLocalBill(LocalBill bill) {
  // Numbered before anything can drop it, like a CDR (the charging engine numbers those): a
  // dropped local bill leaves a gap that the next file's lost-CDR indicator declares.
  bill.number = seq_.nextLocalSequence();
  for (const std::string& c : makeRecordable(bill)) {
    logWarn("local bill " + std::to_string(bill.number) + " (Acct-Session-Id '" +
            bill.acct_session_id + "'): " + c + ": the record cannot carry it");
  }
  LocalBillCounters& lc = info_.local;
  ++lc.emitted;
  if (validLocalBillReason(uint8_t(bill.reason))) ++lc.by_reason[size_t(bill.reason)];
  BillInfo info = infoOfLocal(bill);
  const uint64_t octets = info.ul_octets + info.dl_octets;
  lc.emitted_octets += octets;
  auto data = encodeLocalBillForFile(bill, config_.accounting.cdr.format, *tz_, scratch_);
  if (!data) {
    logAlarm("local bill " + std::to_string(bill.number) + " (Acct-Session-Id '" +
             bill.acct_session_id + "') dropped: " + data.error().message);
    drop(DropCause::kEncoding, info);
    return 0;
  }
  if (dropIfFull(info, data.value().size())) {
    return 0;
  }
  const uint64_t number = info.number;
  if (!admit(std::move(info), std::move(data.value()))) {
    return 0;
  }
  ++lc.kept;
  lc.kept_octets += octets;
  return number;
}

bool BillPool::admit(BillInfo info, std::vector<uint8_t> data) {
  Out o;
  putBill(o, info, data);
  auto t = journal_->append(kEntryBill, o.data());
  if (!t) {
    drop(DropCause::kJournal, info);
    return false;
  }
  if (pooled_ == 0) {
    oldest_pooled_ns_ = clock_.wallNs();
  }
  last_lsn_ = std::max(last_lsn_, info.number);
  Bill b;
  b.info = std::move(info);
  b.data = std::move(data);
  b.ticket = t.value();
  ++pooled_;
  pooled_bytes_ += b.data.size();
  if (b.info.hot) ++hot_pooled_;
  by_lsn_[b.info.number] = t.value();
  bills_.emplace(t.value(), std::move(b));
  return true;
}

bool BillPool::dropIfFull(const BillInfo& info, uint64_t bytes) {
  const bool server_down = !transfer_ || transfer_->status().failing;
  // Room for this bill once what is already on its way to the card is there: files being
  // written and the pooled bills bound for it. Without them a burst of bills closed in one
  // poll would all find the card "not full" and wait, however far beyond its capacity.
  const bool card_full = cfcard_->wouldExceed(cfcardBytesAhead() + bytes + cdrFileHeaderBytesFor());
  if (!card_full) {
    setAlarm(info_.full_alarm, false, "", clock_.wallNs());
    return false;
  }
  // Bills wait for room: while the server takes files, up to a bound on memory; with the
  // server down, up to the pool's capacity (pool disabled: what the card still takes and one
  // file's worth beyond it).
  uint64_t waiting_limit = kMaxInvisiblePool;
  if (server_down) {
    waiting_limit = info_.enabled ? info_.capacity
                                  : std::min<uint64_t>(kMaxInvisiblePool,
                                                       config_.accounting.cdr.file_max_records +
                                                           cfcardBillsThatFit(bytes));
  }
  if (pooled_ < waiting_limit) {
    return false;  // waits in the pool for room on the card
  }
  if (config_.local_bill.cfcard.overflow == CfCardOverflow::kDropOldest) {
    return false;  // room is made when the bills move out (moveOut)
  }
  drop(DropCause::kCfcardFull, info);
  return true;
}

size_t BillPool::cdrFileHeaderBytesFor() const {
  return cdr::cdrFileHeaderBytes(config_.accounting.cdr.format);
}

void BillPool::drop(DropCause cause, const BillInfo& info) {
  if (info.isLocal()) {
    // The RADIUS fallback ledger: counted apart, never in the CDR balance's dropped terms.
    ++info_.local.dropped;
    info_.local.dropped_octets += info.ul_octets + info.dl_octets;
  } else {
    DropCounters& d = info_.dropped[size_t(cause)];
    ++d.bills;
    d.ul_octets += info.ul_octets;
    d.dl_octets += info.dl_octets;
  }
  ++lost_unreported_;  // a record with a number missing from the files, whatever its kind
  const int64_t now = clock_.wallNs();
  if (cause == DropCause::kCfcardFull) {
    setAlarm(info_.full_alarm, true,
             std::string("bills are being dropped (") + dropCauseName(cause) +
                 "): the CF card " + cfcard_->dir() + " is full and the bill server cannot be "
                 "reached; free space or restore the server (display local-bill information)",
             now);
  } else if (cause == DropCause::kJournal) {
    setAlarm(info_.full_alarm, true,
             std::string("bills are being dropped (") + dropCauseName(cause) +
                 "): the bill journal in " + config_.node.state_dir +
                 " cannot keep up or cannot write (its buffer is full); see the journal's last "
                 "error (display local-bill information)",
             now);
  }
}

// ---------------------------------------------------------------------------------------------
// Bills out

void BillPool::moveOut(Target target, bool only_hot, cdr::FileClosureReason reason,
                       const std::string& stem) {
  const CdrConfig& cdr = config_.accounting.cdr;
  const size_t header = cdr::cdrFileHeaderBytes(cdr.format);
  const size_t overhead = cdr::cdrRecordOverhead(cdr.format);
  auto it = bills_.begin();
  while (true) {
    // Gather one file's worth.
    std::vector<uint64_t> keys;
    std::vector<std::span<const uint8_t>> records;
    size_t bytes = header;
    cdr::FileClosureReason why = reason;
    for (; it != bills_.end(); ++it) {
      Bill& b = it->second;
      if (b.intent != 0 || (only_hot && !b.info.hot)) continue;
      if (!keys.empty() && bytes + overhead + b.data.size() > cdr.file_max_bytes) {
        why = cdr::FileClosureReason::kFileSizeLimit;
        break;
      }
      keys.push_back(it->first);
      records.emplace_back(b.data);
      bytes += overhead + b.data.size();
      if (keys.size() >= cdr.file_max_records) {
        why = cdr::FileClosureReason::kMaxCdrs;
        ++it;
        break;
      }
    }
    if (keys.empty()) {
      return;
    }
    if (target == Target::kCfcard && !cfcardRoomFor(bytes)) {
      return;  // drop-new: they wait in the pool (journaled); new bills are dropped
    }
    const int64_t now = clock_.wallNs();
    Intent in;
    in.target = target;
    in.file_sequence = seq_.nextFileSequence();
    last_file_seq_ = in.file_sequence;
    in.name = cdr::cdrFileName(config_.node.id, now / kNsPerS, *tz_, in.file_sequence, cdr.format);
    in.stem = stem;
    in.bills = keys.size();
    in.usage_known = true;
    for (uint64_t k : keys) {
      // The CDR ledger's octets only (what drop-oldest counts if it deletes the file; local
      // bills duplicate usage the CDRs carry). cdr::fileUsage reads files the same way.
      const BillInfo& bi = bills_.at(k).info;
      if (bi.isLocal()) continue;
      in.ul_octets += bi.ul_octets;
      in.dl_octets += bi.dl_octets;
    }
    cdr::CdrFileSpec spec;
    spec.format = cdr.format;
    spec.sequence = in.file_sequence;
    const Bill& first = bills_.at(keys.front());
    spec.opened_ns = std::min(first.info.stop_ns, now);
    spec.last_append_ns = now;
    spec.closure_reason = uint8_t(why);
    spec.lost_cdr_indicator = cdr::lostCdrIndicator(lost_unreported_);
    spec.node_address = config_.node.address;
    WriteJob job;
    job.bytes = cdr::renderCdrFile(spec, records, *tz_);
    in.bytes = job.bytes.size();
    Out o;
    o.u8(uint8_t(target));
    o.str(in.name);
    o.u32(in.file_sequence);
    o.u64(in.bytes);
    o.str(in.stem);
    o.u64(last_lsn_);
    o.u32(uint32_t(keys.size()));
    for (uint64_t k : keys) {
      o.u64(bills_.at(k).info.number);
    }
    auto t = journal_->append(kEntryIntent, o.data());
    if (!t) {
      info_.last_write_error = "bill journal: " + t.error().message;
      return;  // the journal is failing: the bills stay pooled
    }
    lost_unreported_ = 0;
    in.ticket = t.value();
    for (uint64_t k : keys) {
      Bill& b = bills_.at(k);
      b.intent = in.ticket;
      --pooled_;
      pooled_bytes_ -= b.data.size();
      if (b.info.hot) --hot_pooled_;
    }
    in.orders = std::move(keys);
    job.intent = in.ticket;
    job.target = target;
    job.name = in.name;
    job.bills = in.orders.size();
    intents_.emplace(in.ticket, std::move(in));
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    ++jobs_outstanding_;
    cv_.notify_all();
  }
}

uint64_t BillPool::cfcardBytesInFlight() const {
  // Files being written (or whose done is not committed yet) are not on the CF card's books
  // yet, but take their room all the same.
  uint64_t bytes = 0;
  for (const auto& [t, in] : intents_) {
    if (in.target == Target::kCfcard && !in.scanned) {
      bytes += in.bytes;
    }
  }
  return bytes;
}

uint64_t BillPool::cfcardBytesAhead() const {
  uint64_t ahead = cfcardBytesInFlight();
  // The pooled bills are bound for the card unless the cache sends them to the bill server.
  const CacheBackupMode mode = config_.local_bill.cache.backup_mode;
  if (!info_.enabled || mode == CacheBackupMode::kCfcard || mode == CacheBackupMode::kNone) {
    ahead += pooled_bytes_ + pooled_ * cdr::cdrRecordOverhead(config_.accounting.cdr.format);
  }
  return ahead;
}

uint64_t BillPool::cfcardBillsThatFit(uint64_t bill_bytes) const {
  const CfCardUsage u = cfcard_->usage();
  if (!u.capacity_bytes) return kMaxInvisiblePool;
  const uint64_t used = u.bytes + cfcardBytesInFlight();
  if (used >= *u.capacity_bytes) return 0;
  const CdrConfig& cdr = config_.accounting.cdr;
  const uint64_t average = pooled_ != 0 ? pooled_bytes_ / pooled_ : bill_bytes;
  // A bill's share of a file: its record, its framing and its part of the file header.
  const uint64_t per_bill = average + cdr::cdrRecordOverhead(cdr.format) +
                            cdr::cdrFileHeaderBytes(cdr.format) / std::max<uint32_t>(1, cdr.file_max_records);
  return per_bill == 0 ? kMaxInvisiblePool : (*u.capacity_bytes - used) / per_bill;
}

bool BillPool::cfcardRoomFor(uint64_t bytes) {
  bytes += cfcardBytesInFlight();
  if (!cfcard_->wouldExceed(bytes)) {
    return true;
  }
  if (config_.local_bill.cfcard.overflow == CfCardOverflow::kDropOldest) {
    std::vector<std::string> busy;
    if (transfer_) {
      for (const std::string& p : transfer_->busyPaths()) {
        busy.push_back(baseName(p));
      }
    }
    auto del = cfcard_->dropOldest(bytes, busy);
    if (del && del.value().files != 0) {
      DropCounters& d = info_.dropped[size_t(DropCause::kDropOldest)];
      d.bills += del.value().bills;
      d.ul_octets += del.value().ul_octets;
      d.dl_octets += del.value().dl_octets;
      lost_unreported_ += del.value().bills;
      setAlarm(info_.full_alarm, true,
               "CF card " + cfcard_->dir() + " full and the bill server cannot be reached: "
               "deleting the oldest bill files to make room (overflow: drop-oldest; counted in "
               "display local-bill information)",
               clock_.wallNs());
    }
    return !cfcard_->wouldExceed(bytes);
  }
  if (transfer_) {
    queueCfcardTransfer(remoteStem());
  }
  return false;
}

void BillPool::storageThread() {
  while (true) {
    WriteJob job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) {
        return;  // stop_: the rest stays journaled (intents undone at the next start)
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // The intent must be durable before the file exists: otherwise a crash could leave a file
    // whose bills are also pooled again.
    bool stopping = false;
    while (!journal_->waitCommitted(job.intent, 100'000'000)) {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) {
        stopping = true;
        break;
      }
    }
    if (stopping) {
      return;
    }
    BillStore& store = job.target == Target::kCfcard ? *cf_store_ : *outbox_store_;
    auto r = store.store(job.name, job.bytes);
    WriteDone d;
    d.intent = job.intent;
    d.ok = r.ok();
    if (!r) {
      d.error = r.error().message;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(std::move(d));
    }
    cv_.notify_all();
  }
}

void BillPool::finishWrites() {
  std::deque<WriteDone> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(done_);
  }
  const int64_t now = clock_.wallNs();
  for (WriteDone& d : done) {
    --jobs_outstanding_;
    auto found = intents_.find(d.intent);
    if (found == intents_.end()) continue;
    Intent& in = found->second;
    if (d.ok) {
      in.written = true;
      ++info_.files_written;
      setAlarm(info_.write_alarm, false, "", now);
      journalDone(in, true);
    } else {
      ++info_.write_errors;
      info_.last_write_error = d.error;
      next_write_retry_ns_ = now + kWriteRetryNs;
      retry_target_ = in.target;  // tried again whatever the mode (a manual backup too)
      write_alarm_by_journal_ = false;
      setAlarm(info_.write_alarm, true,
               "bill file write failed: " + d.error + "; the bills stay in the journal and are "
               "written again in " + std::to_string(kWriteRetryNs / kNsPerS) + " s",
               now);
      journalDone(in, false);
    }
  }
}

void BillPool::journalDone(Intent& in, bool ok) {
  Out o;
  o.u64(in.ticket);
  o.u64(last_lsn_);
  o.u32(last_file_seq_);
  // A done/abort that cannot be journaled now is retried by the next start's recovery (the
  // intent stays open: the file is then found written, or not).
  auto t = journal_->append(ok ? kEntryDone : kEntryAbort, o.data());
  if (ok) {
    in.done_ticket = t ? t.value() : 0;
    for (uint64_t k : in.orders) {
      auto b = bills_.find(k);
      if (b != bills_.end()) {
        by_lsn_.erase(b->second.info.number);
        bills_.erase(b);
      }
    }
    in.orders.clear();
  } else {
    for (uint64_t k : in.orders) {
      auto b = bills_.find(k);
      if (b == bills_.end()) continue;
      b->second.intent = 0;
      ++pooled_;
      pooled_bytes_ += b->second.data.size();
      if (b->second.info.hot) ++hot_pooled_;
    }
    intents_.erase(in.ticket);
  }
}

void BillPool::handOverCommitted() {
  const Journal::Ticket committed = journal_->committed();
  for (auto it = intents_.begin(); it != intents_.end();) {
    Intent& in = it->second;
    if (!in.written || in.done_ticket == 0 || in.done_ticket > committed) {
      ++it;
      continue;
    }
    if (in.target == Target::kCfcard) {
      cfcard_->added(CfCardFile{in.name, in.bytes, in.bills, in.usage_known, in.ul_octets,
                                in.dl_octets});
    } else if (transfer_) {
      TransferJob job;
      job.dir = outbox_dir_;
      job.name = in.name;
      job.stem = in.stem.empty() ? remoteStem() : in.stem;
      job.bytes = in.bytes;
      job.bills = in.bills;
      transfer_->enqueue(std::move(job));
    }
    it = intents_.erase(it);
  }
}

std::string BillPool::remoteStem() const {
  const auto& bs = config_.local_bill.bill_server;
  return bs && !bs->filename.empty() ? bs->filename : config_.node.id;
}

void BillPool::resumeTransfers() {
  if (!transfer_) return;
  // Outbox files (cache backup_mode sftp/tftp) exist only to be sent: all of them, now.
  auto names = listDirectory(outbox_dir_);
  if (!names) {
    logWarn("bill outbox " + outbox_dir_ + ": " + names.error().message);
  } else {
    uint64_t n = 0;
    for (const std::string& name : names.value()) {
      if (name.empty() || name[0] == '.' || !(name.ends_with(".cdr") || name.ends_with(".csv"))) {
        continue;
      }
      struct stat st;
      const std::string path = outbox_dir_ + "/" + name;
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      TransferJob job;
      job.dir = outbox_dir_;
      job.name = name;
      job.stem = remoteStem();
      job.bytes = uint64_t(st.st_size);
      job.bills = CfCard::billsInFile(path);
      transfer_->enqueue(std::move(job));
      ++n;
    }
    if (n != 0) logInfo("bill outbox: " + countText(n, "file") + " to send from before the start");
  }
  // CF card files whose transfer had begun (their remote name is fixed in a .xfer sidecar):
  // finished now under that name; the others wait for their trigger as before.
  uint64_t n = 0;
  for (const CfCardFile& f : cfcard_->files()) {
    auto side = fileExists(cfcard_->dir() + "/" + f.name + ".xfer");
    if (!side || !side.value()) continue;
    TransferJob job;
    job.dir = cfcard_->dir();
    job.name = f.name;
    job.stem = remoteStem();
    job.bytes = f.bytes;
    job.bills = f.bills;
    transfer_->enqueue(std::move(job));
    ++n;
  }
  if (n != 0) logInfo("CF card: " + countText(n, "transfer") + " begun before the start resumed");
}

void BillPool::queueCfcardTransfer(const std::string& stem) {
  if (!transfer_) return;
  for (const CfCardFile& f : cfcard_->files()) {
    TransferJob job;
    job.dir = cfcard_->dir();
    job.name = f.name;
    job.stem = stem;
    job.bytes = f.bytes;
    job.bills = f.bills;
    transfer_->enqueue(std::move(job));
  }
}

// ---------------------------------------------------------------------------------------------
// The poll

void BillPool::tick(int64_t now_ns) {
  finishWrites();
  handOverCommitted();
  const LocalBillConfig& lb = config_.local_bill;
  const CdrConfig& cdr = config_.accounting.cdr;
  const bool may_write = info_.write_alarm.raised ? now_ns >= next_write_retry_ns_ : true;
  if (may_write && retry_target_) {
    // A failed write is tried again by itself, also where no trigger of the mode would move
    // the bills (backup_mode none after a manual backup): the bills it held are pooled again.
    const Target t = *retry_target_;
    retry_target_.reset();
    if (pooled_ != 0) {
      moveOut(t, false, cdr::FileClosureReason::kNormal, "");
    }
  }
  if (may_write && pooled_ != 0) {
    if (!info_.enabled) {
      // The invisible pool: the accounting.cdr file rules.
      if (hot_pooled_ != 0) {
        moveOut(Target::kCfcard, false, cdr::FileClosureReason::kNormal, "");
      } else if (pooled_ >= cdr.file_max_records ||
                 cdr::cdrFileHeaderBytes(cdr.format) + pooled_bytes_ +
                         pooled_ * cdr::cdrRecordOverhead(cdr.format) >=
                     cdr.file_max_bytes) {
        moveOut(Target::kCfcard, false, cdr::FileClosureReason::kMaxCdrs, "");
      } else if (now_ns - oldest_pooled_ns_ >= int64_t{cdr.file_max_age_s} * kNsPerS) {
        moveOut(Target::kCfcard, false, cdr::FileClosureReason::kFileOpenTimeLimit, "");
      }
      if (pooled_ != 0 && pooled_ < cdr.file_max_records) {
        // what is left starts a new file's age now only if everything moved
      }
      if (pooled_ == 0) oldest_pooled_ns_ = now_ns;
    } else {
      const Target target =
          lb.cache.backup_mode == CacheBackupMode::kSftp || lb.cache.backup_mode == CacheBackupMode::kTftp
              ? Target::kOutbox
              : Target::kCfcard;
      const bool has_mode = lb.cache.backup_mode != CacheBackupMode::kNone;
      if (hot_pooled_ != 0) {
        moveOut(has_mode ? target : Target::kCfcard, true, cdr::FileClosureReason::kNormal, "");
      }
      const uint64_t threshold = info_.capacity * lb.cache.alarm_threshold_pct / 100;
      if (has_mode && (now_ns >= next_cache_backup_ns_ || pooled_ >= threshold)) {
        moveOut(target, false, cdr::FileClosureReason::kNormal, "");
      } else if (!has_mode && pooled_ >= info_.capacity) {
        // Mode none and the pool is full: the CF card takes the overflow rather than the bills
        // being lost (docs/storage.md).
        moveOut(Target::kCfcard, false, cdr::FileClosureReason::kNormal, "");
      }
    }
  }
  if (now_ns >= next_cache_backup_ns_) {
    next_cache_backup_ns_ = now_ns + int64_t{lb.cache.backup_interval_min} * kNsPerMin;
  }
  // CF card to the bill server.
  if (transfer_) {
    const CfCardUsage u = cfcard_->usage();
    if (now_ns >= next_cfcard_backup_ns_ ||
        (u.capacity_bytes && u.percent() >= lb.cfcard.alarm_threshold_pct && u.files != 0)) {
      const TransferStatusView ts = transfer_->status();
      if (ts.queued_files == 0) {
        queueCfcardTransfer(remoteStem());
      }
      if (now_ns >= next_cfcard_backup_ns_) {
        next_cfcard_backup_ns_ = now_ns + int64_t{lb.cfcard.backup_interval_min} * kNsPerMin;
      }
    }
  }
  evaluateAlarms(now_ns);
  compact();
}

void BillPool::setAlarm(AlarmState& a, bool on, const std::string& text, int64_t now_ns) {
  if (on == a.raised) {
    if (on) a.text = text;
    return;
  }
  a.raised = on;
  if (on) {
    a.since_unix_ns = now_ns;
    a.text = text;
    ++a.raised_count;
    logAlarm(text);
  } else {
    logInfo("cleared: " + a.text);
    a.text.clear();
    a.since_unix_ns = 0;
  }
}

void BillPool::evaluateAlarms(int64_t now_ns) {
  const LocalBillConfig& lb = config_.local_bill;
  // Hysteresis: raised at the threshold, cleared 5 points below it.
  if (info_.enabled && info_.capacity != 0) {
    const uint64_t pct = bills_.size() * 100 / info_.capacity;
    const uint32_t th = lb.cache.alarm_threshold_pct;
    if (pct >= th && lb.cache.backup_mode == CacheBackupMode::kNone) {
      setAlarm(info_.pool_alarm, true,
               "local bill pool " + std::to_string(pct) + "% full (alarm threshold " +
                   std::to_string(th) + "%, backup_mode none): clear bills with "
                   "'tallyctl local-bill cache backup cfcard'",
               now_ns);
    } else if (pct + 5 < th || lb.cache.backup_mode != CacheBackupMode::kNone) {
      setAlarm(info_.pool_alarm, false, "", now_ns);
    }
  }
  const CfCardUsage u = cfcard_->usage();
  if (u.capacity_bytes) {
    const uint32_t pct = u.percent();
    const uint32_t th = lb.cfcard.alarm_threshold_pct;
    if (pct >= th && (!transfer_ || transfer_->status().failing)) {
      setAlarm(info_.cfcard_alarm, true,
               "CF card " + cfcard_->dir() + " " + std::to_string(pct) + "% full (alarm threshold " +
                   std::to_string(th) + "%) and " +
                   (transfer_ ? "the bill server cannot be reached"
                              : "no bill server is configured") +
                   ": clear bills ('tallyctl local-bill cfcard backup' or 'reset --confirm')",
               now_ns);
    } else if (pct + 5 < th) {
      setAlarm(info_.cfcard_alarm, false, "", now_ns);
    }
    if (!cfcard_->wouldExceed(cfcardBytesAhead() + cdrFileHeaderBytesFor() + 1024)) {
      setAlarm(info_.full_alarm, false, "", now_ns);
    }
  }
  if (transfer_) {
    const TransferStatusView ts = transfer_->status();
    if (ts.failing && ts.consecutive_failures >= 1) {
      setAlarm(info_.transfer_alarm, true,
               std::string("bill server transfer (") + transfer_protocol_ + ") failing: " +
                   transferStatusName(ts.last_status) + ": " + ts.last_detail,
               now_ns);
    } else if (!ts.failing) {
      setAlarm(info_.transfer_alarm, false, "", now_ns);
    }
  }
  const JournalStats js = journal_->stats();
  if (js.failing) {
    setAlarm(info_.write_alarm, true, "bill journal write failed: " + js.last_error, now_ns);
    write_alarm_by_journal_ = true;
  } else if (write_alarm_by_journal_) {
    // The journal writes again: its alarm clears now, not only at the next file written (a
    // file write failing meanwhile keeps it raised under its own text).
    write_alarm_by_journal_ = false;
    if (!retry_target_) {
      setAlarm(info_.write_alarm, false, "", now_ns);
    }
  }
}

void BillPool::compact() {
  Journal::Ticket keep = journal_->lastAppended() + 1;
  if (!bills_.empty()) {
    for (const auto& [k, b] : bills_) keep = std::min(keep, b.ticket);
  }
  if (!intents_.empty()) keep = std::min(keep, intents_.begin()->first);
  if (checkpoint_begin_ != 0) keep = std::min(keep, checkpoint_begin_);
  // Bills older than the newest checkpoint pin the segments behind it: copy the oldest forward
  // once the journal holds far more than what is still needed (docs/storage.md).
  const JournalStats js = journal_->stats();
  const uint64_t needed = pooled_bytes_ + info_.checkpoint_records * 256;
  if (checkpoint_begin_ != 0 && keep < checkpoint_begin_ && js.disk_bytes > 4 * needed + (256u << 20)) {
    size_t copied = 0;
    for (auto& [k, b] : bills_) {
      if (b.ticket >= checkpoint_begin_ || b.intent != 0) continue;
      Out o;
      putBill(o, b.info, b.data);
      auto t = journal_->append(kEntryBill, o.data());
      if (!t) break;
      b.ticket = t.value();
      if (++copied >= 4096) break;
    }
  }
  journal_->releaseBefore(keep);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

bool BillPool::checkpointDue(int64_t now_ns) const { return now_ns >= next_checkpoint_ns_; }

void BillPool::checkpoint(const std::vector<cdr::PgwRecord>& open_records, int64_t now_ns) {
  next_checkpoint_ns_ =
      now_ns + int64_t{config_.local_bill.bill_pool.checkpoint_interval_s} * kNsPerS;
  const uint64_t id = ++checkpoint_id_;
  Out begin;
  begin.u64(id);
  begin.u64(last_lsn_);
  begin.u32(last_file_seq_);
  auto bt = journal_->append(kEntryCheckpointBegin, begin.data());
  if (!bt) {
    return;
  }
  uint32_t total = 0;
  Out part;
  uint32_t in_part = 0;
  std::vector<uint8_t> items;
  auto flush = [&] {
    Out p;
    p.u64(id);
    p.u32(in_part);
    std::vector<uint8_t>& v = p.data();
    v.insert(v.end(), items.begin(), items.end());
    journal_->append(kEntryCheckpointPart, v);
    items.clear();
    in_part = 0;
  };
  for (const cdr::PgwRecord& r : open_records) {
    scratch_.clear();
    cdr::encodePgwRecord(r, *tz_, scratch_);
    Out item;
    putInfo(item, infoOf(r, false));
    item.bytes(scratch_.bytes());
    items.insert(items.end(), item.data().begin(), item.data().end());
    ++in_part;
    ++total;
    if (items.size() >= kCheckpointPartBytes) {
      flush();
    }
  }
  if (in_part != 0) {
    flush();
  }
  Out end;
  end.u64(id);
  end.u32(total);
  if (journal_->append(kEntryCheckpointEnd, end.data())) {
    checkpoint_begin_ = bt.value();
    info_.last_checkpoint_unix_ns = now_ns;
    info_.checkpoint_records = total;
  }
}

// ---------------------------------------------------------------------------------------------
// Operator

Result<std::string> BillPool::backupCache(std::optional<CacheBackupMode> target) {
  const LocalBillConfig& lb = config_.local_bill;
  CacheBackupMode mode = target ? *target : lb.cache.backup_mode;
  if (mode == CacheBackupMode::kNone) {
    return Error{"local_bill.cache.backup_mode is none: give a target (cfcard, sftp or tftp)"};
  }
  if ((mode == CacheBackupMode::kSftp || mode == CacheBackupMode::kTftp)) {
    if (!transfer_) {
      return Error{"no bill server is configured (local_aaa_server.bill_server)"};
    }
    const char* want = mode == CacheBackupMode::kSftp ? "sftp" : "tftp";
    if (transfer_protocol_ != want) {
      return Error{std::string("the bill server is reached by ") + transfer_protocol_ +
                   ", not " + want};
    }
  }
  const uint64_t n = pooled_;
  if (n == 0) {
    return std::string("the local bill pool holds no bill to back up");
  }
  moveOut(mode == CacheBackupMode::kCfcard ? Target::kCfcard : Target::kOutbox, false,
          cdr::FileClosureReason::kManual, "");
  const uint64_t moved = n - pooled_;
  if (moved == 0) {
    return Error{"no bill could be moved: the CF card " + cfcard_->dir() +
                 " has no room (display local-bill information)"};
  }
  return "moving " + countText(moved, "bill") + " to " +
         (mode == CacheBackupMode::kCfcard ? "the CF card" : "the bill server") +
         (pooled_ != 0 ? " (" + countText(pooled_, "bill") + " stay: the CF card is full)" : "");
}

Result<std::string> BillPool::backupCfcard(const std::string& name) {
  if (!transfer_) {
    return Error{"no bill server is configured (local_aaa_server.bill_server)"};
  }
  if (name.size() > 30 || name.find('/') != std::string::npos || name == "." || name == "..") {
    return Error{"file name '" + name + "': 1-30 characters, no '/'"};
  }
  for (char c : name) {
    if (c <= ' ' || c > '~') {
      return Error{"file name: printable ASCII without spaces only"};
    }
  }
  const CfCardUsage u = cfcard_->usage();
  // Files waiting in the outbox (or on the card) behind a backoff are tried now either way.
  transfer_->kick();
  if (u.files == 0) {
    return std::string("the CF card holds no bill file");
  }
  queueCfcardTransfer(name.empty() ? remoteStem() : name);
  transfer_->kick();
  return "sending " + countText(u.files, "file") + " (" + countText(u.bills, "bill") + ", " +
         std::to_string(u.bytes) + " octets) to the bill server by " + transfer_protocol_;
}

Result<CfCardDeletion> BillPool::resetCfcard() { return cfcard_->reset(); }

// ---------------------------------------------------------------------------------------------
// Views and shutdown

PoolInformation BillPool::information() const {
  PoolInformation i = info_;
  i.bills = bills_.size();
  i.moving = bills_.size() - pooled_;
  const Journal::Ticket committed = journal_->committed();
  i.committed = 0;
  for (const auto& [k, b] : bills_) {
    if (b.ticket <= committed) ++i.committed;
  }
  i.bill_bytes = pooled_bytes_;
  i.average_bill_bytes = pooled_ ? pooled_bytes_ / pooled_ : 0;
  i.cfcard = cfcard_->usage();
  i.journal = journal_->stats();
  if (transfer_) {
    i.transfer = transfer_->status();
    i.transfer_protocol = transfer_protocol_;
    i.next_cfcard_backup_unix_ns = next_cfcard_backup_ns_;
  }
  if (info_.enabled && config_.local_bill.cache.backup_mode != CacheBackupMode::kNone) {
    i.next_cache_backup_unix_ns = next_cache_backup_ns_;
  }
  return i;
}

std::vector<CachedBill> BillPool::cache(uint64_t start, uint64_t count) const {
  std::vector<CachedBill> out;
  if (start == 0) return out;
  const Journal::Ticket committed = journal_->committed();
  uint64_t pos = 0;
  for (const auto& [k, b] : bills_) {
    if (++pos < start) continue;
    if (out.size() >= count) break;
    CachedBill c;
    c.info = b.info;
    c.status = b.intent != 0 ? "moving" : b.ticket <= committed ? "committed" : "pending";
    out.push_back(std::move(c));
  }
  return out;
}

bool BillPool::waitCommitted(int64_t timeout_ns) const {
  return journal_->waitCommitted(journal_->lastAppended(), timeout_ns);
}

bool BillPool::waitIdle(int64_t timeout_ns) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
  while (true) {
    finishWrites();
    handOverCommitted();
    if (jobs_outstanding_ == 0 && intents_.empty()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(5), [this] { return !done_.empty(); });
  }
}

void BillPool::shutdown() {
  if (!info_.enabled && pooled_ != 0) {
    moveOut(Target::kCfcard, false, cdr::FileClosureReason::kManual, "");
  }
  waitIdle(10 * kNsPerS);
  // Intents whose done is not committed yet are settled by the next start.
  journal_->waitCommitted(journal_->lastAppended(), 5 * kNsPerS);
  handOverCommitted();
}

}  // namespace tally::bill
