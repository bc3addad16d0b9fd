#pragma once
// The local bill pool (semantics.md §3, docs/storage.md): where every closed bill goes the
// moment the biller closes it, and the one place that decides where it goes next.
//
//   ChargingEngine --emit--> BillPool --journal (group commit, journal.h)--> committed
//        pooled bills --(trigger)--> TS 32.297 files on the CF card  --transfer--> bill server
//                                \-> files in the outbox (cache mode sftp/tftp) --transfer-/
//
// - emit() encodes the record, appends it to the journal and returns; the poll never waits for
//   the disk. The bill is committed (survives kill -9 and a power cut) once the journal's commit
//   thread has fsync'd it: within commit_delay_ms + one fsync.
// - A bill leaves the pool only after its target holds it durably. Moving bills into a file is
//   journaled as an intent (file name, the bills' numbers) before the file is written by the
//   storage thread and as done after it was renamed into place, so a crash at any moment neither
//   loses nor duplicates a bill: at restart an intent without done is completed when its file is
//   on the card, else undone (the bills are pooled again). Files are handed to the transfer
//   worker only after their done is committed.
// - With the pool disabled (local_bill_pool.enable: false) the pool is invisible: committed
//   bills go on into CF card files by the accounting.cdr file rules (records, bytes, age, hot
//   billing), as before, only durable from the moment they close.
// - Open records: every checkpoint_interval the open records' usage is journaled; at restart
//   each checkpointed record that did not close later is closed as a partial record with cause
//   abnormalRelease and that usage.
// - Full: when the CF card is full and the bill server cannot be reached (none configured, or
//   the transfer is failing), new bills that find no room are dropped (drop-new) or the oldest
//   CF card files are deleted (drop-oldest); both are counted in bills and octets by cause and
//   alarmed once per crossing.
//
// Threads: every method runs on the control-plane thread except where noted; the pool owns a
// storage thread (CF card and outbox writes) and, with a bill server, the transfer worker.
#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "controlplane/bill/cfcard.h"
#include "controlplane/bill/journal.h"
#include "controlplane/bill/local_bill.h"
#include "controlplane/bill/transfer.h"
#include "controlplane/bill/transport.h"
#include "controlplane/cdr/ber.h"
#include "controlplane/cdr/cdr_file.h"
#include "controlplane/charging/charging.h"
#include "controlplane/storage/bill_store.h"
#include "controlplane/storage/sequence_store.h"
#include "shared/clock.h"
#include "shared/config.h"
#include "shared/result.h"
#include "shared/timezone.h"

namespace tally::bill {

// What a bill is: a CDR (the 3GPP ledger) or a local bill (the RADIUS fallback ledger,
// local_bill.h), which never enters the CDR bill balance.
enum class BillKind : uint8_t { kCdr = 0, kLocal = 1 };
const char* billKindName(BillKind k);  // "cdr", "local"

// What `display local-bill cache` shows of one bill; journaled with it.
struct BillInfo {
  uint64_t number = 0;          // localSequenceNumber
  uint64_t session_id = 0;
  std::string user_name;        // MSISDN, else IMSI, else "" (unknown)
  int64_t start_ns = 0;         // record opening time
  int64_t stop_ns = 0;          // record closing time
  IpAddress ip;
  uint8_t prefix_length = 0;
  uint64_t ul_octets = 0;
  uint64_t dl_octets = 0;
  uint64_t ul_packets = 0;
  uint64_t dl_packets = 0;
  uint32_t charging_id = 0;
  uint32_t record_index = 1;    // recordSequenceNumber, 1 when the record is the only one
  uint8_t cause = 0;            // causeForRecClosing
  bool hot = false;             // hot billing: leaves the pool at once
  bool recovered = false;       // closed at restart from a checkpoint (abnormalRelease)
  BillKind kind = BillKind::kCdr;
  // Local bills only (kind kLocal); user_name is the User-Name sent, charging_id 0, record_index
  // 0, cause 0.
  LocalBillReason reason = LocalBillReason::kStopUnanswered;
  std::string acct_session_id;
  uint32_t terminate_cause = 0;
  bool isLocal() const { return kind == BillKind::kLocal; }
};

// Why bills were dropped (counted apart).
enum class DropCause : uint8_t {
  kCfcardFull = 0,     // drop-new: CF card full, server unreachable
  kDropOldest,         // drop-oldest: stored files deleted to make room
  kEncoding,           // the record could not be encoded (cannot happen with tally's records)
  kJournal,            // the journal refused it (its buffer full: the disk is failing)
  kCount
};
const char* dropCauseName(DropCause c);

struct DropCounters {
  uint64_t bills = 0;
  uint64_t ul_octets = 0;
  uint64_t dl_octets = 0;
};

// Local bills (the RADIUS fallback ledger, docs/local-bill.md), counted apart from the CDRs:
// their usage duplicates usage the CDRs carry, so none of it is in the CDR bill balance.
// emitted = kept + dropped (bills and octets) holds on its own.
struct LocalBillCounters {
  uint64_t emitted = 0;          // emitLocalBill calls since start
  uint64_t emitted_octets = 0;   // uplink + downlink
  uint64_t kept = 0;             // entered the journal
  uint64_t kept_octets = 0;
  uint64_t dropped = 0;          // at emit (any cause; drop-oldest is counted with the CDRs'
  uint64_t dropped_octets = 0;   // drop-oldest bills, its octets are CDR octets only)
  // emitted per reason, indexed by the reason's value (0 unused).
  std::array<uint64_t, kLocalBillReasonMax + 1> by_reason{};
  bool balanced() const {
    return emitted == kept + dropped && emitted_octets == kept_octets + dropped_octets;
  }
};

struct AlarmState {
  bool raised = false;
  int64_t since_unix_ns = 0;
  std::string text;
  uint64_t raised_count = 0;   // times raised over the daemon's life
};

// display local-bill information
struct PoolInformation {
  bool enabled = false;
  uint64_t bills = 0;            // in the pool (committed or not), not yet in a file
  uint64_t committed = 0;        // of those, durable
  uint64_t moving = 0;           // of those, in a file being written
  uint64_t capacity = 0;         // 0 when disabled (no limit of its own)
  uint32_t alarm_threshold = 0;
  uint64_t bill_bytes = 0;       // bytes of the pooled bills (encoded records)
  uint64_t average_bill_bytes = 0;
  CfCardUsage cfcard;
  uint32_t cfcard_alarm_threshold = 0;
  std::array<DropCounters, size_t(DropCause::kCount)> dropped{};
  uint64_t emitted = 0;          // CDR bills the biller closed since start (no local bill)
  // The bill balance of this run (octets, uplink + downlink, of the traffic volumes):
  // emitted_octets = kept_octets + the octets dropped at emit (cfcard-full, journal, encoding).
  // drop-oldest deletes bills that were kept: its octets are a term of their own.
  uint64_t emitted_octets = 0;
  uint64_t kept_octets = 0;      // of the emitted bills, entered the journal
  // Octets dropped at emit (every cause but drop-oldest), and whether the balance holds.
  uint64_t droppedAtEmitOctets() const;
  bool balanced() const { return emitted_octets == kept_octets + droppedAtEmitOctets(); }
  LocalBillCounters local;       // local bills: not in emitted, the balance or dropped[]
  uint64_t files_written = 0;    // CF card / outbox files
  uint64_t write_errors = 0;
  std::string last_write_error;
  JournalStats journal;
  JournalRecovery recovery;
  uint64_t recovered_open_records = 0;  // closed at start from the last checkpoint
  uint64_t intents_completed = 0;       // at start: files found written
  uint64_t intents_undone = 0;          // at start: files not written, bills pooled again
  int64_t last_checkpoint_unix_ns = 0;
  uint64_t checkpoint_records = 0;
  AlarmState pool_alarm, cfcard_alarm, full_alarm, write_alarm, transfer_alarm;
  std::optional<TransferStatusView> transfer;  // none: no bill server
  std::string transfer_protocol;
  int64_t next_cache_backup_unix_ns = 0;   // 0: none scheduled
  int64_t next_cfcard_backup_unix_ns = 0;
};

struct CachedBill {
  BillInfo info;
  const char* status = "";  // "pending" (not yet durable), "committed", "moving"
};

class BillPool final : public RecordSink {
 public:
  // Locks and opens the CF card and the journal (<state_dir>/bill-journal), replays it, settles
  // the intents a crash left open, continues the numbering where the journal ends, closes the
  // checkpointed open records, and starts the storage thread and (with a transport) the
  // transfer worker. transport: null when no bill server is configured.
  static Result<std::unique_ptr<BillPool>> open(const Config& config, TimeZonePtr tz,
                                                SequenceStore& seq, const Clock& clock,
                                                std::unique_ptr<Transport> transport);
  // Stops the threads; what is journaled stays for the next start.
  ~BillPool() override;

  void emit(cdr::PgwRecord record, bool flush_now) override;
  // A local bill (local_bill.h; the RADIUS accounting calls it when a session's usage could
  // not be accounted at the RADIUS server). Control-plane thread, like emit(). Numbers it with
  // the next localSequenceNumber (the CDRs' numbering: the numbers in the files stay gap-free),
  // encodes it in accounting.cdr.format, journals it (durable within commit_delay_ms + one
  // fsync, replayed at restart exactly once) and from then on it moves like any bill (pool ->
  // CF card / outbox files -> bill server; the drop rules apply, counted in information().local).
  // Returns the bill number, 0 when the bill was dropped (full, journal refused, or a field
  // the record cannot carry: localBillProblem()).
  uint64_t emitLocalBill(LocalBill bill);
  // Every poll: finished writes, triggers (file rules, intervals, thresholds), alarms,
  // compaction. now_ns: wall clock.
  void tick(int64_t now_ns);
  bool checkpointDue(int64_t now_ns) const;
  // Journals the open records (ChargingEngine::snapshotOpen) as the new checkpoint.
  void checkpoint(const std::vector<cdr::PgwRecord>& open_records, int64_t now_ns);
  // Clean stop: with the pool disabled the bills are written into a last file (reason manual);
  // waits (bounded) for the journal and the storage thread. Pooled bills stay journaled.
  void shutdown();

  // local-bill cache backup [TARGET]: moves every pooled bill to TARGET (or the configured
  // backup_mode). Refused (error with the reason) when the mode is none and no target is given,
  // or the target needs a bill server that is not configured.
  Result<std::string> backupCache(std::optional<CacheBackupMode> target);
  // local-bill cfcard backup [NAME]: every CF card file to the bill server now, under NAME-...
  Result<std::string> backupCfcard(const std::string& name);
  // local-bill cfcard reset --confirm
  Result<CfCardDeletion> resetCfcard();

  PoolInformation information() const;
  // Bills START..START+COUNT-1 of the pool in order (1-based).
  std::vector<CachedBill> cache(uint64_t start, uint64_t count) const;
  uint64_t size() const { return bills_.size(); }
  const Config& config() const { return config_; }
  // Waits until everything emitted so far is committed (tests, benchmarks).
  bool waitCommitted(int64_t timeout_ns) const;
  // Waits until no file write is outstanding (tests).
  bool waitIdle(int64_t timeout_ns);

 private:
  struct Bill {
    BillInfo info;
    std::vector<uint8_t> data;   // the record as it goes into a file (BER CDR or CSV line)
    Journal::Ticket ticket = 0;  // of its latest BILL entry
    uint64_t intent = 0;         // ticket of the intent moving it; 0: pooled
  };
  enum class Target : uint8_t { kCfcard = 0, kOutbox = 1 };
  struct Intent {
    Journal::Ticket ticket = 0;
    Target target = Target::kCfcard;
    std::string name;
    uint32_t file_sequence = 0;
    uint64_t bytes = 0;
    uint64_t bills = 0;            // in the file (orders is cleared once it is written)
    bool usage_known = false;      // the octets of its bills (not for intents replayed at start)
    uint64_t ul_octets = 0;
    uint64_t dl_octets = 0;
    std::vector<uint64_t> orders;  // bills_ keys
    bool written = false;          // the storage thread finished it
    bool scanned = false;          // found whole at start: the CF card's scan already has it
    Journal::Ticket done_ticket = 0;
    std::string stem;              // remote name stem for the transfer
  };
  struct WriteJob {
    Journal::Ticket intent = 0;
    Target target = Target::kCfcard;
    std::string name;
    std::vector<uint8_t> bytes;
    uint64_t bills = 0;
  };
  struct WriteDone {
    Journal::Ticket intent = 0;
    bool ok = false;
    std::string error;
  };
  struct CheckpointItem {
    BillInfo info;
    std::vector<uint8_t> ber;  // the snapshot record (number 0), always BER
  };
  struct Replay;

  BillPool(const Config& config, TimeZonePtr tz, SequenceStore& seq, const Clock& clock);
  Result<bool> start(std::unique_ptr<Transport> transport);
  void applyReplay(Replay& r);

  // Adds an encoded bill (numbered) to the pool and the journal.
  bool admit(BillInfo info, std::vector<uint8_t> data);
  bool dropIfFull(const BillInfo& info, uint64_t bytes);
  void drop(DropCause cause, const BillInfo& info);
  // Moves pooled bills into files: all of them (cut by the file rules) or, with only_hot, the
  // hot ones. reason: the closure reason of the last file.
  void moveOut(Target target, bool only_hot, cdr::FileClosureReason reason,
               const std::string& stem);
  bool cfcardRoomFor(uint64_t bytes);
  uint64_t cfcardBytesInFlight() const;
  // What will be on the CF card once the files being written and the pooled bills bound for
  // it (all of them, unless the cache sends them to the bill server) are there.
  uint64_t cfcardBytesAhead() const;
  // About how many bills of the pooled bills' average size still fit on the card.
  uint64_t cfcardBillsThatFit(uint64_t bill_bytes) const;
  void finishWrites();
  void journalDone(Intent& in, bool ok);
  void handOverCommitted();
  void evaluateAlarms(int64_t now_ns);
  void setAlarm(AlarmState& a, bool on, const std::string& text, int64_t now_ns);
  void compact();
  void storageThread();
  void queueCfcardTransfer(const std::string& stem);
  // At start: the outbox's files and the CF card files whose transfer had begun, queued again.
  void resumeTransfers();
  // Remote file name stem: bill_server.filename, else node.id.
  std::string remoteStem() const;
  size_t cdrFileHeaderBytesFor() const;

  const Config& config_;
  TimeZonePtr tz_;
  SequenceStore& seq_;
  const Clock& clock_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<DirectoryLock> state_lock_;
  std::unique_ptr<CfCard> cfcard_;
  BillStorePtr cf_store_;
  BillStorePtr outbox_store_;
  std::string outbox_dir_;
  std::unique_ptr<TransferWorker> transfer_;
  std::string transfer_protocol_;
  ber::DerWriter scratch_;

  std::map<uint64_t, Bill> bills_;                 // by order of arrival (key: first ticket)
  std::unordered_map<uint64_t, uint64_t> by_lsn_;  // number -> key in bills_
  std::map<Journal::Ticket, Intent> intents_;
  uint64_t pooled_ = 0;        // bills_ not in an intent
  uint64_t pooled_bytes_ = 0;
  uint64_t hot_pooled_ = 0;
  int64_t oldest_pooled_ns_ = 0;   // wall time the oldest pooled bill arrived (file age)
  uint64_t last_lsn_ = 0;          // highest bill number journaled
  uint32_t last_file_seq_ = 0;
  uint64_t lost_unreported_ = 0;   // dropped since the last file header
  Journal::Ticket checkpoint_begin_ = 0;
  int64_t next_checkpoint_ns_ = 0;
  uint64_t checkpoint_id_ = 0;
  int64_t next_cache_backup_ns_ = 0;
  int64_t next_cfcard_backup_ns_ = 0;
  int64_t next_write_retry_ns_ = 0;
  std::optional<Target> retry_target_;  // where the last failed write went: tried again
  bool write_alarm_by_journal_ = false;  // the write alarm was raised by the failing journal

  PoolInformation info_;

  // Storage thread.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WriteJob> jobs_;      // guarded by mu_
  std::deque<WriteDone> done_;     // guarded by mu_
  uint64_t jobs_outstanding_ = 0;  // control thread only
  bool stop_ = false;              // guarded by mu_
  std::thread storage_;
};

}  // namespace tally::bill
