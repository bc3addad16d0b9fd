#pragma once
// An AccountingClient for unit tests of controlplane/radius/accounting.h: keeps every submitted
// request, completes them when the test says so (answer, no answer, ...), and reports
// statistics the test sets. Single-threaded.
#include <algorithm>
#include <vector>

#include "controlplane/radius/accounting.h"

namespace tally::testing {

class FakeAccountingClient final : public radius::AccountingClient {
 public:
  struct Submitted {
    radius::Request request;
    bool completed = false;
  };

  // Accounting-On/Off are kept apart (onOff()) and answered at once, so that requests()
  // holds the sessions' requests only.
  void submit(std::vector<radius::Request>& batch) override {
    for (radius::Request& r : batch) {
      if (r.type == radius::AcctStatusType::kAccountingOn ||
          r.type == radius::AcctStatusType::kAccountingOff) {
        radius::Completion c;
        c.tag = r.tag;
        c.type = r.type;
        c.outcome = radius::Outcome::kAnswered;
        ready_.push_back(c);
        on_off_.push_back(std::move(r));
        continue;
      }
      submitted_.push_back({std::move(r), false});
    }
    batch.clear();
  }
  const std::vector<radius::Request>& onOff() const { return on_off_; }
  void drainCompletions(std::vector<radius::Completion>& out) override {
    out.insert(out.end(), ready_.begin(), ready_.end());
    ready_.clear();
  }
  uint64_t pending() const override {
    return uint64_t(std::count_if(submitted_.begin(), submitted_.end(),
                                  [](const Submitted& s) { return !s.completed; })) +
           ready_.size();
  }
  radius::ClientStats stats() const override { return stats_; }
  void stop() override {
    ++stops_;
    completeAll(radius::Outcome::kShutdown);
  }

  // Completes submitted request i (index into requests()) with `o`.
  void complete(size_t i, radius::Outcome o) {
    Submitted& s = submitted_.at(i);
    if (s.completed) {
      return;
    }
    s.completed = true;
    radius::Completion c;
    c.tag = s.request.tag;
    c.session = s.request.session;
    c.type = s.request.type;
    c.outcome = o;
    ready_.push_back(c);
  }
  void completeAll(radius::Outcome o) {
    for (size_t i = 0; i < submitted_.size(); ++i) {
      complete(i, o);
    }
  }
  // Index of the last request of `type` for `session`, or -1.
  int last(uint64_t session, radius::AcctStatusType type) const {
    for (size_t i = submitted_.size(); i-- > 0;) {
      if (submitted_[i].request.session == session && submitted_[i].request.type == type) {
        return int(i);
      }
    }
    return -1;
  }
  size_t count(radius::AcctStatusType type) const {
    return size_t(std::count_if(submitted_.begin(), submitted_.end(), [&](const Submitted& s) {
      return s.request.type == type;
    }));
  }
  const std::vector<Submitted>& requests() const { return submitted_; }
  radius::ClientStats& mutableStats() { return stats_; }
  int stops() const { return stops_; }

 private:
  std::vector<Submitted> submitted_;
  std::vector<radius::Request> on_off_;
  std::vector<radius::Completion> ready_;
  radius::ClientStats stats_;
  int stops_ = 0;
};

}  // namespace tally::testing
