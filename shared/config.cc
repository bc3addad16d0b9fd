#include "shared/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <map>
#include <streambuf>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

// The YAML loader behind docs/config.md. Parsing happens in two steps: yaml-cpp builds a node
// tree (syntax errors carry a mark), then Loader walks the tree section by section and
// validates every value. The first problem found aborts the load: Loader throws a LoadFailure,
// which never leaves this file; the public functions turn it into ConfigResult::error.

namespace tally {
namespace {

constexpr const char* kZoneInfoDir = "/usr/share/zoneinfo";
constexpr uint64_t kMaxSessions = 16777216;
constexpr size_t kMaxServiceRules = 64;
constexpr uint64_t kMaxIpv4PoolAddresses = uint64_t{1} << 24;
constexpr size_t kMaxSocketPathBytes = 107;  // sizeof(sockaddr_un::sun_path) - 1
constexpr size_t kMaxPortNameChars = 63;     // RTE_DEV_NAME_MAX_LEN - 1
constexpr size_t kMaxValueEcho = 200;        // longer values are cut in error messages
constexpr size_t kMaxKeyEcho = 300;          // the same for key paths
constexpr size_t kMaxMessageEcho = 1000;     // and messages
constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;

constexpr size_t kMaxPathBytes = 4095;  // PATH_MAX - 1
constexpr uint64_t kMinVolumeOctets = 100000;
constexpr uint64_t kMaxVolumeOctets = 4000000000;
constexpr size_t kMaxTariffTimes = 4;
constexpr size_t kMaxRadiusServers = 8;

// Sections, or parts of them, that are recognised and validated but not used in this release.
constexpr std::string_view kRadiusNotImplemented =
    "accounting.radius/start_fail/interim_fail: RADIUS accounting is not implemented in this "
    "release; ignored";
constexpr std::string_view kBillTransferNotImplemented =
    "local_aaa_server: bill pool and transfer are not implemented in this release; only "
    "local_bill.cfcard.path is used";

// Thrown inside this file only.
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
  friend class TreeBuilder;
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

// Builds one document's Tree from the parser's events.
class TreeBuilder : public YAML::EventHandler {
 public:
  // `text_bytes`: the size of the text; room for that much is reserved up front (address
  // space only: untouched pages cost no memory), so the arrays are not copied as they grow.
  TreeBuilder(Tree& tree, size_t text_bytes) : tree_(tree) {
    tree_.nodes_.reserve(text_bytes / 8 + 16);
    tree_.children_.reserve(text_bytes / 8 + 16);
    tree_.text_.reserve(text_bytes);
  }
  // The document's root; a null Node when the document held nothing.
  Node root() const { return root_ ? Node(&tree_, *root_) : Node(); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    add(push(Tree::Kind::kNull, mark, anchor));
  }
  void OnAlias(const YAML::Mark&, YAML::anchor_t anchor) override {
    add(anchor < anchors_.size() ? anchors_[anchor] : push(Tree::Kind::kNull, {}, 0));
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    uint32_t id = push(Tree::Kind::kScalar, mark, anchor);
    tree_.nodes_[id].first = uint32_t(tree_.text_.size());
    tree_.nodes_[id].count = uint32_t(value.size());
    tree_.text_ += value;
    add(id);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(push(Tree::Kind::kSequence, mark, anchor));
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(push(Tree::Kind::kMap, mark, anchor));
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    uint32_t id;
    size_t first_pending;  // its children so far: pending_[first_pending..]
  };
  uint32_t push(Tree::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    uint32_t id = uint32_t(tree_.nodes_.size());
    tree_.nodes_.push_back(Tree::Data{kind, int32_t(mark.line), int32_t(mark.column), 0, 0});
    if (anchor != YAML::NullAnchor) {
      if (anchors_.size() <= anchor) {
        anchors_.resize(anchor + 1, 0);
      }
      anchors_[anchor] = id;
    }
    return id;
  }
  // A finished node: a child of the innermost open container, or the root.
  void add(uint32_t id) {
    if (open_.empty()) {
      root_ = id;
    } else {
      pending_.push_back(id);
    }
  }
  void open(uint32_t id) { open_.push_back(Open{id, pending_.size()}); }
  void close() {
    Open o = open_.back();
    open_.pop_back();
    Tree::Data& d = tree_.nodes_[o.id];
    d.first = uint32_t(tree_.children_.size());
    d.count = uint32_t(pending_.size() - o.first_pending);
    tree_.children_.insert(tree_.children_.end(), pending_.begin() + ptrdiff_t(o.first_pending),
                           pending_.end());
    pending_.resize(o.first_pending);
    add(o.id);
  }

  Tree& tree_;
  std::optional<uint32_t> root_;
  std::vector<Open> open_;
  std::vector<uint32_t> pending_;
  std::vector<uint32_t> anchors_;  // anchor_t -> node
};

// An istream over a string without copying it.
class StringViewBuf : public std::streambuf {
 public:
  explicit StringViewBuf(const std::string& s) {
    char* p = const_cast<char*>(s.data());  // only read (get area)
    setg(p, p, p + s.size());
  }
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

enum class IntParse { kOk, kNotInteger, kOutOfRange };

// Decimal digits only; a leading '-' followed by digits is an integer, but out of range for
// every key of this file. Values beyond uint64_t are out of range too.
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

bool isZoneFile(const std::string& name) {
  std::string path = std::string(kZoneInfoDir) + "/" + name;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return false;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  char magic[4] = {};
  ssize_t n = ::read(fd, magic, sizeof magic);
  ::close(fd);
  return n == 4 && std::memcmp(magic, "TZif", 4) == 0;
}

bool validZoneName(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '/';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool overlaps(const IpPrefix& a, const IpPrefix& b) {
  if (a.addr.family != b.addr.family) {
    return false;
  }
  return a.len <= b.len ? a.contains(b.addr) : b.contains(a.addr);
}

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

// ---- The services list form of the agreed example ----
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

// ---- Loader ----

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
  std::vector<TariffTime> loadTariff(const Field& f) const;
  void loadCdr(const Field& f, CdrConfig& out) const;
  void checkInterimFail(const Field& f) const;
  void checkRadius(const Field& f) const;
  bool loadLocalAaaServer(const Field& f, LocalBillConfig& out) const;
  void checkBillServer(const Field& f) const;
  bool loadLocalBill(const Field& f, LocalBillConfig& out) const;
  void checkBackupTiming(const Fields& m) const;

  // Records where `f` was written, for Config::locations.
  void locate(const Field& f) const {
    locations_[f.path] = SourceLocation{lines_.line(f.mark), lines_.column(f.mark)};
  }

  std::string file_;
  LineMap lines_;
  // Config::locations, filled while loading (the load functions are const otherwise).
  mutable std::map<std::string, SourceLocation, std::less<>> locations_;
};

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
  bool local_aaa_warning = false;
  if (auto it = sections.find("accounting"); it != sections.end()) {
    accounting_warning = loadAccounting(it->second, config.accounting);
  }
  if (auto it = sections.find("local_aaa_server"); it != sections.end()) {
    local_aaa_warning = loadLocalAaaServer(it->second, config.local_bill);
  }
  config.locations = std::move(locations_);
  // Warnings in file order (only once the whole file is valid).
  for (size_t i = 0; i < root.size(); ++i) {
    std::string name = root.key(i).scalar();
    if (name == "accounting" && accounting_warning) {
      config.warnings.emplace_back(kRadiusNotImplemented);
    } else if (name == "local_aaa_server" && local_aaa_warning) {
      config.warnings.emplace_back(kBillTransferNotImplemented);
    }
  }
  return config;
}

void Loader::loadNode(const Field& f, NodeConfig& out) const {
  Fields m = readMap(f, {"id", "address", "timezone", "state_dir"});
  if (auto it = m.find("id"); it != m.end()) {
    // Part of every CDR file name (docs/cdr-format.md): a name starting with a dot is not a
    // CDR file there (".tally-sequence", "." and ".." are not files at all).
    static const std::string kAllowed =
        "must be 1-20 characters of A-Z a-z 0-9 _ . -, not starting with '.' (it starts the CDR "
        "file names)";
    std::string id = scalar(it->second, kAllowed);
    bool ok = !id.empty() && id.size() <= 20 && id.front() != '.';
    for (char c : id) {
      ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-');
    }
    if (!ok) {
      failValue(it->second, kAllowed);
    }
    out.id = id;
  }
  auto address = m.find("address");
  if (address == m.end()) {
    failMissing(f, "address");
  }
  {
    static const std::string kAllowed = "not an IPv4/IPv6 address (e.g. 192.0.2.1)";
    auto a = parseIpAddress(scalar(address->second, kAllowed));
    if (!a) {
      failValue(address->second, kAllowed);
    }
    out.address = *a;
  }
  if (auto it = m.find("timezone"); it != m.end()) {
    static const std::string kAllowed =
        "unknown time zone: must be UTC or a name under /usr/share/zoneinfo (e.g. Europe/Berlin)";
    std::string tz = scalar(it->second, kAllowed);
    if (tz != "UTC" && (!validZoneName(tz) || !isZoneFile(tz))) {
      failValue(it->second, kAllowed);
    }
    out.timezone = tz;
    locate(it->second);
  }
  if (auto it = m.find("state_dir"); it != m.end()) {
    out.state_dir =
        filePath(it->second, "must be a directory path of 1-4095 bytes (e.g. /var/lib/tally)");
  }
}

void Loader::loadDataplane(const Field& f, DataplaneConfig& out) const {
  Fields m =
      readMap(f, {"eal", "ports", "workers", "max_sessions", "poll_interval_ms", "burst_size",
                  "mbufs", "max_frame_size"});
  if (auto it = m.find("eal"); it != m.end()) {
    for (const Field& arg : readList(it->second, "strings (EAL arguments)")) {
      out.eal.push_back(scalar(arg, "must be a string (an EAL argument)"));
      locate(arg);
    }
  }
  auto ports = m.find("ports");
  if (ports == m.end()) {
    failMissing(f, "ports");
  }
  std::string ports_allowed = "allowed 1-" + std::to_string(kMaxPorts) + " ports";
  std::vector<Field> items = readList(ports->second, "ports: " + ports_allowed);
  if (items.empty()) {
    failValue(ports->second, "no ports: " + ports_allowed);
  }
  std::vector<std::optional<Field>> forwards;  // parallel to out.ports
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    if (i == kMaxPorts) {
      fail(item.mark, item.path, "", "too many ports: " + ports_allowed);
    }
    Fields p = readMap(item, {"name", "role", "forward_to"});
    PortConfig port;
    auto name = p.find("name");
    if (name == p.end()) {
      failMissing(item, "name");
    }
    static const std::string kNameAllowed =
        "must be 1-63 characters without spaces (a DPDK device name)";
    port.name = scalar(name->second, kNameAllowed);
    locate(name->second);
    bool name_ok = !port.name.empty() && port.name.size() <= kMaxPortNameChars;
    for (char c : port.name) {
      name_ok = name_ok && c > ' ' && c != 0x7f;
    }
    if (!name_ok) {
      failValue(name->second, kNameAllowed);
    }
    for (size_t j = 0; j < out.ports.size(); ++j) {
      if (out.ports[j].name == port.name) {
        failValue(name->second, "duplicate port name: already used by " + items[j].path);
      }
    }
    auto role = p.find("role");
    if (role == p.end()) {
      failMissing(item, "role");
    }
    static const std::string kRoleAllowed = "must be one of: access, core";
    std::string r = scalar(role->second, kRoleAllowed);
    if (r == "access") {
      port.role = PortRole::kAccess;
    } else if (r == "core") {
      port.role = PortRole::kCore;
    } else {
      failValue(role->second, kRoleAllowed);
    }
    auto fwd = p.find("forward_to");
    forwards.push_back(fwd == p.end() ? std::nullopt : std::optional<Field>(fwd->second));
    out.ports.push_back(std::move(port));
  }
  for (size_t i = 0; i < out.ports.size(); ++i) {
    if (!forwards[i]) {
      continue;
    }
    const Field& fwd = *forwards[i];
    std::string others;
    for (const PortConfig& p : out.ports) {
      if (p.name != out.ports[i].name) {
        others += (others.empty() ? "" : ", ") + p.name;
      }
    }
    std::string allowed = others.empty()
                              ? std::string("must name another configured port: there is none")
                              : "must name another configured port: one of " + others;
    std::string target = scalar(fwd, allowed);
    bool found = false;
    for (const PortConfig& p : out.ports) {
      found = found || (p.name == target && p.name != out.ports[i].name);
    }
    if (!found) {
      failValue(fwd, allowed);
    }
    out.ports[i].forward_to = target;
  }
  if (auto it = m.find("workers"); it != m.end()) {
    out.workers = uint32_t(integerIn(it->second, 1, kMaxWorkers));
    locate(it->second);
  }
  if (auto it = m.find("max_sessions"); it != m.end()) {
    out.max_sessions = uint32_t(integerIn(it->second, 1, kMaxSessions));
  }
  if (auto it = m.find("poll_interval_ms"); it != m.end()) {
    out.poll_interval_ms = uint32_t(integerIn(it->second, 10, 10000));
  }
  if (auto it = m.find("burst_size"); it != m.end()) {
    out.burst_size = uint32_t(integerIn(it->second, 1, 256));
  }
  if (auto it = m.find("mbufs"); it != m.end()) {
    static const std::string kAllowed = "allowed 0 (sized automatically) or 1024-16777216";
    uint64_t v = integer(it->second, kAllowed);
    if (v > 16777216 || (v > 0 && v < 1024)) {
      failValue(it->second, "out of range: " + kAllowed);
    }
    out.mbufs = uint32_t(v);
  }
  if (auto it = m.find("max_frame_size"); it != m.end()) {
    out.max_frame_size = uint32_t(integerIn(it->second, kMinMaxFrameSize, kMaxMaxFrameSize));
  }
}

std::vector<Field> Loader::loadPools(const Field& f, SubscribersConfig& out) const {
  static const std::string kAllowed = "not an IPv4/IPv6 prefix (e.g. 10.0.0.0/8)";
  std::vector<Field> items = readList(f, "prefixes (e.g. [10.0.0.0/8, \"2001:db8::/32\"])");
  if (items.empty()) {
    failValue(f, "no pools: at least one prefix is required (e.g. 10.0.0.0/8)");
  }
  uint64_t v4_total = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    std::string text = scalar(item, kAllowed);
    std::optional<IpPrefix> p;
    if (text.find('/') != std::string::npos) {
      p = parseIpPrefix(text, /*allow_host_bits=*/true);
    }
    if (!p) {
      failValue(item, kAllowed);
    }
    if (!parseIpPrefix(text)) {
      failValue(item, "host bits set: the prefix is " + formatPrefix(*p));
    }
    if (p->addr.family == 4 && (p->len < 8 || p->len > 32)) {
      failValue(item, "prefix length out of range: allowed /8-/32 for IPv4 pools");
    }
    if (p->addr.family == 6 && (p->len < 16 || p->len > 128)) {
      failValue(item, "prefix length out of range: allowed /16-/128 for IPv6 pools");
    }
    for (size_t j = 0; j < out.pools.size(); ++j) {
      if (overlaps(out.pools[j], *p)) {
        failValue(item, "overlaps " + items[j].path + " (" + formatPrefix(out.pools[j]) +
                            "): pools must not overlap");
      }
    }
    if (p->addr.family == 4) {
      v4_total += uint64_t{1} << (32 - p->len);
      if (v4_total > kMaxIpv4PoolAddresses) {
        failValue(item, "IPv4 pools too large: together " + std::to_string(v4_total) +
                            " addresses, allowed at most 16777216 (2^24, one /8)");
      }
    }
    out.pools.push_back(*p);
  }
  return items;
}

void Loader::loadSubscribers(const Field& f, SubscribersConfig& out) const {
  Fields m = readMap(
      f, {"pools", "ipv6_prefix_length", "learn", "idle_timeout", "default_cc_profile", "static"});
  auto pools = m.find("pools");
  if (pools == m.end()) {
    failMissing(f, "pools");
  }
  std::vector<Field> pool_fields = loadPools(pools->second, out);
  unsigned longest_v6 = 0;
  size_t longest_index = 0;
  for (size_t i = 0; i < out.pools.size(); ++i) {
    if (out.pools[i].addr.family == 6 && out.pools[i].len > longest_v6) {
      longest_v6 = out.pools[i].len;
      longest_index = i;
    }
  }
  if (auto it = m.find("ipv6_prefix_length"); it != m.end()) {
    out.ipv6_prefix_length = uint8_t(integerIn(it->second, 32, 128));
    if (out.ipv6_prefix_length < longest_v6) {
      failValue(it->second, "out of range: allowed " + std::to_string(longest_v6) +
                                "-128 (not shorter than IPv6 pool " +
                                formatPrefix(out.pools[longest_index]) + ")");
    }
  } else if (longest_v6 > out.ipv6_prefix_length) {
    failValue(pool_fields[longest_index],
              "prefix length out of range: IPv6 pools may be at most /" +
                  std::to_string(out.ipv6_prefix_length) +
                  " (subscribers.ipv6_prefix_length, default 64); raise ipv6_prefix_length");
  }
  if (auto it = m.find("learn"); it != m.end()) {
    out.learn = boolean(it->second);
  }
  if (auto it = m.find("idle_timeout"); it != m.end()) {
    static const std::string kAllowed = "allowed 0 (never) or 10-86400 seconds";
    uint64_t v = integer(it->second, kAllowed);
    if (v > 86400 || (v > 0 && v < 10)) {
      failValue(it->second, "out of range: " + kAllowed);
    }
    out.idle_timeout_s = uint32_t(v);
  }
  if (auto it = m.find("default_cc_profile"); it != m.end()) {
    out.default_cc_profile = ccProfile(it->second);
  }
  if (auto it = m.find("static"); it != m.end()) {
    loadStatics(it->second, out);
  }
}

void Loader::loadStatics(const Field& f, SubscribersConfig& out) const {
  // The subscriber key (IPv4 address, or IPv6 prefix) -> index of the first entry with it.
  struct KeyHash {
    size_t operator()(const std::tuple<uint8_t, uint64_t, uint64_t>& k) const {
      auto [family, hi, lo] = k;
      return std::hash<uint64_t>()(hi * 0x9e3779b97f4a7c15ULL ^ lo ^ family);
    }
  };
  std::unordered_map<std::tuple<uint8_t, uint64_t, uint64_t>, size_t, KeyHash> seen;
  const size_t count = listSize(f, "static subscribers");
  seen.reserve(count);
  out.statics.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const Field item = listItem(f, i);
    Fields s = readMap(item, {"address", "imsi", "msisdn", "user_name", "cc_profile"});
    StaticSubscriber sub;
    sub.line = lines_.line(item.mark);
    auto address = s.find("address");
    if (address == s.end()) {
      failMissing(item, "address");
    }
    static const std::string kAllowed = "not an IPv4/IPv6 address (e.g. 10.0.0.1)";
    auto a = parseIpAddress(scalar(address->second, kAllowed));
    if (!a) {
      failValue(address->second, kAllowed);
    }
    sub.address = *a;
    bool in_pool = false;
    for (const IpPrefix& p : out.pools) {
      in_pool = in_pool || p.contains(*a);
    }
    if (!in_pool) {
      std::string pool_list;
      for (const IpPrefix& p : out.pools) {
        pool_list += (pool_list.empty() ? "" : ", ") + formatPrefix(p);
      }
      failValue(address->second, "not inside any subscribers.pools prefix: " + pool_list);
    }
    std::tuple<uint8_t, uint64_t, uint64_t> key{4, a->v4, 0};
    if (a->family == 6) {
      Ip6 k = maskIp6(a->v6, out.ipv6_prefix_length);
      key = {6, k.hi, k.lo};
    }
    if (auto prev = seen.find(key); prev != seen.end()) {
      std::string what = a->family == 4
                             ? "same address as "
                             : "same /" + std::to_string(out.ipv6_prefix_length) + " prefix as ";
      failValue(address->second, "duplicate static subscriber: " + what +
                                     indexPath(f.path, prev->second) +
                                     " (line " + std::to_string(out.statics[prev->second].line) +
                                     ")");
    }
    seen.emplace(key, i);
    if (auto it = s.find("imsi"); it != s.end()) {
      sub.imsi = digits(it->second, 5, 15);
    }
    if (auto it = s.find("msisdn"); it != s.end()) {
      sub.msisdn = digits(it->second, 1, 15);
    }
    if (auto it = s.find("user_name"); it != s.end()) {
      static const std::string kNameAllowed = "must be 1-64 printable ASCII characters";
      sub.user_name = scalar(it->second, kNameAllowed);
      bool ok = !sub.user_name.empty() && sub.user_name.size() <= 64;
      for (char c : sub.user_name) {
        ok = ok && c >= 0x20 && c <= 0x7e;
      }
      if (!ok) {
        failValue(it->second, kNameAllowed);
      }
    }
    if (auto it = s.find("cc_profile"); it != s.end()) {
      sub.cc_profile = ccProfile(it->second);
    }
    out.statics.push_back(std::move(sub));
  }
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

void Loader::loadControl(const Field& f, ControlConfig& out) const {
  Fields m = readMap(f, {"socket", "socket_mode"});
  if (auto it = m.find("socket"); it != m.end()) {
    static const std::string kAllowed =
        "must be a file path of 1-107 bytes, not ending in '/' (e.g. /run/tally/tally.sock)";
    std::string path = scalar(it->second, kAllowed);
    if (path.empty() || path.size() > kMaxSocketPathBytes || path.back() == '/' ||
        path.find('\0') != std::string::npos) {
      failValue(it->second, kAllowed);
    }
    out.socket = path;
    locate(it->second);
  }
  if (auto it = m.find("socket_mode"); it != m.end()) {
    static const std::string kAllowed =
        "must be an octal mode 0000-0777 with read and write for the owner and nothing for "
        "others (e.g. 0660)";
    std::string text = scalar(it->second, kAllowed);
    std::string_view octal = text;
    if (octal.substr(0, 2) == "0o") {
      octal.remove_prefix(2);
    }
    bool ok = !octal.empty() && octal.size() <= 4;
    uint32_t mode = 0;
    for (char c : octal) {
      ok = ok && c >= '0' && c <= '7';
      mode = mode * 8 + uint32_t(c - '0');
    }
    if (!ok) {
      failValue(it->second, "not an octal mode: " + kAllowed);
    }
    if (mode > 0777) {
      failValue(it->second, "out of range: " + kAllowed);
    }
    if ((mode & 07) != 0) {
      failValue(it->second, "world bits set: " + kAllowed);
    }
    if ((mode & 0600) != 0600) {
      failValue(it->second, "owner lacks read or write: " + kAllowed);
    }
    out.socket_mode = mode;
  }
}

// ---- accounting ----

bool Loader::loadAccounting(const Field& f, AccountingConfig& out) const {
  Fields m = readMap(f, {"policy", "start_fail", "interim_fail", "radius", "cdr"});
  if (auto it = m.find("policy"); it != m.end()) {
    Fields policy = readMap(it->second, {"cc_profiles"});
    if (auto p = policy.find("cc_profiles"); p != policy.end()) {
      loadCcProfiles(p->second, out);
    }
  }
  if (auto it = m.find("cdr"); it != m.end()) {
    loadCdr(it->second, out.cdr);
  }
  // RADIUS accounting (semantics.md §4): validated, not used in this release.
  bool radius = false;
  if (auto it = m.find("start_fail"); it != m.end()) {
    oneOf(it->second, {"offline", "online"});
    radius = true;
  }
  if (auto it = m.find("interim_fail"); it != m.end()) {
    checkInterimFail(it->second);
    radius = true;
  }
  if (auto it = m.find("radius"); it != m.end()) {
    checkRadius(it->second);
    radius = true;
  }
  return radius;
}

void Loader::loadCcProfiles(const Field& f, AccountingConfig& out) const {
  std::vector<Field> items = readList(f, "CC profiles (each a mapping with index: 1, 2, 4 or 8)");
  std::map<uint8_t, size_t> seen;  // index -> position in items
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    Fields m = readMap(item, {"index", "buckets", "interval", "interval_min_volume", "sdf_interval",
                              "sdf_volume", "serving_nodes", "tariff", "volume"});
    auto index = m.find("index");
    if (index == m.end()) {
      failMissing(item, "index");
    }
    uint8_t n = ccProfile(index->second);
    if (auto prev = seen.find(n); prev != seen.end()) {
      failValue(index->second, "duplicate profile index: already listed at " +
                                   items[prev->second].path + " (line " +
                                   std::to_string(lines_.line(items[prev->second].mark)) + ")");
    }
    seen.emplace(n, i);
    CcProfile profile = loadCcProfile(item, m, n);
    for (CcProfile& slot : out.cc_profiles) {
      if (slot.index == n) {
        slot = std::move(profile);
      }
    }
  }
}

CcProfile Loader::loadCcProfile(const Field& f, const Fields& m, uint8_t index) const {
  // Starts from the defaults: a key not given keeps its default (the seed's "no cc profile N
  // key"), a profile with nothing but its index is the seed's "default cc profile N".
  CcProfile p;
  p.index = index;
  p.line = lines_.line(f.mark);
  if (auto it = m.find("buckets"); it != m.end()) {
    p.buckets = uint32_t(integerIn(it->second, 1, 20));
  }
  if (auto it = m.find("interval"); it != m.end()) {
    p.interval_s = uint32_t(integerIn(it->second, 60, 40000000));
  }
  if (auto it = m.find("interval_min_volume"); it != m.end()) {
    p.interval_min_volume = integerIn(it->second, 0, kMaxVolumeOctets);
    if (!p.interval_s) {
      failValue(it->second, "only allowed together with " + childPath(f.path, "interval") +
                                ": the minimum volume applies to the interval trigger");
    }
  }
  if (auto it = m.find("sdf_interval"); it != m.end()) {
    p.sdf_interval_s = uint32_t(integerIn(it->second, 60, 40000000));
  }
  if (auto it = m.find("sdf_volume"); it != m.end()) {
    p.sdf_volume = loadVolume(it->second);
  }
  if (auto it = m.find("serving_nodes"); it != m.end()) {
    p.serving_nodes = uint32_t(integerIn(it->second, 1, 15));
  }
  if (auto it = m.find("tariff"); it != m.end()) {
    p.tariff = loadTariff(it->second);
  }
  if (auto it = m.find("volume"); it != m.end()) {
    p.volume = loadVolume(it->second);
  }
  return p;
}

VolumeLimit Loader::loadVolume(const Field& f) const {
  Fields m = readMap(f, {"total", "uplink", "downlink"});
  if (m.empty()) {
    failValue(f,
              "no limit: give {total: N} or {uplink: N, downlink: N} (one or both), or omit "
              "the key to disable it");
  }
  VolumeLimit v;
  auto octets = [&](std::string_view key, std::optional<uint64_t>& out) {
    if (auto it = m.find(key); it != m.end()) {
      out = integerIn(it->second, kMinVolumeOctets, kMaxVolumeOctets);
    }
  };
  octets("total", v.total);
  octets("uplink", v.uplink);
  octets("downlink", v.downlink);
  if (v.total && (v.uplink || v.downlink)) {
    std::string others;
    for (std::string_view key : {"uplink", "downlink"}) {
      if (m.count(key) != 0) {
        others += (others.empty() ? "" : " and ") + childPath(f.path, key);
      }
    }
    failValue(m.find("total")->second,
              "exclusive with " + others + ": give either total, or uplink and/or downlink");
  }
  return v;
}

std::vector<TariffTime> Loader::loadTariff(const Field& f) const {
  static const std::string kAllowed =
      "must be \"hh:mm\" with two digits each, 00:00-23:59 (e.g. \"07:00\")";
  std::vector<Field> items = readList(f, "times of day (\"hh:mm\", at most 4)");
  std::vector<TariffTime> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    if (i == kMaxTariffTimes) {
      failValue(item, "too many tariff times: allowed at most " + std::to_string(kMaxTariffTimes));
    }
    std::string text = scalar(item, kAllowed);
    if (text.size() != 5 || text[2] != ':' || !isDigits(std::string_view(text).substr(0, 2)) ||
        !isDigits(std::string_view(text).substr(3, 2))) {
      failValue(item, "not a time of day: " + kAllowed);
    }
    TariffTime t;
    int hour = (text[0] - '0') * 10 + (text[1] - '0');
    int minute = (text[3] - '0') * 10 + (text[4] - '0');
    if (hour > 23 || minute > 59) {
      failValue(item, "out of range: " + kAllowed);
    }
    t.hour = uint8_t(hour);
    t.minute = uint8_t(minute);
    for (size_t j = 0; j < out.size(); ++j) {
      if (out[j] == t) {
        failValue(item, "duplicate tariff time: same as " + items[j].path + " (line " +
                            std::to_string(lines_.line(items[j].mark)) + ", column " +
                            std::to_string(lines_.column(items[j].mark)) + ")");
      }
    }
    out.push_back(t);
  }
  std::sort(out.begin(), out.end(), [](const TariffTime& a, const TariffTime& b) {
    return a.hour != b.hour ? a.hour < b.hour : a.minute < b.minute;
  });
  return out;
}

void Loader::loadCdr(const Field& f, CdrConfig& out) const {
  Fields m = readMap(f, {"format", "file_max_records", "file_max_age", "file_max_bytes", "apn"});
  if (auto it = m.find("format"); it != m.end()) {
    out.format = oneOf(it->second, {"3gpp", "csv"}) == "csv" ? CdrFormat::kCsv : CdrFormat::k3gpp;
  }
  if (auto it = m.find("file_max_records"); it != m.end()) {
    out.file_max_records = uint32_t(integerIn(it->second, 1, 65535));
  }
  if (auto it = m.find("file_max_age"); it != m.end()) {
    out.file_max_age_s = uint32_t(integerIn(it->second, 1, 86400));
  }
  if (auto it = m.find("file_max_bytes"); it != m.end()) {
    out.file_max_bytes = uint32_t(integerIn(it->second, 4096, 104857600));
  }
  if (auto it = m.find("apn"); it != m.end()) {
    static const std::string kAllowed =
        "must be 1-63 characters of A-Z a-z 0-9 . -, labels separated by single dots (e.g. "
        "internet or apn.example)";
    std::string apn = scalar(it->second, kAllowed);
    bool ok = !apn.empty() && apn.size() <= 63 && apn.front() != '.' && apn.back() != '.' &&
              apn.find("..") == std::string::npos;
    for (char c : apn) {
      ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-');
    }
    if (!ok) {
      failValue(it->second, kAllowed);
    }
    out.apn = apn;
  }
}

void Loader::checkInterimFail(const Field& f) const {
  Fields m = readMap(f, {"max_times", "action"});
  if (auto it = m.find("max_times"); it != m.end()) {
    integerIn(it->second, 1, 255);
  }
  if (auto it = m.find("action"); it != m.end()) {
    oneOf(it->second, {"online", "offline"});
  }
}

void Loader::checkRadius(const Field& f) const {
  Fields m = readMap(f, {"servers", "timeout_ms", "retries", "interim_interval"});
  auto servers = m.find("servers");
  if (servers == m.end()) {
    failMissing(f, "servers");
  }
  std::string servers_allowed = "allowed 1-" + std::to_string(kMaxRadiusServers) + " servers";
  std::vector<Field> items =
      readList(servers->second, "servers ({address, port, secret_file}): " + servers_allowed);
  if (items.empty()) {
    failValue(servers->second, "no servers: " + servers_allowed);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const Field& item = items[i];
    if (i == kMaxRadiusServers) {
      fail(item.mark, item.path, "", "too many servers: " + servers_allowed);
    }
    Fields s = readMap(item, {"address", "port", "secret_file"});
    auto address = s.find("address");
    if (address == s.end()) {
      failMissing(item, "address");
    }
    static const std::string kAddressAllowed = "not an IPv4/IPv6 address (e.g. 192.0.2.10)";
    if (!parseIpAddress(scalar(address->second, kAddressAllowed))) {
      failValue(address->second, kAddressAllowed);
    }
    if (auto it = s.find("port"); it != s.end()) {
      integerIn(it->second, 1, 65535);
    }
    auto secret = s.find("secret_file");
    if (secret == s.end()) {
      failMissing(item, "secret_file");
    }
    filePath(secret->second, "must be a file path of 1-4095 bytes (the file holds the secret)");
  }
  if (auto it = m.find("timeout_ms"); it != m.end()) {
    integerIn(it->second, 100, 60000);
  }
  if (auto it = m.find("retries"); it != m.end()) {
    integerIn(it->second, 0, 10);
  }
  if (auto it = m.find("interim_interval"); it != m.end()) {
    static const std::string kAllowed = "allowed 0 (no interim updates) or 60-86400 seconds";
    uint64_t v = integer(it->second, kAllowed);
    if (v > 86400 || (v > 0 && v < 60)) {
      failValue(it->second, "out of range: " + kAllowed);
    }
  }
}

// ---- local_aaa_server ----

bool Loader::loadLocalAaaServer(const Field& f, LocalBillConfig& out) const {
  Fields m = readMap(f, {"local_bill_pool", "bill_server", "local_bill"});
  bool not_implemented = false;
  if (auto it = m.find("local_bill_pool"); it != m.end()) {
    Fields pool = readMap(it->second, {"enable", "capacity"});
    if (auto e = pool.find("enable"); e != pool.end()) {
      boolean(e->second);
    }
    if (auto c = pool.find("capacity"); c != pool.end()) {
      integerIn(c->second, 1, 1048576);
    }
    not_implemented = true;
  }
  if (auto it = m.find("bill_server"); it != m.end()) {
    checkBillServer(it->second);
    not_implemented = true;
  }
  if (auto it = m.find("local_bill"); it != m.end()) {
    not_implemented = loadLocalBill(it->second, out) || not_implemented;
  }
  return not_implemented;
}

void Loader::checkBillServer(const Field& f) const {
  Fields m = readMap(f, {"address", "port", "filename", "user_name", "password", "known_hosts"});
  auto address = m.find("address");
  if (address == m.end()) {
    failMissing(f, "address");
  }
  static const std::string kAddressAllowed = "not an IPv4/IPv6 address (e.g. 192.0.2.20)";
  if (!parseIpAddress(scalar(address->second, kAddressAllowed))) {
    failValue(address->second, kAddressAllowed);
  }
  if (auto it = m.find("port"); it != m.end()) {
    integerIn(it->second, 1, 65535);
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
  }
  if (auto it = m.find("user_name"); it != m.end()) {
    printable(it->second, 64);
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
    printable(cipher->second, 1024);
  }
  if (auto it = m.find("known_hosts"); it != m.end()) {
    filePath(it->second, "must be a file path of 1-4095 bytes (an OpenSSH known_hosts file)");
  }
}

bool Loader::loadLocalBill(const Field& f, LocalBillConfig& out) const {
  Fields m = readMap(f, {"cache", "cfcard"});
  bool not_implemented = false;
  if (auto it = m.find("cache"); it != m.end()) {
    Fields cache = readMap(it->second, {"backup_mode", "backup_interval", "alarm_threshold"});
    if (auto b = cache.find("backup_mode"); b != cache.end()) {
      oneOf(b->second, {"cfcard", "none", "tftp", "sftp"});
    }
    checkBackupTiming(cache);
    not_implemented = true;
  }
  if (auto it = m.find("cfcard"); it != m.end()) {
    Fields cf = readMap(it->second,
                        {"path", "capacity", "backup_mode", "backup_interval", "alarm_threshold"});
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
    }
    if (auto b = cf.find("backup_mode"); b != cf.end()) {
      oneOf(b->second, {"tftp", "sftp"});
    }
    checkBackupTiming(cf);
    for (const auto& [key, field] : cf) {
      not_implemented = not_implemented || key != "path";
    }
  }
  return not_implemented;
}

void Loader::checkBackupTiming(const Fields& m) const {
  if (auto it = m.find("backup_interval"); it != m.end()) {
    integerIn(it->second, 1, 65535);
  }
  if (auto it = m.find("alarm_threshold"); it != m.end()) {
    integerIn(it->second, 50, 100);
  }
}

// ---- Entry points ----

ConfigError syntaxError(const std::string& file, const YAML::Exception& e, const LineMap& lines) {
  ConfigError err;
  err.file = file;
  err.line = lines.line(e.mark);
  err.column = lines.column(e.mark);
  if (const auto* deep = dynamic_cast<const YAML::DeepRecursion*>(&e)) {
    err.message =
        "YAML syntax error: nesting deeper than " + std::to_string(deep->depth()) + " levels";
  } else {
    err.message = "YAML syntax error: " + e.msg;
  }
  return err;
}

// The one document of `text`, built into `tree`; a null node when the text holds none.
Node loadDocument(const std::string& text, const std::string& file, const LineMap& lines,
                  Tree& tree) {
  StringViewBuf buf(text);
  std::istream in(&buf);
  YAML::Parser parser(in);
  TreeBuilder first(tree, text.size());
  if (!parser.HandleNextDocument(first)) {
    return Node();
  }
  Tree second_tree;
  TreeBuilder second(second_tree, 0);
  if (parser.HandleNextDocument(second)) {
    ConfigError err;
    err.file = file;
    err.line = lines.line(second.root().mark());
    err.column = lines.column(second.root().mark());
    err.message = "more than one YAML document: a configuration file holds exactly one";
    throw LoadFailure{std::move(err)};
  }
  return first.root();
}

// "0a" for 0x0a.
std::string hexByte(unsigned char c) {
  static const char kHex[] = "0123456789abcdef";
  return std::string{kHex[c >> 4], kHex[c & 15]};
}

// YAML 1.2 §5.1: a document is printable Unicode text (tab, line breaks, U+0020-U+007E, U+0085,
// U+00A0-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF) in UTF-8 here. yaml-cpp would turn a NUL
// or a stray byte into a misleading message ("unknown escape character"), so the text is
// checked first: the first byte outside that set is reported with its position.
std::optional<ConfigError> checkText(const std::string& text, const std::string& file) {
  int line = 1;
  int column = 1;
  auto error = [&](std::string message) {
    return ConfigError{file, line, column, "", "",
                       std::move(message) +
                           ": a configuration file is UTF-8 text without control characters "
                           "other than tab and line breaks"};
  };
  auto byteHex = [](unsigned char c) { return "0x" + hexByte(c); };
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c < 0x80) {
      if (c == '\n') {
        ++line;
        column = 1;
      } else if (c < 0x20 && c != '\t' && c != '\r') {
        return error("control character " + byteHex(c));
      } else if (c == 0x7f) {
        return error("control character " + byteHex(c));
      } else {
        ++column;
      }
      ++i;
      continue;
    }
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    uint32_t cp = len == 4 ? c & 0x07u : len == 3 ? c & 0x0fu : c & 0x1fu;
    bool ok = len != 0 && c <= 0xf4 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (p[i + k] & 0xc0) == 0x80;
      cp = (cp << 6) | (p[i + k] & 0x3fu);
    }
    // No overlong forms, no surrogates, nothing beyond U+10FFFF.
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMin[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    if (!ok) {
      return error("invalid UTF-8 byte " + byteHex(c));
    }
    if ((cp >= 0x80 && cp <= 0x9f && cp != 0x85) || cp == 0xfffe || cp == 0xffff) {
      char u[16];
      std::snprintf(u, sizeof u, "U+%04X", unsigned(cp));
      return error(std::string("control character ") + u);
    }
    ++column;
    i += len;
  }
  return std::nullopt;
}

ConfigResult parse(const std::string& text, const std::string& file) {
  ConfigResult result;
  LineMap lines(-1);
  if (std::optional<ConfigError> bad = checkText(text, file)) {
    result.error = std::move(bad);
    return result;
  }
  try {
    Tree tree;
    Node root;
    try {
      root = loadDocument(text, file, lines, tree);
    } catch (const YAML::ParserException& e) {
      int inserted = -1;
      std::optional<std::string> rewritten = rewriteServicesListForm(text, &inserted);
      if (!rewritten) {
        throw;
      }
      lines = LineMap(inserted);
      tree = Tree();
      root = loadDocument(*rewritten, file, lines, tree);
    }
    result.config = Loader(file, lines).load(root);
  } catch (const LoadFailure& f) {
    result.error = f.error;
  } catch (const YAML::Exception& e) {
    result.error = syntaxError(file, e, lines);
  } catch (const std::exception& e) {
    result.error = ConfigError{file, 0, 0, "", "", std::string("internal error: ") + e.what()};
  } catch (...) {
    result.error = ConfigError{file, 0, 0, "", "", "internal error"};
  }
  if (result.error) {
    result.config.reset();
  }
  return result;
}

// Text from the file as it may be shown in a message: bytes outside printable ASCII as \xNN
// (control characters, and any byte of a non-ASCII character: never raw binary on a
// terminal or in a log), cut after `max` bytes.
std::string echo(const std::string& value, size_t max = kMaxValueEcho) {
  std::string out;
  for (size_t i = 0; i < value.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x" + hexByte(c);
    } else {
      out += char(c);
    }
  }
  if (value.size() > max) {
    out += "...";
  }
  return out;
}

// Last resort when even building an error failed (out of memory): never let anything escape.
ConfigResult internalError(const std::string& file) noexcept {
  ConfigResult result;
  try {
    result.error = ConfigError{file, 0, 0, "", "", "internal error (out of memory?)"};
  } catch (...) {
    result.error.emplace();
  }
  return result;
}

}  // namespace

std::string ConfigError::format() const {
  std::string out = file.empty() ? std::string("<config>") : file;
  if (line > 0) {
    out += ":" + std::to_string(line) + ":" + std::to_string(column);
  }
  out += ": ";
  // The key path holds names as written (an unknown key can be anything) and a message can
  // quote the file (port names, yaml-cpp's "unknown escape character"): all escaped.
  if (!key.empty()) {
    out += echo(key, kMaxKeyEcho) + ": ";
  }
  if (!value.empty()) {
    out += "value '" + echo(value) + "' ";
  }
  out += echo(message, kMaxMessageEcho);
  return out;
}

ConfigResult parseConfigText(const std::string& yaml_text, const std::string& name) {
  try {
    return parse(yaml_text, name);
  } catch (...) {
    return internalError(name);
  }
}

ConfigResult loadConfigFile(const std::string& path) {
  try {
    auto cannotRead = [&path](int err) {
      ConfigResult r;
      r.error = ConfigError{path, 0, 0, "", "", std::string("cannot read: ") + std::strerror(err)};
      return r;
    };
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return cannotRead(errno);
    }
    std::string text;
    struct stat st;
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && size_t(st.st_size) <= kMaxFileBytes) {
      text.reserve(size_t(st.st_size) + 1);
    }
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        int err = errno;
        ::close(fd);
        return cannotRead(err);
      }
      if (n == 0) {
        break;
      }
      text.append(buf, size_t(n));
      if (text.size() > kMaxFileBytes) {
        ::close(fd);
        ConfigResult r;
        r.error = ConfigError{path, 0, 0, "", "", "file too large: allowed at most 16 MiB"};
        return r;
      }
    }
    ::close(fd);
    return parse(text, path);
  } catch (...) {
    return internalError(path);
  }
}

}  // namespace tally
