#pragma once
// A RadiusTransport for tests: records every datagram sent, returns scripted send results, and
// hands out datagrams the test queued (as if they arrived from a given source). Single-threaded:
// the test drives the client and this fake from one thread.
#include <deque>
#include <vector>

#include "controlplane/radius/radius_transport.h"

namespace tally::testing {

class FakeRadiusTransport final : public radius::RadiusTransport {
 public:
  struct Sent {
    radius::Endpoint to;
    std::vector<uint8_t> bytes;
  };

  // The results of the next send() calls, in order; kOk when none is scripted. A datagram is
  // recorded in sent() only when its send returns kOk.
  void pushSendResult(radius::TransportStatus s, std::string detail = "") {
    send_results_.push_back({s, std::move(detail)});
  }
  // A datagram receive() will return, after those queued before it.
  void deliver(const radius::Endpoint& source, std::vector<uint8_t> bytes) {
    radius::ReceivedDatagram d;
    d.result.status = radius::TransportStatus::kOk;
    d.source = source;
    d.bytes = std::move(bytes);
    inbox_.push_back(std::move(d));
  }
  // A receive error (e.g. kUnreachable from an ICMP port unreachable) in the inbox's order.
  void deliverError(radius::TransportStatus s, std::string detail = "") {
    radius::ReceivedDatagram d;
    d.result = {s, std::move(detail)};
    inbox_.push_back(std::move(d));
  }

  const std::vector<Sent>& sent() const { return sent_; }
  size_t sendCalls() const { return send_calls_; }
  size_t pending() const { return inbox_.size(); }

  radius::TransportResult send(const radius::Endpoint& to,
                               std::span<const uint8_t> datagram) override {
    ++send_calls_;
    radius::TransportResult r{radius::TransportStatus::kOk, ""};
    if (!send_results_.empty()) {
      r = std::move(send_results_.front());
      send_results_.pop_front();
    }
    if (r.ok()) {
      sent_.push_back({to, std::vector<uint8_t>(datagram.begin(), datagram.end())});
    }
    return r;
  }

  radius::ReceivedDatagram receive() override {
    if (inbox_.empty()) {
      radius::ReceivedDatagram d;
      d.result.status = radius::TransportStatus::kWouldBlock;
      return d;
    }
    radius::ReceivedDatagram d = std::move(inbox_.front());
    inbox_.pop_front();
    return d;
  }

  int readableFd() const override { return -1; }

 private:
  std::deque<radius::TransportResult> send_results_;
  std::deque<radius::ReceivedDatagram> inbox_;
  std::vector<Sent> sent_;
  size_t send_calls_ = 0;
};

}  // namespace tally::testing
