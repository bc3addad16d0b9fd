#include "controlplane/storage/bill_store.h"

#include "controlplane/storage/durable_file.h"

namespace tally {
namespace {

constexpr const char* kTmpSuffix = ".tmp";
constexpr const char* kBrokenSuffix = ".broken";
// Bill files: what a leftover <name>.tmp must end in to be one of ours.
constexpr const char* kBillSuffixes[] = {".cdr", ".csv"};

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<std::unique_ptr<FlashBillStore>> FlashBillStore::open(const std::string& dir) {
  if (dir.empty()) {
    return Error{"local_bill.cfcard_path is empty"};
  }
  auto d = ensureDirectory(dir, 0750);
  if (!d) {
    return d.error();
  }
  auto probe = probeWritable(dir);
  if (!probe) {
    return Error{"CDR directory " + probe.error().message};
  }
  return std::unique_ptr<FlashBillStore>(new FlashBillStore(dir));
}

Result<bool> FlashBillStore::store(const std::string& name, std::span<const uint8_t> bytes) {
  return writeFileDurably(dir_, name, bytes);
}

Result<std::vector<std::string>> FlashBillStore::leftovers() {
  auto names = listDirectory(dir_);
  if (!names) {
    return names.error();
  }
  std::vector<std::string> out;
  for (const std::string& n : names.value()) {
    if (!endsWith(n, kTmpSuffix)) {
      continue;
    }
    std::string bill = n.substr(0, n.size() - std::string(kTmpSuffix).size());
    for (const char* suffix : kBillSuffixes) {
      if (endsWith(bill, suffix)) {
        out.push_back(bill);
        break;
      }
    }
  }
  return out;
}

Result<std::vector<uint8_t>> FlashBillStore::readLeftover(const std::string& name) {
  auto text = readFileWhole(dir_ + "/" + name + kTmpSuffix);
  if (!text) {
    return text.error();
  }
  return std::vector<uint8_t>(text.value().begin(), text.value().end());
}

Result<bool> FlashBillStore::finishLeftover(const std::string& name) {
  auto synced = fsyncFile(dir_ + "/" + name + kTmpSuffix);
  if (!synced) {
    return synced;
  }
  return renameDurably(dir_, name + kTmpSuffix, name);
}

Result<bool> FlashBillStore::setAsideLeftover(const std::string& name) {
  return renameDurably(dir_, name + kTmpSuffix, name + kTmpSuffix + kBrokenSuffix);
}

}  // namespace tally
