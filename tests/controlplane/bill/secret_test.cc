// The password cipher: round trip, another key or an altered token refused, key-file rules,
// the plaintext never in an error.
#include "controlplane/bill/secret.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/fakes/temp_dir.h"

namespace tally::bill {
namespace {

class SecretTest : public ::testing::Test {
 protected:
  testing::TempDir dir_{"tally-secret"};
  std::string key() const { return dir_.path() + "/etc/tally/bill-server.key"; }
};

TEST_F(SecretTest, RoundTripCreatesKeyFile0600) {
  auto c = encryptPassword(key(), "s3cret pass", true);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->rfind("v1:", 0), 0u);
  EXPECT_EQ(c->find("s3cret"), std::string::npos);
  struct stat st;
  ASSERT_EQ(::stat(key().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(::stat((dir_.path() + "/etc/tally").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto p = decryptPassword(key(), *c);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, "s3cret pass");
}

TEST_F(SecretTest, RandomNonceGivesDifferentTokens) {
  auto a = encryptPassword(key(), "same", true);
  auto b = encryptPassword(key(), "same", false);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*decryptPassword(key(), *a), "same");
  EXPECT_EQ(*decryptPassword(key(), *b), "same");
}

TEST_F(SecretTest, EmptyPasswordRoundTrips) {
  auto c = encryptPassword(key(), "", true);
  ASSERT_TRUE(c);
  auto p = decryptPassword(key(), *c);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(*p, "");
}

TEST_F(SecretTest, MissingKeyWithoutCreateFails) {
  auto c = encryptPassword(key(), "pw-abc", false);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(key()), std::string::npos);
  EXPECT_EQ(c.error().message.find("pw-abc"), std::string::npos);
}

TEST_F(SecretTest, WrongKeyFails) {
  auto c = encryptPassword(key(), "topsecret", true);
  ASSERT_TRUE(c);
  std::string other = dir_.path() + "/other.key";
  ASSERT_TRUE(encryptPassword(other, "x", true));
  auto p = decryptPassword(other, *c);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message.find("topsecret"), std::string::npos);
}

TEST_F(SecretTest, TamperedTokenFails) {
  auto c = encryptPassword(key(), "topsecret", true);
  ASSERT_TRUE(c);
  // Flip one base64 character of the ciphertext part (after prefix + nonce).
  std::string t = *c;
  size_t i = t.size() - 6;
  t[i] = t[i] == 'A' ? 'B' : 'A';
  auto p = decryptPassword(key(), t);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message.find("topsecret"), std::string::npos);
  // Truncated, not base64, wrong version.
  EXPECT_FALSE(decryptPassword(key(), c->substr(0, 20)));
  EXPECT_FALSE(decryptPassword(key(), "v1:!!!notbase64"));
  EXPECT_FALSE(decryptPassword(key(), "v2:" + c->substr(3)));
  EXPECT_FALSE(decryptPassword(key(), ""));
}

TEST_F(SecretTest, GroupOrOtherReadableKeyRefused) {
  auto c = encryptPassword(key(), "hunter2", true);
  ASSERT_TRUE(c);
  for (mode_t m : {0640, 0604, 0660, 0610}) {
    ASSERT_EQ(::chmod(key().c_str(), m), 0);
    auto p = decryptPassword(key(), *c);
    ASSERT_FALSE(p) << std::oct << m;
    EXPECT_NE(p.error().message.find(key()), std::string::npos) << p.error().message;
    EXPECT_EQ(p.error().message.find("hunter2"), std::string::npos);
    auto e = encryptPassword(key(), "hunter2", true);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().message.find("hunter2"), std::string::npos);
  }
  ASSERT_EQ(::chmod(key().c_str(), 0400), 0);
  EXPECT_TRUE(decryptPassword(key(), *c));
}

TEST_F(SecretTest, NotARegularFileRefused) {
  std::string d = dir_.path() + "/adir";
  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  auto e = encryptPassword(d, "pw", true);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find(d), std::string::npos);
  EXPECT_NE(e.error().message.find("regular"), std::string::npos) << e.error().message;
  // A symbolic link to a good key file is refused too.
  auto c = encryptPassword(key(), "pw", true);
  ASSERT_TRUE(c);
  std::string link = dir_.path() + "/link.key";
  ASSERT_EQ(::symlink(key().c_str(), link.c_str()), 0);
  auto p = decryptPassword(link, *c);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find(link), std::string::npos);
}

TEST_F(SecretTest, WrongSizeKeyRefused) {
  std::string k = dir_.path() + "/short.key";
  {
    std::ofstream out(k);
    out << "short";
  }
  ASSERT_EQ(::chmod(k.c_str(), 0600), 0);
  auto e = encryptPassword(k, "pw", false);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("octets"), std::string::npos);
}

}  // namespace
}  // namespace tally::bill
