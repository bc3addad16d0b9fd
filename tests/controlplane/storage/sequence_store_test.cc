// SequenceStore: numbers never repeat across restarts, clean or after kill -9.
#include "controlplane/storage/sequence_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace tally {
namespace {

namespace fs = std::filesystem;

class SequenceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tally-seq-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/.tally-sequence";
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, ec);
    fs::remove_all(dir_, ec);
  }
  std::string read() {
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write(const std::string& text) {
    std::ofstream out(path_, std::ios::trunc);
    out << text;
  }
  // A valid state file with the given ceilings (the checksum is FNV-1a over the body).
  static std::string stateFile(uint64_t local, uint64_t charging, uint64_t file) {
    std::string body = "tally-sequence 1\nlocal_sequence " + std::to_string(local) +
                       "\ncharging_id " + std::to_string(charging) + "\nfile_sequence " +
                       std::to_string(file) + "\n";
    uint32_t h = 2166136261u;
    for (char c : body) {
      h ^= static_cast<uint8_t>(c);
      h *= 16777619u;
    }
    char sum[32];
    std::snprintf(sum, sizeof(sum), "checksum %08x\n", h);
    return body + sum;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(SequenceStoreTest, FreshStoreCountsFromOne) {
  auto s = SequenceStore::open(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s.value()->nextLocalSequence(), 1u);
  EXPECT_EQ(s.value()->nextLocalSequence(), 2u);
  EXPECT_EQ(s.value()->nextChargingId(), 1u);
  EXPECT_EQ(s.value()->nextFileSequence(), 1u);
  EXPECT_EQ(s.value()->nextFileSequence(), 2u);
  // The reservation is on disk before the first number is handed out.
  EXPECT_NE(read().find("local_sequence 1001\n"), std::string::npos) << read();
}

TEST_F(SequenceStoreTest, CreatesItsDirectory) {
  std::string nested = dir_ + "/a/b/.tally-sequence";
  auto s = SequenceStore::open(nested);
  ASSERT_TRUE(s) << s.error().message;
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
}

TEST_F(SequenceStoreTest, MonotonicAcrossCleanReopen) {
  uint64_t last_local = 0;
  uint32_t last_cid = 0;
  uint32_t last_file = 0;
  for (int round = 0; round < 5; ++round) {
    auto s = SequenceStore::open(path_, 100);
    ASSERT_TRUE(s) << s.error().message;
    for (int i = 0; i < 250; ++i) {
      uint64_t l = s.value()->nextLocalSequence();
      uint32_t c = s.value()->nextChargingId();
      EXPECT_GT(l, last_local);
      EXPECT_GT(c, last_cid);
      if (round > 0 && i == 0) {
        // A clean shutdown stores the exact next values: nothing is skipped.
        EXPECT_EQ(l, last_local + 1);
        EXPECT_EQ(c, last_cid + 1);
      }
      last_local = l;
      last_cid = c;
    }
    uint32_t f = s.value()->nextFileSequence();
    EXPECT_GT(f, last_file);
    last_file = f;
  }
  EXPECT_EQ(last_local, 1250u);
}

TEST_F(SequenceStoreTest, NeverRepeatsAfterSimulatedCrash) {
  // What is on disk while the process runs is what a crash leaves behind: copy the state
  // file in the middle of a run and restart from the copy.
  std::set<uint64_t> seen;
  uint64_t max_seen = 0;
  {
    auto s = SequenceStore::open(path_, 1000);
    ASSERT_TRUE(s);
    for (int i = 0; i < 1700; ++i) {
      uint64_t v = s.value()->nextLocalSequence();
      EXPECT_TRUE(seen.insert(v).second);
      max_seen = std::max(max_seen, v);
    }
    fs::copy_file(path_, path_ + ".crash", fs::copy_options::overwrite_existing);
  }  // clean shutdown here; the copy is the crash image
  fs::rename(path_ + ".crash", path_);
  auto s = SequenceStore::open(path_, 1000);
  ASSERT_TRUE(s);
  uint64_t next = s.value()->nextLocalSequence();
  EXPECT_GT(next, max_seen);
  EXPECT_LE(next, max_seen + 1000 + 1);  // skips at most one block
}

TEST_F(SequenceStoreTest, NeverRepeatsAfterKill9) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto s = SequenceStore::open(path_, 1000);
    if (!s) {
      ::_exit(2);
    }
    uint64_t last_local = 0;
    uint32_t last_cid = 0;
    uint32_t last_file = 0;
    for (int i = 0; i < 2500; ++i) {
      last_local = s.value()->nextLocalSequence();
      last_cid = s.value()->nextChargingId();
      if (i % 100 == 0) {
        last_file = s.value()->nextFileSequence();
      }
    }
    char buf[96];
    int n = std::snprintf(buf, sizeof(buf), "%llu %u %u\n",
                          static_cast<unsigned long long>(last_local), last_cid, last_file);
    (void)!::write(fds[1], buf, static_cast<size_t>(n));
    ::kill(::getpid(), SIGKILL);  // no destructor, no flush
    ::_exit(3);
  }
  ::close(fds[1]);
  char buf[96] = {};
  ssize_t n = ::read(fds[0], buf, sizeof(buf) - 1);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  ASSERT_GT(n, 0);
  unsigned long long last_local = 0;
  unsigned last_cid = 0;
  unsigned last_file = 0;
  ASSERT_EQ(std::sscanf(buf, "%llu %u %u", &last_local, &last_cid, &last_file), 3);
  EXPECT_EQ(last_local, 2500u);
  auto s = SequenceStore::open(path_, 1000);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_GT(s.value()->nextLocalSequence(), last_local);
  EXPECT_GT(s.value()->nextChargingId(), last_cid);
  EXPECT_GT(s.value()->nextFileSequence(), last_file);
}

TEST_F(SequenceStoreTest, ResumeAfterRepeatedCrashesLeavesNoGap) {
  // Each start after a kill -9 is told the last numbers the bill journal committed and goes on
  // right after them, however many crashes come in a row (each start reserves a block on disk;
  // the crash image is the state file while the process runs). Found by the crash-loop test:
  // from the third crash in a row on, the numbering jumped by three blocks.
  uint64_t committed_local = 0;
  uint32_t committed_file = 0;
  for (int crash = 0; crash < 8; ++crash) {
    {
      auto s = SequenceStore::open(path_, 1000);
      ASSERT_TRUE(s) << s.error().message;
      if (committed_local != 0) {
        EXPECT_NE(s.value()->resumeAfter(committed_local, committed_file), "") << crash;
      }
      // Three numbers: the first two reach the journal, the third dies with the crash.
      EXPECT_EQ(s.value()->nextLocalSequence(), committed_local + 1) << "start " << crash;
      EXPECT_EQ(s.value()->nextLocalSequence(), committed_local + 2) << "start " << crash;
      s.value()->nextLocalSequence();
      EXPECT_EQ(s.value()->nextFileSequence(), committed_file + 1) << "start " << crash;
      committed_local += 2;
      committed_file += 1;
      EXPECT_EQ(s.value()->persistErrors(), 0u);
      fs::copy_file(path_, path_ + ".crash", fs::copy_options::overwrite_existing);
    }  // clean shutdown here; the copy is the crash image
    fs::rename(path_ + ".crash", path_);
  }
  // A number from long before the last block is not trusted: the reservation is kept.
  uint64_t last = 0;
  {
    auto s = SequenceStore::open(path_, 1000);
    ASSERT_TRUE(s);
    for (int i = 0; i < 2500; ++i) {
      last = s.value()->nextLocalSequence();
    }
    fs::copy_file(path_, path_ + ".crash", fs::copy_options::overwrite_existing);
  }
  fs::rename(path_ + ".crash", path_);
  auto s = SequenceStore::open(path_, 1000);
  ASSERT_TRUE(s);
  EXPECT_EQ(s.value()->resumeAfter(committed_local, 0), "");
  EXPECT_GT(s.value()->nextLocalSequence(), last);
}

TEST_F(SequenceStoreTest, CorruptFileIsRefusedWithItsName) {
  const std::string cases[] = {
      "garbage\n",
      "",
      stateFile(10, 20, 30).substr(0, 40),                         // truncated
      stateFile(10, 20, 30).replace(17, 17, "local_sequence 11"),  // checksum mismatch
      "tally-sequence 1\nlocal_sequence 5\nchecksum 00000000\n",   // missing keys
      "tally-sequence 1\nlocal_sequence x\ncharging_id 1\nfile_sequence 1\nchecksum 0\n",
  };
  for (const std::string& text : cases) {
    write(text);
    auto s = SequenceStore::open(path_);
    ASSERT_FALSE(s) << text;
    EXPECT_NE(s.error().message.find(path_), std::string::npos) << s.error().message;
    EXPECT_NE(s.error().message.find("corrupt"), std::string::npos) << s.error().message;
    // The bad file is left alone for the operator.
    EXPECT_EQ(read(), text);
  }
  write(stateFile(10, 20, 30));
  auto ok = SequenceStore::open(path_);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok.value()->nextLocalSequence(), 10u);
  EXPECT_EQ(ok.value()->nextChargingId(), 20u);
  EXPECT_EQ(ok.value()->nextFileSequence(), 30u);
}

TEST_F(SequenceStoreTest, ChargingIdWrapsWithinUint32SkippingZero) {
  const uint64_t two32 = uint64_t{1} << 32;
  write(stateFile(two32 - 1, two32 - 2, 99999998));
  auto s = SequenceStore::open(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s.value()->nextChargingId(), 0xFFFFFFFEu);
  EXPECT_EQ(s.value()->nextChargingId(), 0xFFFFFFFFu);
  EXPECT_EQ(s.value()->nextChargingId(), 1u);  // 0 skipped
  EXPECT_EQ(s.value()->nextLocalSequence(), 0xFFFFFFFFu);
  EXPECT_EQ(s.value()->nextLocalSequence(), 1u);
  EXPECT_EQ(s.value()->nextFileSequence(), 99999998u);
  EXPECT_EQ(s.value()->nextFileSequence(), 99999999u);
  EXPECT_EQ(s.value()->nextFileSequence(), 1u);  // 8 digits in file names
  // The stored raw counters keep growing, so a restart does not go back.
  s.value().reset();
  auto again = SequenceStore::open(path_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value()->nextChargingId(), 2u);
}

TEST_F(SequenceStoreTest, StoreFailureKeepsCountingAndIsReported) {
  auto s = SequenceStore::open(path_, 10);
  ASSERT_TRUE(s);
  // Make storing fail: replace the directory by a file of the same name.
  std::string moved = dir_ + ".moved";
  fs::rename(dir_, moved);
  { std::ofstream(dir_) << "x"; }
  uint64_t last = 0;
  for (int i = 0; i < 40; ++i) {
    uint64_t v = s.value()->nextLocalSequence();
    EXPECT_GT(v, last);
    last = v;
  }
  EXPECT_GT(s.value()->persistErrors(), 0u);
  EXPECT_GT(s.value()->unsafeNumbers(), 0u);
  EXPECT_FALSE(s.value()->lastError().empty());
  fs::remove(dir_);
  fs::rename(moved, dir_);
  // Storing works again: the next refresh succeeds and a restart continues above.
  for (int i = 0; i < 40; ++i) {
    last = s.value()->nextLocalSequence();
  }
  s.value().reset();
  auto again = SequenceStore::open(path_, 10);
  ASSERT_TRUE(again);
  EXPECT_GT(again.value()->nextLocalSequence(), last);
}

TEST_F(SequenceStoreTest, UnwritableDirectoryIsAnError) {
  std::string file = dir_ + "/not-a-dir";
  { std::ofstream(file) << "x"; }
  auto s = SequenceStore::open(file + "/.tally-sequence");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("not-a-dir"), std::string::npos) << s.error().message;
}

// ---- Upgrade: the state file of an older release in the CF card directory ----

class SequenceLegacyTest : public SequenceStoreTest {
 protected:
  void SetUp() override {
    SequenceStoreTest::SetUp();
    state_ = dir_ + "/state/.tally-sequence";
    legacy_ = dir_ + "/cfcard/.tally-sequence";
    fs::create_directories(dir_ + "/cfcard");
  }
  static std::string slurp(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void put(const std::string& p, const std::string& text) {
    std::ofstream(p, std::ios::trunc) << text;
  }
  // The next numbers a store opened on the state file hands out: local, charging, file.
  std::vector<uint64_t> nextNumbers() {
    auto s = SequenceStore::open(state_);
    EXPECT_TRUE(s) << s.error().message;
    if (!s) {
      return {};
    }
    return {s.value()->nextLocalSequence(), s.value()->nextChargingId(),
            s.value()->nextFileSequence()};
  }
  std::string state_;
  std::string legacy_;
};

TEST_F(SequenceLegacyTest, OnlyTheOldFileIsMovedOver) {
  put(legacy_, stateFile(13001, 6001, 2001));
  auto r = SequenceStore::adoptLegacyFile(state_, legacy_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r.value().find("moved the sequence state file " + legacy_), std::string::npos)
      << r.value();
  EXPECT_FALSE(fs::exists(legacy_));
  EXPECT_FALSE(fs::exists(state_ + ".tmp"));
  EXPECT_NE(slurp(state_).find("local_sequence 13001\n"), std::string::npos) << slurp(state_);
  // Done once: the next start has nothing to do.
  auto again = SequenceStore::adoptLegacyFile(state_, legacy_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value(), "");
  EXPECT_EQ(nextNumbers(), (std::vector<uint64_t>{13001, 6001, 2001}));
}

TEST_F(SequenceLegacyTest, BothFilesKeepTheHigherCeilings) {
  fs::create_directories(dir_ + "/state");
  put(state_, stateFile(500, 9000, 40));
  put(legacy_, stateFile(13001, 6001, 2001));
  auto r = SequenceStore::adoptLegacyFile(state_, legacy_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r.value().find("merged"), std::string::npos) << r.value();
  EXPECT_FALSE(fs::exists(legacy_));
  EXPECT_EQ(nextNumbers(), (std::vector<uint64_t>{13001, 9000, 2001}));
}

TEST_F(SequenceLegacyTest, NoOldFileChangesNothing) {
  auto r = SequenceStore::adoptLegacyFile(state_, legacy_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value(), "");
  EXPECT_FALSE(fs::exists(dir_ + "/state"));
  fs::create_directories(dir_ + "/state");
  put(state_, stateFile(7, 8, 9));
  r = SequenceStore::adoptLegacyFile(state_, legacy_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value(), "");
  EXPECT_EQ(slurp(state_), stateFile(7, 8, 9));
  // The same file under both names (state_dir = the card): left alone.
  put(legacy_, stateFile(1, 2, 3));
  r = SequenceStore::adoptLegacyFile(legacy_, legacy_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r.value(), "");
  EXPECT_TRUE(fs::exists(legacy_));
}

TEST_F(SequenceLegacyTest, ACorruptFileIsAnErrorAndNothingChanges) {
  put(legacy_, "tally-sequence 1\nlocal_sequence 5\n");
  auto r = SequenceStore::adoptLegacyFile(state_, legacy_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("corrupt sequence state file " + legacy_), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(fs::exists(legacy_));
  EXPECT_FALSE(fs::exists(state_));
  put(legacy_, stateFile(13001, 6001, 2001));
  fs::create_directories(dir_ + "/state");
  put(state_, "garbage\n");
  r = SequenceStore::adoptLegacyFile(state_, legacy_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("corrupt sequence state file " + state_), std::string::npos)
      << r.error().message;
  EXPECT_EQ(slurp(legacy_), stateFile(13001, 6001, 2001));
  EXPECT_EQ(slurp(state_), "garbage\n");
}

}  // namespace
}  // namespace tally
