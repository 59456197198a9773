// Throttling of password guesses (Login, and a Hello/Resume token is not
// throttled here: tokens are 256 random bits). Counts failed logins per
// account name (case-folded) and per peer address (IPv4 address, or the /64
// of an IPv6 one, since one host usually holds a whole /64). A key may fail
// `free_failures` times; each further failure blocks it for a backoff that
// doubles (1 s, 2 s, 4 s ... capped at 15 min). A key with no failure for
// `forget_after` starts afresh; a successful login clears its account's key
// (not the address's: one good account must not whitewash a guessing host).
//
// Attempts in flight count: Check() that allows an attempt reserves it, so a
// burst of parallel Logins cannot all pass before the first failure lands.
// Every allowed Check must be ended by exactly one RecordFailure,
// RecordSuccess or RecordAbandoned with the same account and address.
//
// Memory is bounded: at most `max_keys` keys are tracked (default 100,000:
// 21 MiB of RSS when full, 221 B per key, measured with 300,000 sprayed
// names); beyond that the least recently used key is forgotten, so a spray
// of made-up names cannot grow it. The price: an attacker who cycles more
// than max_keys keys within one backoff forgets their own blocks, which
// needs that many addresses (each address is itself a key).
//
// Time is always passed in, never read. Single-threaded (the loop thread).
#ifndef MUXCHAT_SERVER_LOGIN_LIMITER_H_
#define MUXCHAT_SERVER_LOGIN_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace muxchat::server {

struct LoginLimiterOptions {
  // Failures before blocking: 5 lets a user mistype a few times; an address
  // gets more because many users may share one (NAT, an office).
  int account_free_failures = 5;
  int address_free_failures = 20;
  absl::Duration first_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(15);
  // Longer than max_backoff, so waiting out the longest block does not also
  // reset the count (which would hand out free_failures more guesses).
  absl::Duration forget_after = absl::Hours(1);
  size_t max_keys = 100000;
};

class LoginLimiter {
 public:
  explicit LoginLimiter(LoginLimiterOptions options = LoginLimiterOptions());
  LoginLimiter(const LoginLimiter&) = delete;
  LoginLimiter& operator=(const LoginLimiter&) = delete;

  // How long the attempt by `account` (as typed; folded here) from `address`
  // (Connection::peer(): "1.2.3.4:port" or "[v6]:port") must wait:
  // ZeroDuration = go ahead (and the attempt is now in flight), else refuse
  // it (FAILURE_RATE_LIMITED, "try again in N s") and record nothing. While
  // attempts are in flight that could reach the threshold, further ones wait
  // first_backoff.
  absl::Duration Check(absl::string_view account, absl::string_view address, absl::Time now);
  // The allowed attempt failed (wrong password or unknown account).
  void RecordFailure(absl::string_view account, absl::string_view address, absl::Time now);
  // The allowed attempt succeeded: the account's count is cleared.
  void RecordSuccess(absl::string_view account, absl::string_view address, absl::Time now);
  // The allowed attempt was never judged (e.g. the hasher's queue was full):
  // it no longer counts as in flight.
  void RecordAbandoned(absl::string_view account, absl::string_view address);

  // Keys currently tracked (accounts and addresses together).
  size_t tracked_keys() const { return entries_.size(); }

  // The address part of a peer: "1.2.3.4:5" -> "1.2.3.4", "[2001:db8:1:2::9]:5"
  // -> "2001:db8:1:2::/64", an IPv4-mapped IPv6 peer -> its IPv4 address.
  // Anything unparseable is used as given (without a trailing ":port").
  static std::string AddressKey(absl::string_view peer);

 private:
  struct Entry {
    int failures = 0;
    int in_flight = 0;
    absl::Time last_failure = absl::InfinitePast();
    absl::Time blocked_until = absl::InfinitePast();
    std::list<std::string>::iterator lru;  // position in lru_
  };

  // The entry for `key`, created (evicting the least recently used key if
  // full) and marked most recently used.
  Entry& Touch(const std::string& key);
  Entry* Find(const std::string& key);
  // Clears an entry whose last failure is older than forget_after.
  void Expire(Entry& e, absl::Time now) const;
  absl::Duration Wait(Entry* e, int free_failures, absl::Time now) const;
  void Fail(Entry& e, int free_failures, absl::Time now) const;

  const LoginLimiterOptions options_;
  absl::flat_hash_map<std::string, Entry> entries_;
  std::list<std::string> lru_;  // front = most recently used
};

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_LOGIN_LIMITER_H_
