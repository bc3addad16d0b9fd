#pragma once
// The biller: glue between the poller's sessions and the charging engine, the CDR files on the
// CF card (through the bill-storage seam, bill_store.h) and the persistent sequence numbers
// (in node.state_dir). Control-plane thread only.
#include <memory>

#include "controlplane/storage/bill_store.h"
#include "controlplane/cdr/cdr_file.h"
#include "controlplane/charging/charging.h"
#include "controlplane/poller.h"
#include "controlplane/storage/sequence_store.h"
#include "shared/clock.h"
#include "shared/config.h"
#include "shared/result.h"
#include "shared/timezone.h"

namespace tally {

class Biller final : public SessionObserver {
 public:
  // Loads the time zone, opens the CDR directory (FlashBillStore) and the sequence store in
  // node.state_dir (moving a state file of an older release over from the CF card directory).
  // An error names what failed (time zone, directory, state file).
  static Result<std::unique_ptr<Biller>> open(const Config& config, const Clock& clock);
  // The sequence store of node.state_dir, after adopting <cfcard_path>/.tally-sequence
  // (SequenceStore::adoptLegacyFile, logged once). Refuses a state directory that is the CF
  // card directory.
  static Result<std::unique_ptr<SequenceStore>> openSequenceStore(const Config& config);

  void onOpen(const Session& s, int64_t now_ns) override;
  void onUsage(const Session& s, uint32_t rating_group, const FlowCounters& delta,
               int64_t now_ns) override;
  void onServingNode(const Session& s, const IpAddress& node, int64_t now_ns) override;
  void onQosChange(const Session& s, uint8_t qci, int64_t now_ns) override;
  void onEnd(const Session& s, EndCause cause, int64_t now_ns) override;
  void onTick(int64_t now_ns) override;

  // At daemon stop, after the poller's final harvest: close the open file.
  void shutdown();

  const ChargingEngine& engine() const { return *engine_; }
  const cdr::CdrFileWriter& writer() const { return *writer_; }
  const Config& config() const { return config_; }

  static cdr::Cause causeOf(EndCause c);

 private:
  Biller(const Config& config, TimeZonePtr tz, BillStorePtr store,
         std::unique_ptr<SequenceStore> seq, std::unique_ptr<cdr::CdrFileWriter> writer);

  Config config_;
  TimeZonePtr tz_;
  BillStorePtr store_;  // outlives the writer (declared before it)
  std::unique_ptr<SequenceStore> seq_;
  std::unique_ptr<cdr::CdrFileWriter> writer_;
  std::unique_ptr<ChargingEngine> engine_;
};

}  // namespace tally
