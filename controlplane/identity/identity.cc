#include "controlplane/identity/identity.h"

#include <nlohmann/json.hpp>

namespace tally {
namespace {

// A value as it may appear in a reason: printable ASCII kept, every other byte \xNN, at most
// 64 bytes shown.
std::string shown(std::string_view v) {
  std::string out = "'";
  size_t n = 0;
  for (unsigned char c : v) {
    if (++n > 64) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out + "'";
}

std::string checkDigits(std::string_view name, std::string_view v, size_t lo, size_t hi) {
  const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits || v.size() < lo || v.size() > hi) {
    return std::string(name) + " " + shown(v) + ": must be " + std::to_string(lo) + "-" +
           std::to_string(hi) + " digits" + (digits ? " (has " + std::to_string(v.size()) + ")" : "");
  }
  return "";
}

// cc_profile 1, 2, 4, 8 and qci 1-255, from text.
std::string parseSmall(std::string_view name, std::string_view v, uint8_t& out) {
  const bool digits =
      !v.empty() && v.size() <= 5 && v.find_first_not_of("0123456789") == std::string_view::npos;
  const long n = digits ? std::stol(std::string(v)) : -1;
  if (name == "cc_profile") {
    if (n != 1 && n != 2 && n != 4 && n != 8) {
      return "cc_profile " + shown(v) + ": must be one of the CC profiles 1, 2, 4, 8";
    }
  } else if (n < 1 || n > 255) {
    return "qci " + shown(v) + ": allowed 1-255";
  }
  out = uint8_t(n);
  return "";
}

Result<IpAddress> subscriberKey(std::string_view text, const CountingPlan& plan) {
  auto a = parseIpAddress(text);
  if (!a) {
    return Error{"address " + shown(text) + ": not an IPv4 or IPv6 address"};
  }
  if (!plan.inPool(*a)) {
    return Error{"address " + shown(text) + ": not in any subscribers.pools prefix"};
  }
  return plan.keyOf(*a);
}

// Sets one field from its text; "" or the reason.
std::string setField(SubscriberIdentity& id, std::string_view key, std::string_view v) {
  std::string err;
  if (key == "imsi") {
    err = checkImsi(v);
    id.imsi = v;
  } else if (key == "msisdn") {
    err = checkMsisdn(v);
    id.msisdn = v;
  } else if (key == "user_name") {
    err = checkUserName(v);
    id.user_name = v;
  } else if (key == "imei") {
    err = checkImei(v);
    id.imei = v;
  } else if (key == "apn") {
    err = checkApn(v);
    id.apn = v;
  } else if (key == "cc_profile") {
    err = parseSmall(key, v, id.cc_profile);
  } else if (key == "qci") {
    err = parseSmall(key, v, id.qci);
  }
  return err;
}

constexpr const char* kKeys = "address, imsi, msisdn, user_name, imei, cc_profile, apn, qci, remove";

}  // namespace

std::string checkImsi(std::string_view v) { return checkDigits("imsi", v, 6, 15); }
std::string checkMsisdn(std::string_view v) { return checkDigits("msisdn", v, 1, 15); }
std::string checkImei(std::string_view v) { return checkDigits("imei", v, 14, 16); }

std::string checkUserName(std::string_view v) {
  bool ok = !v.empty() && v.size() <= 64;
  for (unsigned char c : v) {
    ok = ok && c >= 0x20 && c < 0x7f;
  }
  return ok ? "" : "user_name " + shown(v) + ": must be 1-64 printable ASCII characters";
}

std::string checkApn(std::string_view v) {
  // The rule of accounting.cdr.apn (docs/config.md).
  bool ok = !v.empty() && v.size() <= 63 && v.front() != '.' && v.back() != '.' &&
            v.find("..") == std::string_view::npos;
  for (char c : v) {
    ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '-');
  }
  return ok ? ""
            : "apn " + shown(v) +
                  ": must be 1-63 characters of A-Z a-z 0-9 . - without an empty label "
                  "(e.g. internet or apn.example)";
}

Result<IdentityRequest> parseIdentityWords(const std::vector<std::string>& words,
                                           const Config& config, const CountingPlan& plan) {
  (void)config;
  if (words.empty()) {
    return Error{"no ADDRESS"};
  }
  auto key = subscriberKey(words[0], plan);
  if (!key.ok()) {
    return key.error();
  }
  IdentityRequest r;
  r.key = key.value();
  static const std::pair<const char*, const char*> kOptions[] = {
      {"--imsi", "imsi"},   {"--msisdn", "msisdn"},         {"--user-name", "user_name"},
      {"--imei", "imei"},   {"--cc-profile", "cc_profile"}, {"--apn", "apn"},
      {"--qci", "qci"}};
  std::vector<std::string> seen;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--remove") {
      r.remove = true;
      continue;
    }
    const char* field = nullptr;
    for (const auto& [opt, name] : kOptions) {
      if (w == opt) {
        field = name;
      }
    }
    if (field == nullptr) {
      return Error{"unknown option " + shown(w) +
                   ": allowed --imsi, --msisdn, --user-name, --imei, --cc-profile, --apn, "
                   "--qci, --remove"};
    }
    if (i + 1 >= words.size()) {
      return Error{w + " needs a value"};
    }
    for (const std::string& s : seen) {
      if (s == w) {
        return Error{w + " given twice"};
      }
    }
    seen.push_back(w);
    std::string err = setField(r.identity, field, words[++i]);
    if (!err.empty()) {
      return Error{err};
    }
  }
  if (r.remove && !seen.empty()) {
    return Error{"--remove takes no identity options"};
  }
  if (!r.remove && r.identity.empty()) {
    return Error{"no identity given: at least one of --imsi, --msisdn, --user-name, --imei, "
                 "--cc-profile, --apn, --qci (or --remove)"};
  }
  return r;
}

Result<IdentityRequest> parseIdentityJson(std::string_view line, const Config& config,
                                          const CountingPlan& plan) {
  (void)config;
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error{"not a JSON object"};
  }
  auto a = j.find("address");
  if (a == j.end() || !a->is_string()) {
    return Error{"no \"address\" (a string)"};
  }
  auto key = subscriberKey(a->get_ref<const std::string&>(), plan);
  if (!key.ok()) {
    return key.error();
  }
  IdentityRequest r;
  r.key = key.value();
  bool fields = false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const nlohmann::json& v = it.value();
    if (k == "address") {
      continue;
    }
    if (k == "remove") {
      if (!v.is_boolean()) {
        return Error{"remove: must be true or false"};
      }
      r.remove = v.get<bool>();
      continue;
    }
    if (k != "imsi" && k != "msisdn" && k != "user_name" && k != "imei" && k != "apn" &&
        k != "cc_profile" && k != "qci") {
      return Error{"unknown key " + shown(k) + ": allowed " + kKeys};
    }
    if (v.is_null()) {
      continue;  // absent
    }
    std::string text;
    if (v.is_string()) {
      text = v.get<std::string>();
    } else if ((k == "cc_profile" || k == "qci") && v.is_number_unsigned()) {
      text = std::to_string(v.get<uint64_t>());
    } else if (k == "cc_profile" || k == "qci") {
      return Error{k + ": must be an integer"};
    } else {
      return Error{k + ": must be a string" +
                   (k == "user_name" || k == "apn" ? std::string()
                                                   : " of digits (a JSON number would lose "
                                                     "leading zeros)")};
    }
    std::string err = setField(r.identity, k, text);
    if (!err.empty()) {
      return Error{err};
    }
    fields = true;
  }
  if (r.remove && fields) {
    return Error{"\"remove\": true takes no identity fields"};
  }
  if (!r.remove && !fields) {
    return Error{"no identity given: at least one of imsi, msisdn, user_name, imei, "
                 "cc_profile, apn, qci (or \"remove\": true)"};
  }
  return r;
}

std::string identityJsonLine(const IpAddress& key, const SubscriberIdentity& id) {
  // By hand (this runs for every identity on the control-plane thread): every value is
  // validated, so only a user name can hold characters JSON escapes (" and \).
  std::string out;
  out.reserve(160);
  out += "{\"address\":\"";
  out += formatIp(key);
  out += '"';
  auto text = [&out](const char* k, const std::string& v) {
    if (v.empty()) {
      return;
    }
    out += ",\"";
    out += k;
    out += "\":\"";
    for (char c : v) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  };
  auto number = [&out](const char* k, unsigned v) {
    if (v == 0) {
      return;
    }
    out += ",\"";
    out += k;
    out += "\":";
    out += std::to_string(v);
  };
  text("imsi", id.imsi);
  text("msisdn", id.msisdn);
  text("user_name", id.user_name);
  text("imei", id.imei);
  number("cc_profile", id.cc_profile);
  text("apn", id.apn);
  number("qci", id.qci);
  out += '}';
  return out;
}

}  // namespace tally
