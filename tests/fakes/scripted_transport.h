#pragma once
// A Transport for unit tests: results scripted per call, every call recorded (local path,
// remote name, steady time), a "server" directory that receives a copy of the file on ok, and
// a gate that holds upload() until the test opens it (to test stopping with a transfer in
// flight). The worker owns the transport; the test keeps the shared State.
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controlplane/bill/transport.h"

namespace tally::testing {

class ScriptedTransport final : public bill::Transport {
 public:
  struct Call {
    std::string local_path;
    std::string remote_name;
    std::chrono::steady_clock::time_point at;
  };

  struct State {
    std::mutex mu;
    std::condition_variable cv;
    // Results of the next calls, in order. When empty: the file is copied to server_dir and
    // the call is ok, or already-there when server_dir holds remote_name with the same size.
    std::deque<bill::TransferStatus> script;
    std::string server_dir;  // "" : nothing is copied
    std::vector<Call> calls;
    bool blocked = false;  // upload() waits (after recording the call) until unblock()
    int64_t delay_ms = 0;  // each upload() takes this long

    void push(bill::TransferStatus s, int n = 1) {
      std::lock_guard lk(mu);
      for (int i = 0; i < n; ++i) {
        script.push_back(s);
      }
    }
    void block() {
      std::lock_guard lk(mu);
      blocked = true;
    }
    void unblock() {
      {
        std::lock_guard lk(mu);
        blocked = false;
      }
      cv.notify_all();
    }
    size_t callCount() {
      std::lock_guard lk(mu);
      return calls.size();
    }
    std::vector<Call> callsCopy() {
      std::lock_guard lk(mu);
      return calls;
    }
    // Waits until at least n calls were made (true) or the timeout passed (false).
    bool waitForCalls(size_t n, std::chrono::milliseconds timeout) {
      std::unique_lock lk(mu);
      return cv.wait_for(lk, timeout, [&] { return calls.size() >= n; });
    }
  };

  explicit ScriptedTransport(std::shared_ptr<State> state) : state_(std::move(state)) {}
  const char* protocol() const override { return "scripted"; }

  bill::TransferResult upload(const std::string& local_path,
                              const std::string& remote_name) override {
    bill::TransferResult r;
    std::optional<bill::TransferStatus> scripted;
    std::string server_dir;
    int64_t delay_ms = 0;
    {
      std::unique_lock lk(state_->mu);
      state_->calls.push_back(Call{local_path, remote_name, std::chrono::steady_clock::now()});
      state_->cv.notify_all();
      state_->cv.wait(lk, [&] { return !state_->blocked; });
      if (!state_->script.empty()) {
        scripted = state_->script.front();
        state_->script.pop_front();
      }
      server_dir = state_->server_dir;
      delay_ms = state_->delay_ms;
    }
    if (delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    }
    namespace fs = std::filesystem;
    std::error_code ec;
    auto local_size = fs::file_size(local_path, ec);
    if (ec) {
      r.status = bill::TransferStatus::kLocal;
      r.detail = "open(" + local_path + "): " + ec.message();
      return r;
    }
    if (scripted) {
      r.status = *scripted;
      r.detail = std::string("scripted ") + bill::transferStatusName(*scripted);
      if (r.status == bill::TransferStatus::kOk && !server_dir.empty()) {
        fs::copy_file(local_path, server_dir + "/" + remote_name,
                      fs::copy_options::overwrite_existing, ec);
      }
      r.bytes = r.status == bill::TransferStatus::kOk ? local_size : 0;
      return r;
    }
    if (!server_dir.empty()) {
      const std::string target = server_dir + "/" + remote_name;
      auto remote_size = fs::file_size(target, ec);
      if (!ec && remote_size == local_size) {
        r.status = bill::TransferStatus::kAlreadyThere;
        r.detail = "already there";
        return r;
      }
      ec.clear();
      fs::copy_file(local_path, target, fs::copy_options::overwrite_existing, ec);
      if (ec) {
        r.status = bill::TransferStatus::kRemote;
        r.detail = "copy: " + ec.message();
        return r;
      }
    }
    r.status = bill::TransferStatus::kOk;
    r.bytes = local_size;
    return r;
  }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace tally::testing
