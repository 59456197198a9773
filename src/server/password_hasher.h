// Argon2id password hashing and verification (libsodium crypto_pwhash_str*)
// on one worker thread, so the event loop never spends the ~70 ms and 19 MiB
// a hash costs. Jobs go in with Hash/Verify; when results wait,
// completion_fd() (an eventfd) is readable and TakeResults collects them.
//
// Thread rule: every public member is for the loop thread (the one that
// constructed it); the worker is internal. Owns its thread and its eventfd.
// A password handed in is copied once into a heap buffer of its own and the
// string passed is wiped at once; that buffer is wiped (sodium_memzero) when
// the job is done, refused or dropped. Any other copy (the parsed request)
// is the caller's to wipe.
#ifndef MUXCHAT_SERVER_PASSWORD_HASHER_H_
#define MUXCHAT_SERVER_PASSWORD_HASHER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace muxchat::server {

// Argon2id's work factors, written into each hash string, so changing them
// later still verifies old hashes (and PasswordResult::needs_rehash says so).
struct PasswordCost {
  // OWASP's minimum for argon2id: t=2 passes over m=19 MiB (one lane).
  uint64_t opslimit = 2;
  size_t memlimit = 19u << 20;

  // libsodium's minimum (t=1, 8 KiB): milliseconds per hash, for tests only.
  static PasswordCost ForTests();
};

struct PasswordResult {
  uint64_t job_id = 0;
  // Hash: the hash was made. Verify: the password matches the stored hash
  // (false also for a malformed or truncated stored hash).
  bool ok = false;
  // Hash only: the crypto_pwhash_str string ("$argon2id$v=19$m=...") to
  // store; empty when !ok (libsodium could not allocate memlimit).
  std::string hash;
  // Verify only, when ok: the stored hash was made with another cost than
  // this hasher's; hash the password again and store the new hash.
  bool needs_rehash = false;
};

class PasswordHasher {
 public:
  // Jobs accepted but whose results are not yet taken. At the default cost
  // one job took 71-92 ms (hash 71-78, verify 75-92; crypto_pwhash_str in a
  // loop on the 2-core dev host at load 11), so 64 queued jobs are ~5 s of
  // work for the one thread: a login that would wait longer is better
  // refused (FAILURE_RATE_LIMITED) than queued. The bound also caps the
  // memory held by queued passwords (64 × kMaxPasswordBytes).
  static constexpr size_t kDefaultMaxOutstanding = 64;

  // Starts the worker. Calls InitSodiumOnce(); aborts the process (with a
  // line on stderr) if libsodium cannot initialise or no eventfd can be made,
  // both of which only happen at startup on a broken host.
  explicit PasswordHasher(PasswordCost cost, size_t max_outstanding = kDefaultMaxOutstanding);
  // Drops queued jobs (wiping their passwords), waits for the one running,
  // joins the worker and closes the eventfd. Never waits for more than one job.
  ~PasswordHasher();
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // Readable while results wait to be taken. Register it with the poller for
  // reading; TakeResults consumes the readiness.
  int completion_fd() const { return event_fd_; }

  // Queues hashing `password` under `job_id` (the caller's, echoed in the
  // result). False, with nothing queued and the password wiped, when
  // max_outstanding jobs are outstanding: answer FAILURE_RATE_LIMITED.
  bool Hash(uint64_t job_id, std::string password);
  // Queues checking `password` against `stored_hash` (a crypto_pwhash_str
  // string). Same refusal as Hash.
  bool Verify(uint64_t job_id, std::string password, std::string stored_hash);
  // For a Login naming no account: does the same work as Verify (against a
  // hash of a random password the worker makes at this cost on first use)
  // and always answers ok = false, so the time to a FAILURE_AUTH does not
  // tell which names are registered. Same refusal as Hash.
  bool VerifyUnknownAccount(uint64_t job_id, std::string password);

  // True when Hash/Verify would refuse now.
  bool queue_full() const;
  // Jobs accepted whose results have not been taken yet.
  size_t outstanding() const;

  // Appends every finished result to `out` (in completion order) and clears
  // the eventfd's readiness. Results of jobs finished later arrive on the
  // next readiness.
  void TakeResults(std::vector<PasswordResult>* out);

 private:
  struct Job {
    uint64_t job_id = 0;
    bool verify = false;
    bool unknown_account = false;  // verify against dummy_hash_, answer false
    std::string password;
    std::string stored_hash;
  };

  bool Enqueue(Job job);
  void WorkerMain();
  PasswordResult Run(Job& job);
  std::string MakeDummyHash() const;

  std::string dummy_hash_;  // worker thread only; made by the first VerifyUnknownAccount
  const PasswordCost cost_;
  const size_t max_outstanding_;
  int event_fd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;      // the worker waits for jobs_ or stop_
  std::deque<Job> jobs_;                 // guarded by mu_
  std::vector<PasswordResult> results_;  // guarded by mu_
  size_t outstanding_ = 0;               // guarded by mu_: queued + running + untaken
  bool stop_ = false;                    // guarded by mu_
  std::thread worker_;                   // last: started once the rest exists
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_PASSWORD_HASHER_H_
