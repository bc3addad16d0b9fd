#pragma once
// A BillStore for tests: keeps bills in memory, records every call, fails on demand.
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "controlplane/storage/bill_store.h"

namespace tally::testing {

class FakeBillStore final : public BillStore {
 public:
  struct StoreCall {
    std::string name;
    std::vector<uint8_t> bytes;
    bool ok = false;
  };

  // Every store() call, in order (failed ones too).
  std::vector<StoreCall> calls;
  // What was taken, by name.
  std::map<std::string, std::vector<uint8_t>> stored;
  // While true, store() fails with `error` (nothing is taken).
  bool fail = false;
  // store() calls still to fail before it succeeds again (counts down).
  int fail_next = 0;
  std::string error = "fake store: No space left on device";

  // Leftovers of a "crash", by name; unreadable ones fail readLeftover().
  std::map<std::string, std::vector<uint8_t>> leftover_files;
  std::set<std::string> unreadable;
  std::vector<std::string> finished;
  std::vector<std::string> set_aside;

  const std::string& location() const override { return location_; }

  Result<bool> store(const std::string& name, std::span<const uint8_t> bytes) override {
    StoreCall c{name, std::vector<uint8_t>(bytes.begin(), bytes.end()), false};
    if (fail || fail_next > 0) {
      if (fail_next > 0) {
        --fail_next;
      }
      calls.push_back(std::move(c));
      return Error{error + " (" + name + ")"};
    }
    c.ok = true;
    stored[name] = c.bytes;
    calls.push_back(std::move(c));
    return true;
  }

  Result<std::vector<std::string>> leftovers() override {
    std::vector<std::string> names;
    for (const auto& [name, bytes] : leftover_files) {
      names.push_back(name);
    }
    return names;
  }
  Result<std::vector<uint8_t>> readLeftover(const std::string& name) override {
    auto it = leftover_files.find(name);
    if (it == leftover_files.end() || unreadable.count(name) != 0) {
      return Error{"fake store: cannot read " + name};
    }
    return it->second;
  }
  Result<bool> finishLeftover(const std::string& name) override {
    auto it = leftover_files.find(name);
    if (it == leftover_files.end()) {
      return Error{"fake store: no leftover " + name};
    }
    stored[name] = it->second;
    leftover_files.erase(it);
    finished.push_back(name);
    return true;
  }
  Result<bool> setAsideLeftover(const std::string& name) override {
    if (leftover_files.erase(name) == 0) {
      return Error{"fake store: no leftover " + name};
    }
    set_aside.push_back(name);
    return true;
  }

  size_t failedCalls() const {
    size_t n = 0;
    for (const StoreCall& c : calls) {
      n += c.ok ? 0 : 1;
    }
    return n;
  }

 private:
  std::string location_ = "fake://cfcard";
};

}  // namespace tally::testing
