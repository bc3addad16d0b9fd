#pragma once
// The biller: glue between the poller's sessions and the charging engine, the local bill pool
// (controlplane/bill/bill_pool.h: journal, CF card, bill server) and the persistent sequence
// numbers (in node.state_dir). Control-plane thread only.
#include <memory>

#include "controlplane/bill/bill_pool.h"
#include "controlplane/bill/transport.h"
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
  // Loads the time zone, opens the sequence store in node.state_dir (moving a state file of an
  // older release over from the CF card directory), the bill server's transport (the password
  // decrypted with bill_server.key_file) and the bill pool. An error names what failed (time
  // zone, state file, key, CF card, journal).
  static Result<std::unique_ptr<Biller>> open(const Config& config, const Clock& clock);
  // The bill server's transport from local_aaa_server (null when no bill server is configured).
  static Result<std::unique_ptr<bill::Transport>> openTransport(const Config& config);
  // The sequence store of node.state_dir, after adopting <cfcard_path>/.tally-sequence
  // (SequenceStore::adoptLegacyFile, logged once). Refuses a state directory that is the CF
  // card directory.
  static Result<std::unique_ptr<SequenceStore>> openSequenceStore(const Config& config);

  void onOpen(const Session& s, int64_t now_ns) override;
  void onUsage(const Session& s, uint32_t rating_group, const FlowCounters& delta,
               int64_t now_ns) override;
  void onServingNode(const Session& s, const IpAddress& node, int64_t now_ns) override;
  void onQosChange(const Session& s, uint8_t qci, int64_t now_ns) override;
  std::optional<uint8_t> chargingQci(const Session& s) const override;
  void onEnd(const Session& s, EndCause cause, int64_t now_ns) override;
  void onTick(int64_t now_ns) override;
  void onIdentity(const Session& s, uint8_t qci, int64_t now_ns) override;

  // At daemon stop, after the poller's final harvest: the pool's last file (pool disabled) and
  // what is in flight committed.
  void shutdown();

  const ChargingEngine& engine() const { return *engine_; }
  const bill::BillPool& pool() const { return *pool_; }
  bill::BillPool& pool() { return *pool_; }
  const Config& config() const { return config_; }

  static cdr::Cause causeOf(EndCause c);

 private:
  Biller(const Config& config, TimeZonePtr tz, std::unique_ptr<SequenceStore> seq);

  Config config_;
  TimeZonePtr tz_;
  std::unique_ptr<SequenceStore> seq_;   // outlives the pool and the engine
  std::unique_ptr<bill::BillPool> pool_;
  std::unique_ptr<ChargingEngine> engine_;
};

}  // namespace tally
