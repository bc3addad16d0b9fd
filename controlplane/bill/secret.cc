#include "controlplane/bill/secret.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "controlplane/storage/durable_file.h"

namespace tally::bill {
namespace {

constexpr const char* kPrefix = "v1:";
using Key = std::array<unsigned char, crypto_secretbox_KEYBYTES>;

// Zeroes the key when it goes out of scope.
struct KeyGuard {
  Key& key;
  ~KeyGuard() { sodium_memzero(key.data(), key.size()); }
};

Result<bool> sodiumReady() {
  if (sodium_init() < 0) {
    return Error{"libsodium cannot be initialised"};
  }
  return true;
}

std::string sysError(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

Result<bool> readKey(const std::string& path, Key* key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) {
      return Error{"key file " + path + ": is a symbolic link (refused)"};
    }
    return Error{sysError("cannot open key file", path)};
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Error{sysError("cannot stat key file", path)};
  }
  if (!S_ISREG(st.st_mode)) {
    return Error{"key file " + path + ": not a regular file (refused)"};
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error{"key file " + path + ": mode " + mode +
                 " gives group or others access (refused; chmod 600 it)"};
  }
  if (st.st_size != static_cast<off_t>(key->size())) {
    return Error{"key file " + path + ": " + std::to_string(st.st_size) + " octets, expected " +
                 std::to_string(key->size())};
  }
  size_t have = 0;
  while (have < key->size()) {
    ssize_t n = ::read(fd, key->data() + have, key->size() - have);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return Error{sysError("cannot read key file", path)};
    }
    have += static_cast<size_t>(n);
  }
  return true;
}

Result<bool> createKey(const std::string& path) {
  std::string dir = dirName(path);
  if (dir != "." && dir != "/") {
    auto d = ensureDirectory(dir, 0700);
    if (!d) {
      return d;
    }
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return true;  // created meanwhile: read (and checked) by the caller
    }
    return Error{sysError("cannot create key file", path)};
  }
  Key key;
  KeyGuard guard{key};
  randombytes_buf(key.data(), key.size());
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t done = 0;
  while (ok && done < key.size()) {
    ssize_t n = ::write(fd, key.data() + done, key.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  if (!ok) {
    Error e{sysError("cannot write key file", path)};
    ::close(fd);
    ::unlink(path.c_str());
    return e;
  }
  ::close(fd);
  if (dir != ".") {
    fsyncDirectory(dir);
  }
  return true;
}

}  // namespace

Result<std::string> encryptPassword(const std::string& key_file, const std::string& plaintext,
                                    bool create_key) {
  if (auto s = sodiumReady(); !s) {
    return s.error();
  }
  if (create_key && ::access(key_file.c_str(), F_OK) != 0 && errno == ENOENT) {
    auto c = createKey(key_file);
    if (!c) {
      return c.error();
    }
  }
  Key key;
  KeyGuard guard{key};
  auto k = readKey(key_file, &key);
  if (!k) {
    return k.error();
  }
  std::vector<unsigned char> box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                 plaintext.size());
  unsigned char* nonce = box.data();
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(box.data() + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        plaintext.size(), nonce, key.data());
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string b64(sodium_base64_encoded_len(box.size(), variant), '\0');
  sodium_bin2base64(b64.data(), b64.size(), box.data(), box.size(), variant);
  b64.resize(std::strlen(b64.c_str()));
  return std::string(kPrefix) + b64;
}

Result<std::string> decryptPassword(const std::string& key_file, const std::string& cipher) {
  if (auto s = sodiumReady(); !s) {
    return s.error();
  }
  const std::string prefix = kPrefix;
  if (cipher.compare(0, prefix.size(), prefix) != 0) {
    return Error{"password cipher: not a v1: token"};
  }
  const std::string b64 = cipher.substr(prefix.size());
  std::vector<unsigned char> box(b64.size());
  size_t box_len = 0;
  if (sodium_base642bin(box.data(), box.size(), b64.data(), b64.size(), nullptr, &box_len,
                        nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
    return Error{"password cipher: not valid base64"};
  }
  if (box_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
    return Error{"password cipher: too short"};
  }
  Key key;
  KeyGuard guard{key};
  auto k = readKey(key_file, &key);
  if (!k) {
    return k.error();
  }
  const size_t text_len = box_len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
  std::string plain(text_len, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 box.data() + crypto_secretbox_NONCEBYTES,
                                 box_len - crypto_secretbox_NONCEBYTES, box.data(),
                                 key.data()) != 0) {
    return Error{"password cipher: does not decrypt with the key in " + key_file +
                 " (another key, or the token was altered)"};
  }
  return plain;
}

}  // namespace tally::bill
