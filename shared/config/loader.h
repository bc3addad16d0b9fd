#pragma once
// Private to the configuration loader (shared/config/*.cc): the document tree, the Field and
// Loader machinery and its error helpers. Callers use shared/config.h only.
//
// Loading happens in two steps: yaml-cpp's parser events build a compact Tree (document.cc;
// syntax errors carry a mark), then Loader walks the tree section by section and validates
// every value, one file per top-level section (node.cc, dataplane.cc, subscribers.cc,
// services.cc, control.cc, accounting.cc, local_aaa_server.cc). The first problem found aborts
// the load: Loader throws a LoadFailure, which never leaves the loader; the public functions
// (document.cc) turn it into ConfigResult::error.
#include <yaml-cpp/mark.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shared/config.h"

namespace tally::config_loader {

// Thrown inside the loader only.
struct LoadFailure {
  ConfigError error;
};

// ---- The document tree ----
//
// yaml-cpp's own node tree (YAML::Load) costs about 300 bytes and several allocations per node:
// a 16 MiB file of 300,000 static subscribers took 880 MB and seconds to build. The loader
// only reads the tree, so it is built here from yaml-cpp's parser events into flat arrays:
// one 20-byte record per node, scalars in one text arena, children in one index array. The
// events are those YAML::Load builds its nodes from (same null rule, same marks, an alias is
// the anchored node itself), so the loader sees the same document.

class Tree {
 public:
  enum class Kind : uint8_t { kNull, kScalar, kSequence, kMap };
  struct Data {
    Kind kind = Kind::kNull;
    int32_t line = -1;    // yaml-cpp mark, 0-based; -1: no mark
    int32_t column = -1;
    uint32_t first = 0;   // scalar: offset in text_; container: index in children_
    uint32_t count = 0;   // scalar: length; sequence: items; map: keys and values (2 per pair)
  };
  const Data& data(uint32_t id) const { return nodes_[id]; }
  std::string_view text(const Data& d) const {
    return std::string_view(text_).substr(d.first, d.count);
  }
  uint32_t child(const Data& d, size_t i) const { return children_[d.first + i]; }

 private:
  friend class TreeBuilder;  // document.cc
  std::vector<Data> nodes_;
  std::string text_;
  std::vector<uint32_t> children_;
};

// A read-only view of one node (or of nothing: null, without a mark).
class Node {
 public:
  Node() = default;
  Node(const Tree* tree, uint32_t id) : tree_(tree), id_(id) {}
  bool isNull() const { return kind() == Tree::Kind::kNull; }
  bool isScalar() const { return kind() == Tree::Kind::kScalar; }
  bool isSequence() const { return kind() == Tree::Kind::kSequence; }
  bool isMap() const { return kind() == Tree::Kind::kMap; }
  std::string scalar() const {
    return isScalar() ? std::string(tree_->text(data())) : std::string();
  }
  YAML::Mark mark() const {
    YAML::Mark m = YAML::Mark::null_mark();
    if (tree_ != nullptr) {
      m.line = data().line;
      m.column = data().column;
    }
    return m;
  }
  // Items of a sequence, pairs of a map.
  size_t size() const {
    return isSequence() ? data().count : isMap() ? data().count / 2 : 0;
  }
  Node item(size_t i) const { return Node(tree_, tree_->child(data(), i)); }
  Node key(size_t i) const { return Node(tree_, tree_->child(data(), 2 * i)); }
  Node value(size_t i) const { return Node(tree_, tree_->child(data(), 2 * i + 1)); }

 private:
  const Tree::Data& data() const { return tree_->data(id_); }
  Tree::Kind kind() const { return tree_ == nullptr ? Tree::Kind::kNull : data().kind; }
  const Tree* tree_ = nullptr;
  uint32_t id_ = 0;
};

// A value in the document, with where to point at and the key path it was found under.
struct Field {
  Node node;            // the value (may be null: "key:" with nothing after it)
  YAML::Mark mark;      // the value's position, or its key's when the value is empty
  std::string path;     // "dataplane.ports[1].forward_to"
  YAML::Mark key_mark;  // the key's position (for a list item: the item's)
};

// The keys of one mapping, in file order. A mapping has a handful of keys, so a vector searched
// linearly beats a std::map (a 300,000-entry static list reads 300,000 of them).
class Fields {
 public:
  using Entry = std::pair<std::string, Field>;
  using const_iterator = std::vector<Entry>::const_iterator;
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  bool empty() const { return entries_.empty(); }
  const_iterator find(std::string_view key) const {
    return std::find_if(begin(), end(), [key](const Entry& e) { return e.first == key; });
  }
  size_t count(std::string_view key) const { return find(key) == end() ? 0 : 1; }
  void reserve(size_t n) { entries_.reserve(n); }
  void emplace(std::string key, Field field) {
    entries_.emplace_back(std::move(key), std::move(field));
  }

 private:
  std::vector<Entry> entries_;
};

// "a, b, c"
std::string joinNames(std::initializer_list<std::string_view> names);
// "parent.key" ("key" at the top level)
std::string childPath(const std::string& parent, std::string_view key);
// "parent[index]"
std::string indexPath(const std::string& parent, size_t index);
// "allowed lo-hi"
std::string range(uint64_t lo, uint64_t hi);
// One or more decimal digits and nothing else.
bool isDigits(std::string_view s);

enum class IntParse { kOk, kNotInteger, kOutOfRange };

// Decimal digits only; a leading '-' followed by digits is an integer, but out of range for
// every key of the file. Values beyond uint64_t are out of range too.
IntParse parseUnsigned(std::string_view s, uint64_t* out);

// Maps a yaml-cpp mark (0-based, possibly in a rewritten text) to the file's 1-based line.
class LineMap {
 public:
  explicit LineMap(int inserted_line) : inserted_line_(inserted_line) {}
  int line(const YAML::Mark& m) const {
    if (m.line < 0) {
      return 0;
    }
    int l = m.line;
    if (inserted_line_ >= 0 && l > inserted_line_) {
      --l;
    }
    return l + 1;
  }
  int column(const YAML::Mark& m) const { return m.line < 0 ? 0 : m.column + 1; }
  // The 0-based line, in the text yaml-cpp parsed, of the line the loader inserted (-1: none).
  int insertedLine() const { return inserted_line_; }

 private:
  int inserted_line_;
};

// The example's services list form (services.cc): when `text` has that shape, the text with
// a "rules:" line inserted before the first item, and that line's 0-based number in
// *inserted_line; else nothing.
std::optional<std::string> rewriteServicesListForm(const std::string& text, int* inserted_line);

// ---- Loader ----

// The generic readers are in loader.cc, each section's loaders in the file named after it.
class Loader {
 public:
  Loader(std::string file, LineMap lines) : file_(std::move(file)), lines_(lines) {}

  Config load(const Node& root);

 private:
  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& key, const std::string& value,
                         const std::string& message) const;
  // Points at the field; the value is echoed when it is a single value.
  [[noreturn]] void failValue(const Field& f, const std::string& message) const;
  [[noreturn]] void failMissing(const Field& parent, std::string_view key) const;

  Fields readMap(const Field& f, std::initializer_list<std::string_view> allowed) const;
  std::vector<Field> readList(const Field& f, const std::string& what) const;
  // The same one item at a time (a long list is not copied): listSize() fails when `f` is
  // neither a list nor empty.
  size_t listSize(const Field& f, const std::string& what) const;
  Field listItem(const Field& list, size_t i) const;
  std::string scalar(const Field& f, const std::string& allowed) const;
  uint64_t integer(const Field& f, const std::string& allowed) const;
  uint64_t integerIn(const Field& f, uint64_t lo, uint64_t hi) const;
  bool boolean(const Field& f) const;
  uint8_t ccProfile(const Field& f) const;
  std::string digits(const Field& f, size_t min, size_t max) const;
  // An IPv4 or IPv6 address; else `allowed` ("not an IPv4/IPv6 address (e.g. 192.0.2.1)").
  IpAddress ipAddress(const Field& f, const std::string& allowed) const;
  // 0 (the feature is off, or automatic) or lo..hi; `allowed` names both ("allowed 0 (never) or
  // 10-86400 seconds").
  uint64_t zeroOrIn(const Field& f, uint64_t lo, uint64_t hi, const std::string& allowed) const;
  // One of `names`, returned as written; else "must be one of: a, b".
  std::string oneOf(const Field& f, std::initializer_list<std::string_view> names) const;
  // A file or directory path: 1-4095 bytes, no NUL.
  std::string filePath(const Field& f, const std::string& allowed) const;
  // 1..max printable ASCII characters (0x20-0x7e).
  std::string printable(const Field& f, size_t max) const;

  void loadNode(const Field& f, NodeConfig& out) const;
  void loadDataplane(const Field& f, DataplaneConfig& out) const;
  void loadSubscribers(const Field& f, SubscribersConfig& out) const;
  std::vector<Field> loadPools(const Field& f, SubscribersConfig& out) const;
  void loadStatics(const Field& f, SubscribersConfig& out) const;
  void loadServices(const Field& f, ServicesConfig& out) const;
  void loadRules(const Field& f, const std::string& item_path, ServicesConfig& out) const;
  ServiceRule loadRule(const Field& f) const;
  void loadControl(const Field& f, ControlConfig& out) const;
  // The two return true when the section holds parts that are not implemented (warning).
  bool loadAccounting(const Field& f, AccountingConfig& out) const;
  void loadCcProfiles(const Field& f, AccountingConfig& out) const;
  CcProfile loadCcProfile(const Field& f, const Fields& m, uint8_t index) const;
  VolumeLimit loadVolume(const Field& f) const;
  ArpConfig loadArp(const Field& f) const;
  std::vector<TariffTime> loadTariff(const Field& f) const;
  void loadCdr(const Field& f, CdrConfig& out) const;
  InterimFailConfig loadInterimFail(const Field& f) const;
  RadiusConfig loadRadius(const Field& f) const;
  void loadLocalAaaServer(const Field& f, LocalBillConfig& out) const;
  BillServerConfig loadBillServer(const Field& f) const;
  void loadLocalBill(const Field& f, LocalBillConfig& out) const;
  // backup_interval and alarm_threshold of local_bill.cache and local_bill.cfcard.
  void loadBackupTiming(const Fields& m, uint32_t& interval_min, uint32_t& threshold_pct) const;

  // Records where `f` was written, for Config::locations.
  void locate(const Field& f) const {
    locations_[f.path] = SourceLocation{lines_.line(f.mark), lines_.column(f.mark)};
  }

  std::string file_;
  LineMap lines_;
  // Config::locations, filled while loading (the load functions are const otherwise).
  mutable std::map<std::string, SourceLocation, std::less<>> locations_;
  mutable bool cfcard_mode_given_ = false;  // local_bill.cfcard.backup_mode written in the file
};

}  // namespace tally::config_loader
