#include "controlplane/bill/transport.h"

namespace tally::bill {

const char* transferStatusName(TransferStatus s) {
  switch (s) {
    case TransferStatus::kOk:
      return "ok";
    case TransferStatus::kAlreadyThere:
      return "already-there";
    case TransferStatus::kConnect:
      return "connect";
    case TransferStatus::kTimeout:
      return "timeout";
    case TransferStatus::kHostKeyUnknown:
      return "host-key-unknown";
    case TransferStatus::kHostKeyChanged:
      return "host-key-changed";
    case TransferStatus::kAuth:
      return "auth";
    case TransferStatus::kRemote:
      return "remote";
    case TransferStatus::kLocal:
      return "local";
    case TransferStatus::kTooLarge:
      return "too-large";
    case TransferStatus::kProtocol:
      return "protocol";
  }
  return "unknown";
}

bool transferRetryable(TransferStatus s) {
  switch (s) {
    case TransferStatus::kConnect:
    case TransferStatus::kTimeout:
    case TransferStatus::kRemote:
    case TransferStatus::kProtocol:
      return true;
    case TransferStatus::kOk:
    case TransferStatus::kAlreadyThere:
    case TransferStatus::kHostKeyUnknown:
    case TransferStatus::kHostKeyChanged:
    case TransferStatus::kAuth:
    case TransferStatus::kLocal:
    case TransferStatus::kTooLarge:
      return false;
  }
  return false;
}

}  // namespace tally::bill
