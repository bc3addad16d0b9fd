// From text to document: the text check (UTF-8, no control characters), the compact Tree built
// from yaml-cpp's parser events, one document per file, and the public entry points
// (loadConfigFile, parseConfigText, ConfigError::format). See loader.h.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <istream>
#include <streambuf>
#include <string>
#include <utility>

#include "shared/config/loader.h"

namespace tally {
namespace config_loader {

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

}  // namespace config_loader

namespace {

using config_loader::LineMap;
using config_loader::Loader;
using config_loader::LoadFailure;
using config_loader::Node;
using config_loader::Tree;
using config_loader::TreeBuilder;
using config_loader::rewriteServicesListForm;

constexpr size_t kMaxValueEcho = 200;        // longer values are cut in error messages
constexpr size_t kMaxKeyEcho = 300;          // the same for key paths
constexpr size_t kMaxMessageEcho = 1000;     // and messages
constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;

// An istream over a string without copying it.
class StringViewBuf : public std::streambuf {
 public:
  explicit StringViewBuf(const std::string& s) {
    char* p = const_cast<char*>(s.data());  // only read (get area)
    setg(p, p, p + s.size());
  }
};

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
