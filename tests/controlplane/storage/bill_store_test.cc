// FlashBillStore: the CF card directory behind the bill-storage seam.
#include "controlplane/storage/bill_store.h"

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

class FlashBillStoreTest : public ::testing::Test {
 protected:
  void put(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
  }
  std::vector<std::string> entries() {
    std::vector<std::string> v;
    for (const auto& e : fs::directory_iterator(dir_)) {
      v.push_back(e.path().filename().string());
    }
    std::sort(v.begin(), v.end());
    return v;
  }
  testing::TempDir tmp_{"tally-billstore"};
  const std::string dir_ = tmp_.path() + "/card/cdr";
};

TEST_F(FlashBillStoreTest, OpensTheDirectoryOrRefuses) {
  auto s = FlashBillStore::open(dir_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s.value()->location(), dir_);
  struct stat st;
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
  EXPECT_TRUE(entries().empty());  // no probe left behind
  put("plain", "x");
  auto bad = FlashBillStore::open(dir_ + "/plain");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(dir_ + "/plain"), std::string::npos);
  auto empty = FlashBillStore::open("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "local_bill.cfcard_path is empty");
}

TEST_F(FlashBillStoreTest, StoresWholeFiles) {
  auto s = FlashBillStore::open(dir_);
  ASSERT_TRUE(s);
  const std::vector<uint8_t> bytes = {0, 0, 0, 54, 0xEB};
  ASSERT_TRUE(s.value()->store("gw_1.cdr", bytes));
  EXPECT_EQ(entries(), std::vector<std::string>{"gw_1.cdr"});
  EXPECT_EQ(fs::file_size(dir_ + "/gw_1.cdr"), bytes.size());
  fs::remove_all(dir_);
  auto r = s.value()->store("gw_2.cdr", bytes);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(dir_ + "/gw_2.cdr.tmp"), std::string::npos)
      << r.error().message;
}

TEST_F(FlashBillStoreTest, LeftoversAreBillTemporaryFilesOnly) {
  auto s = FlashBillStore::open(dir_);
  ASSERT_TRUE(s);
  put("a.cdr.tmp", "complete");
  put("b.csv.tmp", "cut");
  put(".tally-sequence.tmp", "not a bill");
  put("c.cdr", "a stored bill");
  put("d.cdr.tmp.broken", "set aside earlier");
  auto names = s.value()->leftovers();
  ASSERT_TRUE(names) << names.error().message;
  std::vector<std::string> v = names.value();
  std::sort(v.begin(), v.end());
  EXPECT_EQ(v, (std::vector<std::string>{"a.cdr", "b.csv"}));
  auto bytes = s.value()->readLeftover("a.cdr");
  ASSERT_TRUE(bytes);
  EXPECT_EQ(std::string(bytes.value().begin(), bytes.value().end()), "complete");
  EXPECT_FALSE(s.value()->readLeftover("zz.cdr"));
  ASSERT_TRUE(s.value()->finishLeftover("a.cdr"));
  ASSERT_TRUE(s.value()->setAsideLeftover("b.csv"));
  EXPECT_FALSE(s.value()->finishLeftover("a.cdr"));  // no longer a leftover
  EXPECT_EQ(entries(), (std::vector<std::string>{".tally-sequence.tmp", "a.cdr", "b.csv.tmp.broken",
                                                 "c.cdr", "d.cdr.tmp.broken"}));
  names = s.value()->leftovers();
  ASSERT_TRUE(names);
  EXPECT_TRUE(names.value().empty());
}

}  // namespace
}  // namespace tally
