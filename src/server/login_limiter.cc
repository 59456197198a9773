#include "src/server/login_limiter.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/server/name_rules.h"

namespace muxchat::server {
namespace {

// Distinct prefixes keep an account named like an address apart from it.
std::string AccountKeyOf(absl::string_view account) { return absl::StrCat("a:", FoldName(account)); }
std::string AddressKeyOf(absl::string_view peer) { return absl::StrCat("p:", LoginLimiter::AddressKey(peer)); }

std::string Ipv6Key(const in6_addr& addr) {
  char text[INET6_ADDRSTRLEN];
  if (IN6_IS_ADDR_V4MAPPED(&addr)) {
    in_addr v4;
    std::memcpy(&v4, &addr.s6_addr[12], sizeof v4);
    ::inet_ntop(AF_INET, &v4, text, sizeof text);
    return text;
  }
  in6_addr prefix = addr;
  std::memset(&prefix.s6_addr[8], 0, 8);
  ::inet_ntop(AF_INET6, &prefix, text, sizeof text);
  return absl::StrCat(text, "/64");
}

}  // namespace

LoginLimiter::LoginLimiter(LoginLimiterOptions options) : options_(options) {}

std::string LoginLimiter::AddressKey(absl::string_view peer) {
  in6_addr v6;
  if (!peer.empty() && peer.front() == '[') {
    const size_t close = peer.find(']');
    const std::string inside(peer.substr(1, close == absl::string_view::npos ? absl::string_view::npos : close - 1));
    if (::inet_pton(AF_INET6, inside.c_str(), &v6) == 1) return Ipv6Key(v6);
    return inside;
  }
  const std::string whole(peer);
  if (::inet_pton(AF_INET6, whole.c_str(), &v6) == 1) return Ipv6Key(v6);  // bare IPv6, no port
  const size_t colon = peer.rfind(':');
  if (colon != absl::string_view::npos && peer.find(':') == colon) return std::string(peer.substr(0, colon));
  return whole;
}

LoginLimiter::Entry* LoginLimiter::Find(const std::string& key) {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

LoginLimiter::Entry& LoginLimiter::Touch(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second;
  }
  if (entries_.size() >= options_.max_keys && !lru_.empty()) {
    entries_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(key);
  Entry& e = entries_[key];
  e.lru = lru_.begin();
  return e;
}

void LoginLimiter::Expire(Entry& e, absl::Time now) const {
  if (e.failures > 0 && e.in_flight == 0 && e.blocked_until <= now && now - e.last_failure >= options_.forget_after) {
    e.failures = 0;
  }
}

absl::Duration LoginLimiter::Wait(Entry* e, int free_failures, absl::Time now) const {
  if (e == nullptr) return absl::ZeroDuration();
  Expire(*e, now);
  if (e->blocked_until > now) return e->blocked_until - now;
  // Attempts in flight may yet be failures: once they could reach the
  // threshold, the next attempt waits for them to be judged.
  if (e->in_flight > 0 && e->failures + e->in_flight >= free_failures) return options_.first_backoff;
  return absl::ZeroDuration();
}

void LoginLimiter::Fail(Entry& e, int free_failures, absl::Time now) const {
  if (e.in_flight > 0) --e.in_flight;
  Expire(e, now);
  ++e.failures;
  e.last_failure = now;
  if (e.failures < free_failures) return;
  const int doublings = e.failures - free_failures;
  absl::Duration backoff = options_.max_backoff;
  if (doublings < 30) backoff = std::min(options_.max_backoff, options_.first_backoff * (int64_t{1} << doublings));
  e.blocked_until = now + backoff;
}

absl::Duration LoginLimiter::Check(absl::string_view account, absl::string_view address, absl::Time now) {
  const std::string akey = AccountKeyOf(account);
  const std::string pkey = AddressKeyOf(address);
  const absl::Duration wait = std::max(Wait(Find(akey), options_.account_free_failures, now),
                                       Wait(Find(pkey), options_.address_free_failures, now));
  if (wait > absl::ZeroDuration()) return wait;
  // One Touch at a time: a Touch may insert (or evict), which moves entries.
  ++Touch(akey).in_flight;
  ++Touch(pkey).in_flight;
  return absl::ZeroDuration();
}

void LoginLimiter::RecordFailure(absl::string_view account, absl::string_view address, absl::Time now) {
  // Touch, not Find: a key evicted while its attempt was in flight still
  // gets the failure.
  Fail(Touch(AccountKeyOf(account)), options_.account_free_failures, now);
  Fail(Touch(AddressKeyOf(address)), options_.address_free_failures, now);
}

void LoginLimiter::RecordSuccess(absl::string_view account, absl::string_view address, absl::Time /*now*/) {
  auto it = entries_.find(AccountKeyOf(account));
  if (it != entries_.end()) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }
  if (Entry* p = Find(AddressKeyOf(address)); p != nullptr && p->in_flight > 0) --p->in_flight;
}

void LoginLimiter::RecordAbandoned(absl::string_view account, absl::string_view address) {
  for (const std::string& key : {AccountKeyOf(account), AddressKeyOf(address)}) {
    if (Entry* e = Find(key); e != nullptr && e->in_flight > 0) --e->in_flight;
  }
}

}  // namespace muxchat::server
