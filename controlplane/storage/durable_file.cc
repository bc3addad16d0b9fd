#include "controlplane/storage/durable_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tally {
namespace {

std::string sysError(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// Writes all of `bytes` to fd, retrying on EINTR and short writes.
bool writeAll(int fd, std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

// Opens `path` read-only (with `flags`) and fsyncs it; `kind` ("directory" or "") in errors.
Result<bool> fsyncPath(const std::string& path, int flags, const std::string& kind) {
  const std::string sp = kind.empty() ? "" : " ";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | flags);
  if (fd < 0) {
    return Error{sysError("cannot open" + sp + kind, path)};
  }
  if (::fsync(fd) != 0) {
    Error e{sysError("cannot fsync" + sp + kind, path)};
    ::close(fd);
    return e;
  }
  ::close(fd);
  return true;
}

}  // namespace

std::string dirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return path.substr(0, slash);
}

std::string baseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Result<bool> ensureDirectory(const std::string& dir, unsigned mode) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return Error{dir + ": exists and is not a directory"};
    }
    return true;
  }
  if (errno != ENOENT) {
    return Error{sysError("cannot stat", dir)};
  }
  std::string parent = dirName(dir);
  if (parent != dir && parent != "." && parent != "/") {
    auto p = ensureDirectory(parent, mode);
    if (!p) {
      return p;
    }
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return Error{sysError("cannot create directory", dir)};
  }
  // mkdir applies the umask; the mode asked for is what we want.
  ::chmod(dir.c_str(), mode);
  return true;
}

Result<bool> fsyncDirectory(const std::string& dir) {
  return fsyncPath(dir, O_DIRECTORY, "directory");
}

Result<bool> fsyncFile(const std::string& path) { return fsyncPath(path, 0, ""); }

Result<bool> writeFileDurably(const std::string& dir, const std::string& name,
                              std::span<const uint8_t> bytes) {
  const std::string final_path = dir + "/" + name;
  const std::string tmp = final_path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Error{sysError("cannot create", tmp)};
  }
  auto fail = [&](const std::string& what) {
    Error e{sysError(what, tmp)};
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  if (!writeAll(fd, bytes)) {
    return fail("cannot write");
  }
  if (::fsync(fd) != 0) {
    return fail("cannot fsync");
  }
  if (::close(fd) != 0) {
    Error e{sysError("cannot close", tmp)};
    ::unlink(tmp.c_str());
    return e;
  }
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    Error e{sysError("cannot rename to " + final_path + ":", tmp)};
    ::unlink(tmp.c_str());
    return e;
  }
  return fsyncDirectory(dir);
}

Result<bool> writeFileDurably(const std::string& path, std::string_view text) {
  return writeFileDurably(
      dirName(path), baseName(path),
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Result<bool> renameDurably(const std::string& dir, const std::string& from,
                           const std::string& to) {
  const std::string a = dir + "/" + from;
  const std::string b = dir + "/" + to;
  if (::rename(a.c_str(), b.c_str()) != 0) {
    return Error{sysError("cannot rename to " + b + ":", a)};
  }
  return fsyncDirectory(dir);
}

Result<bool> removeDurably(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  if (::unlink(path.c_str()) != 0) {
    return Error{sysError("cannot remove", path)};
  }
  return fsyncDirectory(dir);
}

Result<std::string> readFileWhole(const std::string& path, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error{path + ": " + std::strerror(errno)};
  }
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      Error e{path + ": read: " + std::strerror(errno)};
      ::close(fd);
      return e;
    }
    if (n == 0) {
      break;
    }
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > limit) {
      ::close(fd);
      return Error{path + ": larger than " + std::to_string(limit) + " octets"};
    }
  }
  ::close(fd);
  return data;
}

Result<bool> fileExists(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    return true;
  }
  if (errno == ENOENT) {
    return false;
  }
  return Error{sysError("cannot stat", path)};
}

Result<std::vector<std::string>> listDirectory(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return Error{sysError("cannot list directory", dir)};
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      names.push_back(std::move(n));
    }
  }
  ::closedir(d);
  return names;
}

Result<bool> probeWritable(const std::string& dir) {
  std::string probe = dir + "/.tally-probe-" + std::to_string(::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Error{dir + " is not writable: " + std::strerror(errno)};
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

}  // namespace tally
