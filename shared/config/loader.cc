// The loader's machinery: the generic readers every section uses (maps, lists, scalars,
// integers, names, paths) with their error messages, and the top level (which sections there
// are, and the warnings for keys that have no effect). See loader.h.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "shared/config/loader.h"

namespace tally::config_loader {
namespace {

constexpr size_t kMaxPathBytes = 4095;  // PATH_MAX - 1

// Keys that are valid but have no effect in the configuration given.
constexpr std::string_view kRadiusFailWithoutRadius =
    "accounting.start_fail/interim_fail: no effect without accounting.radius (no RADIUS "
    "accounting is sent)";

}  // namespace

std::string joinNames(std::initializer_list<std::string_view> names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) {
      out += ", ";
    }
    out += n;
  }
  return out;
}

std::string childPath(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string indexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string range(uint64_t lo, uint64_t hi) {
  return "allowed " + std::to_string(lo) + "-" + std::to_string(hi);
}

bool isDigits(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

IntParse parseUnsigned(std::string_view s, uint64_t* out) {
  bool negative = false;
  if (!s.empty() && s.front() == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  if (!isDigits(s)) {
    return IntParse::kNotInteger;
  }
  if (negative) {
    return IntParse::kOutOfRange;
  }
  uint64_t v = 0;
  for (char c : s) {
    uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return IntParse::kOutOfRange;
    }
    v = v * 10 + d;
  }
  *out = v;
  return IntParse::kOk;
}

void Loader::fail(const YAML::Mark& mark, const std::string& key, const std::string& value,
                  const std::string& message) const {
  ConfigError e;
  e.file = file_;
  e.line = lines_.line(mark);
  e.column = lines_.column(mark);
  e.key = key;
  e.value = value;
  e.message = message;
  throw LoadFailure{std::move(e)};
}

void Loader::failValue(const Field& f, const std::string& message) const {
  fail(f.mark, f.path, f.node.isScalar() ? f.node.scalar() : std::string(), message);
}

void Loader::failMissing(const Field& parent, std::string_view key) const {
  fail(parent.mark, childPath(parent.path, key), "", "missing required key");
}

Fields Loader::readMap(const Field& f, std::initializer_list<std::string_view> allowed) const {
  Fields out;
  if (f.node.isNull()) {
    return out;
  }
  if (!f.node.isMap()) {
    failValue(f, "must be a mapping with keys: " + joinNames(allowed));
  }
  out.reserve(f.node.size());
  for (size_t i = 0; i < f.node.size(); ++i) {
    const Node key = f.node.key(i);
    std::string name = key.scalar();
    std::string path = childPath(f.path, name);
    bool known = false;
    for (std::string_view a : allowed) {
      known = known || (key.isScalar() && a == name);
    }
    if (!known) {
      fail(key.mark(), path, "", "unknown key: allowed keys are " + joinNames(allowed));
    }
    if (auto prev = out.find(name); prev != out.end()) {
      fail(key.mark(), path, "",
           "duplicate key: already set at line " +
               std::to_string(lines_.line(prev->second.key_mark)));
    }
    const Node value = f.node.value(i);
    YAML::Mark mark = value.isNull() || value.mark().line < 0 ? key.mark() : value.mark();
    out.emplace(std::move(name), Field{value, mark, std::move(path), key.mark()});
  }
  return out;
}

size_t Loader::listSize(const Field& f, const std::string& what) const {
  if (f.node.isNull()) {
    return 0;
  }
  if (!f.node.isSequence()) {
    failValue(f, "must be a list of " + what);
  }
  return f.node.size();
}

Field Loader::listItem(const Field& f, size_t i) const {
  const Node item = f.node.item(i);
  YAML::Mark mark = item.mark().line < 0 ? f.mark : item.mark();
  return Field{item, mark, indexPath(f.path, i), mark};
}

std::vector<Field> Loader::readList(const Field& f, const std::string& what) const {
  std::vector<Field> out;
  size_t n = listSize(f, what);
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(listItem(f, i));
  }
  return out;
}

std::string Loader::scalar(const Field& f, const std::string& allowed) const {
  if (f.node.isNull()) {
    failValue(f, "missing value: " + allowed);
  }
  if (!f.node.isScalar()) {
    failValue(f, std::string("must be a single value, not a ") +
                     (f.node.isSequence() ? "list" : "mapping") + ": " + allowed);
  }
  return f.node.scalar();
}

uint64_t Loader::integer(const Field& f, const std::string& allowed) const {
  std::string text = scalar(f, allowed);
  uint64_t v = 0;
  switch (parseUnsigned(text, &v)) {
    case IntParse::kOk:
      return v;
    case IntParse::kNotInteger:
      failValue(f, "not an integer: " + allowed);
    case IntParse::kOutOfRange:
      failValue(f, "out of range: " + allowed);
  }
  failValue(f, "not an integer: " + allowed);
}

uint64_t Loader::integerIn(const Field& f, uint64_t lo, uint64_t hi) const {
  uint64_t v = integer(f, range(lo, hi));
  if (v < lo || v > hi) {
    failValue(f, "out of range: " + range(lo, hi));
  }
  return v;
}

bool Loader::boolean(const Field& f) const {
  std::string text = scalar(f, "must be true or false");
  if (text == "true") {
    return true;
  }
  if (text == "false") {
    return false;
  }
  failValue(f, "must be true or false");
}

uint8_t Loader::ccProfile(const Field& f) const {
  static const std::string kAllowed = "must be one of: 1, 2, 4, 8";
  std::string text = scalar(f, kAllowed);
  uint64_t v = 0;
  if (parseUnsigned(text, &v) != IntParse::kOk || (v != 1 && v != 2 && v != 4 && v != 8)) {
    failValue(f, kAllowed);
  }
  return uint8_t(v);
}

std::string Loader::digits(const Field& f, size_t min, size_t max) const {
  if (f.node.isScalar()) {  // the common case, without building the message
    std::string text = f.node.scalar();
    if (isDigits(text) && text.size() >= min && text.size() <= max) {
      return text;
    }
  }
  std::string allowed = "must be " + std::to_string(min) + "-" + std::to_string(max) + " digits";
  scalar(f, allowed);
  failValue(f, allowed);
}

IpAddress Loader::ipAddress(const Field& f, const std::string& allowed) const {
  std::optional<IpAddress> a = parseIpAddress(scalar(f, allowed));
  if (!a) {
    failValue(f, allowed);
  }
  return *a;
}

uint64_t Loader::zeroOrIn(const Field& f, uint64_t lo, uint64_t hi,
                          const std::string& allowed) const {
  uint64_t v = integer(f, allowed);
  if (v > hi || (v > 0 && v < lo)) {
    failValue(f, "out of range: " + allowed);
  }
  return v;
}

std::string Loader::oneOf(const Field& f, std::initializer_list<std::string_view> names) const {
  std::string allowed = "must be one of: " + joinNames(names);
  std::string text = scalar(f, allowed);
  for (std::string_view n : names) {
    if (text == n) {
      return text;
    }
  }
  failValue(f, allowed);
}

std::string Loader::filePath(const Field& f, const std::string& allowed) const {
  std::string path = scalar(f, allowed);
  if (path.empty() || path.size() > kMaxPathBytes || path.find('\0') != std::string::npos) {
    failValue(f, allowed);
  }
  return path;
}

std::string Loader::printable(const Field& f, size_t max) const {
  std::string allowed = "must be 1-" + std::to_string(max) + " printable ASCII characters";
  std::string text = scalar(f, allowed);
  bool ok = !text.empty() && text.size() <= max;
  for (char c : text) {
    ok = ok && c >= 0x20 && c <= 0x7e;
  }
  if (!ok) {
    failValue(f, allowed);
  }
  return text;
}

Config Loader::load(const Node& root) {
  Config config;
  config.source = file_;
  YAML::Mark start;  // line 0, column 0: "1:1"
  YAML::Mark root_mark = root.isNull() || root.mark().line < 0 ? start : root.mark();
  Field top{root, root_mark, "", root_mark};
  Fields sections = readMap(top, {"node", "dataplane", "subscribers", "services", "control",
                                  "accounting", "local_aaa_server"});
  auto section = [&](std::string_view name) -> const Field& {
    auto it = sections.find(name);
    if (it == sections.end()) {
      failMissing(top, name);
    }
    return it->second;
  };
  loadNode(section("node"), config.node);
  loadDataplane(section("dataplane"), config.dataplane);
  loadSubscribers(section("subscribers"), config.subscribers);
  if (auto it = sections.find("services"); it != sections.end()) {
    loadServices(it->second, config.services);
  }
  if (auto it = sections.find("control"); it != sections.end()) {
    loadControl(it->second, config.control);
  }
  bool accounting_warning = false;
  if (auto it = sections.find("accounting"); it != sections.end()) {
    accounting_warning = loadAccounting(it->second, config.accounting);
  }
  if (auto it = sections.find("local_aaa_server"); it != sections.end()) {
    loadLocalAaaServer(it->second, config.local_bill);
  }
  config.locations = std::move(locations_);
  // Warnings in file order (only once the whole file is valid).
  for (size_t i = 0; i < root.size(); ++i) {
    std::string name = root.key(i).scalar();
    if (name == "accounting" && accounting_warning) {
      config.warnings.emplace_back(kRadiusFailWithoutRadius);
    }
  }
  return config;
}

}  // namespace tally::config_loader
