// Transfer status names and retry classes; the TFTP size limit (refused before any network);
// local errors of the transports and the fake transport.
#include "controlplane/bill/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "controlplane/bill/sftp_transport.h"
#include "controlplane/bill/tftp_transport.h"
#include "tests/fakes/fake_transport.h"
#include "tests/fakes/temp_dir.h"

namespace tally::bill {
namespace {

using S = TransferStatus;

TEST(TransferStatusTest, NamesAndRetryable) {
  struct Row {
    S s;
    const char* name;
    bool retry;
  };
  const Row rows[] = {
      {S::kOk, "ok", false},
      {S::kAlreadyThere, "already-there", false},
      {S::kConnect, "connect", true},
      {S::kTimeout, "timeout", true},
      {S::kHostKeyUnknown, "host-key-unknown", false},
      {S::kHostKeyChanged, "host-key-changed", false},
      {S::kAuth, "auth", false},
      {S::kRemote, "remote", true},
      {S::kLocal, "local", false},
      {S::kTooLarge, "too-large", false},
      {S::kProtocol, "protocol", true},
  };
  std::set<std::string> names;
  for (const Row& r : rows) {
    EXPECT_STREQ(transferStatusName(r.s), r.name);
    EXPECT_EQ(transferRetryable(r.s), r.retry) << r.name;
    names.insert(r.name);
  }
  EXPECT_EQ(names.size(), std::size(rows));
  TransferResult t;
  t.status = S::kAlreadyThere;
  EXPECT_TRUE(t.ok());
  t.status = S::kRemote;
  EXPECT_FALSE(t.ok());
}

TEST(TftpLimitTest, BlockArithmetic) {
  // 65534 blocks at 512: floor(size/512)+1 <= 65534.
  EXPECT_EQ(tftpMaxBytes(512), 65534u * 512 - 1);
  EXPECT_EQ(tftpMaxBytes(1468), 65534u * 512 - 1);  // the server may ignore blksize
  EXPECT_EQ(tftpMaxBytes(65464), 65534u * 512 - 1);
  EXPECT_EQ(tftpMaxBytes(8), 65534u * 8 - 1);        // a smaller blksize is the limit
  EXPECT_TRUE(tftpSizeAllowed(0, 1468));
  EXPECT_TRUE(tftpSizeAllowed(33553407, 1468));
  // Final block 65535: curl 7.88's roll-over bug; and beyond the 16-bit block numbers.
  EXPECT_FALSE(tftpSizeAllowed(33553408, 1468));
  EXPECT_FALSE(tftpSizeAllowed(33553919, 512));
  EXPECT_FALSE(tftpSizeAllowed(40u << 20, 1468));
  EXPECT_EQ(tftpTransferTimeoutMs(1000, 0), 1010);
  EXPECT_EQ(tftpTransferTimeoutMs(1000, 33553407), 1000 + 65534 * 10);
}

ServerTarget loopbackTarget(uint16_t port) {
  ServerTarget t;
  t.address = *parseIpAddress("127.0.0.1");
  t.port = port;
  t.step_timeout_ms = 5000;
  return t;
}

TEST(TftpTransportTest, TooLargeRefusedBeforeAnyNetwork) {
  testing::TempDir dir("tally-tftp");
  std::string big = dir.path() + "/big.cdr";
  int fd = ::open(big.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 33553408), 0);  // sparse
  ::close(fd);
  // A UDP socket bound where the transport would send: nothing may arrive.
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  auto t = makeTftpTransport(loopbackTarget(ntohs(sa.sin_port)));
  EXPECT_STREQ(t->protocol(), "tftp");
  auto start = std::chrono::steady_clock::now();
  TransferResult r = t->upload(big, "big.cdr");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, S::kTooLarge) << r.detail;
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_NE(r.detail.find("33553407"), std::string::npos) << r.detail;
  EXPECT_LT(took, std::chrono::milliseconds(500));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  char buf[16];
  EXPECT_LT(::recv(s, buf, sizeof(buf), 0), 0) << "a packet was sent";
  ::close(s);
}

TEST(TransportLocalErrorsTest, MissingFileAndBadNames) {
  auto tftp = makeTftpTransport(loopbackTarget(9));
  ServerTarget st = loopbackTarget(9);
  st.known_hosts_path = "/nonexistent/known_hosts";
  auto sftp = makeSftpTransport(st);
  EXPECT_STREQ(sftp->protocol(), "sftp");
  for (Transport* t : {tftp.get(), sftp.get()}) {
    EXPECT_EQ(t->upload("/nonexistent/file", "x.cdr").status, S::kLocal);
    EXPECT_EQ(t->upload("/etc/hostname", "a/b").status, S::kLocal);
    EXPECT_EQ(t->upload("/etc/hostname", "..").status, S::kLocal);
    EXPECT_EQ(t->upload("/etc/hostname", "").status, S::kLocal);
  }
  // SFTP: an unreadable known_hosts is a local (configuration) error, found before connecting.
  TransferResult r = sftp->upload("/etc/hostname", "x.cdr");
  EXPECT_EQ(r.status, S::kLocal);
  EXPECT_NE(r.detail.find("known_hosts"), std::string::npos) << r.detail;
}

TEST(SftpTransportTest, ConnectRefusedIsConnect) {
  testing::TempDir dir("tally-sftp");
  std::string kh = dir.path() + "/known_hosts";
  std::ofstream(kh) << "";
  // A port nobody listens on: bind a socket without listen() to hold it.
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  ServerTarget t = loopbackTarget(ntohs(sa.sin_port));
  t.known_hosts_path = kh;
  t.user_name = "u";
  t.password = "do-not-print-me";
  TransferResult r = makeSftpTransport(t)->upload("/etc/hostname", "x.cdr");
  EXPECT_EQ(r.status, S::kConnect) << r.detail;
  EXPECT_EQ(r.detail.find("do-not-print-me"), std::string::npos);
  ::close(s);
}

TEST(FakeTransportTest, ScriptedResultsAndServerDir) {
  testing::TempDir server("tally-fake-server");
  testing::TempDir local("tally-fake-local");
  std::string f = local.path() + "/a.cdr";
  std::ofstream(f) << "hello";
  testing::FakeTransport fake;
  fake.setServerDir(server.path());
  fake.push(S::kTimeout, "scripted");
  EXPECT_EQ(fake.upload(f, "a.cdr").status, S::kTimeout);
  TransferResult r = fake.upload(f, "a.cdr");
  EXPECT_EQ(r.status, S::kOk);
  EXPECT_EQ(r.bytes, 5u);
  EXPECT_EQ(fake.upload(f, "a.cdr").status, S::kAlreadyThere);
  ASSERT_EQ(fake.callCount(), 3u);
  EXPECT_EQ(fake.calls()[0].returned, S::kTimeout);

  fake.block();
  std::thread th([&] { fake.upload(f, "b.cdr"); });
  EXPECT_TRUE(fake.waitForCalls(4, std::chrono::seconds(5)));
  fake.unblock();
  th.join();
  EXPECT_TRUE(std::filesystem::exists(server.path() + "/b.cdr"));
}

}  // namespace
}  // namespace tally::bill
