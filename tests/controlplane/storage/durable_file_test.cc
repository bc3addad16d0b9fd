// Durable files: whole or not at all, the temporary file never left behind, errors naming the
// file; reading whole with a limit.
#include "controlplane/storage/durable_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/fakes/temp_dir.h"

namespace tally {
namespace {

namespace fs = std::filesystem;

class DurableFileTest : public ::testing::Test {
 protected:
  std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::vector<std::string> entries() {
    auto names = listDirectory(root_);
    EXPECT_TRUE(names) << names.error().message;
    std::vector<std::string> v = names ? names.value() : std::vector<std::string>{};
    std::sort(v.begin(), v.end());
    return v;
  }
  testing::TempDir tmp_{"tally-durable"};
  const std::string root_ = tmp_.path();
};

TEST_F(DurableFileTest, WritesWholeAndLeavesNoTemporaryFile) {
  const std::vector<uint8_t> bytes = {1, 2, 3, 0, 255};
  auto r = writeFileDurably(root_, "a.bin", bytes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(read(root_ + "/a.bin"), std::string("\x01\x02\x03\x00\xff", 5));
  EXPECT_EQ(entries(), std::vector<std::string>{"a.bin"});
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/a.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  // Replacing is whole too.
  ASSERT_TRUE(writeFileDurably(root_ + "/a.bin", "new contents\n"));
  EXPECT_EQ(read(root_ + "/a.bin"), "new contents\n");
  EXPECT_EQ(entries(), std::vector<std::string>{"a.bin"});
}

TEST_F(DurableFileTest, FailureNamesTheFileAndRemovesTheTemporaryFile) {
  // The directory does not exist: the temporary file cannot be created.
  auto r = writeFileDurably(root_ + "/gone", "x.cdr", std::vector<uint8_t>{1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "cannot create " + root_ + "/gone/x.cdr.tmp: No such file or directory");
  // The rename fails (the name is a non-empty directory): the temporary file is removed and
  // what stood there is untouched.
  fs::create_directories(root_ + "/busy/inner");
  r = writeFileDurably(root_, "busy", std::vector<uint8_t>{1, 2});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("cannot rename to " + root_ + "/busy"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find(root_ + "/busy.tmp"), std::string::npos) << r.error().message;
  EXPECT_EQ(entries(), std::vector<std::string>{"busy"});
  EXPECT_TRUE(fs::is_directory(root_ + "/busy/inner"));
}

TEST_F(DurableFileTest, ReadsWholeWithALimit) {
  std::string big(200000, 'x');
  big[123456] = '\0';
  ASSERT_TRUE(writeFileDurably(root_ + "/big", big));
  auto r = readFileWhole(root_ + "/big");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value(), big);
  auto limited = readFileWhole(root_ + "/big", 1000);
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().message, root_ + "/big: larger than 1000 octets");
  auto missing = readFileWhole(root_ + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, root_ + "/nope: No such file or directory");
  EXPECT_TRUE(fileExists(root_ + "/big").value());
  EXPECT_FALSE(fileExists(root_ + "/nope").value());
}

TEST_F(DurableFileTest, DirectoriesAreCreatedWithTheirModeOrRefused) {
  std::string nested = root_ + "/a/b/c";
  ASSERT_TRUE(ensureDirectory(nested, 0750));
  struct stat st;
  ASSERT_EQ(::stat(nested.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  ASSERT_EQ(::stat((root_ + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  EXPECT_TRUE(ensureDirectory(nested, 0750));  // exists: fine
  ASSERT_TRUE(writeFileDurably(root_ + "/plain", "x"));
  auto r = ensureDirectory(root_ + "/plain", 0750);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, root_ + "/plain: exists and is not a directory");
  EXPECT_FALSE(ensureDirectory(root_ + "/plain/sub", 0750));
}

TEST_F(DurableFileTest, RenameAndRemoveAreDurableAndReportErrors) {
  ASSERT_TRUE(writeFileDurably(root_ + "/a", "1"));
  ASSERT_TRUE(renameDurably(root_, "a", "b"));
  EXPECT_EQ(entries(), std::vector<std::string>{"b"});
  auto r = renameDurably(root_, "a", "c");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(root_ + "/a"), std::string::npos) << r.error().message;
  ASSERT_TRUE(fsyncFile(root_ + "/b"));
  ASSERT_TRUE(removeDurably(root_, "b"));
  EXPECT_TRUE(entries().empty());
  EXPECT_FALSE(removeDurably(root_, "b"));
  EXPECT_FALSE(fsyncFile(root_ + "/b"));
  EXPECT_FALSE(fsyncDirectory(root_ + "/gone"));
  EXPECT_FALSE(listDirectory(root_ + "/gone"));
  EXPECT_TRUE(probeWritable(root_));
  EXPECT_TRUE(entries().empty());  // the probe is gone again
}

TEST(DurableFilePaths, DirAndBaseName) {
  EXPECT_EQ(dirName("a/b/c"), "a/b");
  EXPECT_EQ(dirName("c"), ".");
  EXPECT_EQ(dirName("/c"), "/");
  EXPECT_EQ(baseName("a/b/c"), "c");
  EXPECT_EQ(baseName("c"), "c");
}

}  // namespace
}  // namespace tally
