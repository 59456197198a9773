#include "src/server/password_hasher.h"

#include <sodium.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "src/server/sodium_init.h"

namespace muxchat::server {
namespace {

void Wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

// The password in a heap buffer of its own, and the caller's bytes wiped.
// A short std::string keeps its bytes inline, and moving it copies them and
// leaves the old bytes behind in the moved-from object; a heap buffer moves
// by pointer, so the one copy the worker wipes is the only one we made.
std::string TakePassword(std::string& password) {
  std::string owned;
  owned.reserve(std::max<size_t>(password.size(), 64));
  owned.append(password);
  Wipe(password);
  return owned;
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "muxchatd: password hasher: %s\n", what);
  std::abort();
}

}  // namespace

PasswordCost PasswordCost::ForTests() {
  PasswordCost cost;
  cost.opslimit = crypto_pwhash_OPSLIMIT_MIN;
  cost.memlimit = crypto_pwhash_MEMLIMIT_MIN;
  return cost;
}

PasswordHasher::PasswordHasher(PasswordCost cost, size_t max_outstanding)
    : cost_(cost), max_outstanding_(max_outstanding) {
  const absl::Status s = InitSodiumOnce();
  if (!s.ok()) Die(std::string(s.message()).c_str());
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) {
    const int err = errno;
    Die((std::string("eventfd: ") + std::strerror(err)).c_str());
  }
  worker_ = std::thread([this] { WorkerMain(); });
}

PasswordHasher::~PasswordHasher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    for (Job& job : jobs_) Wipe(job.password);
    jobs_.clear();
  }
  work_cv_.notify_one();
  worker_.join();
  ::close(event_fd_);
}

bool PasswordHasher::Hash(uint64_t job_id, std::string password) {
  Job job;
  job.job_id = job_id;
  job.password = TakePassword(password);
  return Enqueue(std::move(job));
}

bool PasswordHasher::Verify(uint64_t job_id, std::string password, std::string stored_hash) {
  Job job;
  job.job_id = job_id;
  job.verify = true;
  job.password = TakePassword(password);
  job.stored_hash = std::move(stored_hash);
  return Enqueue(std::move(job));
}

bool PasswordHasher::VerifyUnknownAccount(uint64_t job_id, std::string password) {
  Job job;
  job.job_id = job_id;
  job.verify = true;
  job.unknown_account = true;
  job.password = TakePassword(password);
  return Enqueue(std::move(job));
}

bool PasswordHasher::Enqueue(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (outstanding_ < max_outstanding_) {
      ++outstanding_;
      jobs_.push_back(std::move(job));
      work_cv_.notify_one();
      return true;
    }
  }
  Wipe(job.password);
  return false;
}

bool PasswordHasher::queue_full() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outstanding_ >= max_outstanding_;
}

size_t PasswordHasher::outstanding() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outstanding_;
}

void PasswordHasher::TakeResults(std::vector<PasswordResult>* out) {
  // Clear the readiness first: a result posted after this read either lands
  // in the swap below (and leaves a harmless empty wake-up) or writes the
  // eventfd again.
  uint64_t count;
  while (::read(event_fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
  std::vector<PasswordResult> taken;
  {
    std::lock_guard<std::mutex> lock(mu_);
    taken.swap(results_);
    outstanding_ -= taken.size();
  }
  for (PasswordResult& r : taken) out->push_back(std::move(r));
}

void PasswordHasher::WorkerMain() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // The lock is not held here: the loop may queue and take meanwhile.
    PasswordResult result = Run(job);
    Wipe(job.password);
    {
      std::lock_guard<std::mutex> lock(mu_);
      results_.push_back(std::move(result));
    }
    const uint64_t one = 1;
    // An eventfd write of 8 bytes only fails if the counter would overflow,
    // which ~2^64 untaken results cannot reach.
    while (::write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
}

std::string PasswordHasher::MakeDummyHash() const {
  // A random password nobody knows, hashed at this hasher's cost, so that
  // VerifyUnknownAccount costs what Verify costs. Made on first use, not at
  // start: a server (or a test) that never needs it never pays a hash.
  unsigned char secret[32];
  randombytes_buf(secret, sizeof secret);
  char out[crypto_pwhash_STRBYTES];
  std::string hash;
  if (crypto_pwhash_str(out, reinterpret_cast<const char*>(secret), sizeof secret, cost_.opslimit, cost_.memlimit) ==
      0) {
    hash = out;
  }
  sodium_memzero(secret, sizeof secret);
  return hash;
}

PasswordResult PasswordHasher::Run(Job& job) {
  PasswordResult result;
  result.job_id = job.job_id;
  if (job.unknown_account) {
    // The answer is false whatever the hash says; only the work matters.
    // (If the dummy hash could not be made, libsodium cannot allocate
    // memlimit now and real verifies fail the same way, just as fast.)
    if (dummy_hash_.empty()) dummy_hash_ = MakeDummyHash();
    if (!dummy_hash_.empty()) {
      (void)!crypto_pwhash_str_verify(dummy_hash_.c_str(), job.password.data(), job.password.size());
    }
    return result;
  }
  if (job.verify) {
    // crypto_pwhash_str_verify reads a NUL-terminated string: c_str() gives
    // one, and a stored hash with an embedded NUL is just malformed (fails).
    result.ok = crypto_pwhash_str_verify(job.stored_hash.c_str(), job.password.data(), job.password.size()) == 0;
    if (result.ok) {
      result.needs_rehash = crypto_pwhash_str_needs_rehash(job.stored_hash.c_str(), cost_.opslimit, cost_.memlimit) != 0;
    }
    return result;
  }
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, job.password.data(), job.password.size(), cost_.opslimit, cost_.memlimit) == 0) {
    result.ok = true;
    result.hash = out;
  }
  return result;
}

}  // namespace muxchat::server
