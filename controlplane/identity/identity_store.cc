#include "controlplane/identity/identity_store.h"

#include <chrono>
#include <set>

#include "controlplane/log.h"
#include "controlplane/storage/durable_file.h"

namespace tally {

Result<std::unique_ptr<IdentityStore>> IdentityStore::open(const std::string& dir,
                                                           const Config& config,
                                                           const CountingPlan& plan,
                                                           Loaded& loaded) {
  auto d = ensureDirectory(dir, 0750);
  if (!d) {
    return Error{"node.state_dir: " + d.error().message};
  }
  const std::string path = dir + "/" + kFileName;
  auto exists = fileExists(path);
  if (!exists.ok()) {
    return Error{exists.error().message};
  }
  std::map<std::string, std::string> initial;
  if (exists.value()) {
    auto text = readFileWhole(path);
    if (!text.ok()) {
      return Error{text.error().message};
    }
    std::set<std::string> statics;
    for (const StaticSubscriber& s : config.subscribers.statics) {
      statics.insert(formatIp(plan.keyOf(s.address)));
    }
    const std::string& t = text.value();
    size_t line_no = 0;
    for (size_t from = 0; from < t.size();) {
      size_t nl = t.find('\n', from);
      if (nl == std::string::npos) {
        nl = t.size();
      }
      std::string_view line(t.data() + from, nl - from);
      from = nl + 1;
      ++line_no;
      if (line.empty()) {
        continue;
      }
      auto r = parseIdentityJson(line, config, plan);
      std::string why;
      if (!r.ok()) {
        why = r.error().message;
      } else if (r.value().remove) {
        why = "a removal";
      } else if (statics.count(formatIp(r.value().key)) != 0) {
        why = "address " + formatIp(r.value().key) + " is a static subscriber now";
      }
      if (!why.empty()) {
        if (loaded.dropped++ == 0) {
          loaded.first_reason = path + " line " + std::to_string(line_no) + ": " + why;
        }
        continue;
      }
      const std::string key = formatIp(r.value().key);
      initial[key] = identityJsonLine(r.value().key, r.value().identity);
      loaded.identities.push_back(std::move(r.value()));
    }
  }
  std::unique_ptr<IdentityStore> s(new IdentityStore(dir, std::move(initial)));
  return s;
}

IdentityStore::IdentityStore(std::string dir, std::map<std::string, std::string> initial)
    : dir_(std::move(dir)), mirror_(std::move(initial)) {
  stats_.stored = mirror_.size();
  writer_ = std::thread([this] { writerMain(); });
}

IdentityStore::~IdentityStore() { close(); }

void IdentityStore::put(const IpAddress& key, std::string line) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.emplace_back(formatIp(key), std::move(line));
  ++handed_;
  if (queue_.size() == 1) {
    cv_.notify_one();
  }
}

void IdentityStore::remove(const IpAddress& key) { put(key, std::string()); }

bool IdentityStore::sync() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = handed_;
  const uint64_t errors = stats_.write_errors;
  done_cv_.wait(lock, [&] { return written_ >= target || stats_.write_errors != errors || stop_; });
  return written_ >= target;
}

void IdentityStore::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) {
      return;
    }
    stop_ = true;
  }
  cv_.notify_one();
  if (writer_.joinable()) {
    writer_.join();
  }
}

IdentityStoreStats IdentityStore::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  IdentityStoreStats s = stats_;
  s.pending = handed_ - written_;
  return s;
}

void IdentityStore::writerMain() {
  std::unique_lock<std::mutex> lock(mu_);
  bool retry = false;
  for (;;) {
    if (retry) {
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; });
    } else {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (!stop_) {
        cv_.wait_for(lock, std::chrono::milliseconds(kCommitDelayMs), [&] { return stop_; });
      }
    }
    if (queue_.empty() && !retry) {
      return;  // stopping, everything written
    }
    std::vector<std::pair<std::string, std::string>> changes;
    changes.swap(queue_);
    const uint64_t upto = handed_;
    const bool stopping = stop_;
    lock.unlock();
    for (auto& [key, line] : changes) {
      if (line.empty()) {
        mirror_.erase(key);
      } else {
        mirror_[key] = std::move(line);
      }
    }
    std::string text;
    text.reserve(mirror_.size() * 96);
    for (const auto& [key, line] : mirror_) {
      text += line;
      text += '\n';
    }
    auto w = writeFileDurably(dir_, kFileName,
                              std::span<const uint8_t>(
                                  reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    lock.lock();
    if (w) {
      written_ = upto;
      ++stats_.writes;
      stats_.stored = mirror_.size();
      retry = false;
    } else {
      ++stats_.write_errors;
      if (stats_.last_error != w.error().message) {
        logError("identities: " + w.error().message + " (retried every second; the identities "
                 "stay in force)");
      }
      stats_.last_error = w.error().message;
      retry = !stopping;
    }
    done_cv_.notify_all();
    if (stopping && queue_.empty()) {
      return;
    }
  }
}

}  // namespace tally
