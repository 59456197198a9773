#include "src/server/redis_reply.h"

#include "absl/strings/str_cat.h"

namespace muxchat::server {

std::string ReplyText(const redisReply* r) { return r->str != nullptr ? std::string(r->str, r->len) : std::string(); }

bool IsStringReply(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

absl::Status ReplyError(const redisReply* reply, absl::string_view what) {
  if (reply == nullptr) return absl::UnavailableError(absl::StrCat(what, ": redis went away before replying"));
  if (reply->type == REDIS_REPLY_ERROR) return absl::InternalError(absl::StrCat(what, ": ", ReplyText(reply)));
  return absl::OkStatus();
}

}  // namespace muxchat::server
