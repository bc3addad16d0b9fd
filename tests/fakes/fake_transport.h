#pragma once
// A Transport for tests: returns scripted results, records every call, can copy the file into
// a directory (a stand-in for the bill server) and can block until released.
//
// Thread rules: upload() runs on the transfer thread under test; the test thread scripts,
// inspects and releases through the methods below (all under one mutex).
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "controlplane/bill/transport.h"

namespace tally::testing {

class FakeTransport final : public bill::Transport {
 public:
  struct Call {
    std::string local_path;
    std::string remote_name;
    bill::TransferStatus returned = bill::TransferStatus::kOk;
  };

  explicit FakeTransport(const char* protocol = "sftp") : protocol_(protocol) {}

  const char* protocol() const override { return protocol_; }

  // The results of the next upload() calls, in order; when the queue is empty upload()
  // returns `fallback` (kOk unless changed).
  void push(bill::TransferStatus s, std::string detail = "") {
    std::lock_guard<std::mutex> l(mu_);
    bill::TransferResult r;
    r.status = s;
    r.detail = std::move(detail);
    queue_.push_back(std::move(r));
  }
  void setFallback(bill::TransferStatus s) {
    std::lock_guard<std::mutex> l(mu_);
    fallback_ = s;
  }
  // When set, a successful (kOk) upload copies the local file to server_dir/remote_name, and
  // an upload whose remote_name already exists there returns kAlreadyThere when the queue has
  // nothing scripted.
  void setServerDir(std::string dir) {
    std::lock_guard<std::mutex> l(mu_);
    server_dir_ = std::move(dir);
  }
  // While blocked, upload() waits (after recording the call) until unblock().
  void block() {
    std::lock_guard<std::mutex> l(mu_);
    blocked_ = true;
  }
  void unblock() {
    {
      std::lock_guard<std::mutex> l(mu_);
      blocked_ = false;
    }
    cv_.notify_all();
  }
  // Waits until `n` calls have been made (true) or `timeout` passed (false).
  bool waitForCalls(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return calls_.size() >= n; });
  }
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }
  size_t callCount() const {
    std::lock_guard<std::mutex> l(mu_);
    return calls_.size();
  }

  bill::TransferResult upload(const std::string& local_path,
                              const std::string& remote_name) override {
    std::unique_lock<std::mutex> l(mu_);
    calls_.push_back({local_path, remote_name, bill::TransferStatus::kOk});
    size_t index = calls_.size() - 1;
    cv_.notify_all();
    cv_.wait(l, [&] { return !blocked_; });
    bill::TransferResult r;
    namespace fs = std::filesystem;
    std::error_code ec;
    const bool scripted = !queue_.empty();
    if (scripted) {
      r = queue_.front();
      queue_.pop_front();
    } else {
      r.status = fallback_;
      if (!server_dir_.empty() && fs::exists(fs::path(server_dir_) / remote_name, ec)) {
        r.status = bill::TransferStatus::kAlreadyThere;
      }
    }
    if (r.status == bill::TransferStatus::kOk) {
      auto size = fs::file_size(local_path, ec);
      if (ec) {
        r.status = bill::TransferStatus::kLocal;
        r.detail = "fake: cannot read " + local_path;
      } else {
        r.bytes = size;
        if (!server_dir_.empty()) {
          fs::copy_file(local_path, fs::path(server_dir_) / remote_name,
                        fs::copy_options::overwrite_existing, ec);
          if (ec) {
            r.status = bill::TransferStatus::kRemote;
            r.detail = "fake: copy failed: " + ec.message();
          }
        }
      }
    }
    calls_[index].returned = r.status;
    return r;
  }

 private:
  const char* protocol_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<bill::TransferResult> queue_;
  bill::TransferStatus fallback_ = bill::TransferStatus::kOk;
  std::string server_dir_;
  bool blocked_ = false;
  std::vector<Call> calls_;
};

}  // namespace tally::testing
