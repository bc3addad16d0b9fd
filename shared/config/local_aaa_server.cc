// The local_aaa_server section: the local bill pool, the bill server, the local bill cache and
// the CF card.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "shared/config/loader.h"

namespace tally::config_loader {

void Loader::loadLocalAaaServer(const Field& f, LocalBillConfig& out) const {
  Fields m = readMap(f, {"local_bill_pool", "bill_server", "local_bill"});
  if (auto it = m.find("local_bill_pool"); it != m.end()) {
    Fields pool =
        readMap(it->second, {"enable", "capacity", "commit_delay_ms", "checkpoint_interval"});
    if (auto e = pool.find("enable"); e != pool.end()) {
      out.bill_pool.enable = boolean(e->second);
    }
    if (auto c = pool.find("capacity"); c != pool.end()) {
      out.bill_pool.capacity_bills = uint32_t(integerIn(c->second, 1, 1048576));
    }
    if (auto c = pool.find("commit_delay_ms"); c != pool.end()) {
      out.bill_pool.commit_delay_ms = uint32_t(integerIn(c->second, 0, 1000));
    }
    if (auto c = pool.find("checkpoint_interval"); c != pool.end()) {
      out.bill_pool.checkpoint_interval_s = uint32_t(integerIn(c->second, 1, 3600));
    }
  }
  if (auto it = m.find("local_bill"); it != m.end()) {
    loadLocalBill(it->second, out);
  }
  // The protocol follows from the backup modes: one bill server, one protocol.
  const bool cache_sftp = out.cache.backup_mode == CacheBackupMode::kSftp;
  const bool cache_tftp = out.cache.backup_mode == CacheBackupMode::kTftp;
  if (auto it = m.find("bill_server"); it != m.end()) {
    out.bill_server = loadBillServer(it->second);
    const bool sftp =
        cache_sftp || (!cache_tftp && out.cfcard.backup_mode == CfCardBackupMode::kSftp);
    if ((cache_sftp && out.cfcard.backup_mode == CfCardBackupMode::kTftp) ||
        (cache_tftp && out.cfcard.backup_mode == CfCardBackupMode::kSftp &&
         cfcard_mode_given_)) {
      failValue(it->second, "local_bill.cache.backup_mode and local_bill.cfcard.backup_mode name "
                            "different protocols for the one bill server: make them agree");
    }
    if (sftp) {
      if (out.bill_server->user_name.empty()) {
        failMissing(it->second, "user_name");
      }
      if (out.bill_server->password_cipher.empty() && out.bill_server->private_key_path.empty()) {
        failValue(it->second, "SFTP needs password: {cipher: ...} or private_key");
      }
      if (out.bill_server->known_hosts_path.empty()) {
        failMissing(it->second, "known_hosts");
      }
    }
  } else if (cache_sftp || cache_tftp) {
    fail(f.mark, f.path + ".bill_server", "",
         "local_bill.cache.backup_mode sftp/tftp needs a bill_server");
  }
}

BillServerConfig Loader::loadBillServer(const Field& f) const {
  BillServerConfig out;
  Fields m = readMap(f, {"address", "port", "filename", "user_name", "password", "private_key",
                         "known_hosts", "key_file", "timeout_ms"});
  auto address = m.find("address");
  if (address == m.end()) {
    failMissing(f, "address");
  }
  out.address = ipAddress(address->second, "not an IPv4/IPv6 address (e.g. 192.0.2.20)");
  if (auto it = m.find("port"); it != m.end()) {
    out.port = uint16_t(integerIn(it->second, 1, 65535));
  }
  if (auto it = m.find("filename"); it != m.end()) {
    static const std::string kAllowed = "must be 1-30 printable ASCII characters without '/'";
    std::string name = scalar(it->second, kAllowed);
    bool ok = !name.empty() && name.size() <= 30;
    for (char c : name) {
      ok = ok && c >= 0x20 && c <= 0x7e && c != '/';
    }
    if (!ok) {
      failValue(it->second, kAllowed);
    }
    out.filename = name;
  }
  if (auto it = m.find("user_name"); it != m.end()) {
    out.user_name = printable(it->second, 64);
  }
  if (auto it = m.find("password"); it != m.end()) {
    const Field& pw = it->second;
    if (pw.node.isScalar()) {
      // Never echoed: it may be the password itself.
      fail(pw.mark, pw.path, "", "plaintext passwords are not accepted: use {cipher: ...}");
    }
    Fields c = readMap(pw, {"cipher"});
    auto cipher = c.find("cipher");
    if (cipher == c.end()) {
      failMissing(pw, "cipher");
    }
    out.password_cipher = printable(cipher->second, 1024);  // the cipher text only
  }
  if (auto it = m.find("private_key"); it != m.end()) {
    if (m.count("password") != 0) {
      failValue(it->second, "give password or private_key, not both");
    }
    out.private_key_path =
        filePath(it->second, "must be a file path of 1-4095 bytes (an ed25519 or ECDSA key)");
  }
  if (auto it = m.find("known_hosts"); it != m.end()) {
    out.known_hosts_path =
        filePath(it->second, "must be a file path of 1-4095 bytes (an OpenSSH known_hosts file)");
  }
  if (auto it = m.find("key_file"); it != m.end()) {
    out.key_file = filePath(it->second, "must be a file path of 1-4095 bytes (the key that "
                                        "tallyctl encrypt-password uses)");
  }
  if (auto it = m.find("timeout_ms"); it != m.end()) {
    out.timeout_ms = uint32_t(integerIn(it->second, 100, 600000));
  }
  return out;
}

void Loader::loadLocalBill(const Field& f, LocalBillConfig& out) const {
  Fields m = readMap(f, {"cache", "cfcard"});
  if (auto it = m.find("cache"); it != m.end()) {
    Fields cache = readMap(it->second, {"backup_mode", "backup_interval", "alarm_threshold"});
    if (auto b = cache.find("backup_mode"); b != cache.end()) {
      std::string mode = oneOf(b->second, {"cfcard", "none", "tftp", "sftp"});
      out.cache.backup_mode = mode == "none"   ? CacheBackupMode::kNone
                              : mode == "tftp" ? CacheBackupMode::kTftp
                              : mode == "sftp" ? CacheBackupMode::kSftp
                                               : CacheBackupMode::kCfcard;
    }
    loadBackupTiming(cache, out.cache.backup_interval_min, out.cache.alarm_threshold_pct);
  }
  if (auto it = m.find("cfcard"); it != m.end()) {
    Fields cf = readMap(it->second, {"path", "capacity", "backup_mode", "backup_interval",
                                     "alarm_threshold", "overflow"});
    if (auto p = cf.find("path"); p != cf.end()) {
      static const std::string kAllowed =
          "must be a directory path of 1-4095 bytes, without NUL and without '..' components "
          "(e.g. /var/spool/tally)";
      std::string path = filePath(p->second, kAllowed);
      for (std::string_view rest = path;;) {
        size_t slash = rest.find('/');
        if (rest.substr(0, slash) == "..") {
          failValue(p->second, "'..' component not allowed: " + kAllowed);
        }
        if (slash == std::string_view::npos) {
          break;
        }
        rest.remove_prefix(slash + 1);
      }
      out.cfcard_path = path;
      locate(p->second);
    }
    if (auto c = cf.find("capacity"); c != cf.end()) {
      static const std::string kAllowed =
          "allowed 1MiB-16TiB: bytes, or a number followed by KiB, MiB, GiB or TiB (e.g. 1GiB)";
      std::string text = scalar(c->second, kAllowed);
      size_t digits_end = 0;
      while (digits_end < text.size() && text[digits_end] >= '0' && text[digits_end] <= '9') {
        ++digits_end;
      }
      static const std::pair<std::string_view, unsigned> kUnits[] = {
          {"", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
      std::string_view unit = std::string_view(text).substr(digits_end);
      std::optional<unsigned> shift;
      for (const auto& [name, bits] : kUnits) {
        if (unit == name) {
          shift = bits;
        }
      }
      uint64_t n = 0;
      IntParse parsed = parseUnsigned(std::string_view(text).substr(0, digits_end), &n);
      if (!shift || parsed == IntParse::kNotInteger) {
        failValue(c->second, "not a size: " + kAllowed);
      }
      constexpr uint64_t kMin = uint64_t{1} << 20;
      constexpr uint64_t kMax = uint64_t{16} << 40;
      if (parsed == IntParse::kOutOfRange || n > (kMax >> *shift) || (n << *shift) < kMin) {
        failValue(c->second, "out of range: " + kAllowed);
      }
      out.cfcard.capacity_bytes = n << *shift;
    }
    if (auto b = cf.find("backup_mode"); b != cf.end()) {
      cfcard_mode_given_ = true;
      out.cfcard.backup_mode = oneOf(b->second, {"tftp", "sftp"}) == "tftp"
                                   ? CfCardBackupMode::kTftp
                                   : CfCardBackupMode::kSftp;
    }
    if (auto o = cf.find("overflow"); o != cf.end()) {
      out.cfcard.overflow = oneOf(o->second, {"drop-new", "drop-oldest"}) == "drop-oldest"
                                ? CfCardOverflow::kDropOldest
                                : CfCardOverflow::kDropNew;
    }
    loadBackupTiming(cf, out.cfcard.backup_interval_min, out.cfcard.alarm_threshold_pct);
  }
}

void Loader::loadBackupTiming(const Fields& m, uint32_t& interval_min,
                              uint32_t& threshold_pct) const {
  if (auto it = m.find("backup_interval"); it != m.end()) {
    interval_min = uint32_t(integerIn(it->second, 1, 65535));
  }
  if (auto it = m.find("alarm_threshold"); it != m.end()) {
    threshold_pct = uint32_t(integerIn(it->second, 50, 100));
  }
}

}  // namespace tally::config_loader
