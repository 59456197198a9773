#include "src/server/password_hasher.h"

#include <poll.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace muxchat::server {
namespace {

// True if `fd` becomes readable within `timeout`.
bool Readable(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1 && (p.revents & POLLIN);
}

// Waits on completion_fd (as the event loop does) until `n` results are in,
// or 30 s pass; returns what arrived.
std::vector<PasswordResult> AwaitResults(PasswordHasher& hasher, size_t n) {
  std::vector<PasswordResult> out;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (out.size() < n) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration() || !Readable(hasher.completion_fd(), left)) break;
    hasher.TakeResults(&out);
  }
  return out;
}

std::string HashOf(PasswordHasher& hasher, const std::string& password) {
  EXPECT_TRUE(hasher.Hash(1, password));
  std::vector<PasswordResult> r = AwaitResults(hasher, 1);
  EXPECT_EQ(r.size(), 1u);
  if (r.empty()) return "";
  EXPECT_TRUE(r[0].ok);
  return r[0].hash;
}

bool Verifies(PasswordHasher& hasher, const std::string& password, const std::string& stored) {
  EXPECT_TRUE(hasher.Verify(2, password, stored));
  std::vector<PasswordResult> r = AwaitResults(hasher, 1);
  EXPECT_EQ(r.size(), 1u);
  return !r.empty() && r[0].ok;
}

TEST(PasswordHasher, HashIsAnArgon2idString) {
  PasswordHasher hasher(PasswordCost::ForTests());
  const std::string hash = HashOf(hasher, "correct horse");
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
}

TEST(PasswordHasher, VerifyAcceptsTheRightPassword) {
  PasswordHasher hasher(PasswordCost::ForTests());
  EXPECT_TRUE(Verifies(hasher, "correct horse", HashOf(hasher, "correct horse")));
}

TEST(PasswordHasher, VerifyRejectsAWrongPassword) {
  PasswordHasher hasher(PasswordCost::ForTests());
  const std::string hash = HashOf(hasher, "correct horse");
  EXPECT_FALSE(Verifies(hasher, "correct horsf", hash));
  EXPECT_FALSE(Verifies(hasher, "", hash));
}

TEST(PasswordHasher, VerifyRejectsACorruptedHash) {
  PasswordHasher hasher(PasswordCost::ForTests());
  const std::string hash = HashOf(hasher, "correct horse");
  std::string flipped = hash;
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';  // inside the digest
  EXPECT_FALSE(Verifies(hasher, "correct horse", flipped));
  EXPECT_FALSE(Verifies(hasher, "correct horse", hash.substr(0, hash.size() / 2)));
  EXPECT_FALSE(Verifies(hasher, "correct horse", ""));
  EXPECT_FALSE(Verifies(hasher, "correct horse", "$argon2id$garbage"));
  EXPECT_FALSE(Verifies(hasher, "correct horse", std::string("$argon2id\0", 10) + hash.substr(10)));
}

TEST(PasswordHasher, VerifyUnknownAccountAlwaysFails) {
  PasswordHasher hasher(PasswordCost::ForTests());
  for (const std::string& password : {std::string("password1"), std::string(""), std::string(1024, 'x')}) {
    ASSERT_TRUE(hasher.VerifyUnknownAccount(9, password));
    const std::vector<PasswordResult> r = AwaitResults(hasher, 1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].job_id, 9u);
    EXPECT_FALSE(r[0].ok);
    EXPECT_TRUE(r[0].hash.empty());
  }
}

TEST(PasswordHasher, SamePasswordGetsADifferentSalt) {
  PasswordHasher hasher(PasswordCost::ForTests());
  EXPECT_NE(HashOf(hasher, "same password"), HashOf(hasher, "same password"));
}

TEST(PasswordHasher, PasswordsWithNulBytesAreHashedWhole) {
  PasswordHasher hasher(PasswordCost::ForTests());
  const std::string with_nul("abc\0defgh", 9);
  const std::string hash = HashOf(hasher, with_nul);
  EXPECT_TRUE(Verifies(hasher, with_nul, hash));
  EXPECT_FALSE(Verifies(hasher, "abc", hash));
}

TEST(PasswordHasher, CompletionFdIsReadableOnlyWhileResultsWait) {
  PasswordHasher hasher(PasswordCost::ForTests());
  EXPECT_FALSE(Readable(hasher.completion_fd(), absl::ZeroDuration()));
  ASSERT_TRUE(hasher.Hash(7, "password1"));
  ASSERT_TRUE(Readable(hasher.completion_fd(), absl::Seconds(30)));
  std::vector<PasswordResult> out;
  hasher.TakeResults(&out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].job_id, 7u);
  EXPECT_FALSE(Readable(hasher.completion_fd(), absl::ZeroDuration()));
  EXPECT_EQ(hasher.outstanding(), 0u);
}

TEST(PasswordHasher, EveryJobComesBackOnceUnderItsId) {
  PasswordHasher hasher(PasswordCost::ForTests());
  const std::string stored = HashOf(hasher, "password-5");
  for (uint64_t id = 100; id < 120; ++id) {
    if (id % 2 == 0) {
      ASSERT_TRUE(hasher.Hash(id, "password-" + std::to_string(id)));
    } else {
      ASSERT_TRUE(hasher.Verify(id, id == 105 ? "password-5" : "nope-nope", stored));
    }
  }
  absl::flat_hash_map<uint64_t, PasswordResult> by_id;
  for (PasswordResult& r : AwaitResults(hasher, 20)) {
    EXPECT_TRUE(by_id.emplace(r.job_id, r).second) << "duplicate " << r.job_id;
  }
  ASSERT_EQ(by_id.size(), 20u);
  for (uint64_t id = 100; id < 120; ++id) {
    ASSERT_TRUE(by_id.contains(id)) << id;
    const PasswordResult& r = by_id[id];
    if (id % 2 == 0) {
      EXPECT_TRUE(r.ok) << id;
      EXPECT_FALSE(r.hash.empty()) << id;
    } else {
      EXPECT_EQ(r.ok, id == 105) << id;
      EXPECT_TRUE(r.hash.empty()) << id;
    }
  }
}

TEST(PasswordHasher, RefusesJobsBeyondTheBoundUntilResultsAreTaken) {
  PasswordHasher hasher(PasswordCost::ForTests(), /*max_outstanding=*/3);
  EXPECT_TRUE(hasher.Hash(1, "password1"));
  EXPECT_TRUE(hasher.Hash(2, "password2"));
  EXPECT_FALSE(hasher.queue_full());
  EXPECT_TRUE(hasher.Verify(3, "password3", "$argon2id$x"));
  // Untaken results still count: nothing the loop has not collected is free.
  EXPECT_TRUE(hasher.queue_full());
  EXPECT_FALSE(hasher.Hash(4, "password4"));
  EXPECT_FALSE(hasher.Verify(5, "password5", "$argon2id$x"));
  EXPECT_EQ(hasher.outstanding(), 3u);

  const std::vector<PasswordResult> done = AwaitResults(hasher, 3);
  ASSERT_EQ(done.size(), 3u);
  for (const PasswordResult& r : done) EXPECT_LE(r.job_id, 3u);
  EXPECT_FALSE(hasher.queue_full());
  EXPECT_TRUE(hasher.Hash(6, "password6"));
  const std::vector<PasswordResult> more = AwaitResults(hasher, 1);
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0].job_id, 6u);
}

TEST(PasswordHasher, VerifyReportsAHashMadeWithAnotherCost) {
  PasswordHasher cheap(PasswordCost::ForTests());
  const std::string old_hash = HashOf(cheap, "password1");
  PasswordCost dearer = PasswordCost::ForTests();
  dearer.opslimit += 1;
  PasswordHasher hasher(dearer);
  ASSERT_TRUE(hasher.Verify(1, "password1", old_hash));
  std::vector<PasswordResult> r = AwaitResults(hasher, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].ok);
  EXPECT_TRUE(r[0].needs_rehash);

  ASSERT_TRUE(cheap.Verify(2, "password1", old_hash));
  r = AwaitResults(cheap, 1);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].ok);
  EXPECT_FALSE(r[0].needs_rehash);
}

TEST(PasswordHasher, DestructorWithAFullQueueAtTheRealCostReturns) {
  // 256 jobs at the default cost would take the worker many seconds; the
  // destructor drops the queued ones and waits for at most the running one.
  // (A hang here is caught by the ctest timeout.)
  auto hasher = std::make_unique<PasswordHasher>(PasswordCost());
  for (uint64_t id = 0; id < PasswordHasher::kDefaultMaxOutstanding; ++id) {
    ASSERT_TRUE(hasher->Hash(id, "password" + std::to_string(id)));
  }
  EXPECT_TRUE(hasher->queue_full());
  hasher.reset();
}

TEST(PasswordHasher, DestructorRightAfterConstructionReturns) {
  PasswordHasher hasher(PasswordCost::ForTests());
}

}  // namespace
}  // namespace muxchat::server
