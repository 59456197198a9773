#include "src/server/password_rules.h"

#include <string>

#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

TEST(PasswordRules, AcceptsExactlyTheMinimumLength) {
  EXPECT_TRUE(ValidatePassword(std::string(kMinPasswordBytes, 'a')).ok());
}

TEST(PasswordRules, RejectsOneByteBelowTheMinimum) {
  const absl::Status s = ValidatePassword(std::string(kMinPasswordBytes - 1, 'a'));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "password must be at least 8 bytes");
}

TEST(PasswordRules, RejectsEmpty) {
  EXPECT_EQ(ValidatePassword("").code(), absl::StatusCode::kInvalidArgument);
}

TEST(PasswordRules, AcceptsExactlyTheMaximumLength) {
  EXPECT_TRUE(ValidatePassword(std::string(kMaxPasswordBytes, 'a')).ok());
}

TEST(PasswordRules, RejectsOneByteAboveTheMaximum) {
  const absl::Status s = ValidatePassword(std::string(kMaxPasswordBytes + 1, 'a'));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "password is longer than 1024 bytes");
}

TEST(PasswordRules, RejectsANulByteAnywhere) {
  for (size_t pos : {size_t{0}, size_t{4}, size_t{9}}) {
    std::string p(10, 'a');
    p[pos] = '\0';
    const absl::Status s = ValidatePassword(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << pos;
    EXPECT_EQ(s.message(), "password must not contain a NUL byte");
  }
}

TEST(PasswordRules, AcceptsInvalidUtf8AndControlBytes) {
  EXPECT_TRUE(ValidatePassword("\xff\xfe\x01\x7f passw\xc3").ok());
}

TEST(PasswordRules, MessageNeverQuotesThePassword) {
  EXPECT_EQ(ValidatePassword("s3cr3t").message().find("s3cr"), absl::string_view::npos);
  EXPECT_EQ(ValidatePassword(std::string("s3cr3t\0pw", 9)).message().find("s3cr"), absl::string_view::npos);
}

}  // namespace
}  // namespace muxchat::server
