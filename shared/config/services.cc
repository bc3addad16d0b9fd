// The services section: ordered rules (rating group, match) and the default rating group, in
// the three forms of docs/config.md (mapping, plain list, and the agreed example's list form,
// which is rewritten into the mapping form before parsing).
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shared/config/loader.h"

namespace tally::config_loader {
namespace {

constexpr size_t kMaxServiceRules = 64;

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

bool blankOrComment(std::string_view line) {
  for (char c : line) {
    if (c == '#') {
      return true;
    }
    if (c != ' ' && c != '\t' && c != '\r') {
      return false;
    }
  }
  return true;
}

size_t indentOf(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') {
    ++n;
  }
  return n;
}

bool sequenceEntryAt(std::string_view line, size_t indent) {
  if (line.size() <= indent || line[indent] != '-') {
    return false;
  }
  return line.size() == indent + 1 || line[indent + 1] == ' ' || line[indent + 1] == '\t' ||
         line[indent + 1] == '\r';
}

}  // namespace

// The services list form of the agreed example.
//
// The agreed example (docs/config.md, "services") writes
//
//   services:
//     - rating_group: 10
//       match: {...}
//     default_rating_group: 1
//
// which is not YAML: a block sequence cannot be followed by a mapping key at its own
// indentation. Operators copy that example, so when yaml-cpp rejects a file and the file has
// exactly this shape (top-level "services:", a block list indented by n > 0 spaces, and
// "key: value" lines indented by the same n among or after the items), the loader inserts the
// line "<n spaces>rules:" before the first item. That turns the block into the mapping form
// {rules: [...], default_rating_group: 1}, which is valid YAML. Marks after the inserted line
// are shifted back by LineMap, so every message points at the file as written.

std::optional<std::string> rewriteServicesListForm(const std::string& text, int* inserted_line) {
  std::vector<std::string_view> lines = splitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    constexpr std::string_view kKey = "services:";
    if (l.substr(0, kKey.size()) != kKey || !blankOrComment(l.substr(kKey.size()))) {
      continue;
    }
    size_t first = i + 1;
    while (first < lines.size() && blankOrComment(lines[first])) {
      ++first;
    }
    if (first == lines.size()) {
      return std::nullopt;
    }
    size_t indent = indentOf(lines[first]);
    if (indent == 0 || !sequenceEntryAt(lines[first], indent)) {
      return std::nullopt;
    }
    bool sibling = false;
    for (size_t k = first + 1; k < lines.size(); ++k) {
      if (blankOrComment(lines[k])) {
        continue;
      }
      size_t m = indentOf(lines[k]);
      if (m < indent) {
        break;
      }
      if (m == indent && !sequenceEntryAt(lines[k], indent)) {
        sibling = true;
      }
    }
    if (!sibling) {
      return std::nullopt;
    }
    size_t offset = size_t(lines[first].data() - text.data());
    std::string out = text.substr(0, offset);
    out += std::string(indent, ' ') + "rules:\n";
    out += text.substr(offset);
    *inserted_line = int(first);
    return out;
  }
  return std::nullopt;
}

void Loader::loadServices(const Field& f, ServicesConfig& out) const {
  if (f.node.isNull()) {
    return;
  }
  if (f.node.isSequence()) {
    loadRules(f, f.path, out);  // plain list form: services[i]
    return;
  }
  if (!f.node.isMap()) {
    failValue(f, "must be a list of rules, or a mapping with keys: rules, default_rating_group");
  }
  // Mapping form {rules, default_rating_group}, or the example's list form after the rewrite:
  // then the first key is the "rules" the loader inserted, which is not in the file, so the
  // rules are named "services[i]" and only default_rating_group may follow them.
  bool list_form = false;
  std::optional<Field> rules;
  std::optional<Field> default_rg;
  for (size_t i = 0; i < f.node.size(); ++i) {
    const Node key = f.node.key(i);
    const Node value = f.node.value(i);
    std::string name = key.scalar();
    std::string path = childPath(f.path, name);
    YAML::Mark mark = value.isNull() || value.mark().line < 0 ? key.mark() : value.mark();
    if (i == 0 && lines_.insertedLine() >= 0 && name == "rules" &&
        key.mark().line == lines_.insertedLine()) {
      list_form = true;
      rules = Field{value, mark, f.path, key.mark()};
      continue;
    }
    std::optional<Field>* slot = nullptr;
    if (name == "default_rating_group") {
      slot = &default_rg;
    } else if (name == "rules" && !list_form) {
      slot = &rules;
    } else {
      fail(key.mark(), path, "",
           list_form ? "unknown key: allowed keys after the rule list are default_rating_group"
                     : "unknown key: allowed keys are rules, default_rating_group");
    }
    if (*slot) {
      fail(key.mark(), path, "",
           "duplicate key: already set at line " + std::to_string(lines_.line((*slot)->key_mark)));
    }
    *slot = Field{value, mark, path, key.mark()};
  }
  if (rules) {
    loadRules(*rules, rules->path, out);
  }
  if (default_rg) {
    out.default_rating_group = uint32_t(integerIn(*default_rg, 0, UINT32_MAX));
  }
}

void Loader::loadRules(const Field& f, const std::string& item_path, ServicesConfig& out) const {
  Field list = f;
  list.path = item_path;
  std::vector<Field> items = readList(list, "rules (each {rating_group, match})");
  for (size_t i = 0; i < items.size(); ++i) {
    if (i == kMaxServiceRules) {
      fail(items[i].mark, items[i].path, "",
           "too many rules: allowed at most " + std::to_string(kMaxServiceRules));
    }
    out.rules.push_back(loadRule(items[i]));
  }
}

ServiceRule Loader::loadRule(const Field& f) const {
  ServiceRule rule;
  Fields m = readMap(f, {"rating_group", "match"});
  auto rg = m.find("rating_group");
  if (rg == m.end()) {
    failMissing(f, "rating_group");
  }
  rule.rating_group = uint32_t(integerIn(rg->second, 0, UINT32_MAX));
  auto match = m.find("match");
  if (match == m.end()) {
    failMissing(f, "match");
  }
  Fields c = readMap(match->second, {"protocol", "remote_prefix", "remote_port"});
  if (c.empty()) {
    failValue(match->second,
              "no condition: at least one of protocol, remote_prefix, remote_port is required");
  }
  if (auto it = c.find("protocol"); it != c.end()) {
    static const std::string kAllowed =
        "must be one of: tcp, udp, icmp, icmpv6, sctp, or a protocol number 0-255";
    static const std::map<std::string, uint8_t, std::less<>> kNames = {
        {"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"icmpv6", 58}, {"sctp", 132}};
    std::string text = scalar(it->second, kAllowed);
    uint64_t v = 0;
    if (auto n = kNames.find(text); n != kNames.end()) {
      rule.match.protocol = n->second;
    } else if (parseUnsigned(text, &v) == IntParse::kOk && v <= 255) {
      rule.match.protocol = uint8_t(v);
    } else {
      failValue(it->second, kAllowed);
    }
  }
  if (auto it = c.find("remote_prefix"); it != c.end()) {
    static const std::string kAllowed =
        "not an IPv4/IPv6 prefix (e.g. 198.51.100.0/24 or 2001:db8::/32)";
    std::string text = scalar(it->second, kAllowed);
    auto p = parseIpPrefix(text, /*allow_host_bits=*/true);
    if (!p) {
      failValue(it->second, kAllowed);
    }
    if (!parseIpPrefix(text)) {
      failValue(it->second, "host bits set: the prefix is " + formatPrefix(*p));
    }
    rule.match.remote_prefix = *p;
  }
  if (auto it = c.find("remote_port"); it != c.end()) {
    static const std::string kAllowed = "allowed a port 0-65535 or a range N-M with N <= M";
    std::string text = scalar(it->second, kAllowed);
    size_t dash = text.find('-', 1);
    std::string_view lo_text = std::string_view(text).substr(0, dash);
    std::string_view hi_text =
        dash == std::string::npos ? lo_text : std::string_view(text).substr(dash + 1);
    uint64_t lo = 0;
    uint64_t hi = 0;
    IntParse a = parseUnsigned(lo_text, &lo);
    IntParse b = parseUnsigned(hi_text, &hi);
    if (a == IntParse::kNotInteger || b == IntParse::kNotInteger || lo_text.front() == '-' ||
        hi_text.empty() || hi_text.front() == '-') {
      failValue(it->second, "not a port or port range: " + kAllowed);
    }
    if (a != IntParse::kOk || b != IntParse::kOk || lo > 65535 || hi > 65535) {
      failValue(it->second, "out of range: " + kAllowed);
    }
    if (lo > hi) {
      failValue(it->second, "empty range: " + kAllowed);
    }
    rule.match.remote_port_min = uint16_t(lo);
    rule.match.remote_port_max = uint16_t(hi);
  }
  return rule;
}

}  // namespace tally::config_loader
