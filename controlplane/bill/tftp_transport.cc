#include "controlplane/bill/tftp_transport.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

namespace tally::bill {
namespace {

using Clock = std::chrono::steady_clock;

// The meaning of a TFTP error (RFC 1350 error codes as libcurl maps them); libcurl's own text
// is not used (see the header).
const char* tftpErrorText(CURLcode c) {
  switch (c) {
    case CURLE_TFTP_NOTFOUND: return "file not found (TFTP error 1; a directory missing?)";
    case CURLE_TFTP_PERM: return "access violation (TFTP error 2)";
    case CURLE_REMOTE_DISK_FULL: return "disk full or allocation exceeded (TFTP error 3)";
    case CURLE_TFTP_ILLEGAL:
      return "illegal TFTP operation or not defined (TFTP error 4 or 0, e.g. permission denied)";
    case CURLE_TFTP_UNKNOWNID: return "unknown transfer ID (TFTP error 5)";
    case CURLE_REMOTE_FILE_EXISTS: return "file already exists (TFTP error 6)";
    case CURLE_TFTP_NOSUCHUSER: return "no such user (TFTP error 7)";
    default: return nullptr;
  }
}

bool curlHasTftp() {
  const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
  for (const char* const* p = v->protocols; p != nullptr && *p != nullptr; ++p) {
    if (std::strcmp(*p, "tftp") == 0) {
      return true;
    }
  }
  return false;
}

struct ReadState {
  FILE* file;
  uint64_t bytes = 0;
  bool error = false;
};

size_t readCallback(char* buffer, size_t size, size_t nitems, void* user) {
  auto* s = static_cast<ReadState*>(user);
  size_t n = std::fread(buffer, 1, size * nitems, s->file);
  if (n == 0 && std::ferror(s->file)) {
    s->error = true;
    return CURL_READFUNC_ABORT;
  }
  s->bytes += n;
  return n;
}

bool validRemoteName(const std::string& n) {
  return !n.empty() && n.find('/') == std::string::npos && n != "." && n != ".." &&
         n.find('\0') == std::string::npos;
}

class TftpTransport final : public Transport {
 public:
  TftpTransport(const ServerTarget& t, bool has_tftp) : target_(t), has_tftp_(has_tftp) {}
  const char* protocol() const override { return "tftp"; }
  TransferResult upload(const std::string& local_path, const std::string& remote_name) override;

 private:
  ServerTarget target_;
  bool has_tftp_;
};

TransferResult TftpTransport::upload(const std::string& local_path,
                                     const std::string& remote_name) {
  TransferResult r;
  auto start = Clock::now();
  auto done = [&](TransferStatus s, std::string detail) {
    r.status = s;
    r.detail = std::move(detail);
    r.elapsed_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    return r;
  };
  if (!has_tftp_) {
    return done(TransferStatus::kLocal, "this libcurl has no TFTP support");
  }
  if (!validRemoteName(remote_name)) {
    return done(TransferStatus::kLocal, "invalid remote file name '" + remote_name + "'");
  }
  if (target_.address.family != 4 && target_.address.family != 6) {
    return done(TransferStatus::kLocal, "no server address configured");
  }
  FILE* file = std::fopen(local_path.c_str(), "rbe");
  if (file == nullptr) {
    return done(TransferStatus::kLocal, "open " + local_path + ": " + std::strerror(errno));
  }
  struct FileCloser {
    FILE* f;
    ~FileCloser() { std::fclose(f); }
  } closer{file};
  struct stat st;
  if (::fstat(fileno(file), &st) != 0 || !S_ISREG(st.st_mode)) {
    return done(TransferStatus::kLocal, local_path + ": not a readable regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (!tftpSizeAllowed(size, target_.tftp_blksize)) {
    return done(TransferStatus::kTooLarge,
                local_path + ": " + std::to_string(size) + " octets, TFTP allows at most " +
                    std::to_string(tftpMaxBytes(target_.tftp_blksize)) +
                    " (16-bit block numbers at 512-octet blocks)");
  }

  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return done(TransferStatus::kLocal, "curl_easy_init failed");
  }
  struct CurlCloser {
    CURL* c;
    ~CurlCloser() { curl_easy_cleanup(c); }
  } curl_closer{curl};

  const std::string ip = formatIp(target_.address);
  const std::string host = target_.address.family == 6 ? "[" + ip + "]" : ip;
  char* escaped = curl_easy_escape(curl, remote_name.c_str(), static_cast<int>(remote_name.size()));
  if (escaped == nullptr) {
    return done(TransferStatus::kLocal, "curl_easy_escape failed");
  }
  const std::string url =
      "tftp://" + host + ":" + std::to_string(target_.port) + "/" + std::string(escaped);
  curl_free(escaped);

  ReadState rs{file};
  const int64_t step_ms = std::max<int64_t>(target_.step_timeout_ms, 1);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "tftp");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, readCallback);
  curl_easy_setopt(curl, CURLOPT_READDATA, &rs);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
  curl_easy_setopt(curl, CURLOPT_TFTP_BLKSIZE, static_cast<long>(target_.tftp_blksize));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(step_ms));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(tftpTransferTimeoutMs(step_ms, size)));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>((step_ms + 999) / 1000));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

  CURLcode c = curl_easy_perform(curl);
  curl_off_t up = 0;
  if (curl_easy_getinfo(curl, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up > 0) {
    r.bytes = static_cast<uint64_t>(up);
  } else {
    r.bytes = rs.bytes;
  }
  const std::string what = "tftp put " + remote_name + " to " + host + ":" +
                           std::to_string(target_.port) + ": ";
  if (c == CURLE_OK) {
    return done(TransferStatus::kOk, "");
  }
  if (const char* t = tftpErrorText(c); t != nullptr) {
    return done(TransferStatus::kRemote, what + t);
  }
  const std::string code = " (curl " + std::to_string(static_cast<int>(c)) + ")";
  switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
      return done(TransferStatus::kTimeout,
                  what + "no answer in time after " + std::to_string(r.bytes) + " octets" + code);
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
      return done(TransferStatus::kConnect, what + curl_easy_strerror(c) + code);
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
      if (rs.error) {
        return done(TransferStatus::kLocal, "read " + local_path + " failed" + code);
      }
      break;
    default:
      break;
  }
  return done(TransferStatus::kProtocol,
              what + (errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(c)) + code);
}

}  // namespace

uint64_t tftpMaxBytes(uint16_t blksize) {
  uint64_t bs = std::min<uint64_t>(512, blksize == 0 ? 512 : blksize);
  // floor(size / bs) + 1 <= kTftpMaxBlocks  <=>  size <= kTftpMaxBlocks * bs - 1
  return kTftpMaxBlocks * bs - 1;
}

bool tftpSizeAllowed(uint64_t size_bytes, uint16_t blksize) {
  return size_bytes <= tftpMaxBytes(blksize);
}

int64_t tftpTransferTimeoutMs(int64_t step_timeout_ms, uint64_t size_bytes) {
  const int64_t blocks = static_cast<int64_t>(size_bytes / 512 + 1);
  return std::max<int64_t>(step_timeout_ms, 1) + blocks * 10;
}

std::unique_ptr<Transport> makeTftpTransport(const ServerTarget& target) {
  static std::once_flag once;
  static bool has_tftp = false;
  std::call_once(once, [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    has_tftp = curlHasTftp();
  });
  return std::make_unique<TftpTransport>(target, has_tftp);
}

}  // namespace tally::bill
