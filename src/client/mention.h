// Whether a chat message mentions a nickname: the nick as a whole word, in
// any ASCII letter case ("bob:", "@bob", "hi Bob!" mention bob; "bobby" does
// not). Pure function; any thread.
#ifndef MUXCHAT_CLIENT_MENTION_H_
#define MUXCHAT_CLIENT_MENTION_H_

#include "absl/strings/string_view.h"

namespace muxchat::client {

bool MentionsNick(absl::string_view text, absl::string_view nick);

}  // namespace muxchat::client

#endif  // MUXCHAT_CLIENT_MENTION_H_
