// Reading hiredis replies the same way in every cluster module: the bytes of
// a string reply, whether a reply is a string, and the status a missing or
// error reply means. Pure functions, any thread.
#ifndef MUXCHAT_SERVER_REDIS_REPLY_H_
#define MUXCHAT_SERVER_REDIS_REPLY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "hiredis/hiredis.h"

namespace muxchat::server {

// The reply's bytes ("" when it has none).
std::string ReplyText(const redisReply* r);
// A string or status reply.
bool IsStringReply(const redisReply* r);
// kUnavailable for no reply (the connection went before it came: the
// command may or may not have run), kInternal for an error reply naming
// `what`, OK otherwise.
absl::Status ReplyError(const redisReply* reply, absl::string_view what);

}  // namespace muxchat::server

#endif  // MUXCHAT_SERVER_REDIS_REPLY_H_
